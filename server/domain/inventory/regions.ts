// Regions and availability zones: the top of the platform inventory (platform admins only).
import { and, asc, count, eq, ne } from "drizzle-orm";
import { az, ipPool, lbNode, region } from "../../db/schema";
import type {
  CreateAzInput,
  CreateRegionInput,
  UpdateRegionInput,
} from "../../../lib/inventory-schemas";
import { type DomainCtx, requirePlatformAdmin } from "../context";
import { conflict } from "../errors";
import { mutate } from "../mutate";
import { findAz, findRegion, listText, withUniqueConflicts } from "./refs";

export interface RegionView {
  id: string;
  name: string;
  description: string;
  azCount: number;
  ipPoolCount: number;
  createdAt: Date;
}

export interface AzView {
  id: string;
  name: string;
  regionId: string;
  regionName: string;
  nodeCount: number;
  createdAt: Date;
}

const countBy = <K extends string>(rows: { key: K; n: number }[]) =>
  new Map(rows.map((r) => [r.key, r.n]));

export async function listRegions(ctx: DomainCtx): Promise<RegionView[]> {
  requirePlatformAdmin(ctx);
  const rows = await ctx.db.select().from(region).orderBy(asc(region.name));
  const azs = countBy(
    await ctx.db.select({ key: az.regionId, n: count() }).from(az).groupBy(az.regionId),
  );
  const pools = countBy(
    await ctx.db.select({ key: ipPool.regionId, n: count() }).from(ipPool).groupBy(ipPool.regionId),
  );
  return rows.map((r) => ({
    id: r.id,
    name: r.name,
    description: r.description,
    azCount: azs.get(r.id) ?? 0,
    ipPoolCount: pools.get(r.id) ?? 0,
    createdAt: r.createdAt,
  }));
}

async function regionView(ctx: DomainCtx, id: string): Promise<RegionView> {
  const found = (await listRegions(ctx)).find((r) => r.id === id);
  return found!;
}

export async function getRegion(ctx: DomainCtx, ref: string): Promise<RegionView> {
  requirePlatformAdmin(ctx);
  const r = await findRegion(ctx.db, ref);
  return regionView(ctx, r.id);
}

export async function createRegion(ctx: DomainCtx, input: CreateRegionInput): Promise<RegionView> {
  requirePlatformAdmin(ctx);
  const taken = {
    region_name_unique: { message: `a region named "${input.name}" already exists`, field: "name" },
  };
  const row = await withUniqueConflicts(
    () =>
      mutate(ctx, async (tx, rec) => {
        const [dup] = await tx
          .select({ id: region.id })
          .from(region)
          .where(eq(region.name, input.name));
        if (dup) throw conflict(`a region named "${input.name}" already exists`, "name");
        const [row] = await tx
          .insert(region)
          .values({ name: input.name, description: input.description })
          .returning();
        await rec.record({
          tenantId: null,
          action: "region.create",
          entityType: "region",
          entityId: row!.id,
          before: null,
          after: { name: row!.name, description: row!.description },
        });
        return row!;
      }),
    taken,
  );
  return regionView(ctx, row.id);
}

export async function updateRegion(ctx: DomainCtx, input: UpdateRegionInput): Promise<RegionView> {
  requirePlatformAdmin(ctx);
  const current = await findRegion(ctx.db, input.regionId);
  const next = {
    name: input.name ?? current.name,
    description: input.description ?? current.description,
  };
  if (next.name === current.name && next.description === current.description)
    return regionView(ctx, current.id);
  const taken = {
    region_name_unique: { message: `a region named "${next.name}" already exists`, field: "name" },
  };
  await withUniqueConflicts(
    () =>
      mutate(ctx, async (tx, rec) => {
        const [dup] = await tx
          .select({ id: region.id })
          .from(region)
          .where(and(eq(region.name, next.name), ne(region.id, current.id)));
        if (dup) throw conflict(`a region named "${next.name}" already exists`, "name");
        await tx.update(region).set(next).where(eq(region.id, current.id));
        await rec.record({
          tenantId: null,
          action: "region.update",
          entityType: "region",
          entityId: current.id,
          before: { name: current.name, description: current.description },
          after: next,
        });
      }),
    taken,
  );
  return regionView(ctx, current.id);
}

