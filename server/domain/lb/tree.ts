// A load balancer's tree in memory: load it, validate cross-object rules on the whole tree
// after a change (so every verb enforces the same rules), and shape it for the API.
import { and, count, eq, getTableColumns, inArray } from "drizzle-orm";
import type { Db, Tx } from "../../db/client";
import { backendPool, healthMonitor, lbNode, listener, loadBalancer, member, memberHealth, placement } from "../../db/schema";
import { DomainError } from "../errors";
import type { ListenerInput, MemberInput, MonitorInput, PoolInput } from "../../../lib/lb-schemas";

export type LbRow = typeof loadBalancer.$inferSelect;
export type PoolRow = typeof backendPool.$inferSelect;
export type ListenerRow = typeof listener.$inferSelect;
export type MemberRow = typeof member.$inferSelect;
export type MonitorRow = typeof healthMonitor.$inferSelect;
/** A placement with its node's last heartbeat: health reports are fresh while their node beats. */
export type PlacementRow = typeof placement.$inferSelect & { nodeSeenAt: Date | null };
const placementColumns = { ...getTableColumns(placement), nodeSeenAt: lbNode.lastHeartbeatAt };
export type HealthRow = typeof memberHealth.$inferSelect;

export interface Tree {
  lb: LbRow;
  pools: PoolRow[];
  monitors: MonitorRow[];
  listeners: ListenerRow[];
  members: MemberRow[];
  placements: PlacementRow[];
  /** Per-node health verdicts of members (from agents). */
  health: HealthRow[];
}

function groupBy<T>(rows: T[], key: (r: T) => string): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const r of rows) {
    const k = key(r);
    const list = m.get(k);
    if (list) list.push(r);
    else m.set(k, [r]);
  }
  return m;
}

export async function loadTrees(db: Db | Tx, lbs: LbRow[]): Promise<Tree[]> {
  if (!lbs.length) return [];
  const ids = lbs.map((l) => l.id);
  const [pools, listeners, placements, health] = await Promise.all([
    db.select().from(backendPool).where(inArray(backendPool.lbId, ids)),
    db.select().from(listener).where(inArray(listener.lbId, ids)),
    db
      .select(placementColumns)
      .from(placement)
      .innerJoin(lbNode, eq(lbNode.id, placement.nodeId))
      .where(inArray(placement.lbId, ids)),
    db.select().from(memberHealth).where(inArray(memberHealth.lbId, ids)),
  ]);
  const poolIds = pools.map((p) => p.id);
  const [members, monitors] = poolIds.length
    ? await Promise.all([
        db.select().from(member).where(inArray(member.poolId, poolIds)),
        db.select().from(healthMonitor).where(inArray(healthMonitor.poolId, poolIds)),
      ])
    : [[], []];
  const poolLb = new Map(pools.map((p) => [p.id, p.lbId]));
  const by = groupBy;
  const poolsBy = by(pools, (p) => p.lbId);
  const listenersBy = by(listeners, (l) => l.lbId);
  const placementsBy = by(placements, (p) => p.lbId);
  const healthBy = by(health, (h) => h.lbId);
  const membersBy = by(members, (m) => poolLb.get(m.poolId)!);
  const monitorsBy = by(monitors, (m) => poolLb.get(m.poolId)!);
  return lbs.map((lb) => ({
    lb,
    pools: poolsBy.get(lb.id) ?? [],
    listeners: listenersBy.get(lb.id) ?? [],
    placements: placementsBy.get(lb.id) ?? [],
    health: healthBy.get(lb.id) ?? [],
    members: membersBy.get(lb.id) ?? [],
    monitors: monitorsBy.get(lb.id) ?? [],
  }));
}

/**
 * Trees of a whole tenant for lists: listeners and placements, member counts instead of members
 * (single index scans by tenant; no per-id lists).
 */
