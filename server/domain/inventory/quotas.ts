// Per-tenant quotas (VIPs, listeners, members). Platform admins set them; tenant members read
// their own with the current usage. The load-balancer verbs enforce them through getQuota().
import { asc, count, eq } from "drizzle-orm";
import type { Db } from "../../db/client";
import { listener, loadBalancer, member, quota, tenant } from "../../db/schema";
import { QUOTA_MAX, type SetQuotaInput } from "../../../lib/inventory-schemas";
import { type DomainCtx, requirePlatformAdmin, resolveTenant } from "../context";
import { badField } from "../errors";
import { mutate } from "../mutate";

export interface Quota {
  maxVips: number;
  maxListeners: number;
  maxMembers: number;
}

/** Limits of a tenant without a quota row. */
export const DEFAULT_QUOTA: Readonly<Quota> = Object.freeze({
  maxVips: 50,
  maxListeners: 200,
  maxMembers: 2000,
});

export interface QuotaUsage {
  vips: number;
  listeners: number;
  members: number;
}

export interface QuotaView extends Quota {
  tenantId: string;
  tenantSlug: string;
  tenantName: string;
  /** True when no quota was set for the tenant: the defaults apply. */
  isDefault: boolean;
  usage: QuotaUsage;
  /** Limits the current usage exceeds (a lowered quota blocks new objects, removes nothing). */
  exceeded: (keyof Quota)[];
}

/** The tenant's limits (defaults when none were set). Works with a db handle or a transaction. */
export async function getQuota(db: Db, tenantId: string): Promise<Quota & { isDefault: boolean }> {
  const [row] = await db.select().from(quota).where(eq(quota.tenantId, tenantId));
  if (!row) return { ...DEFAULT_QUOTA, isDefault: true };
  return {
    maxVips: row.maxVips,
    maxListeners: row.maxListeners,
    maxMembers: row.maxMembers,
    isDefault: false,
  };
}

/** What the tenant currently holds, counted against its quota (tenant-indexed counts). */
export async function getQuotaUsage(db: Db, tenantId: string): Promise<QuotaUsage> {
  const [vips] = await db
    .select({ n: count() })
    .from(loadBalancer)
    .where(eq(loadBalancer.tenantId, tenantId));
  const [listeners] = await db
    .select({ n: count() })
    .from(listener)
    .where(eq(listener.tenantId, tenantId));
  const [members] = await db
    .select({ n: count() })
    .from(member)
    .where(eq(member.tenantId, tenantId));
  return { vips: vips?.n ?? 0, listeners: listeners?.n ?? 0, members: members?.n ?? 0 };
}

function exceededLimits(q: Quota, u: QuotaUsage): (keyof Quota)[] {
  const out: (keyof Quota)[] = [];
  if (u.vips > q.maxVips) out.push("maxVips");
  if (u.listeners > q.maxListeners) out.push("maxListeners");
  if (u.members > q.maxMembers) out.push("maxMembers");
  return out;
}

async function quotaView(
  db: Db,
  t: { id: string; slug: string; name: string },
): Promise<QuotaView> {
  const q = await getQuota(db, t.id);
  const usage = await getQuotaUsage(db, t.id);
  return {
    tenantId: t.id,
    tenantSlug: t.slug,
    tenantName: t.name,
    maxVips: q.maxVips,
    maxListeners: q.maxListeners,
    maxMembers: q.maxMembers,
    isDefault: q.isDefault,
    usage,
    exceeded: exceededLimits(q, usage),
  };
}

/** Any member of the tenant (and platform admins) may read its quota; others get NOT_FOUND. */
export async function getTenantQuota(ctx: DomainCtx, tenantRef: string): Promise<QuotaView> {
  const t = await resolveTenant(ctx, tenantRef);
  return quotaView(ctx.db, t.tenant);
}

/** Every tenant's quota and usage (platform admins). */
export async function listQuotas(ctx: DomainCtx): Promise<QuotaView[]> {
  requirePlatformAdmin(ctx);
  const tenants = await ctx.db
    .select({ id: tenant.id, slug: tenant.slug, name: tenant.name })
    .from(tenant)
    .orderBy(asc(tenant.slug));
  const out: QuotaView[] = [];
  for (const t of tenants) out.push(await quotaView(ctx.db, t));
  return out;
}

/**
 * Sets some or all limits (others keep their value). A limit below the current usage is allowed:
 * it blocks new objects and removes nothing; `exceeded` in the result says which limits are over.
 */
export async function setQuota(ctx: DomainCtx, input: SetQuotaInput): Promise<QuotaView> {
  requirePlatformAdmin(ctx);
  const t = await resolveTenant(ctx, input.tenantId);
  for (const key of ["maxVips", "maxListeners", "maxMembers"] as const) {
    const v = input[key];
    if (v !== undefined && (!Number.isInteger(v) || v < 0 || v > QUOTA_MAX)) {
      throw badField(key, `${key} must be a whole number from 0 to ${QUOTA_MAX}`);
    }
  }
  await mutate(ctx, async (tx, rec) => {
    const current = await getQuota(tx, t.tenant.id);
    const next: Quota = {
      maxVips: input.maxVips ?? current.maxVips,
      maxListeners: input.maxListeners ?? current.maxListeners,
      maxMembers: input.maxMembers ?? current.maxMembers,
    };
    if (
      !current.isDefault &&
      next.maxVips === current.maxVips &&
      next.maxListeners === current.maxListeners &&
      next.maxMembers === current.maxMembers
    ) {
      return; // nothing changes: no revision, no audit row
    }
    await tx
      .insert(quota)
      .values({ tenantId: t.tenant.id, ...next })
      .onConflictDoUpdate({ target: quota.tenantId, set: { ...next, updatedAt: new Date() } });
    const { isDefault, ...before } = current;
    await rec.record({
      tenantId: t.tenant.id,
      action: "quota.set",
      entityType: "quota",
      entityId: t.tenant.id,
      before: isDefault ? { ...before, default: true } : before,
      after: next,
    });
  });
  return quotaView(ctx.db, t.tenant);
}

/** Removes the tenant's own limits: the defaults apply again. */
export async function resetQuota(ctx: DomainCtx, tenantRef: string): Promise<QuotaView> {
  requirePlatformAdmin(ctx);
  const t = await resolveTenant(ctx, tenantRef);
  await mutate(ctx, async (tx, rec) => {
    const current = await getQuota(tx, t.tenant.id);
    if (current.isDefault) return;
    await tx.delete(quota).where(eq(quota.tenantId, t.tenant.id));
    const { isDefault: _d, ...before } = current;
    await rec.record({
      tenantId: t.tenant.id,
      action: "quota.reset",
      entityType: "quota",
      entityId: t.tenant.id,
      before,
      after: { ...DEFAULT_QUOTA, default: true },
    });
  });
  return quotaView(ctx.db, t.tenant);
}
