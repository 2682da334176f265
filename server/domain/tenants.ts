// Tenants: created and renamed by platform admins; every member sees the tenants they belong to.
import { asc, count, eq, isNotNull } from "drizzle-orm";
import { tenant, tenantMember } from "../db/schema";
import type { CreateTenantInput } from "../../lib/schemas";
import { type DomainCtx, type Role, requirePlatformAdmin, resolveTenant } from "./context";
import { conflict } from "./errors";
import { mutate } from "./mutate";

export interface TenantView {
  id: string;
  slug: string;
  name: string;
  /** The caller's role in it (platform admins: admin). */
  role: Role;
  memberCount: number;
  createdAt: Date;
}

const view = (t: typeof tenant.$inferSelect, role: Role, memberCount: number): TenantView => ({
  id: t.id,
  slug: t.slug,
  name: t.name,
  role,
  memberCount,
  createdAt: t.createdAt,
});

export async function createTenant(ctx: DomainCtx, input: CreateTenantInput): Promise<TenantView> {
  requirePlatformAdmin(ctx);
  return mutate(ctx, async (tx, rec) => {
    const [existing] = await tx.select({ id: tenant.id }).from(tenant).where(eq(tenant.slug, input.slug));
    if (existing) throw conflict(`a tenant with slug "${input.slug}" already exists`, "slug");
    const [row] = await tx.insert(tenant).values({ slug: input.slug, name: input.name }).returning();
    await rec.record({
      tenantId: row!.id,
      action: "tenant.create",
      entityType: "tenant",
      entityId: row!.id,
      before: null,
      after: { slug: row!.slug, name: row!.name },
    });
    return view(row!, "admin", 0);
  });
}

export async function renameTenant(ctx: DomainCtx, ref: string, name: string): Promise<TenantView> {
  requirePlatformAdmin(ctx);
  const t = await resolveTenant(ctx, ref);
  return mutate(ctx, async (tx, rec) => {
    const [row] = await tx
      .update(tenant)
      .set({ name, updatedAt: new Date() })
      .where(eq(tenant.id, t.tenant.id))
      .returning();
    await rec.record({
      tenantId: row!.id,
      action: "tenant.update",
      entityType: "tenant",
      entityId: row!.id,
      before: { name: t.tenant.name },
      after: { name },
    });
    const [c] = await tx.select({ n: count() }).from(tenantMember).where(eq(tenantMember.tenantId, row!.id));
    return view(row!, "admin", c?.n ?? 0);
  });
}

/** Platform admins see every tenant; everyone else the tenants they are a member of. */
export async function listTenants(ctx: DomainCtx): Promise<TenantView[]> {
  const counts = ctx.db
    .select({ tenantId: tenantMember.tenantId, n: count().as("n") })
    .from(tenantMember)
    .groupBy(tenantMember.tenantId)
    .as("counts");
  const mine = ctx.db
    .select({ tenantId: tenantMember.tenantId, role: tenantMember.role })
    .from(tenantMember)
    .where(eq(tenantMember.userId, ctx.actor.userId))
    .as("mine");
  const rows = await ctx.db
    .select({ t: tenant, n: counts.n, role: mine.role })
    .from(tenant)
    .leftJoin(counts, eq(counts.tenantId, tenant.id))
    .leftJoin(mine, eq(mine.tenantId, tenant.id))
    .where(ctx.actor.platformAdmin ? undefined : isNotNull(mine.role))
    .orderBy(asc(tenant.slug));
  return rows.map((r) => view(r.t, ctx.actor.platformAdmin ? "admin" : r.role!, r.n ?? 0));
}

export async function getTenant(ctx: DomainCtx, ref: string): Promise<TenantView> {
  const t = await resolveTenant(ctx, ref);
  const [row] = await ctx.db.select().from(tenant).where(eq(tenant.id, t.tenant.id));
  const [c] = await ctx.db.select({ n: count() }).from(tenantMember).where(eq(tenantMember.tenantId, t.tenant.id));
  return view(row!, t.tenant.role, c?.n ?? 0);
}
