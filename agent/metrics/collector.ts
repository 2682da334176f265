// Every second: read the data plane's per-CPU counters (summed over CPUs), subtract the previous
// reading, and turn the deltas into the hub's terms: per (lbId, listenerId) and per (lbId,
// backend address). A counter that went backwards (slot reused after a listener or backend was
// recreated) counts from zero.
import type { DatapathStats, ListenerCounters } from "../datapath/datapath";

export interface Owners {
  listenerOwner(dpId: number): { lbId: string; listenerId: string } | undefined;
  backendOwner(id: number): { lbId: string; address: string } | undefined;
}

export interface ListenerDelta {
  lbId: string;
  listenerId: string;
  packets: number;
  bytes: number;
  newFlows: number;
  drops: number;
}

export interface BackendDelta {
  lbId: string;
  address: string;
  packets: number;
  bytes: number;
}

export interface MetricsSample {
  at: number;
  intervalMs: number;
  listeners: ListenerDelta[];
  backends: BackendDelta[];
}

const DROP_COUNTERS = ["dropDenied", "dropNoBackend", "dropEncap", "dropNoRoute"] as const;

function delta(now: bigint, before: bigint | undefined): number {
  if (before === undefined || now < before) return Number(now);
  return Number(now - before);
}

function drops(c: ListenerCounters): bigint {
  let sum = 0n;
  for (const k of DROP_COUNTERS) sum += c[k] ?? 0n;
  return sum;
}

/** Turns successive readings into deltas; pure apart from remembering the last reading. */
export class MetricsDeltas {
  private listeners = new Map<number, { owner: string; packets: bigint; bytes: bigint; newFlows: bigint; drops: bigint }>();
  private backends = new Map<number, { owner: string; packets: bigint; bytes: bigint }>();
  private lastAt = 0;

  /** The deltas since the previous call (the first call only records a baseline). */
  sample(stats: DatapathStats, owners: Owners, at: number): MetricsSample | null {
    const first = this.lastAt === 0;
    const intervalMs = first ? 0 : Math.max(1, at - this.lastAt);
    this.lastAt = at;
    const listeners: ListenerDelta[] = [];
    const backends: BackendDelta[] = [];
    const nextListeners: typeof this.listeners = new Map();
    for (const [id, c] of stats.listeners) {
      const owner = owners.listenerOwner(id);
      if (!owner) continue;
      const ownerKey = `${owner.lbId}|${owner.listenerId}`;
      const cur = { owner: ownerKey, packets: c.packets, bytes: c.bytes, newFlows: c.newFlows, drops: drops(c) };
      nextListeners.set(id, cur);
      // A slot that changed owner starts from zero for the new owner.
      const prev = this.listeners.get(id);
      const base = prev && prev.owner === ownerKey ? prev : undefined;
      if (first) continue;
      const d = {
        lbId: owner.lbId,
        listenerId: owner.listenerId,
        packets: delta(cur.packets, base?.packets),
        bytes: delta(cur.bytes, base?.bytes),
        newFlows: delta(cur.newFlows, base?.newFlows),
        drops: delta(cur.drops, base?.drops),
      };
      if (d.packets || d.bytes || d.newFlows || d.drops) listeners.push(d);
    }
    const nextBackends: typeof this.backends = new Map();
    for (const [id, c] of stats.backends) {
      const owner = owners.backendOwner(id);
      if (!owner) continue;
      const ownerKey = `${owner.lbId}|${owner.address}`;
      nextBackends.set(id, { owner: ownerKey, packets: c.packets, bytes: c.bytes });
      const prev = this.backends.get(id);
      const base = prev && prev.owner === ownerKey ? prev : undefined;
      if (first) continue;
      const d = { lbId: owner.lbId, address: owner.address, packets: delta(c.packets, base?.packets), bytes: delta(c.bytes, base?.bytes) };
      if (d.packets || d.bytes) backends.push(d);
    }
    this.listeners = nextListeners;
    this.backends = nextBackends;
    return first ? null : { at, intervalMs, listeners, backends };
  }
}

export interface MetricsLoopOptions {
  read: () => DatapathStats;
  owners: Owners;
  onSample: (s: MetricsSample) => void;
  intervalMs?: number;
  onError?: (e: unknown) => void;
}

/** Reads the counters every `intervalMs` (default 1 s) and reports the deltas. */
export class MetricsLoop {
  private timer: NodeJS.Timeout | null = null;
  private readonly deltas = new MetricsDeltas();

  constructor(private readonly opts: MetricsLoopOptions) {}

  start(): void {
    if (this.timer) return;
    this.tick(); // baseline
    this.timer = setInterval(() => this.tick(), this.opts.intervalMs ?? 1_000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  tick(): void {
    try {
      const s = this.deltas.sample(this.opts.read(), this.opts.owners, Date.now());
      if (s) this.opts.onSample(s);
    } catch (e) {
      this.opts.onError?.(e);
    }
  }
}
