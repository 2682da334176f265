// Load balancers as resources: the whole tree, natural keys, idempotency, optimistic
// concurrency, statuses and every bad-input case — on PGlite and on real PostgreSQL.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sql } from "drizzle-orm";
import { expectCode, fieldErrors } from "../../testing/expect";
import { openWorld, type Caller, type World } from "../../testing/world";
import { auditLog } from "../../db/schema";
import { appRouter } from "../../api/root";

let w: World;
let op: Caller; // operator of tenant "shop"
let viewer: Caller;
let other: Caller; // admin of tenant "rival"
const T = "shop";

beforeAll(async () => {
  w = await openWorld();
  const region = await w.admin.regions.create({ name: "r1" });
  await w.admin.ipPools.create({ regionId: region.id, name: "v4", cidr: "198.19.0.0/24" });
  await w.admin.ipPools.create({ regionId: region.id, name: "v6", cidr: "2001:db8:19::/64" });
  await w.admin.ipPools.create({ regionId: region.id, name: "z-tiny", cidr: "198.19.9.0/30" });
  await w.admin.tenants.create({ slug: T, name: "Shop" });
  await w.admin.tenants.create({ slug: "rival", name: "Rival" });
  op = (await w.user("op@shop.test")).caller;
  viewer = (await w.user("viewer@shop.test")).caller;
  other = (await w.user("admin@rival.test")).caller;
  await w.admin.members.add({ tenantId: T, email: "op@shop.test", role: "operator" });
  await w.admin.members.add({ tenantId: T, email: "viewer@shop.test", role: "viewer" });
  await w.admin.members.add({ tenantId: "rival", email: "admin@rival.test", role: "admin" });
});
afterAll(async () => {
  await w?.close();
});

const auditCount = async () => (await w.database.db.select({ n: sql<number>`count(*)::int` }).from(auditLog))[0]!.n;

const web = (n: number) =>
  Array.from({ length: n }, (_, i) => ({ address: `198.18.10.${i + 1}`, port: 80 }));

function fullTree(name: string) {
  return {
    tenantId: T,
    name,
    tags: { env: "prod", team: "web" },
    pools: [
      {
        name: "web",
        members: web(4),
        monitor: { type: "HTTP" as const, intervalMs: 2000, timeoutMs: 1000, rise: 2, fall: 3, http: { method: "GET" as const, path: "/healthz", expectedCodes: "200-299" } },
      },
      { name: "dns", members: [{ address: "198.18.11.1", port: 53 }], monitor: { type: "TCP" as const, port: 53 } },
    ],
    listeners: [
      { protocol: "TCP" as const, port: 80, pool: "web" },
      { protocol: "TCP" as const, port: 443, pool: "web", allowedCidrs: ["198.18.0.0/16"] },
      { protocol: "UDP" as const, port: 53, pool: "dns", affinity: "source-ip" as const },
    ],
  };
}

