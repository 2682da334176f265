#!/usr/bin/env bash
# Sets up everything that is missing and runs Tenbin: console + API on http://localhost:3000 with
# the embedded PGlite database in ./data (or DATABASE_URL). Idempotent: run it again any time.
source "$(dirname "$0")/lib.sh"

bash scripts/setup-system.sh
ensure_node_modules
ensure_next_build

if is_root; then
  if [ -f scripts/testbed.ts ]; then
    log "root: the demo cluster (agents, XDP, FRR in network namespaces) starts with the server"
    export TENBIN_DEMO_CLUSTER=1
  else
    log "root: the demo cluster is not part of this build yet; running console + API only"
  fi
else
  log "not root: running console + API only (the XDP data plane, FRR and network namespaces need root)"
fi

export NODE_ENV=production
exec npx tsx server/main.ts
