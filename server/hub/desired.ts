// Builds the desired state the hub sends to agents: the complete tree of each VIP (never a diff).
import { and, eq, inArray } from "drizzle-orm";
import type { Db } from "../db/client";
import { certificate, certificateVersion, loadBalancer } from "../db/schema";
import { loadTrees, monitorInputFromRow, type Tree } from "../domain/lb/tree";
import type { DesiredVip } from "../protocol/agent";
import type { MonitorInput } from "../../lib/lb-schemas";

/** A tree with the PEM bundles of the CA certificates its HTTPS monitors verify against. */
export type VipTree = Tree & { caPems: ReadonlyMap<string, string> };

export function desiredVip(t: VipTree): DesiredVip {
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
              tls: m.tls ? tlsSpec(m.tls, t.caPems) : null,
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

function tlsSpec(tls: NonNullable<MonitorInput["tls"]>, caPems: ReadonlyMap<string, string>) {
  const ca = tls.caCertificate ? caPems.get(tls.caCertificate) : undefined;
  // A referenced CA is never silently dropped: deletion of a certificate in use is refused, so a
  // missing bundle is a bug, and the agent would otherwise verify against another trust store.
  if (tls.caCertificate && ca === undefined) throw new Error(`CA certificate ${tls.caCertificate} has no current version`);
  return { ...(tls.sni ? { sni: tls.sni } : {}), verify: tls.verify, ...(ca ? { ca } : {}) };
}

/** Trees of the given load balancers (missing ids are simply absent from the result). */
export async function loadLbTrees(db: Db, lbIds: string[]): Promise<Map<string, VipTree>> {
  if (!lbIds.length) return new Map();
  const lbs = await db.select().from(loadBalancer).where(inArray(loadBalancer.id, lbIds));
  const trees = await loadTrees(db, lbs);
  const caIds = [...new Set(trees.flatMap((t) => t.monitors.flatMap((m) => (m.tls?.caCertificateId ? [m.tls.caCertificateId] : []))))];
  const caPems = new Map<string, string>();
  if (caIds.length) {
    const rows = await db
      .select({ id: certificate.id, pem: certificateVersion.chainPem })
      .from(certificate)
      .innerJoin(
        certificateVersion,
        and(eq(certificateVersion.certificateId, certificate.id), eq(certificateVersion.version, certificate.currentVersion)),
      )
      .where(inArray(certificate.id, caIds));
    for (const r of rows) caPems.set(r.id, r.pem);
  }
  return new Map(trees.map((t) => [t.lb.id, { ...t, caPems }]));
}