describe("create and read", () => {
  it("creates a fully populated load balancer in one call, honestly PENDING", async () => {
    const lb = await op.lb.create(fullTree("shop-web"));
    expect(lb.address).toBe("198.19.0.1");
    expect(lb.family).toBe(4);
    expect(lb.replicas).toBe(2);
    expect(lb.listeners.map((l) => `${l.name}:${l.pool}`)).toEqual(["udp-53:dns", "tcp-80:web", "tcp-443:web"]);
    expect(lb.pools.find((p) => p.name === "web")!.members).toHaveLength(4);
    expect(lb.pools.find((p) => p.name === "web")!.monitor).toMatchObject({ type: "HTTP", http: { path: "/healthz", expectedCodes: "200-299" } });
    expect(lb.provisioning).toMatchObject({ status: "PENDING_CREATE", reason: /not placed/ });
    expect(lb.operating.status).toBe("UNKNOWN");
    expect(lb.pools.find((p) => p.name === "web")!.members[0]!.operating.status).toBe("UNKNOWN");
    const list = await viewer.lb.list({ tenantId: T });
    expect(list.map((l) => l.name)).toEqual(["shop-web"]);
    expect(list[0]!.memberCount).toBe(5);
    const byAddress = await viewer.lb.get({ tenantId: T, lb: "198.19.0.1" });
    expect(byAddress.id).toBe(lb.id);
    const history = await viewer.lb.history({ tenantId: T, lb: lb.id });
    expect(history[0]).toMatchObject({ action: "lb.create", revision: lb.revision, actor: "op@shop.test" });
  });

  it("allocates the next free address, takes a requested one, and v6 from a v6 pool", async () => {
    const b = await op.lb.create({ tenantId: T, name: "second" });
    expect(b.address).toBe("198.19.0.2");
    const c = await op.lb.create({ tenantId: T, name: "pinned", address: "198.19.0.200" });
    expect(c.address).toBe("198.19.0.200");
    const d = await op.lb.create({ tenantId: T, name: "six", family: 6 });
    expect(d).toMatchObject({ family: 6, address: "2001:db8:19::1" });
    const e = await op.lb.create({ tenantId: T, name: "six-pinned", address: "2001:DB8:19:0::0:beef" });
    expect(e.address).toBe("2001:db8:19::beef");
  });

  it("filters by search and tag", async () => {
    expect((await op.lb.list({ tenantId: T, search: "six" })).map((l) => l.name)).toEqual(["six", "six-pinned"]);
    expect((await op.lb.list({ tenantId: T, tag: "env=prod" })).map((l) => l.name)).toEqual(["shop-web"]);
    expect((await op.lb.list({ tenantId: T, tag: "env=dev" })).map((l) => l.name)).toEqual([]);
  });

  it("an idempotency key returns the first result; reused for another request it conflicts", async () => {
    const input = { tenantId: T, name: "idem", idempotencyKey: "create-idem-0001" };
    const a = await op.lb.create(input);
    const before = await auditCount();
    const b = await op.lb.create(input);
    expect(b.id).toBe(a.id);
    expect(await auditCount()).toBe(before);
    await expectCode(op.lb.create({ ...input, name: "idem-2" }), "CONFLICT", /idempotency key/);
  });
});

