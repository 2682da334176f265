// VIP address allocation inside a transaction, as the load-balancer verbs use it: first free
// address, requested addresses, tenant restrictions, exhaustion, IPv6, concurrency and speed.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eq } from "drizzle-orm";
import { openWorld, type World } from "../../testing/world";
import { loadBalancer } from "../../db/schema";
import { DomainError } from "../errors";
import { type AllocateVipInput, allocateVipAddress } from "./allocate";

let w: World;
let tenantA: string;
let tenantB: string;
const pools: Record<string, string> = {};

beforeAll(async () => {
  w = await openWorld();
  tenantA = (await w.admin.tenants.create({ slug: "alloc-a", name: "Alloc A" })).id;
  tenantB = (await w.admin.tenants.create({ slug: "alloc-b", name: "Alloc B" })).id;
  await w.admin.regions.create({ name: "r1" });
  await w.admin.regions.create({ name: "r2" });
  const mk = async (regionId: string, name: string, cidr: string, tenants: string[] = []) => {
    pools[name] = (await w.admin.ipPools.create({ regionId, name, cidr, tenants })).id;
  };
  // Auto-picks try pools by name: "a-tiny" first, then "b-main".
  await mk("r1", "a-tiny", "198.18.10.0/30");
  await mk("r1", "b-main", "198.18.20.0/24");
  await mk("r1", "c-only-a", "198.18.30.0/28", ["alloc-a"]);
  await mk("r1", "v6", "2001:db8:10::/120");
  await mk("r2", "r2-pool", "198.18.40.0/24");
  await mk("r2", "bulk", "198.18.44.0/22");
});
afterAll(async () => {
  await w?.close();
});

let vipSeq = 0;

/** Allocates and stores the VIP in one transaction, like the load-balancer create verb. */
async function createVip(input: AllocateVipInput) {
  return w.database.db.transaction(async (tx) => {
    const got = await allocateVipAddress(tx, input);
    await tx.insert(loadBalancer).values({
      tenantId: input.tenantId,
      name: `vip-${++vipSeq}`,
      address: got.address,
      family: got.family,
      ipPoolId: got.ipPoolId,
      revision: 1,
      createdRevision: 1,
    });
    return got;
  });
}

const allocateOnly = (input: AllocateVipInput) =>
  w.database.db.transaction((tx) => allocateVipAddress(tx, input));

async function expectDomainError(
  p: Promise<unknown>,
  code: DomainError["code"],
  field: string,
  message?: RegExp,
) {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err, `expected ${code}`).toBeInstanceOf(DomainError);
  const d = err as DomainError;
  expect(d.code, d.message).toBe(code);
  expect(Object.keys(d.fieldErrors ?? {}), d.message).toContain(field);
  if (message) expect(d.message).toMatch(message);
  return d;
}

