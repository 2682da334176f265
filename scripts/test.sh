#!/usr/bin/env bash
# Runs the whole test suite: typecheck, lint, unit + integration tests on PGlite and on a real
# PostgreSQL server, kernel data-plane tests (as root), and the Playwright console tests.
# Ends with one line "N passed, N failed" totalling every suite. Idempotent.
source "$(dirname "$0")/lib.sh"

bash scripts/setup-system.sh
ensure_node_modules
bash scripts/ensure-postgres.sh
export TEST_DATABASE_URL="${TEST_DATABASE_URL:-$(cat .test-output/postgres-url 2>/dev/null)}"

rm -rf .test-output/reports test-results
mkdir -p .test-output/reports
status=0

log "typecheck"
npx tsc --noEmit -p . || status=1
log "lint"
npx eslint . --max-warnings=0 || status=1

log "unit and integration tests (vitest: PGlite and PostgreSQL projects)"
npx vitest run --reporter=default --reporter=json --outputFile.json=.test-output/reports/vitest.json || status=1

if [ -f playwright.config.ts ]; then
  ensure_next_build || status=1
  log "console tests (Playwright, Debian chromium)"
  npx playwright test || status=1
fi

node scripts/summarize-tests.mjs .test-output/reports/vitest.json test-results/playwright.json || status=1
exit $status
