// LB nodes: the machines that carry VIPs. Platform admins register them, tune their BGP settings
// and capacity, and cordon/drain them; the scheduler (a later issue) acts on the state.
import { type SQL, and, asc, count, eq, max, ne, sql } from "drizzle-orm";
import type { Db } from "../../db/client";
import { type BgpPeer, az, lbNode, loadBalancer, placement, region } from "../../db/schema";
import { parseAddress } from "../../../lib/ip";
import type {
  BgpPeerInput,
  CreateNodeInput,
  ListNodesInput,
  NodeState,
  SetNodeStateInput,
  UpdateNodeInput,
} from "../../../lib/inventory-schemas";
import { ASN_MAX, ASN_MIN, CAPACITY_MAX } from "../../../lib/inventory-schemas";
import { type DomainCtx, requirePlatformAdmin } from "../context";
import { DomainError, badField, conflict } from "../errors";
import { mutate } from "../mutate";
import { findAz, findNode, findRegion, withUniqueConflicts } from "./refs";

export interface NodeView {
  id: string;
  name: string;
  azId: string;
  azName: string;
  regionId: string;
  regionName: string;
  address: string;
  address6: string | null;
  asn: number;
  peers: BgpPeer[];
  capacity: number;
  state: NodeState;
  stateReason: string;
  /** VIPs the scheduler placed on this node. */
  vipCount: number;
  lastHeartbeatAt: Date | null;
  agentVersion: string | null;
  /** The agent holds a node credential (joined and not revoked). */
  joined: boolean;
  /** Sync state: highest revision the agent applied vs the newest revision of its VIPs. */
  appliedRevision: number | null;
  desiredRevision: number | null;
  /** Pending: VIPs placed here whose current revision the node has not applied yet. */
  vipsBehind: number;
  bgp: { peersUp: number; peersTotal: number; advertised: number } | null;
  createdAt: Date;
  updatedAt: Date;
}

// ---- validation (the verbs re-check what the API schema checked: they are callable directly) ----

function checkAddress(text: string, family: 4 | 6, field: string): string {
  const a = parseAddress(text);
  if (!a) throw badField(field, `"${text}" is not a valid IPv${family} address`);
  if (a.family !== family) {
    throw badField(
      field,
      family === 4
        ? `${a.text} is IPv6: the node address must be IPv4 (use address6)`
        : `${a.text} is not an IPv6 address`,
    );
  }
  return a.text;
}

function checkAsn(asn: number, field: string): number {
  if (!Number.isInteger(asn) || asn < ASN_MIN || asn > ASN_MAX) {
    throw badField(field, `ASN must be between ${ASN_MIN} and ${ASN_MAX}`);
  }
  return asn;
}

function checkCapacity(capacity: number): number {
  if (!Number.isInteger(capacity) || capacity < 1 || capacity > CAPACITY_MAX) {
    throw badField("capacity", `capacity must be a whole number from 1 to ${CAPACITY_MAX}`);
  }
  return capacity;
}

function checkPeers(peers: BgpPeerInput[]): BgpPeer[] {
  const seen = new Set<string>();
  return peers.map((p, i) => {
    const a = parseAddress(p.address);
    if (!a) throw badField(`peers.${i}.address`, `"${p.address}" is not a valid IP address`);
    if (seen.has(a.text)) throw badField(`peers.${i}.address`, `duplicate peer ${a.text}`);
    seen.add(a.text);
    const peer: BgpPeer = { address: a.text, asn: checkAsn(p.asn, `peers.${i}.asn`) };
    if (p.description) peer.description = p.description;
    return peer;
  });
}

/** Another node already using this address (v4 or v6) is a conflict naming it. */
async function checkAddressFree(
  db: Db,
  address: string,
  field: "address" | "address6",
  exceptId?: string,
) {
  const col = field === "address" ? lbNode.address : lbNode.address6;
  const [other] = await db
    .select({ name: lbNode.name })
    .from(lbNode)
    .where(exceptId ? and(eq(col, address), ne(lbNode.id, exceptId)) : eq(col, address));
  if (other) throw conflict(`${address} is already the address of node ${other.name}`, field);
}

// ---- reads -----------------------------------------------------------------------------------