describe("bad input: clear field errors, nothing changed", () => {
  const cases: [string, () => object, RegExp, string][] = [
    ["invalid address", () => ({ tenantId: T, name: "x1", address: "198.19.0.300" }), /valid IPv4 or IPv6/, "address"],
    ["address outside every pool", () => ({ tenantId: T, name: "x2", address: "198.18.77.1" }), /pool/, "address"],
    ["address in use", () => ({ tenantId: T, name: "x3", address: "198.19.0.1" }), /already in use/, "address"],
    [
      "overlapping ports",
      () => ({ tenantId: T, name: "x4", pools: [{ name: "p", members: [] }], listeners: [{ protocol: "TCP", port: 8000, portEnd: 8010, pool: "p" }, { protocol: "TCP", port: 8005, pool: "p" }] }),
      /overlaps/,
      "listeners.1.port",
    ],
    [
      "duplicate members",
      () => ({ tenantId: T, name: "x5", pools: [{ name: "p", members: [{ address: "198.18.1.1", port: 80 }, { address: "198.18.1.1", port: 80 }] }] }),
      /duplicate member/,
      "pools.0.members.1",
    ],
    ["weight out of range", () => ({ tenantId: T, name: "x6", pools: [{ name: "p", members: [{ address: "198.18.1.1", port: 80, weight: 257 }] }] }), /0–256/, "pools.0.members.0.weight"],
    ["rise out of range", () => ({ tenantId: T, name: "x7", pools: [{ name: "p", monitor: { type: "TCP", rise: 0 } }] }), /1–10/, "pools.0.monitor.rise"],
    ["timeout >= interval", () => ({ tenantId: T, name: "x8", pools: [{ name: "p", monitor: { type: "TCP", intervalMs: 1000, timeoutMs: 1000 } }] }), /shorter than the interval/, "pools.0.monitor.timeoutMs"],
    [
      "HTTP monitor on a UDP-only pool without a check port",
      () => ({ tenantId: T, name: "x9", pools: [{ name: "p", members: [{ address: "198.18.1.1", port: 53 }], monitor: { type: "HTTP" } }], listeners: [{ protocol: "UDP", port: 53, pool: "p" }] }),
      /check port/,
      "pools.0.monitor.port",
    ],
    ["listener on an unknown pool", () => ({ tenantId: T, name: "x10", listeners: [{ protocol: "TCP", port: 80, pool: "nope" }] }), /no pool named/, "listeners.0.pool"],
    ["bad expected codes", () => ({ tenantId: T, name: "x11", pools: [{ name: "p", monitor: { type: "HTTP", http: { expectedCodes: "2xx" } } }] }), /status codes/, "pools.0.monitor.http.expectedCodes"],
    ["bad allowed CIDR", () => ({ tenantId: T, name: "x12", pools: [{ name: "p" }], listeners: [{ protocol: "TCP", port: 1, pool: "p", allowedCidrs: ["10.0.0.0/33"] }] }), /CIDR/, "listeners.0.allowedCidrs.0"],
    ["duplicate name", () => ({ tenantId: T, name: "shop-web" }), /already exists/, "name"],
  ];
  for (const [name, input, message, field] of cases) {
    it(name, async () => {
      const before = await auditCount();
      const e = await expectCode(op.lb.create(input() as never), name === "address in use" || name === "duplicate name" ? "CONFLICT" : "BAD_REQUEST", message);
      expect(Object.keys(fieldErrors(e))).toContain(field);
      expect(await auditCount()).toBe(before);
    });
  }

  it("exhausted pool", async () => {
    const tiny = (await w.admin.ipPools.list({})).find((p) => p.name === "z-tiny")!;
    await op.lb.create({ tenantId: T, name: "t1", ipPoolId: tiny.id });
    await op.lb.create({ tenantId: T, name: "t2", ipPoolId: tiny.id });
    await expectCode(op.lb.create({ tenantId: T, name: "t3", ipPoolId: tiny.id }), "CONFLICT", /exhausted/);
    await op.lb.delete({ tenantId: T, lb: "t1-missing" }).catch(() => {});
  });

  it("quota exceeded", async () => {
    await w.admin.quotas.set({ tenantId: "rival", maxVips: 1, maxMembers: 3 });
    await other.lb.create({ tenantId: "rival", name: "only", pools: [{ name: "p", members: web(3) }] });
    const e = await expectCode(other.lb.create({ tenantId: "rival", name: "second" }), "PRECONDITION_FAILED", /quota exceeded/);
    expect(e.message).toMatch(/load balancers/);
    await expectCode(
      other.poolMembers.add({ tenantId: "rival", target: { lb: "only", pool: "p" }, members: [{ address: "198.18.12.1", port: 80 }] }),
      "PRECONDITION_FAILED",
      /members/,
    );
  });
});

