// Platform inventory through the typed API caller (regions, AZs, nodes, IP pools, quotas), on
// PGlite (project "unit") and on a real PostgreSQL server (project "postgres").
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TRPCError } from "@trpc/server";
import { and, eq, sql } from "drizzle-orm";
import { openWorld, type Caller, type World } from "../../testing/world";
import {
  auditLog,
  backendPool,
  lbNode,
  listener,
  loadBalancer,
  member,
  placement,
} from "../../db/schema";
import { appRouter } from "../../api/root";
import { DEFAULT_QUOTA, getQuota } from "./quotas";

let w: World;
beforeAll(async () => {
  w = await openWorld();
});
afterAll(async () => {
  await w?.close();
});

async function expectCode(p: Promise<unknown>, code: TRPCError["code"], message?: RegExp) {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err, `expected ${code}`).toBeInstanceOf(TRPCError);
  expect((err as TRPCError).code, (err as TRPCError).message).toBe(code);
  if (message) expect((err as TRPCError).message).toMatch(message);
  return err as TRPCError;
}

/** The field errors the client receives (zod issues or the domain error's fields). */
function fieldErrors(e: TRPCError): Record<string, string[]> {
  const cause = e.cause as {
    fieldErrors?: Record<string, string[]>;
    issues?: { path: PropertyKey[]; message: string }[];
  };
  if (cause?.fieldErrors) return cause.fieldErrors;
  const out: Record<string, string[]> = {};
  for (const i of cause?.issues ?? []) (out[i.path.map(String).join(".")] ??= []).push(i.message);
  return out;
}

async function expectFieldError(
  p: Promise<unknown>,
  code: TRPCError["code"],
  field: string,
  message?: RegExp,
) {
  const e = await expectCode(p, code, message);
  expect(Object.keys(fieldErrors(e)), e.message).toContain(field);
  return e;
}

const auditCount = async () =>
  (await w.database.db.select({ n: sql<number>`count(*)::int` }).from(auditLog))[0]!.n;
const lastAudit = async () =>
  (
    await w.database.db
      .select()
      .from(auditLog)
      .orderBy(sql`${auditLog.id} desc`)
      .limit(1)
  )[0]!;

/** Load balancer rows written directly (the load-balancer verbs are another module). */
async function insertLb(tenantId: string, ipPoolId: string, address: string, family: 4 | 6 = 4) {
  const [row] = await w.database.db
    .insert(loadBalancer)
    .values({
      tenantId,
      name: `vip-${address}`,
      address,
      family,
      ipPoolId,
      revision: 1,
      createdRevision: 1,
    })
    .returning();
  return row!;
}