export async function loadTenantSummaries(
  db: Db | Tx,
  tenantId: string,
  lbs: LbRow[],
): Promise<{ tree: Tree; memberCount: number }[]> {
  if (!lbs.length) return [];
  const [listeners, placements, counts, health] = await Promise.all([
    db.select().from(listener).where(eq(listener.tenantId, tenantId)),
    db
      .select({ p: placementColumns })
      .from(placement)
      .innerJoin(loadBalancer, eq(loadBalancer.id, placement.lbId))
      .innerJoin(lbNode, eq(lbNode.id, placement.nodeId))
      .where(eq(loadBalancer.tenantId, tenantId)),
    db
      .select({ lbId: member.lbId, n: count() })
      .from(member)
      .where(eq(member.tenantId, tenantId))
      .groupBy(member.lbId),
    db
      .select({ h: memberHealth })
      .from(memberHealth)
      .innerJoin(loadBalancer, eq(loadBalancer.id, memberHealth.lbId))
      .where(eq(loadBalancer.tenantId, tenantId)),
  ]);
  const group = groupBy;
  const listenersBy = group(listeners, (l) => l.lbId);
  const placementsBy = group(
    placements.map((r) => r.p),
    (p) => p.lbId,
  );
  const countBy = new Map(counts.map((c) => [c.lbId, c.n]));
  const healthBy = group(
    health.map((r) => r.h),
    (h) => h.lbId,
  );
  return lbs.map((lb) => ({
    tree: {
      lb,
      pools: [],
      monitors: [],
      members: [],
      listeners: listenersBy.get(lb.id) ?? [],
      placements: placementsBy.get(lb.id) ?? [],
      health: healthBy.get(lb.id) ?? [],
    },
    memberCount: countBy.get(lb.id) ?? 0,
  }));
}

export async function loadTree(db: Db | Tx, lb: LbRow): Promise<Tree> {
  return (await loadTrees(db, [lb]))[0]!;
}

/** The desired shape of a tree, as validated after every change. */
export interface DesiredTree {
  pools: (Omit<PoolInput, "members" | "monitor"> & { monitor: MonitorInput | null; members: MemberInput[] })[];
  listeners: (Omit<ListenerInput, "name"> & { name: string })[];
}

export function desiredFromTree(t: Tree): DesiredTree {
  const poolName = new Map(t.pools.map((p) => [p.id, p.name]));
  return {
    pools: t.pools.map((p) => {
      const mon = t.monitors.find((m) => m.poolId === p.id);
      return {
        name: p.name,
        minHealthy: p.minHealthy,
        allDownPolicy: p.allDownPolicy,
        monitor: mon ? monitorInputFromRow(mon) : null,
        members: t.members
          .filter((m) => m.poolId === p.id)
          .map((m) => ({
            address: m.address,
            port: m.port,
            weight: m.weight,
            adminState: m.adminState,
            monitorAddress: m.monitorAddress,
            monitorPort: m.monitorPort,
          })),
      };
    }),
    listeners: t.listeners.map((l) => ({
      name: l.name,
      protocol: l.protocol,
      port: l.portStart,
      portEnd: l.portEnd,
      allowedCidrs: l.allowedCidrs,
      affinity: l.affinity,
      pool: poolName.get(l.poolId)!,
      adminEnabled: l.adminEnabled,
    })),
  };
}

export function monitorInputFromRow(m: MonitorRow): MonitorInput {
  return {
    type: m.type,
    intervalMs: m.intervalMs,
    timeoutMs: m.timeoutMs,
    rise: m.rise,
    fall: m.fall,
    port: m.port,
    http: m.http ?? null,
    tls: m.tls
      ? {
          ...(m.tls.sni ? { sni: m.tls.sni } : {}),
          verify: m.tls.verify,
          ...(m.tls.caCertificateId ? { caCertificate: m.tls.caCertificateId } : {}),
        }
      : null,
  };
}

/** Default listener names: "tcp-80", "udp-5000-5010". */
export const defaultListenerName = (l: { protocol: string; port: number; portEnd?: number | undefined }) =>
  `${l.protocol.toLowerCase()}-${l.port}${l.portEnd !== undefined && l.portEnd !== l.port ? `-${l.portEnd}` : ""}`;