/** Refused while availability zones or IP pools are in the region (they are listed). */
export async function deleteRegion(ctx: DomainCtx, ref: string): Promise<void> {
  requirePlatformAdmin(ctx);
  const current = await findRegion(ctx.db, ref);
  await mutate(ctx, async (tx, rec) => {
    // Lock the region so an AZ or pool created concurrently cannot slip in (their FK waits on it).
    await tx.select({ id: region.id }).from(region).where(eq(region.id, current.id)).for("update");
    const azs = await tx
      .select({ name: az.name })
      .from(az)
      .where(eq(az.regionId, current.id))
      .orderBy(asc(az.name));
    const pools = await tx
      .select({ name: ipPool.name })
      .from(ipPool)
      .where(eq(ipPool.regionId, current.id))
      .orderBy(asc(ipPool.name));
    if (azs.length || pools.length) {
      const parts = [
        azs.length ? `availability zones ${listText(azs.map((a) => a.name))}` : "",
        pools.length ? `IP pools ${listText(pools.map((p) => p.name))}` : "",
      ].filter(Boolean);
      throw conflict(
        `region ${current.name} still has ${parts.join(" and ")}; delete them first`,
        "regionId",
      );
    }
    await tx.delete(region).where(eq(region.id, current.id));
    await rec.record({
      tenantId: null,
      action: "region.delete",
      entityType: "region",
      entityId: current.id,
      before: { name: current.name, description: current.description },
      after: null,
    });
  });
}

// ---- availability zones ----------------------------------------------------------------------

export async function listAzs(
  ctx: DomainCtx,
  filter: { regionId?: string | undefined } = {},
): Promise<AzView[]> {
  requirePlatformAdmin(ctx);
  const regionId = filter.regionId
    ? (await findRegion(ctx.db, filter.regionId, "regionId")).id
    : undefined;
  const rows = await ctx.db
    .select({
      id: az.id,
      name: az.name,
      regionId: az.regionId,
      regionName: region.name,
      createdAt: az.createdAt,
    })
    .from(az)
    .innerJoin(region, eq(region.id, az.regionId))
    .where(regionId ? eq(az.regionId, regionId) : undefined)
    .orderBy(asc(region.name), asc(az.name));
  const nodes = countBy(
    await ctx.db.select({ key: lbNode.azId, n: count() }).from(lbNode).groupBy(lbNode.azId),
  );
  return rows.map((r) => ({ ...r, nodeCount: nodes.get(r.id) ?? 0 }));
}

export async function getAz(ctx: DomainCtx, ref: string): Promise<AzView> {
  requirePlatformAdmin(ctx);
  const a = await findAz(ctx.db, ref);
  const [c] = await ctx.db.select({ n: count() }).from(lbNode).where(eq(lbNode.azId, a.id));
  return { ...a, nodeCount: c?.n ?? 0 };
}

export async function createAz(ctx: DomainCtx, input: CreateAzInput): Promise<AzView> {
  requirePlatformAdmin(ctx);
  const r = await findRegion(ctx.db, input.regionId, "regionId");
  const message = `region ${r.name} already has an availability zone named "${input.name}"`;
  return withUniqueConflicts(
    () =>
      mutate(ctx, async (tx, rec) => {
        const [dup] = await tx
          .select({ id: az.id })
          .from(az)
          .where(and(eq(az.regionId, r.id), eq(az.name, input.name)));
        if (dup) throw conflict(message, "name");
        const [row] = await tx.insert(az).values({ regionId: r.id, name: input.name }).returning();
        await rec.record({
          tenantId: null,
          action: "az.create",
          entityType: "az",
          entityId: row!.id,
          before: null,
          after: { name: row!.name, region: r.name },
        });
        return {
          id: row!.id,
          name: row!.name,
          regionId: r.id,
          regionName: r.name,
          nodeCount: 0,
          createdAt: row!.createdAt,
        };
      }),
    { az_region_name_idx: { message, field: "name" } },
  );
}

/** Refused while LB nodes are in the AZ (they are listed). */
export async function deleteAz(ctx: DomainCtx, ref: string): Promise<void> {
  requirePlatformAdmin(ctx);
  const current = await findAz(ctx.db, ref);
  await mutate(ctx, async (tx, rec) => {
    await tx.select({ id: az.id }).from(az).where(eq(az.id, current.id)).for("update");
    const nodes = await tx
      .select({ name: lbNode.name })
      .from(lbNode)
      .where(eq(lbNode.azId, current.id))
      .orderBy(asc(lbNode.name));
    if (nodes.length) {
      throw conflict(
        `availability zone ${current.regionName}/${current.name} still has node${nodes.length > 1 ? "s" : ""} ` +
          `${listText(nodes.map((n) => n.name))}; delete ${nodes.length > 1 ? "them" : "it"} first`,
        "azId",
      );
    }
    await tx.delete(az).where(eq(az.id, current.id));
    await rec.record({
      tenantId: null,
      action: "az.delete",
      entityType: "az",
      entityId: current.id,
      before: { name: current.name, region: current.regionName },
      after: null,
    });
  });
}
