// The audit log: tenant admins read their tenant's entries, platform admins read everything,
// and every user reads their own actions.
import { and, desc, eq, lt, type SQL } from "drizzle-orm";
import { auditLog } from "../db/schema";
import { type DomainCtx, requirePlatformAdmin, requireRole, resolveTenant } from "./context";

export interface AuditEntry {
  id: number;
  at: Date;
  actor: string;
  via: string;
  tenantId: string | null;
  action: string;
  entityType: string;
  entityId: string;
  before: unknown;
  after: unknown;
  revision: number | null;
}

export async function listAudit(
  ctx: DomainCtx,
  input: {
    /** Only the caller's own actions (any signed-in user). */
    mine?: boolean | undefined;
    tenantId?: string | undefined;
    before?: number | undefined;
    limit: number;
    action?: string | undefined;
  },
): Promise<{ entries: AuditEntry[]; nextCursor: number | null }> {
  const where: SQL[] = [];
  if (input.mine) {
    where.push(eq(auditLog.actorUserId, ctx.actor.userId));
  } else if (input.tenantId) {
    const t = await resolveTenant(ctx, input.tenantId);
    requireRole(t, "admin");
    where.push(eq(auditLog.tenantId, t.tenant.id));
  } else {
    requirePlatformAdmin(ctx);
  }
  if (input.before) where.push(lt(auditLog.id, input.before));
  if (input.action) where.push(eq(auditLog.action, input.action));
  const rows = await ctx.db
    .select()
    .from(auditLog)
    .where(where.length ? and(...where) : undefined)
    .orderBy(desc(auditLog.id))
    .limit(input.limit + 1);
  const page = rows.slice(0, input.limit);
  return {
    entries: page.map((r) => ({
      id: r.id,
      at: r.at,
      actor: r.actorLabel,
      via: r.actorVia,
      tenantId: r.tenantId,
      action: r.action,
      entityType: r.entityType,
      entityId: r.entityId,
      before: r.before,
      after: r.after,
      revision: r.revision,
    })),
    nextCursor: rows.length > input.limit ? page[page.length - 1]!.id : null,
  };
}