describe("members by natural key", () => {
  const target = { address: "198.19.0.1", protocol: "TCP" as const, port: 443 };

  it("bulk-disables members by (VIP, protocol, port, member address, port); repeating changes nothing", async () => {
    const before = await op.lb.get({ tenantId: T, lb: "198.19.0.1" });
    const lb = await op.poolMembers.setState({ tenantId: T, target, members: web(2), state: "disabled" });
    expect(lb.revision).toBeGreaterThan(before.revision);
    const states = lb.pools.find((p) => p.name === "web")!.members.map((m) => `${m.address}:${m.adminState}:${m.operating.status}`);
    expect(states).toEqual([
      "198.18.10.1:disabled:OFFLINE",
      "198.18.10.2:disabled:OFFLINE",
      "198.18.10.3:enabled:UNKNOWN",
      "198.18.10.4:enabled:UNKNOWN",
    ]);
    const again = await op.poolMembers.setState({ tenantId: T, target, members: web(2), state: "disabled" });
    expect(again.revision).toBe(lb.revision);
    const drained = await op.poolMembers.setState({ tenantId: T, target, members: [{ address: "198.18.10.3", port: 80 }], state: "draining" });
    expect(drained.pools.find((p) => p.name === "web")!.members[2]!.operating.status).toBe("DRAINING");
    await expectCode(
      op.poolMembers.setState({ tenantId: T, target, members: [{ address: "198.18.99.9", port: 80 }], state: "enabled" }),
      "NOT_FOUND",
      /198\.18\.99\.9:80/,
    );
    await expectCode(
      op.poolMembers.setState({ tenantId: T, target: { ...target, port: 8443 }, members: web(1), state: "enabled" }),
      "NOT_FOUND",
      /no TCP listener on port 8443/,
    );
  });

  it("declarative set replaces the member list, keeps ids of kept members, and is idempotent", async () => {
    const before = await op.lb.get({ tenantId: T, lb: "198.19.0.1" });
    const keepId = before.pools.find((p) => p.name === "web")!.members.find((m) => m.address === "198.18.10.4")!.id;
    const desired = [
      { address: "198.18.10.4", port: 80, weight: 100 },
      { address: "198.18.10.5", port: 80, weight: 50 },
      { address: "2001:db8:10::5", port: 80 },
    ];
    const lb = await op.poolMembers.set({ tenantId: T, target, members: desired, expectedRevision: before.revision });
    const members = lb.pools.find((p) => p.name === "web")!.members;
    expect(members.map((m) => m.address)).toEqual(["198.18.10.4", "198.18.10.5", "2001:db8:10::5"]);
    expect(members[0]!.id).toBe(keepId);
    const audit = await auditCount();
    const again = await op.poolMembers.set({ tenantId: T, target, members: desired });
    expect(again.revision).toBe(lb.revision);
    expect(await auditCount()).toBe(audit);
  });

  it("add, update and remove single members; stale revisions conflict", async () => {
    const lb0 = await op.lb.get({ tenantId: T, lb: "198.19.0.1" });
    const lb1 = await op.poolMembers.add({ tenantId: T, target, members: [{ address: "198.18.10.9", port: 80, weight: 0 }] });
    expect(lb1.pools.find((p) => p.name === "web")!.members.find((m) => m.address === "198.18.10.9")!.operating.status).toBe("DRAINING");
    await expectCode(
      op.poolMembers.update({ tenantId: T, target, member: { address: "198.18.10.9", port: 80 }, weight: 10, expectedRevision: lb0.revision }),
      "CONFLICT",
      /stale revision.*based on revision \d+, but shop-web is at revision \d+/,
    );
    const lb2 = await op.poolMembers.update({ tenantId: T, target, member: { address: "198.18.10.9", port: 80 }, weight: 10, expectedRevision: lb1.revision });
    expect(lb2.pools.find((p) => p.name === "web")!.members.find((m) => m.address === "198.18.10.9")!.weight).toBe(10);
    const lb3 = await op.poolMembers.remove({ tenantId: T, target, members: [{ address: "198.18.10.9", port: 80 }] });
    expect(lb3.pools.find((p) => p.name === "web")!.members.some((m) => m.address === "198.18.10.9")).toBe(false);
    const lb4 = await op.poolMembers.remove({ tenantId: T, target, members: [{ address: "198.18.10.9", port: 80 }] });
    expect(lb4.revision).toBe(lb3.revision);
  });
});

