// The live views' domain verbs: who may see which series. A tenant sees its own load balancers'
// traffic (resolved through findLb: another tenant's load balancer answers NOT_FOUND) with the
// names of the nodes carrying them; node series (the fleet) are for platform admins only.
// The database is read once per scope (on subscribe and when the load balancer changes); the
// per-second figures come from the in-memory store only.
import { asc, eq } from "drizzle-orm";
import { type DomainCtx, type TenantCtx, requirePlatformAdmin } from "../domain/context";
import { findLb } from "../domain/lb/verbs";
import { lbNode, member, placement } from "../db/schema";
import type { BackendRates, MetricsStore, SeriesWindow, TrafficRates } from "./store";

/** What a load balancer's live metrics cover: resolved (and tenant-checked) against the database. */
export interface LbScope {
  tenantId: string;
  lbId: string;
  /** Nodes the load balancer is placed on, by id, with their names. */
  nodes: { id: string; name: string }[];
  /** Member (backend) addresses; the data plane counts per address, whatever the port. */
  addresses: string[];
}

export async function lbScope(ctx: TenantCtx, ref: string): Promise<LbScope> {
  const lb = await findLb(ctx.db, ctx.tenant.id, ref);
  const [placed, members] = await Promise.all([
    ctx.db
      .select({ id: lbNode.id, name: lbNode.name })
      .from(placement)
      .innerJoin(lbNode, eq(lbNode.id, placement.nodeId))
      .where(eq(placement.lbId, lb.id))
      .orderBy(asc(lbNode.name)),
    ctx.db.selectDistinct({ address: member.address }).from(member).where(eq(member.lbId, lb.id)).orderBy(asc(member.address)),
  ]);
  return { tenantId: ctx.tenant.id, lbId: lb.id, nodes: placed, addresses: members.map((m) => m.address) };
}

export interface LbMetricsView {
  lbId: string;
  /** Server time of this view (ms). */
  at: number;
  window: SeriesWindow;
  /** The whole load balancer, summed over its nodes, one point per second of the window. */
  total: Record<keyof TrafficRates, (number | null)[]>;
  nodes: { nodeId: string; nodeName: string; latest: TrafficRates | null; lastReportAt: number | null }[];
  members: { address: string; latest: BackendRates | null; packets: (number | null)[]; bytes: (number | null)[] }[];
}

/**
 * A load balancer's live figures for the last `seconds` seconds. Only the scope's nodes count:
 * a node the load balancer left no longer adds to it once it is re-placed.
 */
export function lbMetrics(store: MetricsStore, scope: LbScope, seconds: number, to?: number): LbMetricsView {
  const w = store.window(seconds, to);
  const nodeIds = scope.nodes.map((n) => n.id);
  return {
    lbId: scope.lbId,
    at: Date.now(),
    window: w,
    total: store.lbSeries(scope.lbId, nodeIds, w),
    nodes: scope.nodes.map((n) => {
      const t = store.lbOnNode(scope.lbId, n.id);
      return { nodeId: n.id, nodeName: n.name, latest: t.latest, lastReportAt: t.lastReportAt };
    }),
    members: scope.addresses.map((address) => ({
      address,
      latest: store.backendLatest(scope.lbId, address, nodeIds),
      ...store.backendSeries(scope.lbId, address, nodeIds, w),
    })),
  };
}

export interface FleetScope {
  nodes: { id: string; name: string }[];
}

/** Platform admins only: every node. */
export async function fleetScope(ctx: DomainCtx): Promise<FleetScope> {
  requirePlatformAdmin(ctx);
  const nodes = await ctx.db.select({ id: lbNode.id, name: lbNode.name }).from(lbNode).orderBy(asc(lbNode.name));
  return { nodes };
}

export interface FleetMetricsView {
  at: number;
  window: SeriesWindow;
  nodes: {
    nodeId: string;
    nodeName: string;
    latest: TrafficRates | null;
    lastReportAt: number | null;
    packets: (number | null)[];
    bytes: (number | null)[];
  }[];
}

export function fleetMetrics(store: MetricsStore, scope: FleetScope, seconds: number, to?: number): FleetMetricsView {
  const w = store.window(seconds, to);
  return {
    at: Date.now(),
    window: w,
    nodes: scope.nodes.map((n) => {
      const t = store.nodeLatest(n.id);
      const s = store.nodeSeries(n.id, w);
      return { nodeId: n.id, nodeName: n.name, latest: t.latest, lastReportAt: t.lastReportAt, packets: s.packets, bytes: s.bytes };
    }),
  };
}
