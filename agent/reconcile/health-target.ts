// The health target: the probe set of every VIP (one target per enabled or draining member of a
// pool with a monitor), handed to the HealthEngine as one declarative list. Objects are
// lbId -> that VIP's targets. Target keys are `${lbId}/${poolId}/${memberId}`.
import type { DesiredVip } from "../../server/protocol/agent";
import type { HealthMonitorSpec, HealthTarget, HttpMethod, RejectedTarget } from "../health/types";
import { canonicalAddress } from "./plan";
import type { Outcome, ReconcileTarget } from "./reconciler";

/** What the target needs of HealthEngine. */
export interface HealthEnginePort {
  setTargets(targets: readonly HealthTarget[]): { rejected: RejectedTarget[] };
}

export interface MemberRef {
  lbId: string;
  poolId: string;
  memberId: string;
  /** The member's own address and port (what the hub knows it by). */
  address: string;
  port: number;
}

export interface ProbeTarget extends HealthTarget {
  member: MemberRef;
}

export function healthKey(lbId: string, poolId: string, memberId: string): string {
  return `${lbId}/${poolId}/${memberId}`;
}

function monitorOf(m: NonNullable<DesiredVip["pools"][number]["monitor"]>): HealthMonitorSpec {
  return {
    type: m.type,
    intervalMs: m.intervalMs,
    timeoutMs: m.timeoutMs,
    rise: m.rise,
    fall: m.fall,
    ...(m.http
      ? {
          http: {
            method: m.http.method.toUpperCase() as HttpMethod,
            path: m.http.path,
            expectedCodes: m.http.expectedCodes,
            ...(m.http.host ? { host: m.http.host } : {}),
          },
        }
      : {}),
    // HTTPS without TLS settings accepts any certificate (backends often use self-signed ones).
    ...(m.type === "HTTPS"
      ? { tls: m.tls ? { verify: m.tls.verify, ...(m.tls.sni ? { sni: m.tls.sni } : {}), ...(m.tls.ca ? { ca: m.tls.ca } : {}) } : { verify: false } }
      : {}),
  };
}

/** The probes of one VIP: address/port overrides of the member, then of the monitor. */
export function probeTargetsOf(vip: DesiredVip): ProbeTarget[] {
  const out: ProbeTarget[] = [];
  for (const pool of vip.pools) {
    if (!pool.monitor) continue;
    const monitor = monitorOf(pool.monitor);
    for (const m of pool.members) {
      if (m.adminState === "disabled") continue;
      out.push({
        key: healthKey(vip.lbId, pool.id, m.id),
        address: m.monitorAddress ?? m.address,
        port: m.monitorPort ?? pool.monitor.port ?? m.port,
        monitor,
        member: { lbId: vip.lbId, poolId: pool.id, memberId: m.id, address: safeCanonical(m.address), port: m.port },
      });
    }
  }
  return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

function safeCanonical(a: string): string {
  try {
    return canonicalAddress(a);
  } catch {
    return a;
  }
}

export class HealthTargetSet implements ReconcileTarget<ProbeTarget[]> {
  readonly name = "health";
  private readonly byVip = new Map<string, ProbeTarget[]>();
  private readonly members = new Map<string, MemberRef>();

  constructor(private readonly engine: HealthEnginePort) {}

  /** The member a probe key belongs to (while it is probed). */
  member(key: string): MemberRef | undefined {
    return this.members.get(key);
  }

  get targetCount(): number {
    return this.members.size;
  }

  update(objects: ReadonlyMap<string, ProbeTarget[]>): Map<string, Outcome> {
    for (const [id, targets] of objects) this.byVip.set(id, targets);
    return this.push(objects.keys());
  }

  delete(ids: readonly string[]): Map<string, Outcome> {
    for (const id of ids) this.byVip.delete(id);
    return this.push(ids);
  }

  prune(keep: ReadonlySet<string>): void {
    for (const id of [...this.byVip.keys()]) if (!keep.has(id)) this.byVip.delete(id);
    this.push([]);
  }

  private push(ids: Iterable<string>): Map<string, Outcome> {
    const all: ProbeTarget[] = [];
    this.members.clear();
    for (const targets of this.byVip.values()) {
      for (const t of targets) {
        all.push(t);
        this.members.set(t.key, t.member);
      }
    }
    const { rejected } = this.engine.setTargets(all.map(({ key, address, port, monitor }) => ({ key, address, port, monitor })));
    const outcomes = new Map<string, Outcome>();
    const wanted = new Set(ids);
    for (const r of rejected) {
      const m = this.members.get(r.key);
      if (!m || !wanted.has(m.lbId) || outcomes.has(m.lbId)) continue;
      outcomes.set(m.lbId, {
        ok: false,
        error: `health check of member ${m.address}:${m.port} (pool ${m.poolId}): ${r.error}`,
        terminal: true,
      });
    }
    return outcomes;
  }
}