describe("listeners, pools, update and delete", () => {
  it("adds, changes and removes listeners and pools with the same rules", async () => {
    const lb = await op.lb.get({ tenantId: T, lb: "second" });
    const withPool = await op.pools.create({ tenantId: T, lb: "second", pool: { name: "api", members: web(2), monitor: { type: "TCP" } } });
    const withListener = await op.listeners.create({ tenantId: T, lb: lb.id, listener: { protocol: "TCP", port: 9000, portEnd: 9009, pool: "api" } });
    expect(withListener.listeners.map((l) => `${l.name}:${l.port}-${l.portEnd}`)).toEqual(["tcp-9000-9009:9000-9009"]);
    await expectCode(op.listeners.create({ tenantId: T, lb: lb.id, listener: { protocol: "TCP", port: 9005, pool: "api" } }), "BAD_REQUEST", /overlaps/);
    await expectCode(op.pools.delete({ tenantId: T, lb: lb.id, pool: "api" }), "PRECONDITION_FAILED", /used by listener/);
    const updated = await op.listeners.update({
      tenantId: T,
      lb: lb.id,
      name: "tcp-9000-9009",
      listener: { protocol: "TCP", port: 9000, portEnd: 9001, pool: "api", allowedCidrs: ["198.18.0.0/15"] },
      expectedRevision: withListener.revision,
    });
    expect(updated.listeners[0]).toMatchObject({ portEnd: 9001, allowedCidrs: ["198.18.0.0/15"] });
    const noMon = await op.pools.update({ tenantId: T, lb: lb.id, pool: "api", monitor: null, expectedRevision: updated.revision });
    expect(noMon.pools[0]!.monitor).toBeNull();
    expect(noMon.pools[0]!.members[0]!.operating.status).toBe("NO_MONITOR");
    await op.listeners.delete({ tenantId: T, lb: lb.id, name: "tcp-9000-9009" });
    const gone = await op.pools.delete({ tenantId: T, lb: lb.id, pool: "api" });
    expect(gone.pools).toEqual([]);
    expect(withPool.revision).toBeGreaterThan(lb.revision);
  });

  it("updates load balancer settings with optimistic concurrency", async () => {
    const lb = await op.lb.get({ tenantId: T, lb: "second" });
    const u = await op.lb.update({ tenantId: T, lb: lb.id, expectedRevision: lb.revision, replicas: 3, deletionProtection: true, tags: { env: "dev" } });
    expect(u).toMatchObject({ replicas: 3, deletionProtection: true, tags: { env: "dev" } });
    await expectCode(op.lb.update({ tenantId: T, lb: lb.id, expectedRevision: lb.revision, replicas: 4 }), "CONFLICT", /stale revision/);
    await expectCode(op.lb.delete({ tenantId: T, lb: lb.id }), "PRECONDITION_FAILED", /deletion protection/);
    const off = await op.lb.update({ tenantId: T, lb: lb.id, expectedRevision: u.revision, deletionProtection: false, adminEnabled: false });
    expect(off.operating).toMatchObject({ status: "OFFLINE" });
    expect(await op.lb.delete({ tenantId: T, lb: lb.id })).toEqual({ deleted: true, pending: false });
    await expectCode(op.lb.get({ tenantId: T, lb: lb.id }), "NOT_FOUND");
    // the address is free again
    expect((await op.lb.create({ tenantId: T, name: "reuse", address: "198.19.0.2" })).address).toBe("198.19.0.2");
  });
});

