// Load-balancer verbs. Every change goes: lock the LB row (checking the revision it was based
// on) → build the desired tree → validate the whole tree and the tenant's quotas → write the
// difference → one revision + one audit row. A change that changes nothing writes nothing.
import { createHash } from "node:crypto";
import { and, asc, count, desc, eq, inArray } from "drizzle-orm";
import type { Tx } from "../../db/client";
import { auditLog, idempotencyKey, lbNode, loadBalancer, placement, tenant } from "../../db/schema";
import { type TenantCtx, isUuid, requireRole } from "../context";
import { DomainError, notFound } from "../errors";
import { mutate } from "../mutate";
import { allocateVipAddress } from "../inventory/allocate";
import { getQuota, getQuotaUsage } from "../inventory/quotas";
import { parseAddress } from "../../../lib/ip";
import type { CreateLbInput } from "../../../lib/lb-schemas";
import {
  type DesiredTree,
  type LbRow,
  type Tree,
  defaultListenerName,
  desiredFromTree,
  loadTenantSummaries,
  loadTree,
  lockLb,
  validateTree,
} from "./tree";
import { resolveMonitorCas } from "./monitor-tls";
import { applyDesired, normalize, treesEqual } from "./write";
import { type LbSummary, type LbView, summaryView, treeView } from "./view";

/** Finds a tenant's load balancer by id, VIP address or name; other tenants' answer NOT_FOUND. */
export async function findLb(db: TenantCtx["db"] | Tx, tenantId: string, ref: string): Promise<LbRow> {
  const addr = parseAddress(ref);
  const key = isUuid(ref)
    ? eq(loadBalancer.id, ref)
    : addr
      ? eq(loadBalancer.address, addr.text)
      : eq(loadBalancer.name, ref);
  const [lb] = await db
    .select()
    .from(loadBalancer)
    .where(and(eq(loadBalancer.tenantId, tenantId), key));
  if (!lb) throw notFound(`load balancer ${ref}`);
  return lb;
}

/**
 * Checks the tenant's quotas for a tree going from `current` (null = new) to `desired`. The
 * tenant row is locked first, so concurrent changes in one tenant cannot both squeeze under a quota.
 */
async function enforceQuota(tx: Tx, tenantId: string, current: Tree | null, desired: DesiredTree) {
  await tx.select({ id: tenant.id }).from(tenant).where(eq(tenant.id, tenantId)).for("update");
  const [q, usage] = await Promise.all([getQuota(tx, tenantId), getQuotaUsage(tx, tenantId)]);
  const delta = {
    vips: current ? 0 : 1,
    listeners: desired.listeners.length - (current?.listeners.length ?? 0),
    members: desired.pools.reduce((s, p) => s + p.members.length, 0) - (current?.members.length ?? 0),
  };
  const check = (what: string, now: number, d: number, max: number, field: string) => {
    if (d > 0 && now + d > max) {
      throw new DomainError(
        "PRECONDITION_FAILED",
        `quota exceeded: this would make ${now + d} ${what} in the tenant, the quota is ${max}; ask a platform admin to raise it`,
        { [field]: [`quota: at most ${max} ${what} per tenant`] },
      );
    }
  };
  check("load balancers", usage.vips, delta.vips, q.maxVips, "name");
  check("listeners", usage.listeners, delta.listeners, q.maxListeners, "listeners");
  check("members", usage.members, delta.members, q.maxMembers, "pools");
}

function desiredFromCreate(input: CreateLbInput): DesiredTree {
  return {
    pools: input.pools.map((p) => ({ ...p, monitor: p.monitor ?? null })),
    listeners: input.listeners.map((l) => ({ ...l, name: l.name ?? defaultListenerName(l) })),
  };
}

const requestHash = (input: object) => createHash("sha256").update(JSON.stringify(input)).digest("hex");