describe("regions and availability zones", () => {
  it("creates, lists, updates regions; every change audited with a revision", async () => {
    const r = await w.admin.regions.create({ name: "eu-west-1", description: "Frankfurt" });
    expect(r).toMatchObject({
      name: "eu-west-1",
      description: "Frankfurt",
      azCount: 0,
      ipPoolCount: 0,
    });
    const a = await lastAudit();
    expect(a).toMatchObject({
      action: "region.create",
      entityType: "region",
      entityId: r.id,
      actorLabel: "root@example.test",
    });
    expect(a.revision).toBeGreaterThan(0);

    await w.admin.regions.create({ name: "us-east-1" });
    expect((await w.admin.regions.list()).map((x) => x.name)).toEqual(["eu-west-1", "us-east-1"]);

    const renamed = await w.admin.regions.update({
      regionId: "us-east-1",
      name: "us-east-2",
      description: "Ohio",
    });
    expect(renamed).toMatchObject({ name: "us-east-2", description: "Ohio" });
    expect(await lastAudit()).toMatchObject({
      action: "region.update",
      before: { name: "us-east-1", description: "" },
      after: { name: "us-east-2", description: "Ohio" },
    });
    expect((await w.admin.regions.get({ regionId: renamed.id })).name).toBe("us-east-2");
  });

  it("refuses duplicate and malformed names with field errors, changing nothing", async () => {
    const before = await auditCount();
    await expectFieldError(
      w.admin.regions.create({ name: "eu-west-1" }),
      "CONFLICT",
      "name",
      /already exists/,
    );
    await expectFieldError(w.admin.regions.create({ name: "EU West" }), "BAD_REQUEST", "name");
    await expectFieldError(w.admin.regions.create({ name: "" }), "BAD_REQUEST", "name");
    await expectFieldError(
      w.admin.regions.update({ regionId: "us-east-2", name: "eu-west-1" }),
      "CONFLICT",
      "name",
    );
    await expectFieldError(
      w.admin.regions.update({ regionId: "us-east-2" }),
      "BAD_REQUEST",
      "name",
      /nothing to change/,
    );
    await expectCode(
      w.admin.regions.update({ regionId: "nowhere", name: "x" }),
      "NOT_FOUND",
      /region "nowhere"/,
    );
    await expectCode(w.admin.regions.delete({ regionId: "nowhere" }), "NOT_FOUND");
    expect(await auditCount()).toBe(before);
  });

  it("two concurrent creates of one name: one wins, the other gets the same clear conflict", async () => {
    const results = await Promise.allSettled([
      w.admin.regions.create({ name: "race-1" }),
      w.admin.regions.create({ name: "race-1" }),
      w.admin.regions.create({ name: "race-1" }),
    ]);
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    for (const r of results.filter((x) => x.status === "rejected")) {
      const e = (r as PromiseRejectedResult).reason as TRPCError;
      expect(e.code, e.message).toBe("CONFLICT");
      expect(fieldErrors(e).name).toEqual(['a region named "race-1" already exists']);
    }
    await w.admin.regions.delete({ regionId: "race-1" });
  });

  it("AZ names are unique per region; references take an id, a name or region/name", async () => {
    const a = await w.admin.azs.create({ regionId: "eu-west-1", name: "a" });
    expect(a).toMatchObject({ name: "a", regionName: "eu-west-1", nodeCount: 0 });
    expect(await lastAudit()).toMatchObject({ action: "az.create", entityId: a.id });
    await w.admin.azs.create({ regionId: "eu-west-1", name: "b" });
    const before = await auditCount();
    await expectFieldError(
      w.admin.azs.create({ regionId: "eu-west-1", name: "a" }),
      "CONFLICT",
      "name",
      /already has/,
    );
    await expectFieldError(
      w.admin.azs.create({ regionId: "mars-1", name: "a" }),
      "BAD_REQUEST",
      "regionId",
      /no region/,
    );
    await expectFieldError(
      w.admin.azs.create({ regionId: "eu-west-1", name: "A!" }),
      "BAD_REQUEST",
      "name",
    );
    expect(await auditCount()).toBe(before);

    // The same AZ name in another region is fine, but then "a" alone is ambiguous.
    const usA = await w.admin.azs.create({ regionId: "us-east-2", name: "a" });
    expect((await w.admin.azs.get({ azId: "us-east-2/a" })).id).toBe(usA.id);
    expect((await w.admin.azs.get({ azId: usA.id })).regionName).toBe("us-east-2");
    await expectCode(w.admin.azs.get({ azId: "a" }), "BAD_REQUEST", /several regions/);
    expect((await w.admin.azs.get({ azId: "b" })).regionName).toBe("eu-west-1");

    expect((await w.admin.azs.list()).map((z) => `${z.regionName}/${z.name}`)).toEqual([
      "eu-west-1/a",
      "eu-west-1/b",
      "us-east-2/a",
    ]);
    expect((await w.admin.azs.list({ regionId: "us-east-2" })).map((z) => z.name)).toEqual(["a"]);
    expect((await w.admin.regions.get({ regionId: "eu-west-1" })).azCount).toBe(2);
  });
});

