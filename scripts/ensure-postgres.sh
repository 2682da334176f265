#!/usr/bin/env bash
# Makes a real PostgreSQL server available for the tests and writes its URL to
# .test-output/postgres-url. Reuses a server on 127.0.0.1:5432 when one answers; otherwise (as
# root) starts Debian's cluster. Uses a dedicated role "tenbin_test" (CREATEDB) so nothing of
# the system's own roles is changed.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .test-output

if [ -n "${TEST_DATABASE_URL:-}" ]; then echo "$TEST_DATABASE_URL" > .test-output/postgres-url; exit 0; fi

if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  if [ "$(id -u)" != "0" ]; then
    echo "ensure-postgres: no PostgreSQL on 127.0.0.1:5432 and not root to start one; set TEST_DATABASE_URL" >&2
    exit 1
  fi
  version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
  [ -n "$version" ] || { echo "ensure-postgres: postgresql is not installed (run scripts/setup-system.sh)" >&2; exit 1; }
  echo "ensure-postgres: starting PostgreSQL $version"
  pg_ctlcluster --skip-systemctl-redirect "$version" main start
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi

url="postgres://tenbin_test:tenbin_test@127.0.0.1:5432/postgres"
if ! psql "$url" -qtAc 'select 1' >/dev/null 2>&1; then
  [ "$(id -u)" = "0" ] || { echo "ensure-postgres: cannot connect as tenbin_test and not root to create it" >&2; exit 1; }
  runuser -u postgres -- psql -qtA -v ON_ERROR_STOP=1 <<'SQL' >/dev/null
do $$ begin
  if not exists (select from pg_roles where rolname = 'tenbin_test') then
    create role tenbin_test login createdb password 'tenbin_test';
  end if;
end $$;
SQL
fi
psql "$url" -qtAc 'select 1' >/dev/null
echo "$url" > .test-output/postgres-url
echo "ensure-postgres: using PostgreSQL at 127.0.0.1:5432 (role tenbin_test)"
