import { router } from "./trpc";
import { auditRouter, meRouter, membersRouter, tokensRouter } from "./routers/account";
import { tenantsRouter, usersRouter } from "./routers/platform";

export const appRouter = router({
  me: meRouter,
  tenants: tenantsRouter,
  users: usersRouter,
  members: membersRouter,
  tokens: tokensRouter,
  audit: auditRouter,
});

export type AppRouter = typeof appRouter;
