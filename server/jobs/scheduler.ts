// Background jobs, run by exactly one server replica (the holder of a Postgres advisory-lock
// lease): node failover on silent heartbeats (with a circuit breaker), VIP placement across
// AZs, and cleanup of deleted VIPs whose nodes are gone. Every change is a revision, so the hub
// of every replica pushes it to the agents.
import { and, eq, inArray, isNotNull, isNull } from "drizzle-orm";
import type { Logger } from "pino";
import type { Database, Lease } from "../db/client";
import { az, jobState, lbNode, loadBalancer, placement } from "../db/schema";
import { SYSTEM_ACTOR } from "../domain/context";
import { mutate } from "../domain/mutate";
import type { Auth } from "../auth/auth";
import { place, shouldSuspendFailover, type PlacementNode } from "./placement";
import { recordExpiryTransitions } from "../domain/certs/expiry";
import { CHANGES_CHANNEL } from "../hub/hub";

const LEASE_KEY = 0x7465_6e63; // "tenc"

export interface JobOptions {
  intervalMs?: number;
  /** A joined node silent for this long is marked down (its VIPs move). */
  heartbeatTimeoutMs?: number;
}

export interface BreakerState {
  suspended: boolean;
  reason: string;
  silentNodes: string[];
  at: string;
}

export class Jobs {
  private lease: Lease | null = null;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private stopped = false;
  private readonly intervalMs: number;
  private readonly heartbeatTimeoutMs: number;

  constructor(
    private readonly database: Database,
    private readonly auth: Auth,
    private readonly log: Logger,
    opts: JobOptions = {},
  ) {
    this.intervalMs = opts.intervalMs ?? 1000;
    this.heartbeatTimeoutMs = opts.heartbeatTimeoutMs ?? 15_000;
  }

  isLeader(): boolean {
    return this.lease !== null;
  }

  start(): void {
    this.timer = setInterval(() => this.wake(false), this.intervalMs);
    this.wake();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.running;
    await this.lease?.release();
    this.lease = null;
  }

  private dirty = true;
  private ticks = 0;
  private leaderSince = 0;

  /**
   * Runs a pass now, coalescing with one already running. `changed` (the default) means state
   * changed, so placement runs; the periodic timer only checks heartbeats (and places every 10th).
   */
  wake(changed = true): void {
    if (this.stopped) return;
    if (changed) this.dirty = true;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.tick()
      .catch((err: unknown) => this.log.error({ err }, "jobs: pass failed"))
      .finally(() => {
        this.running = null;
        if (this.again) {
          this.again = false;
          this.wake();
        }
      });
  }

  private async tick(): Promise<void> {
    if (!this.lease) {
      this.lease = await this.database.tryLease(LEASE_KEY);
      if (!this.lease) return;
      this.leaderSince = Date.now();
      this.log.info("jobs: this replica is the leader");
      void this.lease.lost.then(() => {
        this.log.warn("jobs: leader lease lost");
        this.lease = null;
      });
    }
    // A new leader (a restarted server, or a failed-over replica) gives the agents one heartbeat
    // timeout to reconnect before judging them: their last heartbeats are as old as the outage.
    if (Date.now() - this.leaderSince >= this.heartbeatTimeoutMs && (await this.failover())) this.dirty = true;
    const tick = ++this.ticks;
    if (this.dirty || tick % 10 === 0) {
      this.dirty = false;
      await this.schedule();
      await this.finishOrphanedDeletions();
    }
    if (tick % 60 === 1) {
      const crossed = await recordExpiryTransitions(this.database.db);
      for (const c of crossed) this.log.warn({ certificate: c.name, to: c.to }, `jobs: certificate is now ${c.to}`);
    }
  }

  /** Changes made by the jobs wake every replica's hub, like changes made through the API. */
  private ctx() {
    return {
      db: this.database.db,
      auth: this.auth,
      actor: SYSTEM_ACTOR,
      onCommitted: (revisions: number[]) => {
        this.database.notify(CHANGES_CHANNEL, String(Math.max(...revisions))).catch(() => {});
      },
    };
  }

  private isLive(n: typeof lbNode.$inferSelect, now: number) {
    return n.lastHeartbeatAt !== null && now - n.lastHeartbeatAt.getTime() <= this.heartbeatTimeoutMs;
  }

  /** Marks silent nodes down (unless too many went silent at once) and revives recovered ones. */
  async failover(now = Date.now()): Promise<boolean> {
    const nodes = await this.database.db.select().from(lbNode).where(isNotNull(lbNode.credentialHash));
    const silent = nodes.filter((n) => n.state !== "down" && n.lastHeartbeatAt !== null && !this.isLive(n, now));
    const revived = nodes.filter((n) => n.state === "down" && n.stateReason.startsWith("auto:") && this.isLive(n, now));
    const decision = shouldSuspendFailover(nodes.length, silent.length);
    const breaker: BreakerState = {
      suspended: silent.length > 0 && decision.suspend,
      reason: silent.length > 0 && decision.suspend ? decision.reason : "",
      silentNodes: silent.map((n) => n.name),
      at: new Date(now).toISOString(),
    };
    await this.saveBreaker(breaker);
    const changes = [
      ...(breaker.suspended ? [] : silent.map((n) => ({ n, state: "down" as const, reason: `auto: no heartbeat for over ${Math.round(this.heartbeatTimeoutMs / 1000)} s` }))),
      ...revived.map((n) => ({ n, state: "active" as const, reason: "" })),
    ];
    if (!changes.length) return false;
    await mutate(this.ctx(), async (tx, rec) => {
      for (const c of changes) {
        await tx.update(lbNode).set({ state: c.state, stateReason: c.reason, updatedAt: new Date() }).where(eq(lbNode.id, c.n.id));
        await rec.record({
          tenantId: null,
          action: c.state === "down" ? "node.auto-down" : "node.auto-recover",
          entityType: "node",
          entityId: c.n.id,
          before: { state: c.n.state, reason: c.n.stateReason },
          after: { state: c.state, reason: c.reason },
        });
      }
    });
    for (const c of changes) this.log.warn({ node: c.n.name, state: c.state }, `jobs: node ${c.state === "down" ? "marked down" : "recovered"}`);
    return true;
  }

