// VIP address allocation, run inside the load-balancer verb's transaction. The ip_pool row is
// locked (select … for update) while an address is picked, so concurrent creates in one pool are
// serialized; the unique index lb_address_idx stays the final guard.
import { asc, count, eq, sql } from "drizzle-orm";
import type { Tx } from "../../db/client";
import { ipPool, loadBalancer, region } from "../../db/schema";
import {
  type ParsedCidr,
  addressText,
  cidrContains,
  parseAddress,
  parseCidr,
  usableRange,
} from "../../../lib/ip";
import { DomainError, badField, conflict } from "../errors";
import { findRegion, isUuid } from "./refs";

export interface AllocateVipInput {
  tenantId: string;
  family: 4 | 6;
  /** An explicit address; without it the first free usable address is picked. */
  requested?: string | undefined;
  /** Pool id or name: allocate from this pool only. */
  ipPoolId?: string | undefined;
  /** Region id or name: only pools of this region. */
  regionId?: string | undefined;
}

export interface AllocatedVip {
  ipPoolId: string;
  /** Canonical text of the address. */
  address: string;
  family: 4 | 6;
}

type PoolRow = typeof ipPool.$inferSelect;

const usableBy = (p: PoolRow, tenantId: string) =>
  p.tenantIds.length === 0 || p.tenantIds.includes(tenantId);
const inRegionText = (r: { name: string } | undefined) => (r ? ` in region ${r.name}` : "");

/**
 * Picks the pool and address for a new VIP. Throws DomainError with fieldErrors on `address`,
 * `ipPoolId`, `regionId` or `family`; never names another tenant.
 */
export async function allocateVipAddress(tx: Tx, input: AllocateVipInput): Promise<AllocatedVip> {
  const { tenantId, family } = input;
  if (family !== 4 && family !== 6) throw badField("family", "family must be 4 or 6");
  const reg = input.regionId ? await findRegion(tx, input.regionId, "regionId") : undefined;

  let pools: PoolRow[];
  const lockedIds = new Set<string>();
  if (input.ipPoolId) {
    // Locked right away: the allocation lock, taken in the same query as the lookup.
    const [p] = await tx
      .select()
      .from(ipPool)
      .where(
        isUuid(input.ipPoolId) ? eq(ipPool.id, input.ipPoolId) : eq(ipPool.name, input.ipPoolId),
      )
      .for("update");
    if (!p) throw badField("ipPoolId", `no IP pool "${input.ipPoolId}"`);
    if (p.family !== family) {
      throw badField(
        "family",
        `IP pool ${p.name} holds IPv${p.family} addresses, not IPv${family}`,
      );
    }
    if (reg && p.regionId !== reg.id)
      throw badField("ipPoolId", `IP pool ${p.name} is not in region ${reg.name}`);
    if (!usableBy(p, tenantId))
      throw badField("ipPoolId", `IP pool ${p.name} is not available to this tenant`);
    pools = [p];
    lockedIds.add(p.id);
  } else {
    pools = await tx
      .select()
      .from(ipPool)
      .where(eq(ipPool.family, family))
      .orderBy(asc(ipPool.name));
  }

  if (input.requested !== undefined) return allocateRequested(tx, input, pools, reg, lockedIds);

  const candidates = pools.filter((p) => usableBy(p, tenantId) && (!reg || p.regionId === reg.id));
  if (candidates.length === 0) {
    throw badField(
      "family",
      `no IPv${family} pool${inRegionText(reg)} is available to this tenant`,
    );
  }
  const exhausted: string[] = [];
  // Pools are tried (and locked) in name order, so concurrent allocations never deadlock.
  for (const p of candidates) {
    const locked = lockedIds.has(p.id) ? p : await lockPool(tx, p.id);
    const cidr = parseCidr(locked.cidr)!;
    const pick = await firstFreeAddress(tx, locked.id, cidr);
    if (pick.address !== null) return { ipPoolId: locked.id, address: pick.address, family };
    exhausted.push(
      `IP pool ${locked.name} is exhausted (${pick.used} of ${pick.usable} addresses in use)`,
    );
  }
  const field = input.ipPoolId ? "ipPoolId" : "family";
  if (exhausted.length === 1) throw conflict(exhausted[0]!, field);
  throw conflict(
    `every IPv${family} pool${inRegionText(reg)} available to this tenant is exhausted: ${exhausted.join("; ")}`,
    field,
  );
}

