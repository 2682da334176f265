// API shapes of a load balancer tree with its three status axes (ARCHITECTURE §2): adminState
// (intent), provisioningStatus (from placements and the revisions nodes acknowledged) and
// operatingStatus (from health reports; UNKNOWN until agents report, never a stale ONLINE).
import type { Tree } from "./tree";
import { monitorInputFromRow } from "./tree";
import { parseAddress } from "../../../lib/ip";

/** IPv4 before IPv6, then numerically by address and port. */
function byAddressPort(a: { address: string; port: number }, b: { address: string; port: number }): number {
  const pa = parseAddress(a.address)!;
  const pb = parseAddress(b.address)!;
  if (pa.family !== pb.family) return pa.family - pb.family;
  if (pa.value !== pb.value) return pa.value < pb.value ? -1 : 1;
  return a.port - b.port;
}
import type { MonitorInput } from "../../../lib/lb-schemas";

export type ProvisioningStatus = "PENDING_CREATE" | "PENDING_UPDATE" | "PENDING_DELETE" | "ACTIVE" | "ERROR";
export type OperatingStatus =
  | "ONLINE"
  | "DEGRADED"
  | "ERROR"
  | "OFFLINE"
  | "NO_MONITOR"
  | "DRAINING"
  | "INITIAL"
  | "UNKNOWN";

export interface Provisioning {
  status: ProvisioningStatus;
  reason: string;
  nodesTotal: number;
  nodesAtRevision: number;
}
export interface Operating {
  status: OperatingStatus;
  reason: string;
}

export interface MemberView {
  id: string;
  address: string;
  port: number;
  weight: number;
  adminState: "enabled" | "disabled" | "draining";
  monitorAddress: string | null;
  monitorPort: number | null;
  operating: Operating;
  /** Per-node breakdown of the health verdicts behind `operating`. */
  nodes: NodeHealth[];
}
export interface PoolView {
  id: string;
  name: string;
  minHealthy: { kind: "count" | "percent"; value: number };
  allDownPolicy: "withdraw" | "fail-open";
  monitor: MonitorInput | null;
  members: MemberView[];
}
export interface ListenerView {
  id: string;
  name: string;
  protocol: "TCP" | "UDP";
  port: number;
  portEnd: number;
  allowedCidrs: string[];
  affinity: "5-tuple" | "source-ip";
  pool: string;
  poolId: string;
  adminEnabled: boolean;
  operating: Operating;
}
export interface LbSummary {
  id: string;
  name: string;
  description: string;
  address: string;
  family: 4 | 6;
  ipPoolId: string;
  replicas: number;
  adminEnabled: boolean;
  deletionProtection: boolean;
  tags: Record<string, string>;
  revision: number;
  createdAt: Date;
  updatedAt: Date;
  provisioning: Provisioning;
  operating: Operating;
  listeners: { name: string; protocol: "TCP" | "UDP"; port: number; portEnd: number }[];
  memberCount: number;
}
export interface LbView extends Omit<LbSummary, "listeners"> {
  listeners: ListenerView[];
  pools: PoolView[];
  placements: { nodeId: string; nodeName: string | null; appliedRevision: number | null; error: string | null; advertised: boolean }[];
}

/** A node that has not applied the current revision this long after it was asked turns the VIP ERROR. */
export const ROLLOUT_TIMEOUT_MS = 60_000;

export function provisioning(t: Tree, now = Date.now()): Provisioning {
  const total = t.placements.length;
  const at = t.placements.filter((p) => (p.appliedRevision ?? 0) >= t.lb.revision).length;
  const everApplied = t.placements.some((p) => (p.appliedRevision ?? 0) >= t.lb.createdRevision);
  const pending = everApplied ? "PENDING_UPDATE" : "PENDING_CREATE";
  if (t.lb.deletingSince) {
    return { status: "PENDING_DELETE", reason: `waiting for ${total} node(s) to remove it`, nodesTotal: total, nodesAtRevision: at };
  }
  const failed = t.placements.find((p) => p.error);
  if (failed) {
    return { status: "ERROR", reason: `a node failed to apply revision ${t.lb.revision}: ${failed.error}`, nodesTotal: total, nodesAtRevision: at };
  }
  if (total === 0) {
    return { status: pending, reason: "not placed on any LB node yet", nodesTotal: 0, nodesAtRevision: 0 };
  }
  const late = t.placements.filter(
    (p) =>
      (p.appliedRevision ?? 0) < t.lb.revision &&
      now - Math.max(t.lb.updatedAt.getTime(), p.updatedAt.getTime()) > ROLLOUT_TIMEOUT_MS,
  );
  if (late.length) {
    return {
      status: "ERROR",
      reason: `rollout timed out: ${late.length} node(s) did not apply revision ${t.lb.revision} within ${ROLLOUT_TIMEOUT_MS / 1000} s (${at}/${total} nodes at it); it is retried on the next change or reconnect`,
      nodesTotal: total,
      nodesAtRevision: at,
    };
  }
  if (at === total && total >= t.lb.replicas) {
    return { status: "ACTIVE", reason: `${at}/${total} nodes at revision ${t.lb.revision}`, nodesTotal: total, nodesAtRevision: at };
  }
  return {
    status: pending,
    reason: `${at}/${total} nodes at revision ${t.lb.revision}${total < t.lb.replicas ? ` (placed on ${total} of ${t.lb.replicas} replicas)` : ""}`,
    nodesTotal: total,
    nodesAtRevision: at,
  };
}

