// The pure mapping from the hub's desired state (plus local health verdicts) to what the data
// plane should hold for one VIP: its listeners and, per listener, the backends with the weight
// they get for NEW flows. Rules (ARCHITECTURE §2, §3):
//   - member `disabled`                  → not in the map at all (its cached flows re-hash);
//   - member `draining` or weight 0      → in the map with weight 0 (existing flows continue);
//   - health `down`                      → weight 0 (no new flows); `unknown` counts as up, so a
//                                          restarted agent (no verdicts yet) keeps forwarding;
//   - fewer healthy members than the pool's minimum → the all-down policy: `withdraw` (every
//     member weight 0: nothing new is forwarded and the VIP is not advertised) or `fail-open`
//     (every enabled member at its configured weight, whatever its health);
//   - listener admin-disabled            → not in the map.
// DSR forwards by backend address only (the destination port is the VIP's), so two members of
// one pool with the same address are one backend: it gets the larger of their weights.
import { parseAddress, parseCidr } from "../../lib/ip";
import type { DesiredVip } from "../../server/protocol/agent";

export type HealthVerdict = "up" | "down" | "unknown";
/** Health of a pool member as the local probes see it; undefined = not probed. */
export type HealthLookup = (lbId: string, poolId: string, memberId: string) => HealthVerdict | undefined;

export interface BackendPlan {
  /** Canonical address (dotted quad or RFC 5952). */
  address: string;
  /** Weight for new flows, 0..256; 0 = kept for existing flows only. */
  weight: number;
}

export interface ListenerPlan {
  /** The desired listener's id (hub side). */
  listenerId: string;
  protocol: "tcp" | "udp";
  port: number;
  portEnd: number;
  allowedCidrs: string[];
  affinity: "flow" | "source-ip";
  poolId: string;
  /** Sorted by address. */
  backends: BackendPlan[];
}

export interface PoolVerdict {
  poolId: string;
  /** Enabled members with weight > 0 that are not down. */
  healthy: number;
  /** Enabled members with weight > 0 (the base of a percentage minimum). */
  eligible: number;
  required: number;
  /** The all-down policy was applied. */
  policy: "none" | "withdraw" | "fail-open";
}

export interface VipPlan {
  lbId: string;
  revision: number;
  address: string;
  family: 4 | 6;
  adminEnabled: boolean;
  /** Sorted by listener id. */
  listeners: ListenerPlan[];
  pools: PoolVerdict[];
  /** At least one listener has a backend with weight > 0. */
  forwarding: boolean;
}

/** A desired state that cannot be programmed as given (terminal until the hub changes it). */
export class PlanError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PlanError";
  }
}

const canonicalCache = new Map<string, string>();

/** Canonical text of an address (memoized: it is on every hot path of a reconcile). */
export function canonicalAddress(text: string): string {
  const known = canonicalCache.get(text);
  if (known !== undefined) return known;
  const a = parseAddress(text);
  if (!a) throw new PlanError(`"${text}" is not an IPv4 or IPv6 address`);
  if (canonicalCache.size >= 200_000) canonicalCache.clear();
  canonicalCache.set(text, a.text);
  return a.text;
}

function requiredHealthy(min: DesiredVip["pools"][number]["minHealthy"], eligible: number): number {
  if (min.kind === "count") return min.value;
  return Math.ceil((Math.min(min.value, 100) * eligible) / 100);
}

/** Backends of one pool after weights, drain, health and the all-down policy. */
export function planPool(
  lbId: string,
  pool: DesiredVip["pools"][number],
  health: HealthLookup,
): { backends: BackendPlan[]; verdict: PoolVerdict } {
  interface Entry {
    address: string;
    configured: number;
    effective: number;
  }
  const entries: Entry[] = [];
  let healthy = 0;
  let eligible = 0;
  for (const m of pool.members) {
    if (m.adminState === "disabled") continue;
    const address = canonicalAddress(m.address);
    const enabled = m.adminState === "enabled" && m.weight > 0;
    const down = health(lbId, pool.id, m.id) === "down";
    if (enabled) eligible++;
    if (enabled && !down) healthy++;
    entries.push({ address, configured: enabled ? m.weight : 0, effective: enabled && !down ? m.weight : 0 });
  }
  // At least one healthy member is always needed to forward: minHealthy 0 with all down
  // still falls under the all-down policy.
  const required = Math.max(1, requiredHealthy(pool.minHealthy, eligible));
  let policy: PoolVerdict["policy"] = "none";
  if (healthy < required) {
    policy = pool.allDownPolicy;
    for (const e of entries) e.effective = policy === "fail-open" ? e.configured : 0;
  }
  const byAddress = new Map<string, number>();
  for (const e of entries) byAddress.set(e.address, Math.max(byAddress.get(e.address) ?? 0, e.effective));
  const backends = [...byAddress].map(([address, weight]) => ({ address, weight })).sort(byAddressText);
  return { backends, verdict: { poolId: pool.id, healthy, eligible, required, policy } };
}

