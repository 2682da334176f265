// Builds the desired state the hub sends to agents: the complete tree of each VIP (never a diff).
import { inArray } from "drizzle-orm";
import type { Db } from "../db/client";
import { loadBalancer } from "../db/schema";
import { loadTrees, monitorInputFromRow, type Tree } from "../domain/lb/tree";
import type { DesiredVip } from "../protocol/agent";

export function desiredVip(t: Tree): DesiredVip {
  return {
    lbId: t.lb.id,
    revision: t.lb.revision,
    address: t.lb.address,
    family: t.lb.family as 4 | 6,
    adminEnabled: t.lb.adminEnabled,
    listeners: t.listeners.map((l) => ({
      id: l.id,
      protocol: l.protocol,
      portStart: l.portStart,
      portEnd: l.portEnd,
      allowedCidrs: l.allowedCidrs,
      affinity: l.affinity,
      poolId: l.poolId,
      adminEnabled: l.adminEnabled,
    })),
    pools: t.pools.map((p) => {
      const mon = t.monitors.find((m) => m.poolId === p.id);
      const m = mon ? monitorInputFromRow(mon) : null;
      return {
        id: p.id,
        minHealthy: p.minHealthy,
        allDownPolicy: p.allDownPolicy,
        monitor: m
          ? {
              type: m.type,
              intervalMs: m.intervalMs,
              timeoutMs: m.timeoutMs,
              rise: m.rise,
              fall: m.fall,
              port: m.port ?? null,
              http: m.http ?? null,
            }
          : null,
        members: t.members
          .filter((x) => x.poolId === p.id)
          .map((x) => ({
            id: x.id,
            address: x.address,
            port: x.port,
            weight: x.weight,
            adminState: x.adminState,
            monitorAddress: x.monitorAddress,
            monitorPort: x.monitorPort,
          })),
      };
    }),
  };
}

/** Trees of the given load balancers (missing ids are simply absent from the result). */
export async function loadLbTrees(db: Db, lbIds: string[]): Promise<Map<string, Tree>> {
  if (!lbIds.length) return new Map();
  const lbs = await db.select().from(loadBalancer).where(inArray(loadBalancer.id, lbIds));
  const trees = await loadTrees(db, lbs);
  return new Map(trees.map((t) => [t.lb.id, t]));
}
