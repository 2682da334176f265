// Domain verbs through the typed API caller, on PGlite (project "unit") and on a real
// PostgreSQL server (project "postgres").
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eq, sql } from "drizzle-orm";
import { expectCode } from "../testing/expect";
import { openWorld, type Caller, type World } from "../testing/world";
import { apiToken, auditLog } from "../db/schema";
import { authenticateToken } from "./tokens";
import { appRouter } from "../api/root";

let w: World;
beforeAll(async () => {
  w = await openWorld();
});
afterAll(async () => {
  await w?.close();
});


const auditCount = async () => (await w.database.db.select({ n: sql<number>`count(*)::int` }).from(auditLog))[0]!.n;

describe("tenants", () => {
  it("a platform admin creates a tenant; the change is audited with a revision", async () => {
    const t = await w.admin.tenants.create({ slug: "acme", name: "Acme Corp" });
    expect(t).toMatchObject({ slug: "acme", name: "Acme Corp", role: "admin", memberCount: 0 });
    const { entries } = await w.admin.audit.list({ limit: 5 });
    expect(entries[0]).toMatchObject({ action: "tenant.create", entityId: t.id, actor: "root@example.test" });
    expect(entries[0]!.revision).toBeGreaterThan(0);
  });

  it("refuses a duplicate slug and bad input with field errors, changing nothing", async () => {
    const before = await auditCount();
    const dup = await expectCode(w.admin.tenants.create({ slug: "acme", name: "Other" }), "CONFLICT", /already exists/);
    expect(dup.cause).toBeDefined();
    await expectCode(w.admin.tenants.create({ slug: "Not A Slug", name: "" }), "BAD_REQUEST");
    expect(await auditCount()).toBe(before);
  });

  it("only platform admins create tenants", async () => {
    const { caller } = await w.user("nobody@example.test");
    await expectCode(caller.tenants.create({ slug: "mine", name: "Mine" }), "FORBIDDEN");
    expect(await caller.tenants.list()).toEqual([]);
  });

  it("anonymous callers are refused with a clear message", async () => {
    await expectCode(w.anonymous.tenants.list(), "UNAUTHORIZED", /sign in/);
    await expectCode(w.callerFor(null, "API token tb_abc… was revoked").tenants.list(), "UNAUTHORIZED", /revoked/);
    expect(await w.anonymous.me.get()).toBeNull();
  });
});