function byAddressText(a: { address: string }, b: { address: string }): number {
  return a.address < b.address ? -1 : a.address > b.address ? 1 : 0;
}

/** The data-plane plan of one VIP. Throws PlanError for a desired state that makes no sense. */
export function planVip(vip: DesiredVip, health: HealthLookup): VipPlan {
  const address = canonicalAddress(vip.address);
  const family = parseAddress(address)!.family;
  if (family !== vip.family) throw new PlanError(`VIP ${address} is not an IPv${vip.family} address`);
  const pools = new Map<string, { backends: BackendPlan[]; verdict: PoolVerdict }>();
  for (const p of vip.pools) {
    if (pools.has(p.id)) throw new PlanError(`pool ${p.id} appears twice`);
    pools.set(p.id, planPool(vip.lbId, p, health));
  }
  const listeners: ListenerPlan[] = [];
  const seen = new Map<string, string>();
  for (const l of vip.listeners) {
    if (!l.adminEnabled) continue;
    const pool = pools.get(l.poolId);
    if (!pool) throw new PlanError(`listener ${l.id} uses pool ${l.poolId}, which is not part of the VIP`);
    if (l.portEnd < l.portStart) throw new PlanError(`listener ${l.id}: port range ${l.portStart}-${l.portEnd} is empty`);
    const protocol = l.protocol === "TCP" ? "tcp" : "udp";
    for (const other of seen.entries()) {
      const [key, id] = other;
      const [proto, a, b] = key.split("|");
      if (proto === protocol && Number(a) <= l.portEnd && l.portStart <= Number(b)) {
        throw new PlanError(`listeners ${id} and ${l.id} overlap on ${protocol.toUpperCase()} ports`);
      }
    }
    seen.set(`${protocol}|${l.portStart}|${l.portEnd}`, l.id);
    const allowedCidrs = l.allowedCidrs.map((c) => {
      const parsed = parseCidr(c);
      if (!parsed) throw new PlanError(`listener ${l.id}: allowed source "${c}" is not a CIDR`);
      if (parsed.family !== family) throw new PlanError(`listener ${l.id}: allowed source ${c} is not IPv${family}`);
      return c.trim();
    });
    listeners.push({
      listenerId: l.id,
      protocol,
      port: l.portStart,
      portEnd: l.portEnd,
      allowedCidrs: [...new Set(allowedCidrs)].sort(),
      affinity: l.affinity === "source-ip" ? "source-ip" : "flow",
      poolId: l.poolId,
      backends: pool.backends,
    });
  }
  listeners.sort((a, b) => (a.listenerId < b.listenerId ? -1 : a.listenerId > b.listenerId ? 1 : 0));
  return {
    lbId: vip.lbId,
    revision: vip.revision,
    address,
    family,
    adminEnabled: vip.adminEnabled,
    listeners,
    pools: [...pools.values()].map((p) => p.verdict),
    forwarding: listeners.some((l) => l.backends.some((b) => b.weight > 0)),
  };
}

export type NodeState = "active" | "cordoned" | "draining" | "down";

/**
 * Whether the node should announce the VIP: it forwards in the map as applied (not merely as
 * desired), the VIP is admin-enabled, and the node is not draining.
 */
export function shouldAdvertise(applied: VipPlan | undefined, vipAdminEnabled: boolean, node: NodeState): boolean {
  return applied !== undefined && applied.forwarding && vipAdminEnabled && node !== "draining";
}

/** Why a VIP is not advertised (for the ack), or null when it is. */
export function notAdvertisedReason(applied: VipPlan | undefined, vipAdminEnabled: boolean, node: NodeState): string | null {
  if (node === "draining") return "node is draining";
  if (!vipAdminEnabled) return "VIP is admin-disabled";
  if (!applied) return "not in the data plane";
  if (applied.forwarding) return null;
  if (applied.listeners.length === 0) return "no enabled listener";
  const withdrawn = applied.pools.filter((p) => p.policy === "withdraw");
  if (withdrawn.length > 0) {
    const p = withdrawn[0]!;
    return `pool ${p.poolId}: ${p.healthy} healthy of ${p.eligible}, minimum ${p.required} (all-down policy: withdraw)`;
  }
  return "no enabled backend with weight > 0";
}