describe("allocateVipAddress", () => {
  it("picks the first free usable address of the given pool, reusing gaps", async () => {
    const first = await createVip({ tenantId: tenantA, family: 4, ipPoolId: pools["b-main"] });
    expect(first).toEqual({ ipPoolId: pools["b-main"], address: "198.18.20.1", family: 4 });
    expect((await createVip({ tenantId: tenantB, family: 4, ipPoolId: "b-main" })).address).toBe(
      "198.18.20.2",
    );
    expect((await createVip({ tenantId: tenantA, family: 4, ipPoolId: "b-main" })).address).toBe(
      "198.18.20.3",
    );
    await w.database.db.delete(loadBalancer).where(eq(loadBalancer.address, "198.18.20.2"));
    expect((await createVip({ tenantId: tenantA, family: 4, ipPoolId: "b-main" })).address).toBe(
      "198.18.20.2",
    );
    expect((await createVip({ tenantId: tenantA, family: 4, ipPoolId: "b-main" })).address).toBe(
      "198.18.20.4",
    );
  });

  it("takes a requested address inside a usable pool, in canonical form", async () => {
    const got = await createVip({ tenantId: tenantA, family: 4, requested: " 198.18.20.50 " });
    expect(got).toEqual({ ipPoolId: pools["b-main"], address: "198.18.20.50", family: 4 });
    const v6 = await createVip({ tenantId: tenantB, family: 6, requested: "2001:DB8:10:0::00aB" });
    expect(v6).toEqual({ ipPoolId: pools["v6"], address: "2001:db8:10::ab", family: 6 });
    // With a pool or region given, the address must be in it.
    expect(
      (
        await allocateOnly({
          tenantId: tenantA,
          family: 4,
          requested: "198.18.20.60",
          ipPoolId: "b-main",
          regionId: "r1",
        })
      ).address,
    ).toBe("198.18.20.60");
  });

  it("refuses requested addresses that are malformed, outside every pool, unusable or of the other family", async () => {
    const a = { tenantId: tenantA, family: 4 as const };
    await expectDomainError(
      allocateOnly({ ...a, requested: "198.18.20.300" }),
      "BAD_REQUEST",
      "address",
      /not a valid IP address/,
    );
    await expectDomainError(
      allocateOnly({ ...a, requested: "198.18.99.1" }),
      "BAD_REQUEST",
      "address",
      /198\.18\.99\.1 is not in any IP pool/,
    );
    await expectDomainError(
      allocateOnly({ ...a, requested: "198.18.20.0" }),
      "BAD_REQUEST",
      "address",
      /not usable in IP pool b-main.*198\.18\.20\.1 to 198\.18\.20\.254/,
    );
    await expectDomainError(
      allocateOnly({ ...a, requested: "198.18.20.255" }),
      "BAD_REQUEST",
      "address",
      /not usable/,
    );
    await expectDomainError(
      allocateOnly({ ...a, requested: "2001:db8:10::5" }),
      "BAD_REQUEST",
      "address",
      /IPv6 address, but IPv4/,
    );
    await expectDomainError(
      allocateOnly({ ...a, requested: "198.18.40.5", ipPoolId: "b-main" }),
      "BAD_REQUEST",
      "address",
      /not in IP pool b-main \(198\.18\.20\.0\/24\)/,
    );
    await expectDomainError(
      allocateOnly({ ...a, requested: "198.18.40.5", regionId: "r1" }),
      "BAD_REQUEST",
      "address",
      /belongs to region r2, not r1/,
    );
    await expectDomainError(
      allocateOnly({ ...a, ipPoolId: "no-such-pool" }),
      "BAD_REQUEST",
      "ipPoolId",
      /no IP pool/,
    );
    await expectDomainError(
      allocateOnly({ ...a, regionId: "r9" }),
      "BAD_REQUEST",
      "regionId",
      /no region/,
    );
    await expectDomainError(
      allocateOnly({ tenantId: tenantA, family: 6, ipPoolId: "b-main" }),
      "BAD_REQUEST",
      "family",
      /holds IPv4 addresses, not IPv6/,
    );
    await expectDomainError(
      allocateOnly({ tenantId: tenantA, family: 6, regionId: "r2" }),
      "BAD_REQUEST",
      "family",
      /no IPv6 pool in region r2/,
    );
  });

  it("refuses an address already in use without naming its tenant", async () => {
    const e = await expectDomainError(
      allocateOnly({ tenantId: tenantB, family: 4, requested: "198.18.20.1" }),
      "CONFLICT",
      "address",
      /^198\.18\.20\.1 is already in use$/,
    );
    expect(e.message).not.toMatch(/alloc-a|Alloc A/);
  });

  it("honours tenant restrictions", async () => {
    await expectDomainError(
      allocateOnly({ tenantId: tenantB, family: 4, requested: "198.18.30.5" }),
      "BAD_REQUEST",
      "address",
      /in IP pool c-only-a, which is not available to this tenant/,
    );
    await expectDomainError(
      allocateOnly({ tenantId: tenantB, family: 4, ipPoolId: "c-only-a" }),
      "BAD_REQUEST",
      "ipPoolId",
      /not available to this tenant/,
    );
    expect(
      await createVip({ tenantId: tenantA, family: 4, requested: "198.18.30.5" }),
    ).toMatchObject({ ipPoolId: pools["c-only-a"] });
    expect((await createVip({ tenantId: tenantA, family: 4, ipPoolId: "c-only-a" })).address).toBe(
      "198.18.30.1",
    );
  });

  it("exhausts a /30 with a clear conflict, then falls through to the next pool by name", async () => {
    const tiny = { tenantId: tenantB, family: 4 as const, ipPoolId: "a-tiny" };
    expect((await createVip(tiny)).address).toBe("198.18.10.1");
    // Without a pool: the first pool by name with a free address.
    expect(await createVip({ tenantId: tenantB, family: 4, regionId: "r1" })).toMatchObject({
      ipPoolId: pools["a-tiny"],
      address: "198.18.10.2",
    });
    await expectDomainError(
      allocateOnly(tiny),
      "CONFLICT",
      "ipPoolId",
      /^IP pool a-tiny is exhausted \(2 of 2 addresses in use\)$/,
    );
    await expectDomainError(
      allocateOnly({ ...tiny, requested: "198.18.10.3" }),
      "BAD_REQUEST",
      "address",
      /not usable in IP pool a-tiny/,
    );
    const next = await createVip({ tenantId: tenantB, family: 4, regionId: "r1" });
    expect(next.ipPoolId).toBe(pools["b-main"]);
    // Tenant B never lands in the pool restricted to A.
    expect(next.address.startsWith("198.18.20.")).toBe(true);
  });

  it("reports every exhausted pool when none has room", async () => {
    await w.admin.regions.create({ name: "r3" });
    await w.admin.ipPools.create({ regionId: "r3", name: "r3-one", cidr: "198.18.50.1/32" });
    await w.admin.ipPools.create({ regionId: "r3", name: "r3-two", cidr: "198.18.50.2/32" });
    await createVip({ tenantId: tenantA, family: 4, regionId: "r3" });
    await createVip({ tenantId: tenantA, family: 4, regionId: "r3" });
    await expectDomainError(
      allocateOnly({ tenantId: tenantA, family: 4, regionId: "r3" }),
      "CONFLICT",
      "family",
      /every IPv4 pool in region r3 available to this tenant is exhausted: IP pool r3-one is exhausted \(1 of 1 addresses in use\); IP pool r3-two/,
    );
  });

  it("allocates from an IPv6 pool", async () => {
    const got = await createVip({ tenantId: tenantA, family: 6 });
    expect(got).toEqual({ ipPoolId: pools["v6"], address: "2001:db8:10::1", family: 6 });
    expect((await createVip({ tenantId: tenantA, family: 6, ipPoolId: "v6" })).address).toBe(
      "2001:db8:10::2",
    );
  });

  it("concurrent creates in one pool get distinct addresses", async () => {
    const n = 12;
    const got = await Promise.all(
      Array.from({ length: n }, (_, i) =>
        createVip({ tenantId: i % 2 ? tenantA : tenantB, family: 4, ipPoolId: "r2-pool" }),
      ),
    );
    const addresses = got
      .map((g) => g.address)
      .sort((x, y) => Number(x.split(".")[3]) - Number(y.split(".")[3]));
    expect(addresses).toEqual(Array.from({ length: n }, (_, i) => `198.18.40.${i + 1}`));
  });

  it("finds the gaps of a pool with 1,000 VIPs quickly, then reports it exhausted", async () => {
    // 198.18.44.0/22 has 1,022 usable addresses (198.18.44.1 … 198.18.47.254); fill all but 22.
    const pool = pools["bulk"]!;
    const usable = Array.from({ length: 1022 }, (_, i) => {
      const v = (198 << 24) + (18 << 16) + (44 << 8) + 1 + i;
      return `198.18.${(v >> 8) & 255}.${v & 255}`;
    });
    const free = usable.filter((_, i) => i % 47 === 5);
    const taken = usable.filter((_, i) => i % 47 !== 5);
    expect(free.length).toBe(22);
    await w.database.db.insert(loadBalancer).values(
      taken.map((address, i) => ({
        tenantId: tenantA,
        name: `bulk-${i}`,
        address,
        family: 4,
        ipPoolId: pool,
        revision: 1,
        createdRevision: 1,
      })),
    );
    const started = performance.now();
    const got: string[] = [];
    for (let i = 0; i < free.length; i++)
      got.push((await createVip({ tenantId: tenantB, family: 4, ipPoolId: pool })).address);
    const perAllocation = (performance.now() - started) / free.length;
    expect(got).toEqual(free);
    await expectDomainError(
      allocateOnly({ tenantId: tenantB, family: 4, ipPoolId: pool }),
      "CONFLICT",
      "ipPoolId",
      /IP pool bulk is exhausted \(1022 of 1022 addresses in use\)/,
    );
    expect(await w.admin.ipPools.get({ ipPoolId: "bulk" })).toMatchObject({
      used: 1022,
      usable: "1022",
      percentUsed: 100,
    });
    console.log(
      `allocation with ~1,000 VIPs in the pool: ${perAllocation.toFixed(1)} ms each (${w.database.kind})`,
    );
    // One locked lookup and one set query per allocation; a per-address probe would take seconds.
    expect(perAllocation).toBeLessThan(500);
  });
});