describe("members and roles", () => {
  let acmeAdmin: { id: string; caller: Caller };
  let op: { id: string; caller: Caller };
  let viewer: { id: string; caller: Caller };

  beforeAll(async () => {
    await w.admin.tenants.create({ slug: "globex", name: "Globex" });
    acmeAdmin = await w.user("alice@acme.test");
    op = await w.user("oscar@acme.test");
    viewer = await w.user("vera@acme.test");
    await w.admin.members.add({ tenantId: "acme", email: "alice@acme.test", role: "admin" });
  });

  it("a tenant admin adds members by email; repeating the same add is a no-op", async () => {
    const m = await acmeAdmin.caller.members.add({ tenantId: "acme", email: "OSCAR@acme.test", role: "operator" });
    expect(m).toMatchObject({ email: "oscar@acme.test", role: "operator" });
    const before = await auditCount();
    await acmeAdmin.caller.members.add({ tenantId: "acme", email: "oscar@acme.test", role: "operator" });
    expect(await auditCount()).toBe(before);
    await acmeAdmin.caller.members.add({ tenantId: "acme", email: "vera@acme.test", role: "viewer" });
    const list = await viewer.caller.members.list({ tenantId: "acme" });
    expect(list.map((x) => `${x.email}:${x.role}`)).toEqual([
      "alice@acme.test:admin",
      "oscar@acme.test:operator",
      "vera@acme.test:viewer",
    ]);
  });

  it("members see only their own tenants", async () => {
    const tenants = await op.caller.tenants.list();
    expect(tenants.map((t) => `${t.slug}:${t.role}`)).toEqual(["acme:operator"]);
    await expectCode(op.caller.tenants.get({ tenantId: "globex" }), "NOT_FOUND");
    expect((await w.admin.tenants.list()).map((t) => t.slug)).toEqual(["acme", "globex"]);
  });

  it("unknown emails and conflicting adds get field errors", async () => {
    const e = await expectCode(
      acmeAdmin.caller.members.add({ tenantId: "acme", email: "ghost@acme.test", role: "viewer" }),
      "BAD_REQUEST",
      /no user with email/,
    );
    expect((e.cause as { fieldErrors?: Record<string, string[]> }).fieldErrors?.email).toBeDefined();
    await expectCode(
      acmeAdmin.caller.members.add({ tenantId: "acme", email: "oscar@acme.test", role: "admin" }),
      "CONFLICT",
      /already a member/,
    );
  });

  it("viewers and operators cannot change membership", async () => {
    const before = await auditCount();
    await expectCode(viewer.caller.members.add({ tenantId: "acme", email: "nobody@example.test", role: "viewer" }), "FORBIDDEN", /admin role/);
    await expectCode(op.caller.members.setRole({ tenantId: "acme", userId: viewer.id, role: "admin" }), "FORBIDDEN");
    await expectCode(op.caller.members.remove({ tenantId: "acme", userId: viewer.id }), "FORBIDDEN");
    expect(await auditCount()).toBe(before);
  });

  it("never leaves a tenant without its last admin", async () => {
    await expectCode(
      acmeAdmin.caller.members.setRole({ tenantId: "acme", userId: acmeAdmin.id, role: "viewer" }),
      "PRECONDITION_FAILED",
      /last admin/,
    );
    await expectCode(acmeAdmin.caller.members.remove({ tenantId: "acme", userId: acmeAdmin.id }), "PRECONDITION_FAILED");
    await acmeAdmin.caller.members.setRole({ tenantId: "acme", userId: op.id, role: "admin" });
    await acmeAdmin.caller.members.setRole({ tenantId: "acme", userId: acmeAdmin.id, role: "operator" });
    const roles = await w.admin.members.list({ tenantId: "acme" });
    expect(roles.find((r) => r.userId === acmeAdmin.id)?.role).toBe("operator");
    // restore
    await op.caller.members.setRole({ tenantId: "acme", userId: acmeAdmin.id, role: "admin" });
    await acmeAdmin.caller.members.setRole({ tenantId: "acme", userId: op.id, role: "operator" });
  });

  it("the audit log: tenant admins see their tenant, others their own actions", async () => {
    const tenantLog = await acmeAdmin.caller.audit.list({ tenantId: "acme", limit: 100 });
    expect(tenantLog.entries.length).toBeGreaterThan(3);
    expect(tenantLog.entries.every((e) => e.tenantId === tenantLog.entries[0]!.tenantId)).toBe(true);
    expect(tenantLog.entries.some((e) => e.action === "member.set-role")).toBe(true);
    const setRole = tenantLog.entries.find((e) => e.action === "member.set-role")!;
    expect(setRole.before).toHaveProperty("role");
    expect(setRole.after).toHaveProperty("role");
    await expectCode(op.caller.audit.list({ tenantId: "acme", limit: 10 }), "FORBIDDEN");
    await expectCode(op.caller.audit.list({ limit: 10 }), "FORBIDDEN");
    await expectCode(acmeAdmin.caller.audit.list({ tenantId: "globex", limit: 10 }), "NOT_FOUND");
    await op.caller.tokens.create({ name: "ci" });
    const mine = await op.caller.audit.list({ mine: true, limit: 10 });
    expect(mine.entries[0]!.action).toBe("token.create");
    expect(mine.entries.every((e) => e.actor === "oscar@acme.test")).toBe(true);
    // pagination
    const p1 = await w.admin.audit.list({ limit: 2 });
    const p2 = await w.admin.audit.list({ limit: 2, before: p1.nextCursor! });
    expect(p2.entries[0]!.id).toBeLessThan(p1.entries[1]!.id);
  });
});

