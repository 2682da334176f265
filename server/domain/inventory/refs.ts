// Resolving inventory references: every verb takes an id or a name (natural keys first), so
// scripts never need an id lookup first. AZs also take "region/az" (AZ names are per region).
import { and, eq, inArray } from "drizzle-orm";
import type { Db } from "../../db/client";
import { az, ipPool, lbNode, region, tenant } from "../../db/schema";
import { DomainError, badField, notFound } from "../errors";

import { isUuid } from "../context";

export { isUuid };

/**
 * `field` set: the reference is an input of the verb (unknown = BAD_REQUEST on that field);
 * unset: it names the object acted on (unknown = NOT_FOUND).
 */
const missing = (what: string, ref: string, field?: string) =>
  field ? badField(field, `no ${what} "${ref}"`) : notFound(`${what} "${ref}"`);

export async function findRegion(db: Db, ref: string, field?: string) {
  const [row] = await db
    .select()
    .from(region)
    .where(isUuid(ref) ? eq(region.id, ref) : eq(region.name, ref))
    .limit(1);
  if (!row) throw missing("region", ref, field);
  return row;
}

export async function findAz(db: Db, ref: string, field?: string) {
  const cols = {
    id: az.id,
    name: az.name,
    regionId: az.regionId,
    regionName: region.name,
    createdAt: az.createdAt,
  };
  const base = () => db.select(cols).from(az).innerJoin(region, eq(region.id, az.regionId));
  let rows;
  if (isUuid(ref)) rows = await base().where(eq(az.id, ref));
  else if (ref.includes("/")) {
    const [regionName, azName] = ref.split("/", 2) as [string, string];
    rows = await base().where(and(eq(region.name, regionName), eq(az.name, azName)));
  } else rows = await base().where(eq(az.name, ref));
  if (rows.length > 1) {
    const choices = rows.map((r) => `${r.regionName}/${r.name}`).join(", ");
    const message = `availability zone "${ref}" exists in several regions: say which (${choices})`;
    throw field ? badField(field, message) : new DomainError("BAD_REQUEST", message);
  }
  const row = rows[0];
  if (!row) throw missing("availability zone", ref, field);
  return row;
}

export async function findNode(db: Db, ref: string, field?: string) {
  const [row] = await db
    .select()
    .from(lbNode)
    .where(isUuid(ref) ? eq(lbNode.id, ref) : eq(lbNode.name, ref))
    .limit(1);
  if (!row) throw missing("node", ref, field);
  return row;
}

export async function findIpPool(db: Db, ref: string, field?: string) {
  const [row] = await db
    .select()
    .from(ipPool)
    .where(isUuid(ref) ? eq(ipPool.id, ref) : eq(ipPool.name, ref))
    .limit(1);
  if (!row) throw missing("IP pool", ref, field);
  return row;
}

export interface TenantRef {
  id: string;
  slug: string;
  name: string;
}

/** Resolves tenant ids or slugs (deduplicated, in the given order); unknown ones are a field error. */
export async function resolveTenantRefs(
  db: Db,
  refs: string[],
  field: string,
): Promise<TenantRef[]> {
  if (refs.length === 0) return [];
  const ids = refs.filter(isUuid);
  const slugs = refs.filter((r) => !isUuid(r));
  const rows = [
    ...(ids.length ? await db.select().from(tenant).where(inArray(tenant.id, ids)) : []),
    ...(slugs.length ? await db.select().from(tenant).where(inArray(tenant.slug, slugs)) : []),
  ];
  const byRef = new Map<string, TenantRef>();
  for (const r of rows) {
    const t = { id: r.id, slug: r.slug, name: r.name };
    byRef.set(r.id, t);
    byRef.set(r.slug, t);
  }
  const unknown = refs.filter((r) => !byRef.has(r));
  if (unknown.length) {
    throw badField(field, `unknown tenant${unknown.length > 1 ? "s" : ""}: ${unknown.join(", ")}`);
  }
  const out = new Map<string, TenantRef>();
  for (const r of refs) {
    const t = byRef.get(r)!;
    out.set(t.id, t);
  }
  return [...out.values()];
}

/** "a, b and c" for messages. */
export function listText(items: string[], max = 10): string {
  const shown = items.slice(0, max);
  const more = items.length - shown.length;
  if (more > 0) return `${shown.join(", ")} and ${more} more`;
  if (shown.length <= 1) return shown.join("");
  return `${shown.slice(0, -1).join(", ")} and ${shown[shown.length - 1]}`;
}

/**
 * The constraint a unique violation (SQLSTATE 23505) hit, or null for any other error. The
 * verbs check names before inserting; this turns the race between two concurrent creates into
 * the same clear conflict instead of an internal error.
 */
export function uniqueViolation(err: unknown): string | null {
  for (
    let e = err, depth = 0;
    e && typeof e === "object" && depth < 5;
    e = (e as { cause?: unknown }).cause, depth++
  ) {
    const x = e as { code?: unknown; constraint?: unknown; constraint_name?: unknown };
    if (x.code === "23505") return String(x.constraint ?? x.constraint_name ?? "");
  }
  return null;
}

/** Runs `work`; a unique violation on one of `constraints` becomes the given conflict. */
export async function withUniqueConflicts<T>(
  work: () => Promise<T>,
  constraints: Record<string, { message: string; field: string }>,
): Promise<T> {
  try {
    return await work();
  } catch (err) {
    const hit = uniqueViolation(err);
    const mapped = hit !== null ? constraints[hit] : undefined;
    if (mapped)
      throw new DomainError("CONFLICT", mapped.message, { [mapped.field]: [mapped.message] });
    throw err;
  }
}
