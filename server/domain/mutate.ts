// The one way to change state: rows + a new revision + an audit row, in one transaction.
import { auditLog, revision } from "../db/schema";
import type { Tx } from "../db/client";
import type { DomainCtx } from "./context";

export interface Change {
  tenantId: string | null;
  action: string; // e.g. "tenant.create"
  entityType: string;
  entityId: string;
  before: unknown;
  after: unknown;
}

export interface Recorder {
  /** Records one change (revision + audit) inside the running transaction. */
  record(change: Change): Promise<number>;
}

export async function mutate<T>(
  ctx: DomainCtx,
  work: (tx: Tx, rec: Recorder) => Promise<T>,
): Promise<T> {
  const revisions: number[] = [];
  const result = await ctx.db.transaction(async (tx) => {
    const rec: Recorder = {
      async record(c) {
        const [rev] = await tx
          .insert(revision)
          .values({
            tenantId: c.tenantId,
            entityType: c.entityType,
            entityId: c.entityId,
            op: c.action,
          })
          .returning({ id: revision.id });
        await tx.insert(auditLog).values({
          actorUserId: ctx.actor.userId || null,
          actorLabel: ctx.actor.email,
          actorVia: ctx.actor.via,
          tenantId: c.tenantId,
          action: c.action,
          entityType: c.entityType,
          entityId: c.entityId,
          before: (c.before ?? null) as object | null,
          after: (c.after ?? null) as object | null,
          revision: rev!.id,
        });
        revisions.push(rev!.id);
        return rev!.id;
      },
    };
    return work(tx, rec);
  });
  if (revisions.length) ctx.onCommitted?.(revisions);
  return result;
}
