# Shared helpers for start.sh and test.sh (sourced).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export NEXT_TELEMETRY_DISABLED=1

log() { printf '\033[1m[tenbin]\033[0m %s\n' "$*"; }

# npm packages: install when node_modules is missing or the lock file changed since.
ensure_node_modules() {
  local want have=""
  want=$(sha256sum package-lock.json | cut -d' ' -f1)
  [ -f node_modules/.tenbin-lock ] && have=$(cat node_modules/.tenbin-lock)
  if [ "$want" != "$have" ]; then
    log "installing npm packages"
    npm ci --no-audit --no-fund --loglevel=error
    echo "$want" > node_modules/.tenbin-lock
  fi
}

# Production console build, redone only when its inputs changed.
ensure_next_build() {
  local want have="" dirs=()
  for d in app components lib public; do [ -d "$d" ] && dirs+=("$d"); done
  want=$( (cat package-lock.json next.config.* postcss.config.* tsconfig.json 2>/dev/null || true
           find "${dirs[@]}" -type f | sort | xargs -r cat) | sha256sum | cut -d' ' -f1)
  [ -f .next/.tenbin-build ] && have=$(cat .next/.tenbin-build)
  if [ "$want" != "$have" ] || [ ! -f .next/BUILD_ID ]; then
    log "building the console (next build)"
    npx next build >/tmp/tenbin-next-build.$$.log 2>&1 || { cat /tmp/tenbin-next-build.$$.log; rm -f /tmp/tenbin-next-build.$$.log; return 1; }
    rm -f /tmp/tenbin-next-build.$$.log
    echo "$want" > .next/.tenbin-build
  fi
}

is_root() { [ "$(id -u)" = "0" ]; }