async function allocateRequested(
  tx: Tx,
  input: AllocateVipInput,
  pools: PoolRow[],
  reg: { id: string; name: string } | undefined,
  lockedIds: Set<string>,
): Promise<AllocatedVip> {
  const requested = input.requested!;
  const a = parseAddress(requested);
  if (!a) throw badField("address", `"${requested}" is not a valid IP address`);
  if (a.family !== input.family) {
    throw badField(
      "address",
      `${a.text} is an IPv${a.family} address, but IPv${input.family} was asked for`,
    );
  }
  const pool = pools.find((p) => cidrContains(parseCidr(p.cidr)!, a));
  if (!pool) {
    if (input.ipPoolId) {
      const only = pools[0]!;
      throw badField("address", `${a.text} is not in IP pool ${only.name} (${only.cidr})`);
    }
    throw badField("address", `${a.text} is not in any IP pool`);
  }
  if (reg && pool.regionId !== reg.id) {
    const [other] = await tx
      .select({ name: region.name })
      .from(region)
      .where(eq(region.id, pool.regionId));
    throw badField("address", `${a.text} belongs to region ${other?.name ?? "?"}, not ${reg.name}`);
  }
  if (!usableBy(pool, input.tenantId)) {
    throw badField(
      "address",
      `${a.text} is in IP pool ${pool.name}, which is not available to this tenant`,
    );
  }
  const locked = lockedIds.has(pool.id) ? pool : await lockPool(tx, pool.id);
  const cidr = parseCidr(locked.cidr)!;
  const range = usableRange(cidr);
  if (a.value < range.first || a.value > range.last) {
    throw badField(
      "address",
      `${a.text} is not usable in IP pool ${locked.name} (${locked.cidr}): ` +
        `use ${addressText(range.first, cidr.family)} to ${addressText(range.last, cidr.family)}`,
    );
  }
  const [taken] = await tx
    .select({ id: loadBalancer.id })
    .from(loadBalancer)
    .where(eq(loadBalancer.address, a.text))
    .limit(1);
  if (taken) throw conflict(`${a.text} is already in use`, "address");
  return { ipPoolId: locked.id, address: a.text, family: input.family };
}

async function lockPool(tx: Tx, id: string): Promise<PoolRow> {
  const [row] = await tx.select().from(ipPool).where(eq(ipPool.id, id)).for("update");
  // Deleted between the listing and the lock: the caller retries like any conflict.
  if (!row)
    throw new DomainError("CONFLICT", "the IP pool was deleted meanwhile; try again", {
      ipPoolId: ["deleted"],
    });
  return row;
}

/**
 * The lowest usable address no load balancer holds, found by the database: candidates are the
 * first usable address and each used address + 1, minus the used ones (a hashed anti-join), so
 * one row comes back whatever the pool's size. Runs after lockPool() in its own statement, so it
 * sees every allocation committed before the lock was granted.
 */
async function firstFreeAddress(
  tx: Tx,
  poolId: string,
  cidr: ParsedCidr,
): Promise<{ address: string | null; used: bigint; usable: bigint }> {
  const range = usableRange(cidr);
  const first = addressText(range.first, cidr.family);
  const last = addressText(range.last, cidr.family);
  const [row] = await tx
    .select({
      free: sql<string | null>`(
        select host(c.a) from (
          select ${first}::inet as a
          union all
          select address::inet + 1 from load_balancer where ip_pool_id = ${poolId}
        ) c
        where c.a between ${first}::inet and ${last}::inet
          and c.a not in (select address::inet from load_balancer where ip_pool_id = ${poolId})
        order by c.a
        limit 1
      )`,
    })
    .from(ipPool)
    .where(eq(ipPool.id, poolId));
  if (row?.free) {
    // Re-canonicalize: PostgreSQL's IPv6 text form is not guaranteed to be RFC 5952's.
    return { address: parseAddress(row.free)!.text, used: 0n, usable: range.count };
  }
  // Exhausted: count for the message.
  const [c] = await tx
    .select({ n: count() })
    .from(loadBalancer)
    .where(eq(loadBalancer.ipPoolId, poolId));
  return { address: null, used: BigInt(c?.n ?? 0), usable: range.count };
}