const NO_REPORTS: Operating = { status: "UNKNOWN", reason: "no health reports from LB node agents yet" };
/**
 * A node's health reports count while the node heartbeats (reports are sent on transitions
 * only); a node silent this long makes them stale: UNKNOWN, never a stale ONLINE.
 */
export const HEALTH_STALE_MS = 30_000;

/** Nodes carrying the VIP now whose last heartbeat is recent. */
function liveNodes(t: Tree, now: number): Set<string> {
  return new Set(
    t.placements
      .filter((p) => p.nodeSeenAt !== null && now - p.nodeSeenAt.getTime() <= HEALTH_STALE_MS)
      .map((p) => p.nodeId),
  );
}

export interface NodeHealth {
  nodeId: string;
  state: "up" | "down" | "unknown";
  reason: string;
  since: Date;
}

/** The fresh per-node verdicts for one member, from the nodes the VIP is placed on now. */
function memberReports(t: Tree, poolId: string, m: { address: string; port: number }, now: number): NodeHealth[] {
  const live = liveNodes(t, now);
  return t.health
    .filter((h) => h.poolId === poolId && h.address === m.address && h.port === m.port && live.has(h.nodeId))
    .map((h) => ({ nodeId: h.nodeId, state: h.state, reason: h.reason, since: h.since }));
}

function memberOperating(m: Tree["members"][number], monitored: boolean, reports: NodeHealth[]): Operating {
  if (m.adminState === "disabled") return { status: "OFFLINE", reason: "disabled by an operator" };
  if (m.adminState === "draining" || m.weight === 0) {
    return { status: "DRAINING", reason: m.weight === 0 ? "weight 0: existing flows only" : "draining: existing flows only" };
  }
  if (!monitored) return { status: "NO_MONITOR", reason: "the pool has no health monitor" };
  const known = reports.filter((r) => r.state !== "unknown");
  if (!known.length) return reports.length ? { status: "UNKNOWN", reason: "health checks starting" } : NO_REPORTS;
  const down = known.filter((r) => r.state === "down");
  if (!down.length) return { status: "ONLINE", reason: `up on ${known.length} node(s)` };
  if (down.length === known.length) return { status: "ERROR", reason: `down: ${down[0]!.reason}` };
  return { status: "DEGRADED", reason: `down on ${down.length} of ${known.length} nodes: ${down[0]!.reason}` };
}

/** Rolls member verdicts up: all ONLINE → ONLINE; none → ERROR; some → DEGRADED. */
function rollUp(children: Operating[], what: string): Operating {
  const active = children.filter((c) => c.status !== "OFFLINE" && c.status !== "DRAINING");
  if (!active.length) return children.length ? { status: "OFFLINE", reason: `no enabled ${what}` } : { status: "OFFLINE", reason: `no ${what}` };
  if (active.every((c) => c.status === "NO_MONITOR")) return { status: "NO_MONITOR", reason: "no health monitor" };
  const online = active.filter((c) => c.status === "ONLINE" || c.status === "NO_MONITOR").length;
  const failed = active.filter((c) => c.status === "ERROR").length;
  if (online === active.length) return { status: "ONLINE", reason: `${online}/${active.length} ${what} healthy` };
  if (failed === active.length) return { status: "ERROR", reason: `all ${active.length} ${what} down` };
  // Nothing known yet (only UNKNOWN children); a DEGRADED child makes the whole DEGRADED below.
  if (online === 0 && failed === 0 && !active.some((c) => c.status === "DEGRADED")) return active.find((c) => c.status === "UNKNOWN") ?? NO_REPORTS;
  return { status: "DEGRADED", reason: `${online}/${active.length} ${what} healthy` };
}

