// The agent's outgoing queue. It never grows without bound: everything is coalesced by key
// (latest state wins) while the socket is slow or down, and it is flushed only while the
// socket's send buffer is below a high-water mark.
//   - acks:      latest result per VIP;
//   - health:    latest transition per member (lbId, pool, address, port);
//   - metrics:   deltas are SUMMED per listener / backend (nothing counted is lost while slow);
//                dropped while disconnected (the hub only wants live rates);
//   - heartbeat: latest only;
//   - resync:    one pending request.
// Big batches are split to stay inside the protocol's per-message limits.
import type { AgentMessage } from "../../server/protocol/agent";

type Ack = Extract<AgentMessage, { type: "ack" }>["results"][number];
type Health = Extract<AgentMessage, { type: "health" }>["transitions"][number];
type Metrics = Extract<AgentMessage, { type: "metrics" }>;
type Heartbeat = Extract<AgentMessage, { type: "heartbeat" }>;

export interface OutboxLimits {
  /** Most entries kept per kind while they cannot be sent (oldest dropped first). */
  maxAcks: number;
  maxHealth: number;
  maxMetricKeys: number;
  /** Entries per message. */
  acksPerMessage: number;
  healthPerMessage: number;
  metricsPerMessage: number;
}

export const DEFAULT_LIMITS: OutboxLimits = {
  maxAcks: 100_000,
  maxHealth: 200_000,
  maxMetricKeys: 200_000,
  acksPerMessage: 5_000,
  healthPerMessage: 10_000,
  metricsPerMessage: 20_000,
};

function setBounded<K, V>(map: Map<K, V>, key: K, value: V, max: number): number {
  map.delete(key); // re-insert: Map order = age, so the oldest is first
  map.set(key, value);
  let dropped = 0;
  while (map.size > max) {
    map.delete(map.keys().next().value as K);
    dropped++;
  }
  return dropped;
}

export class Outbox {
  private readonly acks = new Map<string, Ack>();
  private readonly health = new Map<string, Health>();
  private readonly listenerMetrics = new Map<string, Metrics["listeners"][number]>();
  private readonly backendMetrics = new Map<string, Metrics["backends"][number]>();
  private metricsAt = 0;
  private metricsIntervalMs = 0;
  private heartbeat: Heartbeat | null = null;
  private resync: string | null = null;
  /** Entries dropped because a bound was reached. */
  dropped = 0;

  constructor(private readonly limits: OutboxLimits = DEFAULT_LIMITS) {}

  addAcks(results: readonly Ack[]): void {
    for (const r of results) this.dropped += setBounded(this.acks, r.lbId, r, this.limits.maxAcks);
  }

  addHealth(transitions: readonly Health[]): void {
    for (const t of transitions) {
      this.dropped += setBounded(this.health, `${t.lbId}|${t.poolId}|${t.address}|${t.port}`, t, this.limits.maxHealth);
    }
  }

  addMetrics(m: Omit<Metrics, "type">): void {
    for (const l of m.listeners) {
      const key = `${l.lbId}|${l.listenerId}`;
      const prev = this.listenerMetrics.get(key);
      const sum = prev
        ? { ...l, packets: prev.packets + l.packets, bytes: prev.bytes + l.bytes, newFlows: prev.newFlows + l.newFlows, drops: prev.drops + l.drops }
        : l;
      this.dropped += setBounded(this.listenerMetrics, key, sum, this.limits.maxMetricKeys);
    }
    for (const b of m.backends) {
      const key = `${b.lbId}|${b.address}`;
      const prev = this.backendMetrics.get(key);
      const sum = prev ? { ...b, packets: prev.packets + b.packets, bytes: prev.bytes + b.bytes } : b;
      this.dropped += setBounded(this.backendMetrics, key, sum, this.limits.maxMetricKeys);
    }
    // The merged message covers every interval since the last one sent.
    this.metricsIntervalMs = this.metricsAt === 0 ? m.intervalMs : this.metricsIntervalMs + m.intervalMs;
    this.metricsAt = m.at;
  }

  setHeartbeat(h: Omit<Heartbeat, "type">): void {
    this.heartbeat = { type: "heartbeat", ...h };
  }

  requestResync(reason: string): void {
    this.resync = reason.slice(0, 200);
  }

  /** What is kept while disconnected: live-only data (metrics, heartbeat) is dropped. */
  dropVolatile(): void {
    this.listenerMetrics.clear();
    this.backendMetrics.clear();
    this.metricsAt = 0;
    this.metricsIntervalMs = 0;
    this.heartbeat = null;
  }

  get size(): number {
    return this.acks.size + this.health.size + this.listenerMetrics.size + this.backendMetrics.size + (this.heartbeat ? 1 : 0) + (this.resync ? 1 : 0);
  }

  /** The next message to send (priority: resync, acks, health, heartbeat, metrics), or null. */
  next(): AgentMessage | null {
    if (this.resync !== null) {
      const reason = this.resync;
      this.resync = null;
      return { type: "resync", reason };
    }
    if (this.acks.size) return { type: "ack", results: take(this.acks, this.limits.acksPerMessage) };
    if (this.health.size) return { type: "health", transitions: take(this.health, this.limits.healthPerMessage) };
    if (this.heartbeat) {
      const h = this.heartbeat;
      this.heartbeat = null;
      return h;
    }
    if (this.listenerMetrics.size || this.backendMetrics.size) {
      const listeners = take(this.listenerMetrics, this.limits.metricsPerMessage);
      const backends = take(this.backendMetrics, this.limits.metricsPerMessage);
      const msg: AgentMessage = {
        type: "metrics",
        at: this.metricsAt,
        intervalMs: Math.max(1, Math.round(this.metricsIntervalMs)),
        listeners,
        backends,
      };
      if (!this.listenerMetrics.size && !this.backendMetrics.size) {
        this.metricsAt = 0;
        this.metricsIntervalMs = 0;
      }
      return msg;
    }
    return null;
  }
}

function take<V>(map: Map<string, V>, n: number): V[] {
  const out: V[] = [];
  for (const [k, v] of map) {
    if (out.length >= n) break;
    out.push(v);
    map.delete(k);
  }
  return out;
}