  private lastBreaker = "";
  private async saveBreaker(b: BreakerState) {
    const key = JSON.stringify({ ...b, at: "" });
    if (key === this.lastBreaker) return;
    this.lastBreaker = key;
    if (b.suspended) this.log.error({ silent: b.silentNodes }, `jobs: automatic failover suspended: ${b.reason}`);
    await this.database.db
      .insert(jobState)
      .values({ key: "failover-breaker", value: b })
      .onConflictDoUpdate({ target: jobState.key, set: { value: b, updatedAt: new Date() } });
  }

  /** Places every VIP on its replicas; writes only the placements that change. */
  async schedule(): Promise<{ changed: number }> {
    const db = this.database.db;
    const [nodes, lbs, current] = await Promise.all([
      db.select({ n: lbNode, azName: az.name }).from(lbNode).innerJoin(az, eq(az.id, lbNode.azId)),
      db.select({ id: loadBalancer.id, replicas: loadBalancer.replicas }).from(loadBalancer).where(isNull(loadBalancer.deletingSince)),
      db.select({ lbId: placement.lbId, nodeId: placement.nodeId }).from(placement),
    ]);
    const byLb = new Map<string, string[]>();
    for (const p of current) {
      const list = byLb.get(p.lbId);
      if (list) list.push(p.nodeId);
      else byLb.set(p.lbId, [p.nodeId]);
    }
    // A node whose agent never connected cannot serve: not eligible until its first heartbeat.
    const placementNodes: PlacementNode[] = nodes.map(({ n, azName }) => ({
      id: n.id,
      az: azName,
      capacity: n.capacity,
      state: n.lastHeartbeatAt === null || n.credentialHash === null ? "down" : n.state,
    }));
    const result = place(
      placementNodes,
      lbs.map((l) => ({ id: l.id, replicas: l.replicas, current: byLb.get(l.id) ?? [] })),
    );
    const changed: { lbId: string; before: string[]; after: string[] }[] = [];
    for (const [lbId, after] of result.assignments) {
      const before = [...(byLb.get(lbId) ?? [])].sort();
      if (before.join() !== after.join()) changed.push({ lbId, before, after });
    }
    if (!changed.length) return { changed: 0 };
    const names = new Map(nodes.map(({ n }) => [n.id, n.name]));
    await mutate(this.ctx(), async (tx, rec) => {
      for (const c of changed) {
        const gone = c.before.filter((id) => !c.after.includes(id));
        const added = c.after.filter((id) => !c.before.includes(id));
        if (gone.length) await tx.delete(placement).where(and(eq(placement.lbId, c.lbId), inArray(placement.nodeId, gone)));
        if (added.length) await tx.insert(placement).values(added.map((nodeId) => ({ lbId: c.lbId, nodeId }))).onConflictDoNothing();
        const [lb] = await tx.select({ tenantId: loadBalancer.tenantId }).from(loadBalancer).where(eq(loadBalancer.id, c.lbId));
        await rec.record({
          tenantId: lb?.tenantId ?? null,
          action: "lb.place",
          entityType: "placement",
          entityId: c.lbId,
          before: { nodes: c.before.map((id) => names.get(id) ?? id) },
          after: { nodes: c.after.map((id) => names.get(id) ?? id) },
        });
      }
    });
    this.log.info({ changed: changed.length, unplaced: result.unplaced.length }, "jobs: placements updated");
    return { changed: changed.length };
  }

  /** Deleted VIPs wait for their nodes' tombstone acks; nodes that are down cannot ack. */
  private async finishOrphanedDeletions(now = Date.now()) {
    const db = this.database.db;
    const deleting = await db.select({ id: loadBalancer.id }).from(loadBalancer).where(isNotNull(loadBalancer.deletingSince));
    if (!deleting.length) return;
    const nodes = await db.select().from(lbNode);
    const live = new Set(nodes.filter((n) => n.state !== "down" && this.isLive(n, now)).map((n) => n.id));
    const rows = await db.select().from(placement).where(inArray(placement.lbId, deleting.map((d) => d.id)));
    for (const d of deleting) {
      const mine = rows.filter((r) => r.lbId === d.id);
      if (mine.every((r) => !live.has(r.nodeId))) await db.delete(loadBalancer).where(eq(loadBalancer.id, d.id));
    }
  }
}

export async function readBreaker(database: Database): Promise<BreakerState | null> {
  const [row] = await database.db.select().from(jobState).where(eq(jobState.key, "failover-breaker"));
  return (row?.value as BreakerState | undefined) ?? null;
}