/**
 * Cross-object rules over a whole tree. Field paths name the offending input
 * (e.g. "listeners.1.port", "pools.0.members.3") so forms show the error in place.
 */
export function validateTree(t: DesiredTree): void {
  const errors: Record<string, string[]> = {};
  const add = (path: string, msg: string) => (errors[path] ??= []).push(msg);

  const poolIndex = new Map<string, number>();
  t.pools.forEach((p, i) => {
    if (poolIndex.has(p.name)) add(`pools.${i}.name`, `duplicate pool name "${p.name}"`);
    poolIndex.set(p.name, i);
    const seen = new Map<string, number>();
    p.members.forEach((m, j) => {
      const key = `${m.address}|${m.port}`;
      const first = seen.get(key);
      if (first !== undefined) add(`pools.${i}.members.${j}`, `duplicate member ${fmtMember(m)} (also member ${first + 1})`);
      else seen.set(key, j);
    });
    if (p.minHealthy.kind === "count" && p.minHealthy.value > Math.max(p.members.length, 1)) {
      add(`pools.${i}.minHealthy`, `minimum healthy ${p.minHealthy.value} is more than the pool's ${p.members.length} members`);
    }
  });

  const names = new Set<string>();
  t.listeners.forEach((l, i) => {
    if (names.has(l.name)) add(`listeners.${i}.name`, `duplicate listener name "${l.name}"`);
    names.add(l.name);
    if (!poolIndex.has(l.pool)) add(`listeners.${i}.pool`, `no pool named "${l.pool}" in this load balancer`);
    const end = l.portEnd ?? l.port;
    t.listeners.forEach((o, j) => {
      if (j >= i || o.protocol !== l.protocol) return;
      const oEnd = o.portEnd ?? o.port;
      if (l.port <= oEnd && o.port <= end) {
        add(`listeners.${i}.port`, `${l.protocol} ${fmtPorts(l.port, end)} overlaps listener "${o.name}" (${fmtPorts(o.port, oEnd)})`);
      }
    });
  });

  // A TCP/HTTP(S) monitor needs a TCP port to probe: a pool serving only UDP listeners must name one.
  t.pools.forEach((p, i) => {
    const users = t.listeners.filter((l) => l.pool === p.name);
    const udpOnly = users.length > 0 && users.every((l) => l.protocol === "UDP");
    if (p.monitor && p.monitor.type !== "ICMP" && udpOnly && !p.monitor.port && p.members.some((m) => !m.monitorPort)) {
      add(
        `pools.${i}.monitor.port`,
        `a ${p.monitor.type} monitor on a UDP-only pool needs a check port (monitor port, or a monitor port on every member)`,
      );
    }
  });

  if (Object.keys(errors).length) {
    const first = Object.entries(errors)[0]!;
    throw new DomainError("BAD_REQUEST", `${first[1][0]} (${first[0]})`, errors);
  }
}

export const fmtMember = (m: { address: string; port: number }) =>
  m.address.includes(":") ? `[${m.address}]:${m.port}` : `${m.address}:${m.port}`;
const fmtPorts = (a: number, b: number) => (a === b ? `port ${a}` : `ports ${a}-${b}`);

/** Reads the tree row-locked for an update, checking the revision the caller based it on. */
export async function lockLb(tx: Tx, tenantId: string, lbId: string, expectedRevision?: number): Promise<LbRow> {
  const [lb] = await tx
    .select()
    .from(loadBalancer)
    .where(and(eq(loadBalancer.id, lbId), eq(loadBalancer.tenantId, tenantId)))
    .for("update");
  if (!lb) throw new DomainError("NOT_FOUND", "load balancer not found");
  if (lb.deletingSince) throw new DomainError("CONFLICT", `load balancer ${lb.name} is being deleted`);
  if (expectedRevision !== undefined && expectedRevision !== lb.revision) {
    throw new DomainError(
      "CONFLICT",
      `stale revision: your change is based on revision ${expectedRevision}, but ${lb.name} is at revision ${lb.revision}; reload and retry`,
      { expectedRevision: [`current revision is ${lb.revision}`] },
    );
  }
  return lb;
}
