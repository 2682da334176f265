// Node registration and fleet status (platform admins).
import { z } from "zod";
import { issueJoinToken, revokeNodeCredential } from "../../domain/agents";
import { readBreaker } from "../../jobs/scheduler";
import { platformProcedure, router } from "../trpc";

const nodeRef = z.string().trim().min(1).max(64);

export const agentsRouter = router({
  /** A one-time token (shown once, valid one hour) the node's agent exchanges for its credential. */
  issueJoinToken: platformProcedure
    .input(z.object({ nodeId: nodeRef }))
    .output(z.object({ joinToken: z.string(), expiresAt: z.date() }))
    .mutation(({ ctx, input }) => issueJoinToken(ctx.domain, input.nodeId)),
  /** Cuts the node's agent off; it must join again with a new token. */
  revokeCredential: platformProcedure
    .input(z.object({ nodeId: nodeRef }))
    .output(z.object({ revoked: z.literal(true) }))
    .mutation(async ({ ctx, input }) => {
      await revokeNodeCredential(ctx.domain, input.nodeId);
      return { revoked: true as const };
    }),
  /** The failover circuit breaker as last evaluated by the jobs leader. */
  failover: platformProcedure
    .output(
      z.object({ suspended: z.boolean(), reason: z.string(), silentNodes: z.array(z.string()), at: z.string() }).nullable(),
    )
    .query(({ ctx }) => readBreaker(ctx.deps.database)),
});
