#!/usr/bin/env bash
# Sets up everything that is missing and runs Tenbin: console + API on http://localhost:3000 with
# the embedded PGlite database in ./data (or DATABASE_URL). Idempotent: run it again any time.
# As root it also brings up the demo cluster (server/demo.ts): a router, 3 LB nodes running the
# agent (XDP, FRR), 3 backends and 2 clients in network namespaces, a demo tenant and load
# balancer; Ctrl-C or SIGTERM removes it again.
source "$(dirname "$0")/lib.sh"

bash scripts/setup-system.sh
ensure_node_modules
ensure_next_build

if is_root; then
  log "root: the demo cluster (router, LB nodes with the agent, backends, clients in network namespaces) comes up ~20 s after the console"
  export TENBIN_DEMO_CLUSTER=1
else
  log "not root: running console + API only (the XDP data plane, FRR and network namespaces need root)"
fi

export NODE_ENV=production
# node itself (not npx/tsx wrappers), so SIGTERM reaches the server and it can tear the demo down.
exec node --import tsx server/main.ts
