// Users: self sign-up (better-auth), creation by platform admins, the platform-admin flag, and
// the first platform admin created at the first start.
import { AsyncLocalStorage } from "node:async_hooks";
import { randomBytes } from "node:crypto";
import { asc, count, eq } from "drizzle-orm";
import { tenant, tenantMember, user } from "../db/schema";
import type { Auth } from "../auth/auth";
import type { Db } from "../db/client";
import { type DomainCtx, type Role, SYSTEM_ACTOR, requirePlatformAdmin } from "./context";
import { DomainError, conflict, notFound } from "./errors";
import { mutate } from "./mutate";

export interface UserView {
  id: string;
  email: string;
  name: string;
  platformAdmin: boolean;
  createdAt: Date;
  tenants: { id: string; slug: string; role: Role }[];
}

/** Set while a platform admin creates a user, so the sign-up hook does not audit it twice. */
const creatingByAdmin = new AsyncLocalStorage<true>();

/** better-auth's after-create hook: audits self sign-ups (admin-created users are audited by createUser). */
export async function auditSignUp(db: Db, auth: Auth, u: { id: string; email: string; name: string }) {
  if (creatingByAdmin.getStore()) return;
  await mutate(
    { db, auth, actor: { userId: u.id, email: u.email, name: u.name, platformAdmin: false, via: "session" } },
    (_tx, rec) =>
      rec.record({
        tenantId: null,
        action: "user.sign-up",
        entityType: "user",
        entityId: u.id,
        before: null,
        after: { email: u.email, name: u.name },
      }),
  );
}

async function insertUser(
  auth: Auth,
  input: { email: string; name: string; password: string; platformAdmin: boolean },
) {
  const c = await auth.$context;
  const hash = await c.password.hash(input.password);
  const created = await creatingByAdmin.run(true, () =>
    c.internalAdapter.createUser({
      email: input.email,
      name: input.name,
      emailVerified: false,
      platformAdmin: input.platformAdmin,
    }, { method: "admin" }),
  );
  await c.internalAdapter.linkAccount({
    userId: created.id,
    providerId: "credential",
    accountId: created.id,
    password: hash,
  });
  return created;
}

export async function createUser(
  ctx: DomainCtx,
  input: { email: string; name: string; password: string; platformAdmin: boolean },
): Promise<UserView> {
  requirePlatformAdmin(ctx);
  const [dup] = await ctx.db.select({ id: user.id }).from(user).where(eq(user.email, input.email));
  if (dup) throw conflict(`a user with email ${input.email} already exists`, "email");
  const created = await insertUser(ctx.auth, input);
  await mutate(ctx, (_tx, rec) =>
    rec.record({
      tenantId: null,
      action: "user.create",
      entityType: "user",
      entityId: created.id,
      before: null,
      after: { email: input.email, name: input.name, platformAdmin: input.platformAdmin },
    }),
  );
  return getUser(ctx, created.id);
}

export async function getUser(ctx: DomainCtx, id: string): Promise<UserView> {
  if (id !== ctx.actor.userId) requirePlatformAdmin(ctx);
  const [u] = await ctx.db.select().from(user).where(eq(user.id, id));
  if (!u) throw notFound("user");
  const tenants = await ctx.db
    .select({ id: tenant.id, slug: tenant.slug, role: tenantMember.role })
    .from(tenantMember)
    .innerJoin(tenant, eq(tenant.id, tenantMember.tenantId))
    .where(eq(tenantMember.userId, id))
    .orderBy(asc(tenant.slug));
  return { id: u.id, email: u.email, name: u.name, platformAdmin: u.platformAdmin, createdAt: u.createdAt, tenants };
}

export async function listUsers(ctx: DomainCtx): Promise<UserView[]> {
  requirePlatformAdmin(ctx);
  const users = await ctx.db.select().from(user).orderBy(asc(user.email));
  const memberships = await ctx.db
    .select({ userId: tenantMember.userId, id: tenant.id, slug: tenant.slug, role: tenantMember.role })
    .from(tenantMember)
    .innerJoin(tenant, eq(tenant.id, tenantMember.tenantId))
    .orderBy(asc(tenant.slug));
  return users.map((u) => ({
    id: u.id,
    email: u.email,
    name: u.name,
    platformAdmin: u.platformAdmin,
    createdAt: u.createdAt,
    tenants: memberships.filter((m) => m.userId === u.id).map(({ id, slug, role }) => ({ id, slug, role })),
  }));
}

export async function setPlatformAdmin(ctx: DomainCtx, userId: string, value: boolean): Promise<UserView> {
  requirePlatformAdmin(ctx);
  await mutate(ctx, async (tx, rec) => {
    const admins = await tx.select({ id: user.id }).from(user).where(eq(user.platformAdmin, true)).for("update");
    const [u] = await tx.select().from(user).where(eq(user.id, userId));
    if (!u) throw notFound("user");
    if (u.platformAdmin === value) return;
    if (!value && admins.length <= 1) {
      throw new DomainError("PRECONDITION_FAILED", `${u.email} is the last platform admin`);
    }
    await tx.update(user).set({ platformAdmin: value, updatedAt: new Date() }).where(eq(user.id, userId));
    await rec.record({
      tenantId: null,
      action: "user.set-platform-admin",
      entityType: "user",
      entityId: userId,
      before: { email: u.email, platformAdmin: u.platformAdmin },
      after: { email: u.email, platformAdmin: value },
    });
  });
  return getUser(ctx, userId);
}

/**
 * At the first start (no platform admin yet) creates one. Returns the credentials when it
 * generated the password, so the caller can print them exactly once.
 */
export async function ensureFirstAdmin(
  db: Db,
  auth: Auth,
  opts: { email: string; password?: string },
): Promise<{ email: string; password: string; generated: boolean } | null> {
  const [row] = await db.select({ n: count() }).from(user).where(eq(user.platformAdmin, true));
  if ((row?.n ?? 0) > 0) return null;
  const [existing] = await db.select().from(user).where(eq(user.email, opts.email));
  const ctx: DomainCtx = { db, auth, actor: SYSTEM_ACTOR };
  if (existing) {
    // The bootstrap email already signed up: promote it rather than fail.
    await db.update(user).set({ platformAdmin: true }).where(eq(user.id, existing.id));
    await mutate(ctx, (_tx, rec) =>
      rec.record({
        tenantId: null,
        action: "user.set-platform-admin",
        entityType: "user",
        entityId: existing.id,
        before: { platformAdmin: false },
        after: { platformAdmin: true },
      }),
    );
    return { email: opts.email, password: "(unchanged)", generated: false };
  }
  const password = opts.password ?? `tb-${randomBytes(12).toString("base64url")}`;
  const created = await insertUser(auth, { email: opts.email, name: "Platform admin", password, platformAdmin: true });
  await mutate(ctx, (_tx, rec) =>
    rec.record({
      tenantId: null,
      action: "user.create",
      entityType: "user",
      entityId: created.id,
      before: null,
      after: { email: opts.email, platformAdmin: true },
    }),
  );
  return { email: opts.email, password, generated: !opts.password };
}