async function selectNodes(db: Db, where: SQL | undefined): Promise<NodeView[]> {
  const rows = await db
    .select({ node: lbNode, azName: az.name, regionId: region.id, regionName: region.name })
    .from(lbNode)
    .innerJoin(az, eq(az.id, lbNode.azId))
    .innerJoin(region, eq(region.id, az.regionId))
    .where(where)
    .orderBy(asc(lbNode.name));
  const sync = new Map(
    (
      await db
        .select({
          nodeId: placement.nodeId,
          n: count(),
          desired: max(loadBalancer.revision),
          behind: sql<number>`count(*) filter (where coalesce(${placement.appliedRevision}, 0) < ${loadBalancer.revision})::int`,
        })
        .from(placement)
        .innerJoin(loadBalancer, eq(loadBalancer.id, placement.lbId))
        .groupBy(placement.nodeId)
    ).map((r) => [r.nodeId, r]),
  );
  return rows.map(({ node: n, azName, regionId, regionName }) => ({
    id: n.id,
    name: n.name,
    azId: n.azId,
    azName,
    regionId,
    regionName,
    address: n.address,
    address6: n.address6,
    asn: n.asn,
    peers: n.peers,
    capacity: n.capacity,
    state: n.state,
    stateReason: n.stateReason,
    vipCount: sync.get(n.id)?.n ?? 0,
    lastHeartbeatAt: n.lastHeartbeatAt,
    agentVersion: n.agentVersion,
    joined: n.credentialHash !== null,
    appliedRevision: n.lastAppliedRevision,
    desiredRevision: sync.get(n.id)?.desired ?? null,
    vipsBehind: sync.get(n.id)?.behind ?? 0,
    bgp:
      n.bgpPeersTotal === null
        ? null
        : { peersUp: n.bgpPeersUp ?? 0, peersTotal: n.bgpPeersTotal, advertised: n.advertisedCount ?? 0 },
    createdAt: n.createdAt,
    updatedAt: n.updatedAt,
  }));
}

export async function listNodes(ctx: DomainCtx, filter: ListNodesInput = {}): Promise<NodeView[]> {
  requirePlatformAdmin(ctx);
  const conds = [];
  if (filter.regionId)
    conds.push(eq(az.regionId, (await findRegion(ctx.db, filter.regionId, "regionId")).id));
  if (filter.azId) conds.push(eq(lbNode.azId, (await findAz(ctx.db, filter.azId, "azId")).id));
  if (filter.state) conds.push(eq(lbNode.state, filter.state));
  return selectNodes(ctx.db, conds.length ? and(...conds) : undefined);
}

export async function getNode(ctx: DomainCtx, ref: string): Promise<NodeView> {
  requirePlatformAdmin(ctx);
  const n = await findNode(ctx.db, ref);
  return (await selectNodes(ctx.db, eq(lbNode.id, n.id)))[0]!;
}

const auditShape = (n: typeof lbNode.$inferSelect) => ({
  name: n.name,
  azId: n.azId,
  address: n.address,
  address6: n.address6,
  asn: n.asn,
  peers: n.peers,
  capacity: n.capacity,
  state: n.state,
  stateReason: n.stateReason,
});

// ---- writes ----------------------------------------------------------------------------------

export async function createNode(ctx: DomainCtx, input: CreateNodeInput): Promise<NodeView> {
  requirePlatformAdmin(ctx);
  const zone = await findAz(ctx.db, input.azId, "azId");
  const values = {
    name: input.name,
    azId: zone.id,
    address: checkAddress(input.address, 4, "address"),
    address6: input.address6 ? checkAddress(input.address6, 6, "address6") : null,
    asn: checkAsn(input.asn, "asn"),
    peers: checkPeers(input.peers),
    capacity: checkCapacity(input.capacity),
  };
  const taken = {
    lb_node_name_unique: { message: `a node named "${values.name}" already exists`, field: "name" },
    lb_node_address_unique: {
      message: `${values.address} is already the address of another node`,
      field: "address",
    },
  };
  const id = await withUniqueConflicts(
    () =>
      mutate(ctx, async (tx, rec) => {
        const [dup] = await tx
          .select({ id: lbNode.id })
          .from(lbNode)
          .where(eq(lbNode.name, values.name));
        if (dup) throw conflict(`a node named "${values.name}" already exists`, "name");
        await checkAddressFree(tx, values.address, "address");
        if (values.address6) await checkAddressFree(tx, values.address6, "address6");
        const [row] = await tx.insert(lbNode).values(values).returning();
        await rec.record({
          tenantId: null,
          action: "node.create",
          entityType: "node",
          entityId: row!.id,
          before: null,
          after: auditShape(row!),
        });
        return row!.id;
      }),
    taken,
  );
  return getNode(ctx, id);
}