export async function createLb(ctx: TenantCtx, input: CreateLbInput): Promise<LbView> {
  requireRole(ctx, "operator");
  const tenantId = ctx.tenant.id;
  const desired = desiredFromCreate(input);
  validateTree(desired);
  const { idempotencyKey: key, tenantId: _t, ...request } = input;
  const hash = requestHash(request);

  const lbId = await mutate(ctx, async (tx, rec) => {
    if (key) {
      const [seen] = await tx
        .select()
        .from(idempotencyKey)
        .where(and(eq(idempotencyKey.tenantId, tenantId), eq(idempotencyKey.verb, "lb.create"), eq(idempotencyKey.key, key)));
      if (seen) {
        if (seen.requestHash !== hash) {
          throw new DomainError("CONFLICT", `idempotency key "${key}" was already used for a different request`, {
            idempotencyKey: ["already used for a different request"],
          });
        }
        return seen.resultId;
      }
    }
    const [dup] = await tx
      .select({ id: loadBalancer.id })
      .from(loadBalancer)
      .where(and(eq(loadBalancer.tenantId, tenantId), eq(loadBalancer.name, input.name)));
    if (dup) throw new DomainError("CONFLICT", `a load balancer named "${input.name}" already exists`, { name: ["already exists"] });
    await enforceQuota(tx, tenantId, null, desired);
    await resolveMonitorCas(tx, tenantId, desired);

    const family = input.address ? parseAddress(input.address)!.family : (input.family ?? 4);
    if (input.address && input.family && input.family !== family) {
      throw new DomainError("BAD_REQUEST", `address ${input.address} is not IPv${input.family}`, { address: [`not IPv${input.family}`] });
    }
    const vip = await allocateVipAddress(tx, {
      tenantId,
      family,
      ...(input.address ? { requested: input.address } : {}),
      ...(input.ipPoolId ? { ipPoolId: input.ipPoolId } : {}),
    });
    const [lb] = await tx
      .insert(loadBalancer)
      .values({
        tenantId,
        name: input.name,
        description: input.description,
        address: vip.address,
        family: vip.family,
        ipPoolId: vip.ipPoolId,
        replicas: input.replicas,
        adminEnabled: input.adminEnabled,
        deletionProtection: input.deletionProtection,
        tags: input.tags,
        revision: 0,
        createdRevision: 0,
      })
      .returning();
    const empty: Tree = { lb: lb!, pools: [], monitors: [], listeners: [], members: [], placements: [], health: [] };
    await applyDesired(tx, empty, desired);
    const rev = await rec.record({
      tenantId,
      action: "lb.create",
      entityType: "load-balancer",
      entityId: lb!.id,
      before: null,
      after: { name: lb!.name, address: lb!.address, replicas: lb!.replicas, ...normalize(desired) },
    });
    await tx.update(loadBalancer).set({ revision: rev, createdRevision: rev }).where(eq(loadBalancer.id, lb!.id));
    if (key) {
      await tx.insert(idempotencyKey).values({ tenantId, key, verb: "lb.create", requestHash: hash, resultId: lb!.id });
    }
    return lb!.id;
  });
  return getLb(ctx, lbId);
}

export async function getLb(ctx: TenantCtx, ref: string): Promise<LbView> {
  const lb = await findLb(ctx.db, ctx.tenant.id, ref);
  const view = treeView(await loadTree(ctx.db, lb));
  if (view.placements.length) {
    // Node names (not ids) so tenants see where their VIP runs; nothing else of the node leaks.
    const nodes = await ctx.db
      .select({ id: lbNode.id, name: lbNode.name })
      .from(lbNode)
      .where(inArray(lbNode.id, view.placements.map((p) => p.nodeId)));
    const names = new Map(nodes.map((n) => [n.id, n.name]));
    for (const p of view.placements) p.nodeName = names.get(p.nodeId) ?? null;
  }
  return view;
}

export async function listLbs(
  ctx: TenantCtx,
  input: { search?: string | undefined; tag?: string | undefined },
): Promise<LbSummary[]> {
  const rows = await ctx.db
    .select()
    .from(loadBalancer)
    .where(eq(loadBalancer.tenantId, ctx.tenant.id))
    .orderBy(asc(loadBalancer.name));
  const search = input.search?.trim().toLowerCase();
  const [tagKey, tagValue] = input.tag ? input.tag.split("=", 2) : [];
  const filtered = rows.filter(
    (lb) =>
      (!search ||
        lb.name.toLowerCase().includes(search) ||
        lb.address.includes(search) ||
        lb.description.toLowerCase().includes(search)) &&
      (!tagKey || (tagKey in lb.tags && (tagValue === undefined || lb.tags[tagKey] === tagValue))),
  );
  return (await loadTenantSummaries(ctx.db, ctx.tenant.id, filtered)).map((x) => summaryView(x.tree, x.memberCount));
}

/**
 * Applies `change` to a load balancer's desired tree. Returns the new view; when the change
 * changes nothing, nothing is written (idempotent) and the current view is returned.
 */
export async function changeTree(
  ctx: TenantCtx,
  ref: string,
  opts: { action: string; expectedRevision?: number | undefined; summary: unknown },
  change: (desired: DesiredTree, tree: Tree) => void,
): Promise<LbView> {
  requireRole(ctx, "operator");
  const lb = await findLb(ctx.db, ctx.tenant.id, ref);
  await mutate(ctx, async (tx, rec) => {
    const locked = await lockLb(tx, ctx.tenant.id, lb.id, opts.expectedRevision);
    const tree = await loadTree(tx, locked);
    const before = desiredFromTree(tree);
    const desired = structuredClone(before);
    change(desired, tree);
    await resolveMonitorCas(tx, ctx.tenant.id, desired);
    if (treesEqual(before, desired)) return;
    validateTree(desired);
    await enforceQuota(tx, ctx.tenant.id, tree, desired);
    await applyDesired(tx, tree, desired);
    const rev = await rec.record({
      tenantId: ctx.tenant.id,
      action: opts.action,
      entityType: "load-balancer",
      entityId: lb.id,
      before: { revision: locked.revision },
      after: opts.summary,
    });
    await tx.update(loadBalancer).set({ revision: rev, updatedAt: new Date() }).where(eq(loadBalancer.id, lb.id));
  });
  return getLb(ctx, lb.id);
}

