import { router } from "./trpc";
import { auditRouter, meRouter, membersRouter, tokensRouter } from "./routers/account";
import { tenantsRouter, usersRouter } from "./routers/platform";
import { agentsRouter } from "./routers/agents";
import { lbRouter, listenersRouter, poolMembersRouter, poolsRouter } from "./routers/lb";
import { certsRouter } from "./routers/certs";
import { liveRouter } from "./routers/live";
import { azsRouter, ipPoolsRouter, nodesRouter, quotasRouter, regionsRouter } from "./routers/inventory";

export const appRouter = router({
  me: meRouter,
  tenants: tenantsRouter,
  users: usersRouter,
  members: membersRouter,
  tokens: tokensRouter,
  audit: auditRouter,
  regions: regionsRouter,
  azs: azsRouter,
  nodes: nodesRouter,
  ipPools: ipPoolsRouter,
  quotas: quotasRouter,
  lb: lbRouter,
  listeners: listenersRouter,
  pools: poolsRouter,
  poolMembers: poolMembersRouter,
  agents: agentsRouter,
  certs: certsRouter,
  live: liveRouter,
});

export type AppRouter = typeof appRouter;
