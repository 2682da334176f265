// IP pools: the CIDRs (per region, IPv4 or IPv6) VIP addresses are allocated from, optionally
// restricted to some tenants. Pools never overlap, so an address belongs to at most one pool.
import { type SQL, and, asc, count, eq, inArray, sql } from "drizzle-orm";
import type { Db } from "../../db/client";
import { ipPool, loadBalancer, region, tenant } from "../../db/schema";
import {
  type ParsedCidr,
  addressText,
  cidrsOverlap,
  parseCidr,
  usableRange,
} from "../../../lib/ip";
import type {
  CreateIpPoolInput,
  ListIpPoolsInput,
  UpdateIpPoolInput,
} from "../../../lib/inventory-schemas";
import { type DomainCtx, requirePlatformAdmin } from "../context";
import { badField, conflict } from "../errors";
import { mutate } from "../mutate";
import {
  type TenantRef,
  findIpPool,
  findRegion,
  resolveTenantRefs,
  withUniqueConflicts,
} from "./refs";

export interface IpPoolView {
  id: string;
  name: string;
  regionId: string;
  regionName: string;
  cidr: string;
  family: 4 | 6;
  /** Tenants allowed to allocate from it; empty = every tenant. */
  tenants: TenantRef[];
  /** Load balancers holding an address of this pool. */
  used: number;
  /** Usable addresses, as a decimal string (IPv6 pools exceed JavaScript's safe integers). */
  usable: string;
  firstUsable: string;
  lastUsable: string;
  percentUsed: number;
  createdAt: Date;
}

/** Transaction-scoped advisory lock serializing pool creation (the overlap check). */
const POOL_CREATE_LOCK = 0x7462_6970; // "tbip"
const sqlLock = sql`select pg_advisory_xact_lock(${POOL_CREATE_LOCK})`;

/** Ranges that can never carry a VIP. */
const RESERVED: { cidr: ParsedCidr; what: string }[] = [
  ["0.0.0.0/8", '"this network"'],
  ["127.0.0.0/8", "loopback"],
  ["169.254.0.0/16", "link-local"],
  ["224.0.0.0/4", "multicast"],
  ["240.0.0.0/4", "reserved and broadcast"],
  ["::/127", "unspecified and loopback"],
  ["fe80::/10", "link-local"],
  ["ff00::/8", "multicast"],
]
  .map(([c, what]) => ({ cidr: parseCidr(c!)!, what: what! }))
  // parseCidr refuses IPv4-mapped text, so this one is spelled out.
  .concat({
    cidr: {
      family: 6,
      text: "::ffff:0:0/96",
      network: 0xffffn << 32n,
      prefix: 96,
      size: 1n << 32n,
    },
    what: "IPv4-mapped",
  });

export function percentUsed(used: number, usable: bigint): number {
  if (usable <= 0n) return 100;
  return Number((BigInt(used) * 10_000n) / usable) / 100;
}

async function tenantsById(db: Db, ids: string[]): Promise<Map<string, TenantRef>> {
  if (ids.length === 0) return new Map();
  const rows = await db
    .select({ id: tenant.id, slug: tenant.slug, name: tenant.name })
    .from(tenant)
    .where(inArray(tenant.id, ids));
  return new Map(rows.map((r) => [r.id, r]));
}

async function selectPools(db: Db, where: SQL | undefined): Promise<IpPoolView[]> {
  const rows = await db
    .select({ pool: ipPool, regionName: region.name })
    .from(ipPool)
    .innerJoin(region, eq(region.id, ipPool.regionId))
    .where(where)
    .orderBy(asc(ipPool.name));
  const used = new Map(
    (
      await db
        .select({ poolId: loadBalancer.ipPoolId, n: count() })
        .from(loadBalancer)
        .groupBy(loadBalancer.ipPoolId)
    ).map((r) => [r.poolId, r.n]),
  );
  const tenants = await tenantsById(db, [...new Set(rows.flatMap((r) => r.pool.tenantIds))]);
  return rows.map(({ pool: p, regionName }) => {
    const cidr = parseCidr(p.cidr)!;
    const range = usableRange(cidr);
    const n = used.get(p.id) ?? 0;
    return {
      id: p.id,
      name: p.name,
      regionId: p.regionId,
      regionName,
      cidr: p.cidr,
      family: cidr.family,
      tenants: p.tenantIds.map(
        (id) => tenants.get(id) ?? { id, slug: id, name: "(deleted tenant)" },
      ),
      used: n,
      usable: range.count.toString(),
      firstUsable: addressText(range.first, cidr.family),
      lastUsable: addressText(range.last, cidr.family),
      percentUsed: percentUsed(n, range.count),
      createdAt: p.createdAt,
    };
  });
}

export async function listIpPools(
  ctx: DomainCtx,
  filter: ListIpPoolsInput = {},
): Promise<IpPoolView[]> {
  requirePlatformAdmin(ctx);
  const conds: SQL[] = [];
  if (filter.regionId)
    conds.push(eq(ipPool.regionId, (await findRegion(ctx.db, filter.regionId, "regionId")).id));
  if (filter.family) conds.push(eq(ipPool.family, filter.family));
  return selectPools(ctx.db, conds.length ? and(...conds) : undefined);
}

export async function getIpPool(ctx: DomainCtx, ref: string): Promise<IpPoolView> {
  requirePlatformAdmin(ctx);
  const p = await findIpPool(ctx.db, ref);
  return (await selectPools(ctx.db, eq(ipPool.id, p.id)))[0]!;
}

/**
 * Creates a pool. A CIDR with host bits set is accepted and stored as its network (the result's
 * `notice` says so); reserved ranges, overlaps with another pool (named) and duplicate names are
 * refused.
 */
