// The live feed behind the console's subscriptions: wakes viewers when something they show
// changed, without any per-viewer polling of the database.
//   - mutations (any replica): NOTIFY tenbin_changes → one read of the new revision rows per
//     replica → "lb" events for the load balancers and placements touched, "nodes" for nodes;
//   - agent reports stored by a hub (acks, health, heartbeats, connects; any replica): the hub's
//     hook → NOTIFY tenbin_live {nodes, lbIds} (batched 25 ms) → the same events on every replica;
//   - metrics messages: in-memory only (this replica's agents) → "metrics" events;
//   - a 1 s tick, so a node that went silent turns to "no data" and charts move on.
import { EventEmitter } from "node:events";
import { and, gt, lt, sql } from "drizzle-orm";
import type { Logger } from "pino";
import type { Database } from "../db/client";
import { revision } from "../db/schema";
import { CHANGES_CHANNEL } from "../hub/hub";
import { MetricsStore } from "./store";

export const LIVE_CHANNEL = "tenbin_live";
/** PostgreSQL refuses NOTIFY payloads of 8000 bytes or more; above this we say "everything". */
const MAX_PAYLOAD = 7000;
const BATCH_MS = 25;
/** A viewer that stops reading (a stalled stream) holds at most this many queued events. */
const MAX_QUEUED = 1000;

export type FeedEvent =
  | { type: "lb"; lbIds: ReadonlySet<string> | "all" }
  | { type: "nodes" }
  | { type: "metrics"; nodeId: string }
  | { type: "tick" };

/** A viewer's queue of events: next() waits for at least one (or the timeout). */
export interface Watch {
  next(timeoutMs?: number): Promise<FeedEvent[]>;
  close(): void;
}

export class LiveFeed {
  readonly store: MetricsStore;
  private readonly emitter = new EventEmitter();
  private cursor = 0;
  private reading: Promise<void> | null = null;
  private readAgain = false;
  private unlisten: (() => Promise<void>)[] = [];
  private timers: NodeJS.Timeout[] = [];
  private pending: { nodes: Set<string>; lbIds: Set<string> } | null = null;
  private stopped = false;

  constructor(
    private readonly database: Database,
    private readonly log: Logger,
    store?: MetricsStore,
  ) {
    this.store = store ?? new MetricsStore();
    this.emitter.setMaxListeners(0);
    this.store.subscribe((nodeId) => this.emit({ type: "metrics", nodeId }));
  }

  get isStopped() {
    return this.stopped;
  }

  async start(): Promise<void> {
    const [row] = await this.database.db.select({ max: sql<number>`coalesce(max(${revision.id}), 0)` }).from(revision);
    this.cursor = Number(row?.max ?? 0);
    this.unlisten.push(await this.database.listen(CHANGES_CHANNEL, () => this.readRevisions()));
    this.unlisten.push(await this.database.listen(LIVE_CHANNEL, (payload) => this.onLivePayload(payload)));
    this.timers.push(setInterval(() => this.emit({ type: "tick" }), 1000));
    this.timers.push(setInterval(() => this.store.sweep(), 60_000));
  }

  /** Ends every open subscription (before the HTTP server drains) and stops listening. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    this.emit({ type: "tick" }); // wakes every watcher, which then sees isStopped
    for (const u of this.unlisten) await u().catch(() => {});
    await this.reading;
  }

  /** The hub's hook: an agent report changed stored state (placements, member health, the node). */
  agentReported = (nodeId: string, lbIds: readonly string[]): void => {
    if (this.stopped) return;
    if (!this.pending) {
      this.pending = { nodes: new Set(), lbIds: new Set() };
      setTimeout(() => this.publish(), BATCH_MS).unref();
    }
    this.pending.nodes.add(nodeId);
    for (const id of lbIds) this.pending.lbIds.add(id);
  };

  watch(signal?: AbortSignal): Watch {
    const queue: FeedEvent[] = [];
    let overflowed = false;
    let wake: (() => void) | null = null;
    const onEvent = (e: FeedEvent) => {
      if (overflowed) return;
      if (queue.length >= MAX_QUEUED) {
        // Bounded: "everything changed" covers whatever is dropped from here on.
        queue.length = 0;
        queue.push({ type: "lb", lbIds: "all" }, { type: "nodes" }, { type: "tick" });
        overflowed = true;
      } else queue.push(e);
      wake?.();
    };
    const onAbort = () => wake?.();
    this.emitter.on("event", onEvent);
    signal?.addEventListener("abort", onAbort);
    return {
      next: async (timeoutMs = 5000) => {
        if (!queue.length && !this.stopped && !signal?.aborted) {
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, timeoutMs);
            wake = () => {
              clearTimeout(timer);
              resolve();
            };
          });
          wake = null;
        }
        overflowed = false;
        return queue.splice(0);
      },
      close: () => {
        this.emitter.off("event", onEvent);
        signal?.removeEventListener("abort", onAbort);
      },
    };
  }

  private emit(e: FeedEvent) {
    this.emitter.emit("event", e);
  }

  private publish() {
    const p = this.pending;
    this.pending = null;
    if (!p || this.stopped) return;
    let payload = JSON.stringify({ nodes: [...p.nodes], lbIds: [...p.lbIds] });
    if (payload.length > MAX_PAYLOAD) payload = JSON.stringify({ nodes: [], lbIds: [], all: true });
    this.database.notify(LIVE_CHANNEL, payload).catch((err: unknown) => this.log.warn({ err }, "live: NOTIFY failed"));
  }

  private onLivePayload(payload: string) {
    let body: { nodes?: unknown; lbIds?: unknown; all?: unknown };
    try {
      body = JSON.parse(payload) as typeof body;
    } catch {
      this.log.warn({ payload: payload.slice(0, 100) }, "live: ignoring a malformed notification");
      return;
    }
    const lbIds = Array.isArray(body.lbIds) ? body.lbIds.filter((x): x is string => typeof x === "string") : [];
    if (body.all === true) this.emit({ type: "lb", lbIds: "all" });
    else if (lbIds.length) this.emit({ type: "lb", lbIds: new Set(lbIds) });
    this.emit({ type: "nodes" });
  }

  /** One read of the new revisions per NOTIFY, whatever the number of viewers. */
  private readRevisions() {
    if (this.stopped) return;
    if (this.reading) {
      this.readAgain = true;
      return;
    }
    this.reading = this.readOnce()
      .catch((err: unknown) => this.log.error({ err }, "live: reading revisions failed"))
      .finally(() => {
        this.reading = null;
        if (this.readAgain) {
          this.readAgain = false;
          this.readRevisions();
        }
      });
  }

  private async readOnce() {
    const rows = await this.database.db
      .select({ id: revision.id, entityType: revision.entityType, entityId: revision.entityId })
      .from(revision)
      .where(and(gt(revision.id, this.cursor), lt(revision.id, this.cursor + 100_000)))
      .orderBy(revision.id);
    if (!rows.length) return;
    this.cursor = rows[rows.length - 1]!.id;
    const lbIds = new Set<string>();
    let nodes = false;
    for (const r of rows) {
      if (r.entityType === "load-balancer" || r.entityType === "placement") lbIds.add(r.entityId);
      // Placements change nodes' VIP counts too.
      if (r.entityType === "node" || r.entityType === "placement") nodes = true;
    }
    if (lbIds.size) this.emit({ type: "lb", lbIds });
    if (nodes) this.emit({ type: "nodes" });
  }
}
