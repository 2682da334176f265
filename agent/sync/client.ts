// The agent's side of /ws/agent: one websocket, `hello` first, then hub messages applied in
// order; a malformed hub message closes the socket with a reason and applies nothing; jittered
// exponential reconnect; a periodic full resync; heartbeats; pings to notice a dead peer.
// Outgoing messages go through the bounded, coalescing Outbox.
import WebSocket from "ws";
import {
  AGENT_PATH,
  CloseCode,
  MAX_MESSAGE_BYTES,
  PROTOCOL_VERSION,
  hubMessage,
  parseFrame,
  type AgentMessage,
  type HubMessage,
} from "../../server/protocol/agent";
import { backoffDelay } from "../reconcile/reconciler";
import { Outbox, type OutboxLimits } from "./outbox";

type Heartbeat = Omit<Extract<AgentMessage, { type: "heartbeat" }>, "type">;
type HelloInfo = { lastAppliedRevision: number; restored: { vips: number; backends: number } };

interface Logger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  debug?(obj: object, msg?: string): void;
}

export interface SyncClientOptions {
  /** Hub websocket URL (ws:// or wss://); see hubUrl(). */
  url: string;
  /** The node credential (may exchange a join token on first use). */
  credential: () => Promise<string> | string;
  agentVersion: string;
  hello: () => HelloInfo;
  /** Applies one validated hub message; resolves when applied (messages are applied in order). */
  onMessage: (msg: HubMessage) => Promise<void>;
  /** After `hello` on every new connection (e.g. re-send the current acks and health). */
  onConnected?: () => void;
  heartbeat?: () => Promise<Heartbeat> | Heartbeat;
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  resyncIntervalMs?: number;
  heartbeatIntervalMs?: number;
  pingIntervalMs?: number;
  /** Stop sending while the socket buffers more than this (bytes). */
  highWaterBytes?: number;
  outboxLimits?: OutboxLimits;
  tls?: { ca?: string; rejectUnauthorized?: boolean };
  log?: Logger;
  random?: () => number;
}

/** ws(s)://host[:port]/ws/agent from the server's base URL (http, https, ws or wss). */
export function hubUrl(serverUrl: string): string {
  const u = new URL(serverUrl);
  if (u.protocol === "http:") u.protocol = "ws:";
  else if (u.protocol === "https:") u.protocol = "wss:";
  else if (u.protocol !== "ws:" && u.protocol !== "wss:") throw new Error(`server URL ${serverUrl} must be http(s) or ws(s)`);
  if (!u.pathname.endsWith(AGENT_PATH)) u.pathname = u.pathname.replace(/\/$/, "") + AGENT_PATH;
  return u.toString();
}

const silent: Logger = { info() {}, warn() {}, error() {} };

export class SyncClient {
  readonly outbox: Outbox;
  private ws: WebSocket | null = null;
  private attempt = 0;
  private stopped = true;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private timers: NodeJS.Timeout[] = [];
  private flushScheduled = false;
  private applying: Promise<void> = Promise.resolve();
  private readonly log: Logger;
  private readonly random: () => number;
  private readonly minMs: number;
  private readonly maxMs: number;
  private readonly highWater: number;
  /** Counters for logs, metrics and tests. */
  readonly stats = { connects: 0, disconnects: 0, malformed: 0, applied: 0, sent: 0 };
  lastClose: { code: number; reason: string } | null = null;
  /** Delays chosen before each reconnect (tests; last 32). */
  readonly reconnectDelays: number[] = [];

  constructor(private readonly opts: SyncClientOptions) {
    this.outbox = new Outbox(opts.outboxLimits);
    this.log = opts.log ?? silent;
    this.random = opts.random ?? Math.random;
    this.minMs = opts.reconnectMinMs ?? 500;
    this.maxMs = opts.reconnectMaxMs ?? 30_000;
    this.highWater = opts.highWaterBytes ?? 1 << 20;
  }

  get connected(): boolean {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.connectSafely();
  }

  /** Closes the socket and stops reconnecting; waits for the message being applied. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    this.clearTimers();
    const ws = this.ws;
    this.ws = null;
    if (ws && ws.readyState !== WebSocket.CLOSED) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          ws.terminate();
          resolve();
        }, 2_000);
        ws.once("close", () => {
          clearTimeout(t);
          resolve();
        });
        ws.close(CloseCode.shuttingDown, "agent stopping");
      });
    }
    await this.applying;
  }

  // ---- outgoing ---------------------------------------------------------------------

  sendAcks(results: Parameters<Outbox["addAcks"]>[0]): void {
    this.outbox.addAcks(results);
    this.scheduleFlush();
  }

  sendHealth(transitions: Parameters<Outbox["addHealth"]>[0]): void {
    this.outbox.addHealth(transitions);
    this.scheduleFlush();
  }

  /** Metrics are live data: dropped while disconnected. */
  sendMetrics(m: Parameters<Outbox["addMetrics"]>[0]): void {
    if (!this.connected) return;
    this.outbox.addMetrics(m);
    this.scheduleFlush();
  }

  requestResync(reason: string): void {
    if (!this.connected) return; // a new connection starts with a snapshot anyway
    this.outbox.requestResync(reason);
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return;
    while (ws.bufferedAmount < this.highWater) {
      const msg = this.outbox.next();
      if (!msg) return;
      this.sendNow(ws, msg);
    }
    // Slow socket: try again once it drained a little (coalescing meanwhile).
    setTimeout(() => this.scheduleFlush(), 50).unref();
  }

  private sendNow(ws: WebSocket, msg: AgentMessage): void {
    const text = JSON.stringify(msg);
    if (text.length > MAX_MESSAGE_BYTES) {
      this.log.error({ type: msg.type, bytes: text.length }, "outgoing message too large; dropped");
      return;
    }
    this.stats.sent++;
    ws.send(text, (err) => {
      if (err) this.log.debug?.({ err }, "send failed");
    });
  }

