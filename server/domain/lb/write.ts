// The one write path for a load balancer's tree: diff the desired tree against the stored rows
// and insert/update/delete only what changed (member and listener ids stay stable).
import { eq, inArray } from "drizzle-orm";
import type { Tx } from "../../db/client";
import { backendPool, healthMonitor, listener, member } from "../../db/schema";
import type { DesiredTree, Tree } from "./tree";

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** Stable, comparable form of a desired tree (sorted; defaults made explicit). */
export function normalize(t: DesiredTree): DesiredTree {
  return {
    pools: [...t.pools]
      .map((p) => ({
        name: p.name,
        minHealthy: { kind: p.minHealthy.kind, value: p.minHealthy.value },
        allDownPolicy: p.allDownPolicy,
        monitor: p.monitor
          ? {
              type: p.monitor.type,
              intervalMs: p.monitor.intervalMs,
              timeoutMs: p.monitor.timeoutMs,
              rise: p.monitor.rise,
              fall: p.monitor.fall,
              port: p.monitor.port ?? null,
              http:
                p.monitor.type === "HTTP" || p.monitor.type === "HTTPS"
                  ? {
                      method: p.monitor.http?.method ?? "GET",
                      path: p.monitor.http?.path ?? "/",
                      ...(p.monitor.http?.host ? { host: p.monitor.http.host } : {}),
                      expectedCodes: p.monitor.http?.expectedCodes ?? "200",
                    }
                  : null,
              tls:
                p.monitor.type === "HTTPS" && p.monitor.tls
                  ? {
                      ...(p.monitor.tls.sni ? { sni: p.monitor.tls.sni } : {}),
                      verify: p.monitor.tls.verify,
                      ...(p.monitor.tls.caCertificate ? { caCertificate: p.monitor.tls.caCertificate } : {}),
                    }
                  : null,
            }
          : null,
        members: [...p.members]
          .map((m) => ({
            address: m.address,
            port: m.port,
            weight: m.weight,
            adminState: m.adminState,
            monitorAddress: m.monitorAddress ?? null,
            monitorPort: m.monitorPort ?? null,
          }))
          .sort((a, b) => (a.address === b.address ? a.port - b.port : a.address < b.address ? -1 : 1)),
      }))
      .sort((a, b) => (a.name < b.name ? -1 : 1)),
    listeners: [...t.listeners]
      .map((l) => ({
        name: l.name,
        protocol: l.protocol,
        port: l.port,
        portEnd: l.portEnd ?? l.port,
        allowedCidrs: [...l.allowedCidrs].sort(),
        affinity: l.affinity,
        pool: l.pool,
        adminEnabled: l.adminEnabled,
      }))
      .sort((a, b) => (a.name < b.name ? -1 : 1)),
  };
}

export const treesEqual = (a: DesiredTree, b: DesiredTree) => same(normalize(a), normalize(b));

export async function applyDesired(tx: Tx, current: Tree, desiredRaw: DesiredTree): Promise<void> {
  const desired = normalize(desiredRaw);
  const lbId = current.lb.id;
  const tenantId = current.lb.tenantId;

  // Pools first (listeners reference them), deletions of pools last.
  const poolByName = new Map(current.pools.map((p) => [p.name, p]));
  const poolIds = new Map<string, string>();
  for (const p of desired.pools) {
    const existing = poolByName.get(p.name);
    let id: string;
    if (!existing) {
      const [row] = await tx
        .insert(backendPool)
        .values({ lbId, tenantId, name: p.name, minHealthy: p.minHealthy, allDownPolicy: p.allDownPolicy })
        .returning({ id: backendPool.id });
      id = row!.id;
    } else {
      id = existing.id;
      if (!same(existing.minHealthy, p.minHealthy) || existing.allDownPolicy !== p.allDownPolicy) {
        await tx
          .update(backendPool)
          .set({ minHealthy: p.minHealthy, allDownPolicy: p.allDownPolicy })
          .where(eq(backendPool.id, id));
      }
    }
    poolIds.set(p.name, id);

    const mon = current.monitors.find((m) => m.poolId === id);
    if (!p.monitor && mon) await tx.delete(healthMonitor).where(eq(healthMonitor.poolId, id));
    if (p.monitor) {
      const values = {
        type: p.monitor.type,
        intervalMs: p.monitor.intervalMs,
        timeoutMs: p.monitor.timeoutMs,
        rise: p.monitor.rise,
        fall: p.monitor.fall,
        port: p.monitor.port ?? null,
        http: p.monitor.http ?? null,
        tls: p.monitor.tls
          ? {
              ...(p.monitor.tls.sni ? { sni: p.monitor.tls.sni } : {}),
              verify: p.monitor.tls.verify,
              ...(p.monitor.tls.caCertificate ? { caCertificateId: p.monitor.tls.caCertificate } : {}),
            }
          : null,
      };
      if (!mon) await tx.insert(healthMonitor).values({ poolId: id, ...values });
      else await tx.update(healthMonitor).set(values).where(eq(healthMonitor.poolId, id));
    }

    const stored = new Map(
      current.members.filter((m) => m.poolId === id).map((m) => [`${m.address}|${m.port}`, m]),
    );
    const inserts: (typeof member.$inferInsert)[] = [];
    for (const m of p.members) {
      const key = `${m.address}|${m.port}`;
      const row = stored.get(key);
      stored.delete(key);
      if (!row) {
        inserts.push({ poolId: id, lbId, tenantId, ...m });
      } else if (
        row.weight !== m.weight ||
        row.adminState !== m.adminState ||
        row.monitorAddress !== m.monitorAddress ||
        row.monitorPort !== m.monitorPort
      ) {
        await tx
          .update(member)
          .set({ weight: m.weight, adminState: m.adminState, monitorAddress: m.monitorAddress, monitorPort: m.monitorPort })
          .where(eq(member.id, row.id));
      }
    }
    if (inserts.length) await tx.insert(member).values(inserts);
    const gone = [...stored.values()].map((m) => m.id);
    if (gone.length) await tx.delete(member).where(inArray(member.id, gone));
  }

  const listenerByName = new Map(current.listeners.map((l) => [l.name, l]));
  const keep = new Set<string>();
  for (const l of desired.listeners) {
    const values = {
      protocol: l.protocol,
      portStart: l.port,
      portEnd: l.portEnd ?? l.port,
      allowedCidrs: l.allowedCidrs,
      affinity: l.affinity,
      poolId: poolIds.get(l.pool)!,
      adminEnabled: l.adminEnabled,
    };
    const existing = listenerByName.get(l.name);
    if (!existing) {
      await tx.insert(listener).values({ lbId, tenantId, name: l.name, ...values });
    } else {
      keep.add(existing.id);
      const cur = {
        protocol: existing.protocol,
        portStart: existing.portStart,
        portEnd: existing.portEnd,
        allowedCidrs: [...existing.allowedCidrs].sort(),
        affinity: existing.affinity,
        poolId: existing.poolId,
        adminEnabled: existing.adminEnabled,
      };
      if (!same(cur, values)) await tx.update(listener).set(values).where(eq(listener.id, existing.id));
    }
  }
  const goneListeners = current.listeners.filter((l) => !keep.has(l.id) && !desired.listeners.some((d) => d.name === l.name));
  if (goneListeners.length) await tx.delete(listener).where(inArray(listener.id, goneListeners.map((l) => l.id)));

  const gonePools = current.pools.filter((p) => !poolIds.has(p.name)).map((p) => p.id);
  if (gonePools.length) await tx.delete(backendPool).where(inArray(backendPool.id, gonePools));
}