describe("users", () => {
  it("platform admins create users; duplicates and weak passwords are refused", async () => {
    const u = await w.admin.users.create({ email: "new@example.test", name: "New", password: "long-enough-1", platformAdmin: false });
    expect(u).toMatchObject({ email: "new@example.test", platformAdmin: false, tenants: [] });
    await expectCode(
      w.admin.users.create({ email: "new@example.test", name: "New", password: "long-enough-1", platformAdmin: false }),
      "CONFLICT",
    );
    const weak = await expectCode(
      w.admin.users.create({ email: "weak@example.test", name: "W", password: "short", platformAdmin: false }),
      "BAD_REQUEST",
    );
    expect(weak.message).toMatch(/password/);
  });

  it("users sign up and sign in with a password through better-auth; a duplicate email is refused", async () => {
    const r = await w.auth.api.signUpEmail({ body: { email: "self@example.test", password: "self-signed-77", name: "Self" } });
    expect(r.user.email).toBe("self@example.test");
    const again = await w.auth.api
      .signUpEmail({ body: { email: "self@example.test", password: "self-signed-77", name: "Self" } })
      .catch((e: unknown) => e as Error);
    expect(again).toBeInstanceOf(Error);
    const signIn = await w.auth.api.signInEmail({ body: { email: "self@example.test", password: "self-signed-77" } });
    expect(signIn.token).toBeTruthy();
    const bad = await w.auth.api
      .signInEmail({ body: { email: "self@example.test", password: "wrong-password-1" } })
      .catch((e: unknown) => e as Error);
    expect(bad).toBeInstanceOf(Error);
    const { entries } = await w.admin.audit.list({ limit: 20, action: "user.sign-up" });
    expect(entries.map((e) => (e.after as { email: string }).email)).toContain("self@example.test");
  });

  it("the last platform admin cannot be demoted", async () => {
    const root = (await w.admin.me.get())!;
    await expectCode(w.admin.users.setPlatformAdmin({ userId: root.id, platformAdmin: false }), "PRECONDITION_FAILED");
    const { caller } = await w.user("plain@example.test");
    await expectCode(caller.users.list(), "FORBIDDEN");
  });
});

describe("API tokens", () => {
  it("are shown once, stored hashed, authenticate, and stop working when revoked or expired", async () => {
    const { caller, id: userId } = await w.user("tok@example.test");
    const { token, view } = await caller.tokens.create({ name: "laptop", expiresInDays: 30 });
    expect(token.startsWith("tb_")).toBe(true);
    expect(view.state).toBe("active");
    const rows = await w.database.db.select().from(apiToken).where(eq(apiToken.userId, userId));
    expect(JSON.stringify(rows)).not.toContain(token.slice(10));
    const ok = await authenticateToken(w.database.db, token);
    expect(ok).toMatchObject({ ok: true, actor: { email: "tok@example.test" } });
    expect((await caller.tokens.list())[0]).not.toHaveProperty("token");

    await caller.tokens.revoke({ id: view.id });
    expect(await authenticateToken(w.database.db, token)).toMatchObject({ ok: false, reason: /revoked/ });

    const second = await caller.tokens.create({ name: "short-lived", expiresInDays: 1 });
    await w.database.db
      .update(apiToken)
      .set({ expiresAt: new Date(Date.now() - 1000) })
      .where(eq(apiToken.id, second.view.id));
    expect(await authenticateToken(w.database.db, second.token)).toMatchObject({ ok: false, reason: /expired/ });
    expect(await authenticateToken(w.database.db, "tb_nope")).toMatchObject({ ok: false, reason: /unknown/ });
    expect(await authenticateToken(w.database.db, "garbage")).toMatchObject({ ok: false, reason: /malformed/ });
  });

  it("one user cannot see or revoke another user's token", async () => {
    const a = await w.user("ta@example.test");
    const b = await w.user("tb@example.test");
    const { view } = await a.caller.tokens.create({ name: "a" });
    expect(await b.caller.tokens.list()).toEqual([]);
    await expectCode(b.caller.tokens.revoke({ id: view.id }), "NOT_FOUND");
    await expectCode(w.admin.tokens.revoke({ id: view.id }), "NOT_FOUND");
  });
});

