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
  placements: { nodeId: string; appliedRevision: number | null; error: string | null }[];
}

export function provisioning(t: Tree): Provisioning {
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

function memberOperating(m: Tree["members"][number], monitored: boolean): Operating {
  if (m.adminState === "disabled") return { status: "OFFLINE", reason: "disabled by an operator" };
  if (m.adminState === "draining" || m.weight === 0) {
    return { status: "DRAINING", reason: m.weight === 0 ? "weight 0: existing flows only" : "draining: existing flows only" };
  }
  if (!monitored) return { status: "NO_MONITOR", reason: "the pool has no health monitor" };
  return NO_REPORTS;
}

export function lbOperating(t: Tree): Operating {
  if (!t.lb.adminEnabled) return { status: "OFFLINE", reason: "disabled by an operator" };
  if (t.listeners.length === 0) return { status: "OFFLINE", reason: "no listeners" };
  return NO_REPORTS;
}

/** `memberCount` lets lists skip loading members (they load trees without them). */
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

export function treeView(t: Tree): LbView {
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
        operating: !t.lb.adminEnabled || !l.adminEnabled ? { status: "OFFLINE" as const, reason: "disabled by an operator" } : NO_REPORTS,
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
              operating: memberOperating(m, !!mon),
            })),
        };
      })
      .sort((a, b) => a.name.localeCompare(b.name)),
    placements: t.placements.map((p) => ({ nodeId: p.nodeId, appliedRevision: p.appliedRevision, error: p.error })),
  };
}
