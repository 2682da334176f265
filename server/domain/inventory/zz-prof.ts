import { openDatabase } from "/work/main/server/db/client";
import { ipPool, loadBalancer, region, tenant } from "/work/main/server/db/schema";
import { allocateVipAddress } from "/work/main/server/domain/inventory/allocate";
import { eq } from "drizzle-orm";
const d = await openDatabase({});
const db = d.db;
const [t] = await db.insert(tenant).values({ slug: "x", name: "x" }).returning();
const [r] = await db.insert(region).values({ name: "r" }).returning();
const [p] = await db.insert(ipPool).values({ regionId: r!.id, name: "bulk", cidr: "198.18.44.0/22", family: 4 }).returning();
const [p2] = await db.insert(ipPool).values({ regionId: r!.id, name: "bulk2", cidr: "198.18.48.0/22", family: 4 }).returning();
let t0 = performance.now();
for (let i = 0; i < 500; i++) {
  await db.transaction(async (tx) => {
    await tx.insert(loadBalancer).values({ tenantId: t!.id, name: `n${i}`, address: `198.18.${48 + (i >> 8)}.${i & 255}`, family: 4, ipPoolId: p2!.id, revision: 1, createdRevision: 1 });
  });
}
console.log("insert-only tx", ((performance.now() - t0) / 500).toFixed(2), "ms");
t0 = performance.now();
for (let i = 0; i < 500; i++) {
  await db.transaction(async (tx) => {
    const got = await allocateVipAddress(tx, { tenantId: t!.id, family: 4, ipPoolId: p!.id });
    await tx.insert(loadBalancer).values({ tenantId: t!.id, name: `m${i}`, address: got.address, family: 4, ipPoolId: got.ipPoolId, revision: 1, createdRevision: 1 });
  });
}
console.log("alloc+insert tx", ((performance.now() - t0) / 500).toFixed(2), "ms");
t0 = performance.now();
for (let i = 0; i < 100; i++) await db.select({ a: loadBalancer.address }).from(loadBalancer).where(eq(loadBalancer.ipPoolId, p!.id));
console.log("select 500 used", ((performance.now() - t0) / 100).toFixed(2), "ms");
t0 = performance.now();
for (let i = 0; i < 100; i++) await db.select().from(ipPool).where(eq(ipPool.id, p!.id));
console.log("select pool", ((performance.now() - t0) / 100).toFixed(2), "ms");
await d.close();