describe("LB nodes", () => {
  const node = {
    name: "lb-01",
    azId: "eu-west-1/a",
    address: "198.18.0.11",
    asn: 65001,
    peers: [
      { address: "198.18.0.1", asn: 65000, description: "tor-1" },
      { address: "2001:DB8:0:0::1", asn: 65000 },
    ],
  };

  it("registers a node with canonical addresses and defaults; audited", async () => {
    const n = await w.admin.nodes.create(node);
    expect(n).toMatchObject({
      name: "lb-01",
      azName: "a",
      regionName: "eu-west-1",
      address: "198.18.0.11",
      address6: null,
      asn: 65001,
      capacity: 1000,
      state: "active",
      stateReason: "",
      vipCount: 0,
      lastHeartbeatAt: null,
      agentVersion: null,
    });
    expect(n.peers).toEqual([
      { address: "198.18.0.1", asn: 65000, description: "tor-1" },
      { address: "2001:db8::1", asn: 65000 },
    ]);
    expect(await lastAudit()).toMatchObject({
      action: "node.create",
      entityType: "node",
      entityId: n.id,
    });
    const n2 = await w.admin.nodes.create({
      name: "lb-02",
      azId: "eu-west-1/b",
      address: "198.18.0.12",
      address6: "2001:db8::12",
      asn: 4_294_967_294,
      capacity: 1,
    });
    expect(n2).toMatchObject({
      address6: "2001:db8::12",
      asn: 4_294_967_294,
      capacity: 1,
      peers: [],
    });
    expect((await w.admin.azs.get({ azId: "eu-west-1/a" })).nodeCount).toBe(1);
  });

  it("refuses bad input with the offending field, changing nothing", async () => {
    const before = await auditCount();
    const c = w.admin.nodes;
    await expectFieldError(
      c.create({ ...node, name: "x1", asn: 0 }),
      "BAD_REQUEST",
      "asn",
      /between 1 and 4294967294/,
    );
    await expectFieldError(
      c.create({ ...node, name: "x1", asn: 4_294_967_295 }),
      "BAD_REQUEST",
      "asn",
    );
    await expectFieldError(c.create({ ...node, name: "x1", asn: 1.5 }), "BAD_REQUEST", "asn");
    await expectFieldError(
      c.create({
        ...node,
        name: "x1",
        address: "198.18.0.50",
        peers: [{ address: "198.18.0.1", asn: -1 }],
      }),
      "BAD_REQUEST",
      "peers.0.asn",
    );
    await expectFieldError(
      c.create({ ...node, name: "x1", address: "198.18.0.256" }),
      "BAD_REQUEST",
      "address",
    );
    await expectFieldError(
      c.create({ ...node, name: "x1", address: "2001:db8::5" }),
      "BAD_REQUEST",
      "address",
    );
    await expectFieldError(
      c.create({ ...node, name: "x1", address: "198.18.0.50", address6: "198.18.0.6" }),
      "BAD_REQUEST",
      "address6",
    );
    await expectFieldError(
      c.create({ ...node, name: "x1", address: "198.18.0.50", capacity: 0 }),
      "BAD_REQUEST",
      "capacity",
    );
    await expectFieldError(
      c.create({
        ...node,
        name: "x1",
        address: "198.18.0.50",
        peers: [
          { address: "198.18.0.1", asn: 65000 },
          { address: " 198.18.0.1", asn: 65002 },
        ],
      }),
      "BAD_REQUEST",
      "peers.1.address",
      /duplicate peer/,
    );
    await expectFieldError(
      c.create({ ...node, name: "x1", address: "198.18.0.50", azId: "eu-west-1/zz" }),
      "BAD_REQUEST",
      "azId",
    );
    await expectFieldError(
      c.create({ ...node, address: "198.18.0.50" }),
      "CONFLICT",
      "name",
      /already exists/,
    );
    await expectFieldError(
      c.create({ ...node, name: "x1" }),
      "CONFLICT",
      "address",
      /198\.18\.0\.11 is already the address of node lb-01/,
    );
    await expectFieldError(
      c.create({ ...node, name: "x1", address: "198.18.0.50", address6: "2001:db8:0::12" }),
      "CONFLICT",
      "address6",
      /node lb-02/,
    );
    await expectFieldError(c.update({ nodeId: "lb-01", asn: 0 }), "BAD_REQUEST", "asn");
    await expectFieldError(
      c.update({ nodeId: "lb-01", address: "198.18.0.12" }),
      "CONFLICT",
      "address",
      /lb-02/,
    );
    await expectFieldError(
      c.update({ nodeId: "lb-01" }),
      "BAD_REQUEST",
      "nodeId",
      /nothing to change/,
    );
    await expectFieldError(
      c.setState({ nodeId: "lb-01", state: "gone" as "down" }),
      "BAD_REQUEST",
      "state",
    );
    await expectCode(c.update({ nodeId: "lb-99", capacity: 5 }), "NOT_FOUND", /node "lb-99"/);
    expect(await auditCount()).toBe(before);
  });

  it("updates peers, capacity, ASN and addresses, recording before and after", async () => {
    const n = await w.admin.nodes.update({
      nodeId: "lb-01",
      peers: [{ address: "198.18.0.2", asn: 65010 }],
      capacity: 250,
      asn: 65011,
      address6: "2001:db8::11",
    });
    expect(n).toMatchObject({
      capacity: 250,
      asn: 65011,
      address6: "2001:db8::11",
      peers: [{ address: "198.18.0.2", asn: 65010 }],
    });
    const a = await lastAudit();
    expect(a.action).toBe("node.update");
    expect(a.before).toMatchObject({ capacity: 1000, asn: 65001, address6: null });
    expect(a.after).toMatchObject({ capacity: 250, asn: 65011, address6: "2001:db8::11" });
    const cleared = await w.admin.nodes.update({
      nodeId: n.id,
      address6: null,
      address: "198.18.0.21",
    });
    expect(cleared).toMatchObject({ address6: null, address: "198.18.0.21" });
  });

  it("cordons, drains and downs nodes with a reason; repeating a state is a no-op", async () => {
    const n = await w.admin.nodes.setState({
      nodeId: "lb-02",
      state: "cordoned",
      reason: "kernel upgrade",
    });
    expect(n).toMatchObject({ state: "cordoned", stateReason: "kernel upgrade" });
    expect(await lastAudit()).toMatchObject({
      action: "node.set-state",
      before: { state: "active", reason: "" },
      after: { state: "cordoned", reason: "kernel upgrade" },
    });
    const before = await auditCount();
    await w.admin.nodes.setState({ nodeId: "lb-02", state: "cordoned", reason: "kernel upgrade" });
    expect(await auditCount()).toBe(before);
    expect((await w.admin.nodes.list({ state: "cordoned" })).map((x) => x.name)).toEqual(["lb-02"]);
    expect((await w.admin.nodes.list({ state: "active" })).map((x) => x.name)).toEqual(["lb-01"]);
    await w.admin.nodes.setState({ nodeId: "lb-02", state: "draining" });
    expect((await w.admin.nodes.get({ nodeId: "lb-02" })).stateReason).toBe("");
    await w.admin.nodes.setState({ nodeId: "lb-02", state: "active" });
  });

  it("lists by AZ and region with VIP counts, heartbeat and agent version", async () => {
    const t = await w.admin.tenants.create({ slug: "nodes-t", name: "Nodes" });
    await w.admin.regions.create({ name: "nodes-r" });
    const pool = await w.admin.ipPools.create({
      regionId: "nodes-r",
      name: "nodes-pool",
      cidr: "198.19.200.0/24",
    });
    const lb1 = await insertLb(t.id, pool.id, "198.19.200.1");
    const lb2 = await insertLb(t.id, pool.id, "198.19.200.2");
    const [n1, n2] = await w.admin.nodes.list();
    await w.database.db.insert(placement).values([
      { lbId: lb1.id, nodeId: n1!.id },
      { lbId: lb2.id, nodeId: n1!.id },
      { lbId: lb1.id, nodeId: n2!.id },
    ]);
    const beat = new Date("2030-01-02T03:04:05Z");
    await w.database.db
      .update(lbNode)
      .set({ lastHeartbeatAt: beat, agentVersion: "0.1.0" })
      .where(eq(lbNode.id, n1!.id));

    const all = await w.admin.nodes.list();
    expect(all.map((x) => [x.name, x.vipCount])).toEqual([
      ["lb-01", 2],
      ["lb-02", 1],
    ]);
    expect(all[0]).toMatchObject({ lastHeartbeatAt: beat, agentVersion: "0.1.0" });
    expect((await w.admin.nodes.list({ azId: "eu-west-1/b" })).map((x) => x.name)).toEqual([
      "lb-02",
    ]);
    expect((await w.admin.nodes.list({ regionId: "eu-west-1" })).length).toBe(2);
    expect(await w.admin.nodes.list({ regionId: "us-east-2" })).toEqual([]);
    await expectFieldError(w.admin.nodes.list({ azId: "nope/a" }), "BAD_REQUEST", "azId");
  });

  it("refuses to delete a node that carries VIPs, and AZs with nodes", async () => {
    const before = await auditCount();
    await expectFieldError(
      w.admin.nodes.delete({ nodeId: "lb-02" }),
      "CONFLICT",
      "nodeId",
      /carries 1 VIP: set it to draining/,
    );
    await expectFieldError(
      w.admin.azs.delete({ azId: "eu-west-1/b" }),
      "CONFLICT",
      "azId",
      /eu-west-1\/b still has node lb-02; delete it first/,
    );
    expect(await auditCount()).toBe(before);

    const n2 = await w.admin.nodes.get({ nodeId: "lb-02" });
    await w.database.db.delete(placement).where(eq(placement.nodeId, n2.id));
    await w.admin.nodes.delete({ nodeId: "lb-02" });
    expect(await lastAudit()).toMatchObject({
      action: "node.delete",
      entityId: n2.id,
      after: null,
    });
    await expectCode(w.admin.nodes.get({ nodeId: n2.id }), "NOT_FOUND");
    await w.admin.azs.delete({ azId: "eu-west-1/b" });
    expect(await lastAudit()).toMatchObject({ action: "az.delete" });
    expect((await w.admin.azs.list({ regionId: "eu-west-1" })).map((z) => z.name)).toEqual(["a"]);
  });
});