export async function updateNode(ctx: DomainCtx, input: UpdateNodeInput): Promise<NodeView> {
  requirePlatformAdmin(ctx);
  const current = await findNode(ctx.db, input.nodeId);
  const changes: Partial<typeof lbNode.$inferInsert> = {};
  if (input.address !== undefined) changes.address = checkAddress(input.address, 4, "address");
  if (input.address6 !== undefined) {
    changes.address6 = input.address6 === null ? null : checkAddress(input.address6, 6, "address6");
  }
  if (input.asn !== undefined) changes.asn = checkAsn(input.asn, "asn");
  if (input.peers !== undefined) changes.peers = checkPeers(input.peers);
  if (input.capacity !== undefined) changes.capacity = checkCapacity(input.capacity);
  const taken = {
    lb_node_address_unique: {
      message: `${changes.address} is already the address of another node`,
      field: "address",
    },
  };
  await withUniqueConflicts(
    () =>
      mutate(ctx, async (tx, rec) => {
        if (changes.address && changes.address !== current.address) {
          await checkAddressFree(tx, changes.address, "address", current.id);
        }
        if (changes.address6 && changes.address6 !== current.address6) {
          await checkAddressFree(tx, changes.address6, "address6", current.id);
        }
        const [row] = await tx
          .update(lbNode)
          .set({ ...changes, updatedAt: new Date() })
          .where(eq(lbNode.id, current.id))
          .returning();
        await rec.record({
          tenantId: null,
          action: "node.update",
          entityType: "node",
          entityId: current.id,
          before: auditShape(current),
          after: auditShape(row!),
        });
      }),
    taken,
  );
  return getNode(ctx, current.id);
}

/**
 * active: takes new VIPs; cordoned: keeps its VIPs, takes no new ones; draining: its VIPs are
 * moved away; down: out of service. The scheduler acts on it; this records the intent.
 */
export async function setNodeState(ctx: DomainCtx, input: SetNodeStateInput): Promise<NodeView> {
  requirePlatformAdmin(ctx);
  const current = await findNode(ctx.db, input.nodeId);
  const reason = input.reason ?? "";
  if (current.state === input.state && current.stateReason === reason)
    return getNode(ctx, current.id);
  await mutate(ctx, async (tx, rec) => {
    await tx
      .update(lbNode)
      .set({ state: input.state, stateReason: reason, updatedAt: new Date() })
      .where(eq(lbNode.id, current.id));
    await rec.record({
      tenantId: null,
      action: "node.set-state",
      entityType: "node",
      entityId: current.id,
      before: { name: current.name, state: current.state, reason: current.stateReason },
      after: { name: current.name, state: input.state, reason },
    });
  });
  return getNode(ctx, current.id);
}

/** Refused while the node carries VIPs: drain it first and let the scheduler move them. */
export async function deleteNode(ctx: DomainCtx, ref: string): Promise<void> {
  requirePlatformAdmin(ctx);
  const current = await findNode(ctx.db, ref);
  await mutate(ctx, async (tx, rec) => {
    await tx.select({ id: lbNode.id }).from(lbNode).where(eq(lbNode.id, current.id)).for("update");
    const [c] = await tx
      .select({ n: count() })
      .from(placement)
      .where(eq(placement.nodeId, current.id));
    const vips = c?.n ?? 0;
    if (vips > 0) {
      throw new DomainError(
        "CONFLICT",
        `node ${current.name} still carries ${vips} VIP${vips > 1 ? "s" : ""}: set it to draining and ` +
          "delete it once the scheduler has moved them away",
        { nodeId: [`carries ${vips} VIP${vips > 1 ? "s" : ""}`] },
      );
    }
    await tx.delete(lbNode).where(eq(lbNode.id, current.id));
    await rec.record({
      tenantId: null,
      action: "node.delete",
      entityType: "node",
      entityId: current.id,
      before: auditShape(current),
      after: null,
    });
  });
}