  // ---- connection -------------------------------------------------------------------

  private connectSafely(): void {
    this.connect().catch((e: unknown) => {
      this.log.error({ err: e }, "cannot open the hub connection");
      this.ws = null;
      this.scheduleReconnect();
    });
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    let credential: string;
    try {
      credential = await this.opts.credential();
    } catch (e) {
      this.log.error({ err: e }, "no node credential; will retry");
      this.scheduleReconnect();
      return;
    }
    if (this.stopped) return;
    const ws = new WebSocket(this.opts.url, {
      headers: { Authorization: `Bearer ${credential}` },
      maxPayload: MAX_MESSAGE_BYTES,
      handshakeTimeout: 10_000,
      perMessageDeflate: false,
      ...(this.opts.tls?.ca ? { ca: this.opts.tls.ca } : {}),
      ...(this.opts.tls?.rejectUnauthorized === false ? { rejectUnauthorized: false } : {}),
    });
    this.ws = ws;
    let discard = false; // set once this socket carried a malformed message
    let lastPong = Date.now();

    ws.on("open", () => {
      this.stats.connects++;
      const hello: AgentMessage = { type: "hello", protocolVersion: PROTOCOL_VERSION, agentVersion: this.opts.agentVersion, ...this.opts.hello() };
      this.sendNow(ws, hello);
      this.log.info({ url: this.opts.url, lastAppliedRevision: hello.lastAppliedRevision }, "connected to hub");
      this.opts.onConnected?.();
      this.scheduleFlush();
      this.startTimers(ws, () => lastPong, (t) => (lastPong = t));
    });
    ws.on("pong", () => {
      lastPong = Date.now();
    });
    ws.on("message", (data: WebSocket.RawData, isBinary: boolean) => {
      if (discard || this.ws !== ws) return;
      const frame = isBinary ? (data as Buffer) : Array.isArray(data) ? Buffer.concat(data).toString("utf8") : data.toString();
      const parsed = parseFrame(hubMessage, frame);
      if (!parsed.ok) {
        discard = true;
        this.stats.malformed++;
        this.log.error({ reason: parsed.reason }, "malformed hub message; closing and reconnecting");
        ws.close(CloseCode.malformed, truncateReason(parsed.reason));
        return;
      }
      const msg = parsed.msg;
      this.applying = this.applying
        .then(async () => {
          await this.opts.onMessage(msg);
          this.stats.applied++;
          if (this.ws === ws) this.attempt = 0; // a working connection resets the backoff
        })
        .catch((e: unknown) => {
          this.log.error({ err: e, type: msg.type }, "applying a hub message failed; asking for a full resync");
          if (this.ws === ws) this.requestResync("apply failed");
        });
    });
    ws.on("unexpected-response", (_req, res) => {
      this.log.error({ status: res.statusCode }, "hub refused the websocket upgrade");
      this.lastClose = { code: res.statusCode ?? 0, reason: `HTTP ${res.statusCode}` };
      ws.terminate();
    });
    ws.on("error", (err) => {
      this.log.warn({ err: err.message }, "hub connection error");
    });
    ws.on("close", (code: number, reason: Buffer) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.stats.disconnects++;
      this.clearTimers();
      this.outbox.dropVolatile();
      const text = reason.toString();
      if (!this.lastClose || code !== 1006 || !this.lastClose.reason.startsWith("HTTP")) this.lastClose = { code, reason: text };
      if (code === CloseCode.unauthorized || code === CloseCode.revoked || code === CloseCode.versionMismatch) {
        this.log.error({ code, reason: text }, "hub refused this agent; retrying slowly");
        this.attempt = Math.max(this.attempt, 30); // the longest delay: a human must act
      } else if (!this.stopped) {
        this.log.warn({ code, reason: text }, "disconnected from hub");
      }
      this.scheduleReconnect();
    });
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.reconnectTimer) return;
    this.attempt++;
    const delay = backoffDelay(this.attempt, { baseMs: this.minMs, maxMs: this.maxMs }, this.random);
    this.reconnectDelays.push(delay);
    if (this.reconnectDelays.length > 32) this.reconnectDelays.shift();
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.connectSafely();
    }, delay);
  }

  private startTimers(ws: WebSocket, lastPong: () => number, setPong: (t: number) => void): void {
    this.clearTimers();
    const every = (ms: number | undefined, fn: () => void) => {
      if (!ms || ms <= 0) return;
      const t = setInterval(fn, ms);
      t.unref();
      this.timers.push(t);
    };
    every(this.opts.resyncIntervalMs ?? 300_000, () => this.requestResync("periodic"));
    every(this.opts.heartbeatIntervalMs ?? 5_000, () => {
      const hb = this.opts.heartbeat;
      if (!hb) return;
      Promise.resolve(hb())
        .then((h) => {
          if (this.ws !== ws) return;
          this.outbox.setHeartbeat(h);
          this.scheduleFlush();
        })
        .catch((e: unknown) => this.log.warn({ err: e }, "heartbeat failed"));
    });
    const pingMs = this.opts.pingIntervalMs ?? 15_000;
    setPong(Date.now());
    every(pingMs, () => {
      if (Date.now() - lastPong() > 2 * pingMs + 1_000) {
        this.log.warn({}, "hub stopped answering pings; reconnecting");
        ws.terminate();
        return;
      }
      ws.ping();
    });
  }

  private clearTimers(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
  }
}

/** Close reasons are limited to 123 bytes. */
function truncateReason(reason: string): string {
  let r = reason;
  while (Buffer.byteLength(r) > 123) r = r.slice(0, -1);
  return r;
}