describe("IP pools", () => {
  let tenantA: string;
  beforeAll(async () => {
    tenantA = (await w.admin.tenants.create({ slug: "pool-a", name: "Pool A" })).id;
    await w.admin.tenants.create({ slug: "pool-b", name: "Pool B" });
  });

  it("creates IPv4 and IPv6 pools, canonicalizing the CIDR and saying so", async () => {
    const v4 = await w.admin.ipPools.create({
      regionId: "eu-west-1",
      name: "public-v4",
      cidr: "198.18.1.7/24",
    });
    expect(v4).toMatchObject({
      cidr: "198.18.1.0/24",
      family: 4,
      regionName: "eu-west-1",
      tenants: [],
      used: 0,
      usable: "254",
      firstUsable: "198.18.1.1",
      lastUsable: "198.18.1.254",
      percentUsed: 0,
    });
    expect(v4.notice).toMatch(/198\.18\.1\.7\/24 has host bits set.*stored as 198\.18\.1\.0\/24/);
    expect(await lastAudit()).toMatchObject({
      action: "ip-pool.create",
      entityType: "ip_pool",
      entityId: v4.id,
    });

    const v6 = await w.admin.ipPools.create({
      regionId: "eu-west-1",
      name: "public-v6",
      cidr: "2001:DB8:1:0::/64",
    });
    expect(v6).toMatchObject({
      cidr: "2001:db8:1::/64",
      family: 6,
      usable: (2n ** 64n - 1n).toString(),
      firstUsable: "2001:db8:1::1",
    });
    const single = await w.admin.ipPools.create({
      regionId: "eu-west-1",
      name: "single",
      cidr: "198.18.2.9/32",
    });
    expect(single).toMatchObject({
      usable: "1",
      firstUsable: "198.18.2.9",
      lastUsable: "198.18.2.9",
      notice: null,
    });
    expect((await w.admin.regions.get({ regionId: "eu-west-1" })).ipPoolCount).toBe(3);
  });

  it("refuses bad CIDRs, reserved ranges, overlaps (naming the pool) and duplicate names", async () => {
    const before = await auditCount();
    const c = w.admin.ipPools;
    await expectFieldError(
      c.create({ regionId: "eu-west-1", name: "x", cidr: "198.18.3.0/33" }),
      "BAD_REQUEST",
      "cidr",
    );
    await expectFieldError(
      c.create({ regionId: "eu-west-1", name: "x", cidr: "nonsense" }),
      "BAD_REQUEST",
      "cidr",
    );
    await expectFieldError(
      c.create({ regionId: "eu-west-1", name: "x", cidr: "198.18.3.0" }),
      "BAD_REQUEST",
      "cidr",
    );
    await expectFieldError(
      c.create({ regionId: "eu-west-1", name: "x", cidr: "127.0.0.0/24" }),
      "BAD_REQUEST",
      "cidr",
      /loopback/,
    );
    await expectFieldError(
      c.create({ regionId: "eu-west-1", name: "x", cidr: "ff02::/64" }),
      "BAD_REQUEST",
      "cidr",
      /multicast/,
    );
    await expectFieldError(
      c.create({ regionId: "eu-west-1", name: "x", cidr: "198.18.1.128/25" }),
      "CONFLICT",
      "cidr",
      /198\.18\.1\.128\/25 overlaps IP pool public-v4 \(198\.18\.1\.0\/24\)/,
    );
    await expectFieldError(
      c.create({ regionId: "us-east-2", name: "x", cidr: "198.18.0.0/16" }),
      "CONFLICT",
      "cidr",
      /public-v4/,
    );
    await expectFieldError(
      c.create({ regionId: "eu-west-1", name: "x", cidr: "2001:db8:1:0:8000::/65" }),
      "CONFLICT",
      "cidr",
      /public-v6/,
    );
    await expectFieldError(
      c.create({ regionId: "eu-west-1", name: "public-v4", cidr: "198.18.4.0/24" }),
      "CONFLICT",
      "name",
    );
    await expectFieldError(
      c.create({ regionId: "nowhere", name: "x", cidr: "198.18.4.0/24" }),
      "BAD_REQUEST",
      "regionId",
    );
    await expectFieldError(
      c.create({
        regionId: "eu-west-1",
        name: "x",
        cidr: "198.18.4.0/24",
        tenants: ["pool-a", "ghost-tenant"],
      }),
      "BAD_REQUEST",
      "tenants",
      /unknown tenant: ghost-tenant/,
    );
    expect(await auditCount()).toBe(before);
  });

  it("concurrent overlapping pools: exactly one is created", async () => {
    const results = await Promise.allSettled([
      w.admin.ipPools.create({ regionId: "us-east-2", name: "race-p1", cidr: "198.18.64.0/24" }),
      w.admin.ipPools.create({ regionId: "us-east-2", name: "race-p2", cidr: "198.18.64.0/25" }),
      w.admin.ipPools.create({ regionId: "us-east-2", name: "race-p3", cidr: "198.18.64.0/24" }),
    ]);
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    for (const r of results.filter((x) => x.status === "rejected")) {
      const e = (r as PromiseRejectedResult).reason as TRPCError;
      expect(e.code, e.message).toBe("CONFLICT");
      expect(Object.keys(fieldErrors(e))).toEqual(["cidr"]);
    }
    const winner = (await w.admin.ipPools.list()).find((p) => p.name.startsWith("race-p"))!;
    await w.admin.ipPools.delete({ ipPoolId: winner.id });
  });

  it("restricts pools to tenants by slug or id and updates the restriction", async () => {
    const p = await w.admin.ipPools.create({
      regionId: "us-east-2",
      name: "restricted",
      cidr: "198.18.8.0/29",
      tenants: ["pool-a", tenantA],
    });
    expect(p.tenants).toEqual([{ id: tenantA, slug: "pool-a", name: "Pool A" }]);
    const u = await w.admin.ipPools.update({
      ipPoolId: "restricted",
      tenants: ["pool-b", "pool-a"],
    });
    expect(u.tenants.map((t) => t.slug)).toEqual(["pool-b", "pool-a"]);
    expect(await lastAudit()).toMatchObject({
      action: "ip-pool.update",
      before: { tenants: ["pool-a"] },
      after: { tenants: ["pool-b", "pool-a"] },
    });
    const before = await auditCount();
    await w.admin.ipPools.update({ ipPoolId: p.id, tenants: ["pool-b", "pool-a"] });
    expect(await auditCount()).toBe(before);
    await expectFieldError(
      w.admin.ipPools.update({ ipPoolId: p.id, tenants: ["nobody-here"] }),
      "BAD_REQUEST",
      "tenants",
    );
    expect((await w.admin.ipPools.update({ ipPoolId: p.id, tenants: [] })).tenants).toEqual([]);
    expect((await w.admin.ipPools.list({ regionId: "us-east-2" })).map((x) => x.name)).toEqual([
      "restricted",
    ]);
    expect((await w.admin.ipPools.list({ family: 6 })).map((x) => x.name)).toEqual(["public-v6"]);
  });

  it("shows usage and refuses to delete a pool in use (or a region with pools)", async () => {
    const pool = await w.admin.ipPools.get({ ipPoolId: "public-v4" });
    for (const last of [1, 2, 3]) await insertLb(tenantA, pool.id, `198.18.1.${last}`);
    const used = await w.admin.ipPools.get({ ipPoolId: "public-v4" });
    expect(used).toMatchObject({ used: 3, usable: "254", percentUsed: 1.18 });

    const before = await auditCount();
    const e = await expectFieldError(
      w.admin.ipPools.delete({ ipPoolId: "public-v4" }),
      "CONFLICT",
      "ipPoolId",
      /used by 3 load balancers \(198\.18\.1\.1, 198\.18\.1\.2, 198\.18\.1\.3\)/,
    );
    expect(e.message).not.toMatch(/pool-a/);
    await expectFieldError(
      w.admin.regions.delete({ regionId: "eu-west-1" }),
      "CONFLICT",
      "regionId",
      /region eu-west-1 still has availability zones a and IP pools public-v4, public-v6 and single/,
    );
    expect(await auditCount()).toBe(before);

    await w.database.db.delete(loadBalancer).where(eq(loadBalancer.ipPoolId, pool.id));
    await w.admin.ipPools.delete({ ipPoolId: "public-v4" });
    expect(await lastAudit()).toMatchObject({ action: "ip-pool.delete", entityId: pool.id });
    await expectCode(w.admin.ipPools.get({ ipPoolId: pool.id }), "NOT_FOUND");
  });

  it("deletes an empty region", async () => {
    const r = await w.admin.regions.create({ name: "empty-1" });
    await w.admin.regions.delete({ regionId: "empty-1" });
    expect(await lastAudit()).toMatchObject({
      action: "region.delete",
      entityId: r.id,
      before: { name: "empty-1" },
    });
    expect((await w.admin.regions.list()).map((x) => x.name)).not.toContain("empty-1");
  });
});

