// The live metrics store: what the agents' `metrics` messages say, kept in memory for the
// console's live views. Per node, per (load balancer, node) and per (load balancer, backend
// address, node): packets/s, bytes/s, new flows/s, drops/s — a ring of the last 10 minutes at
// 1 s resolution. Nothing is written to the database: a restart starts empty, and each server
// replica only knows what its own connected agents sent (see server/README.md).
//
// Seconds are the SERVER's clock at receipt (agents' clocks may disagree with each other); the
// agent's intervalMs turns its deltas into rates. A node reports every second even when idle (its
// message then lists nothing), so for a second the node reported, a series without an entry is
// zero; for a second it did not report, every one of its series is "no data" (null) — a node
// that stops sending never shows as zero traffic.
import type { AgentMessage } from "../protocol/agent";

type MetricsMsg = Extract<AgentMessage, { type: "metrics" }>;

/** Seconds kept (10 minutes at 1 s). */
export const WINDOW_SECONDS = 600;
/** A node whose last report is older than this has no current value ("no data"). */
export const STALE_AFTER_SECONDS = 3;
/** One message covers at most this many seconds (a late sample is spread, not invented). */
const MAX_SECONDS_PER_MESSAGE = 10;

/** Rates per second; null = the node did not report that second. */
export interface TrafficRates {
  packets: number;
  bytes: number;
  newFlows: number;
  drops: number;
}
export interface BackendRates {
  packets: number;
  bytes: number;
}

/** A fixed ring of WINDOW_SECONDS slots, each holding `width` sums for the second in `stamps`. */
class Ring {
  readonly stamps = new Int32Array(WINDOW_SECONDS).fill(-1);
  // Float32: 7 significant digits is plenty for a chart and halves the memory.
  readonly sums: Float32Array;
  newest = -1;
  constructor(readonly width: number) {
    this.sums = new Float32Array(WINDOW_SECONDS * width);
  }
  add(sec: number, values: readonly number[], factor: number) {
    const slot = sec % WINDOW_SECONDS;
    if (this.stamps[slot] !== sec) {
      this.stamps[slot] = sec;
      this.sums.fill(0, slot * this.width, slot * this.width + this.width);
    }
    for (let i = 0; i < this.width; i++) this.sums[slot * this.width + i]! += values[i]! * factor;
    if (sec > this.newest) this.newest = sec;
  }
  /** The sum of column `i` at `sec`, 0 when this series had nothing that second. */
  at(sec: number, i: number): number {
    const slot = sec % WINDOW_SECONDS;
    return this.stamps[slot] === sec ? this.sums[slot * this.width + i]! : 0;
  }
  static bytes(width: number) {
    return WINDOW_SECONDS * (4 + 4 * width);
  }
}

class NodeSeries {
  /** Which seconds this node reported, and the milliseconds of counting they cover. */
  readonly reported = new Ring(1);
  readonly total = new Ring(4);
  readonly lbs = new Map<string, Ring>();
  /** Keyed `${lbId}|${address}`. */
  readonly backends = new Map<string, Ring>();
  lastReportMs = 0;
}

export interface MetricsStoreOptions {
  /** Most (load balancer, node) + (backend, node) series kept; beyond, new ones are refused. */
  maxSeries?: number;
  now?: () => number;
}

export interface SeriesWindow {
  /** Epoch seconds of the first point; points are 1 s apart. */
  from: number;
  /** Epoch seconds of the last point (the last complete second). */
  to: number;
}

/** One load balancer's traffic on one node. */
export interface NodeTraffic<R> {
  nodeId: string;
  /** Rates of the node's latest reported second; null when it has not reported for a while. */
  latest: R | null;
  lastReportAt: number | null;
}

export class MetricsStore {
  private readonly nodes = new Map<string, NodeSeries>();
  private seriesCount = 0;
  private refused = 0;
  private readonly maxSeries: number;
  private readonly now: () => number;
  private readonly listeners = new Set<(nodeId: string, lbIds: ReadonlySet<string>) => void>();

  constructor(opts: MetricsStoreOptions = {}) {
    this.maxSeries = opts.maxSeries ?? 10_000;
    this.now = opts.now ?? Date.now;
  }

