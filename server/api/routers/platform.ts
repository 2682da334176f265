import { z } from "zod";
import { createTenantInput, createUserInput, updateTenantInput, tenantRefSchema } from "../../../lib/schemas";
import { createTenant, getTenant, listTenants, renameTenant } from "../../domain/tenants";
import { createUser, getUser, listUsers, setPlatformAdmin } from "../../domain/users";
import { authedProcedure, platformProcedure, router } from "../trpc";
import { tenantOut, userOut } from "./outputs";

export const tenantsRouter = router({
  /** The tenants the caller can act in (all of them for platform admins). */
  list: authedProcedure.output(z.array(tenantOut)).query(({ ctx }) => listTenants(ctx.domain)),
  get: authedProcedure
    .input(z.object({ tenantId: tenantRefSchema }))
    .output(tenantOut)
    .query(({ ctx, input }) => getTenant(ctx.domain, input.tenantId)),
  create: platformProcedure
    .input(createTenantInput)
    .output(tenantOut)
    .mutation(({ ctx, input }) => createTenant(ctx.domain, input)),
  rename: platformProcedure
    .input(updateTenantInput)
    .output(tenantOut)
    .mutation(({ ctx, input }) => renameTenant(ctx.domain, input.tenantId, input.name)),
});

export const usersRouter = router({
  list: platformProcedure.output(z.array(userOut)).query(({ ctx }) => listUsers(ctx.domain)),
  get: platformProcedure
    .input(z.object({ userId: z.string().min(1).max(64) }))
    .output(userOut)
    .query(({ ctx, input }) => getUser(ctx.domain, input.userId)),
  create: platformProcedure
    .input(createUserInput)
    .output(userOut)
    .mutation(({ ctx, input }) => createUser(ctx.domain, input)),
  setPlatformAdmin: platformProcedure
    .input(z.object({ userId: z.string().min(1).max(64), platformAdmin: z.boolean() }))
    .output(userOut)
    .mutation(({ ctx, input }) => setPlatformAdmin(ctx.domain, input.userId, input.platformAdmin)),
});