describe("quotas", () => {
  let acme: { id: string };
  let viewer: { caller: Caller };
  let other: { caller: Caller };

  beforeAll(async () => {
    acme = await w.admin.tenants.create({ slug: "quota-acme", name: "Quota Acme" });
    await w.admin.tenants.create({ slug: "quota-other", name: "Quota Other" });
    viewer = await w.user("viewer@quota.test");
    other = await w.user("admin@other.test");
    await w.admin.members.add({
      tenantId: "quota-acme",
      email: "viewer@quota.test",
      role: "viewer",
    });
    await w.admin.members.add({
      tenantId: "quota-other",
      email: "admin@other.test",
      role: "admin",
    });
    // Two VIPs, one listener, three members.
    await w.admin.regions.create({ name: "quota-r" });
    const pool = await w.admin.ipPools.create({
      regionId: "quota-r",
      name: "quota-pool",
      cidr: "198.19.100.0/24",
    });
    const lb = await insertLb(acme.id, pool.id, "198.19.100.1");
    await insertLb(acme.id, pool.id, "198.19.100.2");
    const [bp] = await w.database.db
      .insert(backendPool)
      .values({ lbId: lb.id, tenantId: acme.id, name: "web" })
      .returning();
    await w.database.db.insert(listener).values({
      lbId: lb.id,
      tenantId: acme.id,
      name: "http",
      protocol: "TCP",
      portStart: 80,
      portEnd: 80,
      poolId: bp!.id,
    });
    await w.database.db.insert(member).values(
      [1, 2, 3].map((i) => ({
        poolId: bp!.id,
        lbId: lb.id,
        tenantId: acme.id,
        address: `198.18.50.${i}`,
        port: 80,
      })),
    );
  });

  it("a tenant member reads its quota (defaults) with the usage", async () => {
    const q = await viewer.caller.quotas.get({ tenantId: "quota-acme" });
    expect(q).toMatchObject({
      tenantSlug: "quota-acme",
      ...DEFAULT_QUOTA,
      isDefault: true,
      usage: { vips: 2, listeners: 1, members: 3 },
      exceeded: [],
    });
    expect(DEFAULT_QUOTA).toEqual({ maxVips: 50, maxListeners: 200, maxMembers: 2000 });
    expect(await getQuota(w.database.db, acme.id)).toEqual({ ...DEFAULT_QUOTA, isDefault: true });
  });

  it("another tenant's quota answers NOT_FOUND", async () => {
    await expectCode(other.caller.quotas.get({ tenantId: "quota-acme" }), "NOT_FOUND");
    await expectCode(other.caller.quotas.get({ tenantId: acme.id }), "NOT_FOUND");
    await expectCode(viewer.caller.quotas.get({ tenantId: "quota-other" }), "NOT_FOUND");
    await expectCode(w.anonymous.quotas.get({ tenantId: "quota-acme" }), "UNAUTHORIZED");
  });

  it("platform admins set limits (partially, below usage allowed and reported), audited", async () => {
    const q = await w.admin.quotas.set({ tenantId: "quota-acme", maxVips: 1 });
    expect(q).toMatchObject({
      maxVips: 1,
      maxListeners: 200,
      maxMembers: 2000,
      isDefault: false,
      exceeded: ["maxVips"],
    });
    expect(await lastAudit()).toMatchObject({
      action: "quota.set",
      tenantId: acme.id,
      before: { maxVips: 50, default: true },
      after: { maxVips: 1, maxListeners: 200, maxMembers: 2000 },
    });
    expect(await getQuota(w.database.db, acme.id)).toEqual({
      maxVips: 1,
      maxListeners: 200,
      maxMembers: 2000,
      isDefault: false,
    });
    const q2 = await w.admin.quotas.set({ tenantId: acme.id, maxMembers: 0, maxListeners: 10 });
    expect(q2).toMatchObject({
      maxVips: 1,
      maxListeners: 10,
      maxMembers: 0,
      exceeded: ["maxVips", "maxMembers"],
    });
    expect((await viewer.caller.quotas.get({ tenantId: "quota-acme" })).maxMembers).toBe(0);

    const before = await auditCount();
    await w.admin.quotas.set({ tenantId: acme.id, maxMembers: 0 });
    expect(await auditCount()).toBe(before);
    await expectFieldError(
      w.admin.quotas.set({ tenantId: acme.id, maxVips: -1 }),
      "BAD_REQUEST",
      "maxVips",
    );
    await expectFieldError(
      w.admin.quotas.set({ tenantId: acme.id, maxListeners: 2.5 }),
      "BAD_REQUEST",
      "maxListeners",
    );
    await expectFieldError(
      w.admin.quotas.set({ tenantId: acme.id }),
      "BAD_REQUEST",
      "maxVips",
      /at least one/,
    );
    await expectCode(w.admin.quotas.set({ tenantId: "no-such-tenant", maxVips: 5 }), "NOT_FOUND");
    expect(await auditCount()).toBe(before);

    const list = await w.admin.quotas.list();
    expect(list.find((x) => x.tenantSlug === "quota-acme")).toMatchObject({
      maxVips: 1,
      usage: { vips: 2 },
    });
    expect(list.find((x) => x.tenantSlug === "quota-other")).toMatchObject({
      isDefault: true,
      usage: { vips: 0 },
    });

    const reset = await w.admin.quotas.reset({ tenantId: "quota-acme" });
    expect(reset).toMatchObject({ ...DEFAULT_QUOTA, isDefault: true, exceeded: [] });
    expect(await lastAudit()).toMatchObject({ action: "quota.reset", before: { maxVips: 1 } });
  });
});