  /** Called after every recorded message with the node and the load balancers it mentioned. */
  subscribe(fn: (nodeId: string, lbIds: ReadonlySet<string>) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Records one agent metrics message, received now. */
  record(nodeId: string, msg: Pick<MetricsMsg, "intervalMs" | "listeners" | "backends">): void {
    const receivedMs = this.now();
    const end = Math.floor(receivedMs / 1000);
    const span = Math.min(MAX_SECONDS_PER_MESSAGE, Math.max(1, Math.round(msg.intervalMs / 1000)));
    const factor = 1 / span;
    let node = this.nodes.get(nodeId);
    if (!node) this.nodes.set(nodeId, (node = new NodeSeries()));
    node.lastReportMs = receivedMs;
    const lbIds = new Set<string>();
    // Sums of deltas and of counted milliseconds per second: a rate is their ratio, so two
    // messages landing in one second (timer jitter) average instead of doubling.
    for (let i = 0; i < span; i++) {
      const sec = end - i;
      node.reported.add(sec, [msg.intervalMs], factor);
      for (const l of msg.listeners) {
        const v = [l.packets, l.bytes, l.newFlows, l.drops];
        node.total.add(sec, v, factor);
        const ring = this.series(node.lbs, l.lbId, 4);
        ring?.add(sec, v, factor);
        lbIds.add(l.lbId);
      }
      for (const b of msg.backends) {
        const ring = this.series(node.backends, `${b.lbId}|${b.address}`, 2);
        ring?.add(sec, [b.packets, b.bytes], factor);
        lbIds.add(b.lbId);
      }
    }
    for (const fn of this.listeners) fn(nodeId, lbIds);
  }

  private series(map: Map<string, Ring>, key: string, width: number): Ring | null {
    const found = map.get(key);
    if (found) return found;
    if (this.seriesCount >= this.maxSeries) {
      this.refused++;
      return null;
    }
    const ring = new Ring(width);
    map.set(key, ring);
    this.seriesCount++;
    return ring;
  }

  /** Frees series and nodes with nothing left in the window (call it every minute or so). */
  sweep(): void {
    const oldest = Math.floor(this.now() / 1000) - WINDOW_SECONDS;
    for (const [id, node] of this.nodes) {
      for (const map of [node.lbs, node.backends]) {
        for (const [key, ring] of map) {
          if (ring.newest < oldest) {
            map.delete(key);
            this.seriesCount--;
          }
        }
      }
      if (node.reported.newest < oldest) this.nodes.delete(id);
    }
  }

  /** Figures for /metrics-style introspection and the memory bound's test. */
  stats() {
    let bytes = 0;
    for (const n of this.nodes.values()) {
      bytes += Ring.bytes(1) + Ring.bytes(4) + n.lbs.size * Ring.bytes(4) + n.backends.size * Ring.bytes(2);
    }
    return { nodes: this.nodes.size, series: this.seriesCount, refusedSeries: this.refused, approxBytes: bytes };
  }

  /** The last `seconds` complete seconds (the current one is still filling), ending at `to`. */
  window(seconds = WINDOW_SECONDS - 1, to = Math.floor(this.now() / 1000) - 1): SeriesWindow {
    return { from: to - Math.min(seconds, WINDOW_SECONDS - 1) + 1, to };
  }

  private rate(node: NodeSeries, ring: Ring | undefined, sec: number, i: number): number | null {
    const slot = sec % WINDOW_SECONDS;
    if (node.reported.stamps[slot] !== sec) return null;
    const ms = node.reported.sums[slot]!;
    if (!ring || ms <= 0) return 0;
    return (ring.at(sec, i) * 1000) / ms;
  }

  /** The second a node's current value comes from, or null when it is stale or unknown. */
  private latestSecond(node: NodeSeries | undefined): number | null {
    if (!node) return null;
    const nowSec = Math.floor(this.now() / 1000);
    const sec = node.reported.newest;
    return sec >= 0 && nowSec - sec <= STALE_AFTER_SECONDS ? sec : null;
  }

  private traffic(node: NodeSeries, ring: Ring | undefined, sec: number): TrafficRates | null {
    const packets = this.rate(node, ring, sec, 0);
    if (packets === null) return null;
    return { packets, bytes: this.rate(node, ring, sec, 1)!, newFlows: this.rate(node, ring, sec, 2)!, drops: this.rate(node, ring, sec, 3)! };
  }

  /** One column of a series over the window, summed over nodes; null where no node reported. */
  private column(pairs: [NodeSeries, Ring | undefined][], w: SeriesWindow, i: number): (number | null)[] {
    const out: (number | null)[] = [];
    for (let sec = w.from; sec <= w.to; sec++) {
      let sum: number | null = null;
      for (const [node, ring] of pairs) {
        const r = this.rate(node, ring, sec, i);
        if (r !== null) sum = (sum ?? 0) + r;
      }
      out.push(sum);
    }
    return out;
  }

  /** A node's own traffic (all its load balancers). */
  nodeLatest(nodeId: string): NodeTraffic<TrafficRates> {
    const node = this.nodes.get(nodeId);
    const sec = this.latestSecond(node);
    return { nodeId, latest: node && sec !== null ? this.traffic(node, node.total, sec) : null, lastReportAt: node?.lastReportMs || null };
  }

  nodeSeries(nodeId: string, w: SeriesWindow): Record<keyof TrafficRates, (number | null)[]> {
    const node = this.nodes.get(nodeId);
    const pairs: [NodeSeries, Ring | undefined][] = node ? [[node, node.total]] : [];
    return { packets: this.column(pairs, w, 0), bytes: this.column(pairs, w, 1), newFlows: this.column(pairs, w, 2), drops: this.column(pairs, w, 3) };
  }

  /** A load balancer's traffic on one node, latest second. */
  lbOnNode(lbId: string, nodeId: string): NodeTraffic<TrafficRates> {
    const node = this.nodes.get(nodeId);
    const sec = this.latestSecond(node);
    return { nodeId, latest: node && sec !== null ? this.traffic(node, node.lbs.get(lbId), sec) : null, lastReportAt: node?.lastReportMs || null };
  }

  /** A load balancer's traffic summed over the given nodes. */
  lbSeries(lbId: string, nodeIds: readonly string[], w: SeriesWindow): Record<keyof TrafficRates, (number | null)[]> {
    const pairs = this.pairs(nodeIds, (n) => n.lbs.get(lbId));
    return { packets: this.column(pairs, w, 0), bytes: this.column(pairs, w, 1), newFlows: this.column(pairs, w, 2), drops: this.column(pairs, w, 3) };
  }

  /** A backend's traffic (one address of a load balancer) summed over the given nodes. */
  backendSeries(lbId: string, address: string, nodeIds: readonly string[], w: SeriesWindow): Record<keyof BackendRates, (number | null)[]> {
    const pairs = this.pairs(nodeIds, (n) => n.backends.get(`${lbId}|${address}`));
    return { packets: this.column(pairs, w, 0), bytes: this.column(pairs, w, 1) };
  }

  /** A backend's current rates summed over the nodes with a current value; null if none has one. */
  backendLatest(lbId: string, address: string, nodeIds: readonly string[]): BackendRates | null {
    let out: BackendRates | null = null;
    for (const id of nodeIds) {
      const node = this.nodes.get(id);
      const sec = this.latestSecond(node);
      if (!node || sec === null) continue;
      const ring = node.backends.get(`${lbId}|${address}`);
      out ??= { packets: 0, bytes: 0 };
      out.packets += this.rate(node, ring, sec, 0) ?? 0;
      out.bytes += this.rate(node, ring, sec, 1) ?? 0;
    }
    return out;
  }

  private pairs(nodeIds: readonly string[], pick: (n: NodeSeries) => Ring | undefined): [NodeSeries, Ring | undefined][] {
    const out: [NodeSeries, Ring | undefined][] = [];
    for (const id of new Set(nodeIds)) {
      const n = this.nodes.get(id);
      if (n) out.push([n, pick(n)]);
    }
    return out;
  }
}