/**
 * Tenant isolation for every tenant-scoped procedure: an admin of tenant "iso-a" calling it on
 * tenant "iso-b" gets NOT_FOUND, and a viewer cannot call any mutation. Adding a procedure to the
 * router without a case here fails the coverage check.
 */
describe("tenant isolation (every procedure)", () => {
  type Case = (c: Caller, tenantId: string, ids: { userId: string }) => Promise<unknown>;
  const tenantScoped: Record<string, { call: Case; mutation: boolean }> = {
    "tenants.get": { call: (c, t) => c.tenants.get({ tenantId: t }), mutation: false },
    "members.list": { call: (c, t) => c.members.list({ tenantId: t }), mutation: false },
    "members.add": { call: (c, t) => c.members.add({ tenantId: t, email: "x@example.test", role: "viewer" }), mutation: true },
    "members.setRole": { call: (c, t, ids) => c.members.setRole({ tenantId: t, userId: ids.userId, role: "viewer" }), mutation: true },
    "members.remove": { call: (c, t, ids) => c.members.remove({ tenantId: t, userId: ids.userId }), mutation: true },
    "audit.list": { call: (c, t) => c.audit.list({ tenantId: t, limit: 5 }), mutation: false },
  };
  // Not tenant-scoped: platform-only or the caller's own objects (covered above).
  const notTenantScoped = [
    "me.get",
    "tenants.list",
    "tenants.create",
    "tenants.rename",
    "users.list",
    "users.get",
    "users.create",
    "users.setPlatformAdmin",
    "tokens.list",
    "tokens.create",
    "tokens.revoke",
  ];

  it("covers every procedure of the foundation's routers", () => {
    const namespaces = ["me", "tenants", "users", "members", "tokens", "audit"];
    const all = Object.keys(appRouter._def.procedures)
      .filter((p) => namespaces.includes(p.split(".")[0]!))
      .sort();
    expect(all).toEqual([...Object.keys(tenantScoped), ...notTenantScoped].sort());
  });

  it("another tenant's objects answer NOT_FOUND; viewers cannot mutate", async () => {
    await w.admin.tenants.create({ slug: "iso-a", name: "A" });
    await w.admin.tenants.create({ slug: "iso-b", name: "B" });
    const a = await w.user("admin-a@example.test");
    const b = await w.user("admin-b@example.test");
    const v = await w.user("viewer-a@example.test");
    await w.admin.members.add({ tenantId: "iso-a", email: a.actor.email, role: "admin" });
    await w.admin.members.add({ tenantId: "iso-a", email: v.actor.email, role: "viewer" });
    await w.admin.members.add({ tenantId: "iso-b", email: b.actor.email, role: "admin" });
    const bTenant = await w.admin.tenants.get({ tenantId: "iso-b" });
    const before = await auditCount();
    for (const [name, c] of Object.entries(tenantScoped)) {
      for (const ref of ["iso-b", bTenant.id]) {
        await expectCode(c.call(a.caller, ref, { userId: b.id }), "NOT_FOUND").catch((e: unknown) => {
          throw new Error(`${name} on another tenant (${ref}): ${String(e)}`);
        });
      }
      if (c.mutation) {
        await expectCode(c.call(v.caller, "iso-a", { userId: a.id }), "FORBIDDEN").catch((e: unknown) => {
          throw new Error(`${name} as viewer: ${String(e)}`);
        });
      }
    }
    expect(await auditCount()).toBe(before);
  });
});