export async function updateLb(
  ctx: TenantCtx,
  input: {
    lb: string;
    expectedRevision: number;
    name?: string | undefined;
    description?: string | undefined;
    replicas?: number | undefined;
    adminEnabled?: boolean | undefined;
    deletionProtection?: boolean | undefined;
    tags?: Record<string, string> | undefined;
  },
): Promise<LbView> {
  requireRole(ctx, "operator");
  const lb = await findLb(ctx.db, ctx.tenant.id, input.lb);
  await mutate(ctx, async (tx, rec) => {
    const locked = await lockLb(tx, ctx.tenant.id, lb.id, input.expectedRevision);
    const fields = {
      name: input.name ?? locked.name,
      description: input.description ?? locked.description,
      replicas: input.replicas ?? locked.replicas,
      adminEnabled: input.adminEnabled ?? locked.adminEnabled,
      deletionProtection: input.deletionProtection ?? locked.deletionProtection,
      tags: input.tags ?? locked.tags,
    };
    const before = {
      name: locked.name,
      description: locked.description,
      replicas: locked.replicas,
      adminEnabled: locked.adminEnabled,
      deletionProtection: locked.deletionProtection,
      tags: locked.tags,
    };
    if (JSON.stringify(before) === JSON.stringify(fields)) return;
    if (fields.name !== locked.name) {
      const [dup] = await tx
        .select({ id: loadBalancer.id })
        .from(loadBalancer)
        .where(and(eq(loadBalancer.tenantId, ctx.tenant.id), eq(loadBalancer.name, fields.name)));
      if (dup) throw new DomainError("CONFLICT", `a load balancer named "${fields.name}" already exists`, { name: ["already exists"] });
    }
    const rev = await rec.record({
      tenantId: ctx.tenant.id,
      action: "lb.update",
      entityType: "load-balancer",
      entityId: lb.id,
      before,
      after: fields,
    });
    await tx.update(loadBalancer).set({ ...fields, revision: rev, updatedAt: new Date() }).where(eq(loadBalancer.id, lb.id));
  });
  return getLb(ctx, lb.id);
}

/**
 * Deletes a load balancer. Refused under deletion protection. One that no node carries is
 * removed at once; otherwise it turns PENDING_DELETE until the nodes have removed it.
 */
export async function deleteLb(
  ctx: TenantCtx,
  input: { lb: string; expectedRevision?: number | undefined },
): Promise<{ deleted: boolean; pending: boolean }> {
  requireRole(ctx, "operator");
  const lb = await findLb(ctx.db, ctx.tenant.id, input.lb);
  return mutate(ctx, async (tx, rec) => {
    const locked = await lockLb(tx, ctx.tenant.id, lb.id, input.expectedRevision);
    if (locked.deletionProtection) {
      throw new DomainError(
        "PRECONDITION_FAILED",
        `${locked.name} has deletion protection; turn it off first`,
        { deletionProtection: ["turn off deletion protection to delete"] },
      );
    }
    const [placed] = await tx.select({ n: count() }).from(placement).where(eq(placement.lbId, lb.id));
    const pending = (placed?.n ?? 0) > 0;
    const rev = await rec.record({
      tenantId: ctx.tenant.id,
      action: "lb.delete",
      entityType: "load-balancer",
      entityId: lb.id,
      before: { name: locked.name, address: locked.address, revision: locked.revision },
      after: null,
    });
    if (pending) {
      await tx.update(loadBalancer).set({ deletingSince: new Date(), revision: rev }).where(eq(loadBalancer.id, lb.id));
    } else {
      await tx.delete(loadBalancer).where(eq(loadBalancer.id, lb.id));
    }
    return { deleted: !pending, pending };
  });
}

/** Revisions and audit entries of one load balancer, newest first. */
export async function lbHistory(ctx: TenantCtx, input: { lb: string; limit: number }) {
  const lb = await findLb(ctx.db, ctx.tenant.id, input.lb);
  const rows = await ctx.db
    .select()
    .from(auditLog)
    .where(and(eq(auditLog.tenantId, ctx.tenant.id), eq(auditLog.entityId, lb.id)))
    .orderBy(desc(auditLog.id))
    .limit(input.limit);
  return rows.map((r) => ({
    revision: r.revision,
    at: r.at,
    actor: r.actorLabel,
    via: r.actorVia,
    action: r.action,
    before: r.before,
    after: r.after,
  }));
}