export async function createIpPool(
  ctx: DomainCtx,
  input: CreateIpPoolInput,
): Promise<IpPoolView & { notice: string | null }> {
  requirePlatformAdmin(ctx);
  const r = await findRegion(ctx.db, input.regionId, "regionId");
  const cidr = parseCidr(input.cidr);
  if (!cidr)
    throw badField(
      "cidr",
      `"${input.cidr}" is not a valid CIDR (e.g. 198.18.0.0/24 or 2001:db8:1::/64)`,
    );
  const reserved = RESERVED.find((x) => cidrsOverlap(x.cidr, cidr));
  if (reserved) {
    throw badField(
      "cidr",
      `${cidr.text} overlaps ${reserved.cidr.text} (${reserved.what}), which cannot carry VIPs`,
    );
  }
  if (usableRange(cidr).count < 1n) throw badField("cidr", `${cidr.text} has no usable address`);
  const tenants = await resolveTenantRefs(ctx.db, input.tenants, "tenants");
  const written = input.cidr.trim();
  const notice =
    written.toLowerCase() !== cidr.text
      ? `${written} has host bits set (or is not in canonical form): stored as ${cidr.text}`
      : null;
  const taken = {
    ip_pool_name_unique: {
      message: `an IP pool named "${input.name}" already exists`,
      field: "name",
    },
    ip_pool_cidr_idx: { message: `${cidr.text} is already a pool`, field: "cidr" },
  };
  const id = await withUniqueConflicts(
    () =>
      mutate(ctx, async (tx, rec) => {
        // Serialize pool creation so two overlapping pools cannot be created concurrently.
        await tx.execute(sqlLock);
        const [dup] = await tx
          .select({ id: ipPool.id })
          .from(ipPool)
          .where(eq(ipPool.name, input.name));
        if (dup) throw conflict(`an IP pool named "${input.name}" already exists`, "name");
        const sameFamily = await tx.select().from(ipPool).where(eq(ipPool.family, cidr.family));
        const overlapping = sameFamily.find((p) => cidrsOverlap(parseCidr(p.cidr)!, cidr));
        if (overlapping) {
          throw conflict(
            `${cidr.text} overlaps IP pool ${overlapping.name} (${overlapping.cidr})`,
            "cidr",
          );
        }
        const [row] = await tx
          .insert(ipPool)
          .values({
            regionId: r.id,
            name: input.name,
            cidr: cidr.text,
            family: cidr.family,
            tenantIds: tenants.map((t) => t.id),
          })
          .returning();
        await rec.record({
          tenantId: null,
          action: "ip-pool.create",
          entityType: "ip_pool",
          entityId: row!.id,
          before: null,
          after: {
            name: row!.name,
            region: r.name,
            cidr: row!.cidr,
            tenants: tenants.map((t) => t.slug),
          },
        });
        return row!.id;
      }),
    taken,
  );
  return { ...(await getIpPool(ctx, id)), notice };
}

/** Replaces the tenant restriction (empty = every tenant). Addresses already allocated stay. */
export async function updateIpPool(ctx: DomainCtx, input: UpdateIpPoolInput): Promise<IpPoolView> {
  requirePlatformAdmin(ctx);
  const current = await findIpPool(ctx.db, input.ipPoolId);
  const tenants = await resolveTenantRefs(ctx.db, input.tenants, "tenants");
  const ids = tenants.map((t) => t.id);
  const before = await tenantsById(ctx.db, current.tenantIds);
  if (
    ids.length === current.tenantIds.length &&
    ids.every((id, i) => id === current.tenantIds[i])
  ) {
    return getIpPool(ctx, current.id);
  }
  await mutate(ctx, async (tx, rec) => {
    await tx.update(ipPool).set({ tenantIds: ids }).where(eq(ipPool.id, current.id));
    await rec.record({
      tenantId: null,
      action: "ip-pool.update",
      entityType: "ip_pool",
      entityId: current.id,
      before: {
        name: current.name,
        tenants: current.tenantIds.map((id) => before.get(id)?.slug ?? id),
      },
      after: { name: current.name, tenants: tenants.map((t) => t.slug) },
    });
  });
  return getIpPool(ctx, current.id);
}

/** Refused while any load balancer holds an address of the pool. */
export async function deleteIpPool(ctx: DomainCtx, ref: string): Promise<void> {
  requirePlatformAdmin(ctx);
  const current = await findIpPool(ctx.db, ref);
  await mutate(ctx, async (tx, rec) => {
    // The allocation lock: no VIP can take an address from the pool while we look.
    await tx.select({ id: ipPool.id }).from(ipPool).where(eq(ipPool.id, current.id)).for("update");
    const users = await tx
      .select({ address: loadBalancer.address })
      .from(loadBalancer)
      .where(eq(loadBalancer.ipPoolId, current.id))
      .orderBy(asc(loadBalancer.address))
      .limit(5);
    if (users.length) {
      const [c] = await tx
        .select({ n: count() })
        .from(loadBalancer)
        .where(eq(loadBalancer.ipPoolId, current.id));
      const n = c?.n ?? users.length;
      const shown = users.map((u) => u.address).join(", ") + (n > users.length ? ", …" : "");
      throw conflict(
        `IP pool ${current.name} is used by ${n} load balancer${n > 1 ? "s" : ""} (${shown}); delete them first`,
        "ipPoolId",
      );
    }
    await tx.delete(ipPool).where(eq(ipPool.id, current.id));
    await rec.record({
      tenantId: null,
      action: "ip-pool.delete",
      entityType: "ip_pool",
      entityId: current.id,
      before: { name: current.name, cidr: current.cidr, tenantIds: current.tenantIds },
      after: null,
    });
  });
}