/**
 * Every procedure of the inventory namespaces: platform-admin ones answer FORBIDDEN to anyone
 * else (even a tenant admin) and change nothing. A new procedure without a case fails the
 * coverage check.
 */
describe("permissions (every inventory procedure)", () => {
  const namespaces = ["regions", "azs", "nodes", "ipPools", "quotas"];
  const adminOnly: Record<string, (c: Caller) => Promise<unknown>> = {
    "regions.list": (c) => c.regions.list(),
    "regions.get": (c) => c.regions.get({ regionId: "perm-r" }),
    "regions.create": (c) => c.regions.create({ name: "perm-new" }),
    "regions.update": (c) => c.regions.update({ regionId: "perm-r", name: "perm-renamed" }),
    "regions.delete": (c) => c.regions.delete({ regionId: "perm-r" }),
    "azs.list": (c) => c.azs.list(),
    "azs.get": (c) => c.azs.get({ azId: "perm-r/z" }),
    "azs.create": (c) => c.azs.create({ regionId: "perm-r", name: "z2" }),
    "azs.delete": (c) => c.azs.delete({ azId: "perm-r/z" }),
    "nodes.list": (c) => c.nodes.list(),
    "nodes.get": (c) => c.nodes.get({ nodeId: "perm-node" }),
    "nodes.create": (c) =>
      c.nodes.create({ name: "perm-n2", azId: "perm-r/z", address: "198.18.99.2", asn: 65000 }),
    "nodes.update": (c) => c.nodes.update({ nodeId: "perm-node", capacity: 5 }),
    "nodes.setState": (c) => c.nodes.setState({ nodeId: "perm-node", state: "down" }),
    "nodes.delete": (c) => c.nodes.delete({ nodeId: "perm-node" }),
    "ipPools.list": (c) => c.ipPools.list(),
    "ipPools.get": (c) => c.ipPools.get({ ipPoolId: "perm-pool" }),
    "ipPools.create": (c) =>
      c.ipPools.create({ regionId: "perm-r", name: "perm-p2", cidr: "198.18.98.0/24" }),
    "ipPools.update": (c) => c.ipPools.update({ ipPoolId: "perm-pool", tenants: [] }),
    "ipPools.delete": (c) => c.ipPools.delete({ ipPoolId: "perm-pool" }),
    "quotas.list": (c) => c.quotas.list(),
    "quotas.set": (c) => c.quotas.set({ tenantId: "perm-t", maxVips: 1 }),
    "quotas.reset": (c) => c.quotas.reset({ tenantId: "perm-t" }),
  };
  // Tenant-scoped (isolation tested in "quotas").
  const tenantScoped = ["quotas.get"];

  it("covers every procedure of the inventory routers", () => {
    const all = Object.keys(appRouter._def.procedures)
      .filter((p) => namespaces.includes(p.split(".")[0]!))
      .sort();
    expect(all).toEqual([...Object.keys(adminOnly), ...tenantScoped].sort());
  });

  it("non-platform-admins get FORBIDDEN on every admin procedure, changing nothing", async () => {
    await w.admin.tenants.create({ slug: "perm-t", name: "Perm" });
    await w.admin.regions.create({ name: "perm-r" });
    await w.admin.azs.create({ regionId: "perm-r", name: "z" });
    await w.admin.nodes.create({
      name: "perm-node",
      azId: "perm-r/z",
      address: "198.18.99.1",
      asn: 65000,
    });
    await w.admin.ipPools.create({ regionId: "perm-r", name: "perm-pool", cidr: "198.18.97.0/24" });
    const tenantAdmin = await w.user("admin@perm.test");
    await w.admin.members.add({ tenantId: "perm-t", email: "admin@perm.test", role: "admin" });
    const plain = await w.user("plain@perm.test");

    const before = await auditCount();
    for (const [name, call] of Object.entries(adminOnly)) {
      for (const who of [tenantAdmin, plain]) {
        await expectCode(call(who.caller), "FORBIDDEN", /platform admin/).catch((e: unknown) => {
          throw new Error(`${name} as ${who.actor.email}: ${String(e)}`);
        });
      }
      await expectCode(call(w.anonymous), "UNAUTHORIZED").catch((e: unknown) => {
        throw new Error(`${name} anonymous: ${String(e)}`);
      });
    }
    expect(await auditCount()).toBe(before);
    // The tenant admin still reads its own quota.
    expect((await tenantAdmin.caller.quotas.get({ tenantId: "perm-t" })).tenantSlug).toBe("perm-t");
    // Nothing was touched.
    expect((await w.admin.nodes.get({ nodeId: "perm-node" })).state).toBe("active");
    const rows = await w.database.db
      .select()
      .from(lbNode)
      .where(and(eq(lbNode.name, "perm-node"), eq(lbNode.capacity, 1000)));
    expect(rows.length).toBe(1);
  });
});