describe("tenant isolation and roles (every procedure)", () => {
  type Case = (c: Caller, tenantId: string, lb: string) => Promise<unknown>;
  const target = (lb: string) => ({ lb, pool: "web" });
  const cases: Record<string, { call: Case; mutation: boolean }> = {
    "lb.create": { call: (c, t) => c.lb.create({ tenantId: t, name: "iso" }), mutation: true },
    "lb.list": { call: (c, t) => c.lb.list({ tenantId: t }), mutation: false },
    "lb.get": { call: (c, t, lb) => c.lb.get({ tenantId: t, lb }), mutation: false },
    "lb.update": { call: (c, t, lb) => c.lb.update({ tenantId: t, lb, expectedRevision: 1, replicas: 1 }), mutation: true },
    "lb.delete": { call: (c, t, lb) => c.lb.delete({ tenantId: t, lb }), mutation: true },
    "lb.history": { call: (c, t, lb) => c.lb.history({ tenantId: t, lb }), mutation: false },
    "listeners.create": { call: (c, t, lb) => c.listeners.create({ tenantId: t, lb, listener: { protocol: "TCP", port: 7, pool: "web" } }), mutation: true },
    "listeners.update": { call: (c, t, lb) => c.listeners.update({ tenantId: t, lb, name: "tcp-80", listener: { protocol: "TCP", port: 81, pool: "web" }, expectedRevision: 1 }), mutation: true },
    "listeners.delete": { call: (c, t, lb) => c.listeners.delete({ tenantId: t, lb, name: "tcp-80" }), mutation: true },
    "pools.create": { call: (c, t, lb) => c.pools.create({ tenantId: t, lb, pool: { name: "new" } }), mutation: true },
    "pools.update": { call: (c, t, lb) => c.pools.update({ tenantId: t, lb, pool: "web", expectedRevision: 1, allDownPolicy: "fail-open" }), mutation: true },
    "pools.delete": { call: (c, t, lb) => c.pools.delete({ tenantId: t, lb, pool: "dns" }), mutation: true },
    "poolMembers.add": { call: (c, t, lb) => c.poolMembers.add({ tenantId: t, target: target(lb), members: [{ address: "198.18.3.3", port: 80 }] }), mutation: true },
    "poolMembers.remove": { call: (c, t, lb) => c.poolMembers.remove({ tenantId: t, target: target(lb), members: web(1) }), mutation: true },
    "poolMembers.update": { call: (c, t, lb) => c.poolMembers.update({ tenantId: t, target: target(lb), member: web(1)[0]!, weight: 1, expectedRevision: 1 }), mutation: true },
    "poolMembers.set": { call: (c, t, lb) => c.poolMembers.set({ tenantId: t, target: target(lb), members: [] }), mutation: true },
    "poolMembers.setState": { call: (c, t, lb) => c.poolMembers.setState({ tenantId: t, target: target(lb), members: web(1), state: "disabled" }), mutation: true },
  };

  it("covers every procedure of the load-balancer routers", () => {
    const ns = ["lb", "listeners", "pools", "poolMembers"];
    const all = Object.keys(appRouter._def.procedures).filter((p) => ns.includes(p.split(".")[0]!)).sort();
    expect(all).toEqual(Object.keys(cases).sort());
  });

  it("another tenant's load balancer answers NOT_FOUND (by id, address or name); viewers cannot mutate", async () => {
    const lb = await op.lb.create(fullTree("iso-victim"));
    const before = await auditCount();
    for (const [name, c] of Object.entries(cases)) {
      if (name === "lb.create" || name === "lb.list") continue;
      for (const ref of [lb.id, lb.address]) {
        // The other tenant's admin, in their own tenant, naming our load balancer.
        await expectCode(c.call(other, "rival", ref), "NOT_FOUND").catch((e: unknown) => {
          throw new Error(`${name} via rival with ${ref}: ${String(e)}`);
        });
        // …or naming our tenant.
        await expectCode(c.call(other, T, ref), "NOT_FOUND").catch((e: unknown) => {
          throw new Error(`${name} in shop as rival: ${String(e)}`);
        });
      }
    }
    expect((await other.lb.list({ tenantId: "rival" })).map((l) => l.name)).toEqual(["only"]);
    for (const [name, c] of Object.entries(cases)) {
      if (!c.mutation) continue;
      await expectCode(c.call(viewer, T, lb.id), "FORBIDDEN").catch((e: unknown) => {
        throw new Error(`${name} as viewer: ${String(e)}`);
      });
    }
    expect(await auditCount()).toBe(before);
  });
});
