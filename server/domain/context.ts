// What every domain verb receives: the database, who is acting, and (for tenant verbs) the
// tenant they act in with their role there. Verbs re-check scope and role themselves; the
// API layer only resolves identities.
import { and, eq } from "drizzle-orm";
import type { Db } from "../db/client";
import type { Auth } from "../auth/auth";
import { tenant, tenantMember } from "../db/schema";
import { DomainError, notFound } from "./errors";

export const ROLES = ["viewer", "operator", "admin"] as const;
export type Role = (typeof ROLES)[number];
const rank: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };

export interface Actor {
  userId: string;
  email: string;
  name: string;
  platformAdmin: boolean;
  /** "session", "token:<prefix>" or "system" — recorded in the audit log. */
  via: string;
}

export interface DomainCtx {
  db: Db;
  auth: Auth;
  actor: Actor;
  /** Called after a transaction commits with the revisions it wrote. */
  onCommitted?: (revisions: number[]) => void;
}

export interface TenantCtx extends DomainCtx {
  tenant: { id: string; slug: string; name: string; role: Role };
}

export const SYSTEM_ACTOR: Actor = {
  userId: "",
  email: "system",
  name: "system",
  platformAdmin: true,
  via: "system",
};

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** References take an id or a natural key (slug, name, address): ids are UUIDs. */
export const isUuid = (s: string) => UUID_RE.test(s);

/**
 * Resolves a tenant by id or slug for the actor. A tenant the actor does not belong to answers
 * NOT_FOUND, exactly like one that does not exist. Platform admins act as `admin` everywhere.
 */
export async function resolveTenant(ctx: DomainCtx, ref: string): Promise<TenantCtx> {
  const byId = isUuid(ref);
  const [row] = await ctx.db
    .select({ id: tenant.id, slug: tenant.slug, name: tenant.name, role: tenantMember.role })
    .from(tenant)
    .leftJoin(
      tenantMember,
      and(eq(tenantMember.tenantId, tenant.id), eq(tenantMember.userId, ctx.actor.userId)),
    )
    .where(byId ? eq(tenant.id, ref) : eq(tenant.slug, ref))
    .limit(1);
  if (!row) throw notFound("tenant");
  const role: Role | null = ctx.actor.platformAdmin ? "admin" : row.role;
  if (!role) throw notFound("tenant");
  return { ...ctx, tenant: { id: row.id, slug: row.slug, name: row.name, role } };
}

export function requireRole(ctx: TenantCtx, min: Role): void {
  if (rank[ctx.tenant.role] < rank[min]) {
    throw new DomainError(
      "FORBIDDEN",
      `this needs the ${min} role in tenant ${ctx.tenant.slug}; you are ${ctx.tenant.role}`,
    );
  }
}

export function requirePlatformAdmin(ctx: DomainCtx): void {
  if (!ctx.actor.platformAdmin) throw new DomainError("FORBIDDEN", "this needs a platform admin");
}

export const roleAtLeast = (role: Role, min: Role) => rank[role] >= rank[min];
