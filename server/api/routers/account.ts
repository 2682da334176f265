import { z } from "zod";
import { addMemberInput, auditListInput, createTokenInput, removeMemberInput, setMemberRoleInput } from "../../../lib/schemas";
import { listAudit } from "../../domain/audit";
import { addMember, listMembers, removeMember, setMemberRole } from "../../domain/members";
import { createToken, listTokens, revokeToken } from "../../domain/tokens";
import { getUser } from "../../domain/users";
import { authedProcedure, publicProcedure, router, tenantProcedure } from "../trpc";
import { auditEntryOut, memberOut, tokenOut, userOut } from "./outputs";

export const meRouter = router({
  /** The signed-in user with their tenants, or null when signed out. */
  get: publicProcedure.output(userOut.nullable()).query(({ ctx }) =>
    ctx.actor
      ? getUser({ db: ctx.deps.db, auth: ctx.deps.auth, actor: ctx.actor }, ctx.actor.userId)
      : null,
  ),
});

export const membersRouter = router({
  list: tenantProcedure("viewer")
    .output(z.array(memberOut))
    .query(({ ctx }) => listMembers(ctx.domain, ctx.tenantCtx.tenant.id)),
  add: tenantProcedure("admin")
    .input(addMemberInput)
    .output(memberOut)
    .mutation(({ ctx, input }) => addMember(ctx.domain, input)),
  setRole: tenantProcedure("admin")
    .input(setMemberRoleInput)
    .output(memberOut)
    .mutation(({ ctx, input }) => setMemberRole(ctx.domain, input)),
  remove: tenantProcedure("admin")
    .input(removeMemberInput)
    .output(z.object({ removed: z.literal(true) }))
    .mutation(async ({ ctx, input }) => {
      await removeMember(ctx.domain, input);
      return { removed: true as const };
    }),
});

export const tokensRouter = router({
  list: authedProcedure.output(z.array(tokenOut)).query(({ ctx }) => listTokens(ctx.domain)),
  /** Returns the secret exactly once. */
  create: authedProcedure
    .input(createTokenInput)
    .output(z.object({ token: z.string(), view: tokenOut }))
    .mutation(({ ctx, input }) => createToken(ctx.domain, input)),
  revoke: authedProcedure
    .input(z.object({ id: z.string().uuid("not a token id") }))
    .output(tokenOut)
    .mutation(({ ctx, input }) => revokeToken(ctx.domain, input.id)),
});

export const auditRouter = router({
  list: authedProcedure
    .input(auditListInput)
    .output(z.object({ entries: z.array(auditEntryOut), nextCursor: z.number().nullable() }))
    .query(({ ctx, input }) => listAudit(ctx.domain, input)),
});