function poolOperating(t: Tree, poolId: string, now: number): Operating {
  const monitored = t.monitors.some((m) => m.poolId === poolId);
  return rollUp(
    t.members.filter((m) => m.poolId === poolId).map((m) => memberOperating(m, monitored, memberReports(t, poolId, m, now))),
    "members",
  );
}

export function lbOperating(t: Tree, now = Date.now()): Operating {
  if (!t.lb.adminEnabled) return { status: "OFFLINE", reason: "disabled by an operator" };
  if (t.listeners.length === 0) return { status: "OFFLINE", reason: "no listeners" };
  if (!t.pools.length) {
    // Summaries carry no pools: roll up from the health reports alone.
    const live = liveNodes(t, now);
    const fresh = t.health.filter((h) => live.has(h.nodeId) && h.state !== "unknown");
    if (!fresh.length) return NO_REPORTS;
    const down = fresh.filter((h) => h.state === "down").length;
    if (!down) return { status: "ONLINE", reason: "all health checks passing" };
    return down === fresh.length
      ? { status: "ERROR", reason: "every member is down" }
      : { status: "DEGRADED", reason: `${down} of ${fresh.length} member checks failing` };
  }
  const used = new Set(t.listeners.filter((l) => l.adminEnabled).map((l) => l.poolId));
  if (!used.size) return { status: "OFFLINE", reason: "every listener is disabled" };
  return rollUp([...used].map((id) => poolOperating(t, id, now)), "pools");
}

export function summaryView(t: Tree, memberCount = t.members.length): LbSummary {
  return {
    id: t.lb.id,
    name: t.lb.name,
    description: t.lb.description,
    address: t.lb.address,
    family: t.lb.family as 4 | 6,
    ipPoolId: t.lb.ipPoolId,
    replicas: t.lb.replicas,
    adminEnabled: t.lb.adminEnabled,
    deletionProtection: t.lb.deletionProtection,
    tags: t.lb.tags,
    revision: t.lb.revision,
    createdAt: t.lb.createdAt,
    updatedAt: t.lb.updatedAt,
    provisioning: provisioning(t),
    operating: lbOperating(t),
    listeners: t.listeners
      .map((l) => ({ name: l.name, protocol: l.protocol, port: l.portStart, portEnd: l.portEnd }))
      .sort((a, b) => a.port - b.port || a.protocol.localeCompare(b.protocol)),
    memberCount,
  };
}

export function treeView(t: Tree, now = Date.now()): LbView {
  const poolName = new Map(t.pools.map((p) => [p.id, p.name]));
  const summary = summaryView(t);
  return {
    ...summary,
    listeners: t.listeners
      .map((l) => ({
        id: l.id,
        name: l.name,
        protocol: l.protocol,
        port: l.portStart,
        portEnd: l.portEnd,
        allowedCidrs: l.allowedCidrs,
        affinity: l.affinity,
        pool: poolName.get(l.poolId)!,
        poolId: l.poolId,
        adminEnabled: l.adminEnabled,
        operating:
          !t.lb.adminEnabled || !l.adminEnabled
            ? { status: "OFFLINE" as const, reason: "disabled by an operator" }
            : poolOperating(t, l.poolId, now),
      }))
      .sort((a, b) => a.port - b.port || a.protocol.localeCompare(b.protocol)),
    pools: t.pools
      .map((p) => {
        const mon = t.monitors.find((m) => m.poolId === p.id);
        return {
          id: p.id,
          name: p.name,
          minHealthy: p.minHealthy,
          allDownPolicy: p.allDownPolicy,
          monitor: mon ? monitorInputFromRow(mon) : null,
          members: t.members
            .filter((m) => m.poolId === p.id)
            .sort(byAddressPort)
            .map((m) => ({
              id: m.id,
              address: m.address,
              port: m.port,
              weight: m.weight,
              adminState: m.adminState,
              monitorAddress: m.monitorAddress,
              monitorPort: m.monitorPort,
              operating: memberOperating(m, !!mon, memberReports(t, p.id, m, now)),
              nodes: memberReports(t, p.id, m, now),
            })),
        };
      })
      .sort((a, b) => a.name.localeCompare(b.name)),
    placements: t.placements.map((p) => ({
      nodeId: p.nodeId,
      nodeName: null,
      appliedRevision: p.appliedRevision,
      error: p.error,
      advertised: p.advertised,
    })),
  };
}
