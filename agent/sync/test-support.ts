// Test helpers: a small fake hub (a real websocket server on 127.0.0.1) and an agent assembled
// from the real controller, reconcilers, sync client and state store over a FakeDatapath and
// a recording health engine.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { WebSocketServer, type WebSocket } from "ws";
import { agentMessage, AGENT_PATH, type AgentMessage, type DesiredVip } from "../../server/protocol/agent";
import { MaglevPool } from "../datapath/maglev";
import type { HealthTarget } from "../health/types";
import { NodeController } from "../reconcile/controller";
import { DatapathTarget, type DatapathPort } from "../reconcile/datapath-target";
import { FrrTarget } from "../reconcile/frr-target";
import { HealthTargetSet } from "../reconcile/health-target";
import { FakeDatapath } from "../reconcile/test-support";
import { SyncClient } from "./client";
import { StateStore } from "./state-store";

export interface HubConnection {
  ws: WebSocket;
  headers: http.IncomingHttpHeaders;
  messages: AgentMessage[];
  closed: { code: number; reason: string } | null;
  /** Waits for the next (or an already received, unconsumed) message matching `pred`. */
  next<T extends AgentMessage["type"]>(type: T, pred?: (m: Extract<AgentMessage, { type: T }>) => boolean, timeoutMs?: number): Promise<Extract<AgentMessage, { type: T }>>;
  send(msg: unknown): void;
  waitClosed(timeoutMs?: number): Promise<{ code: number; reason: string }>;
}

export class FakeHub {
  readonly connections: HubConnection[] = [];
  private waiters: Array<(c: HubConnection) => void> = [];
  /** Called on every new connection (e.g. close it at once). */
  onConnection: ((c: HubConnection) => void) | null = null;
  private constructor(
    private readonly server: http.Server,
    private readonly wss: WebSocketServer,
  ) {}

  static async start(): Promise<FakeHub> {
    const server = http.createServer((_req, res) => res.writeHead(404).end());
    const wss = new WebSocketServer({ noServer: true });
    const hub = new FakeHub(server, wss);
    server.on("upgrade", (req, socket, head) => {
      if (req.url !== AGENT_PATH) return socket.destroy();
      wss.handleUpgrade(req, socket, head, (ws) => hub.accept(ws, req.headers));
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    return hub;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** The n-th connection (0-based), waiting for it. */
  async connection(n: number, timeoutMs = 5_000): Promise<HubConnection> {
    const deadline = Date.now() + timeoutMs;
    while (this.connections.length <= n) {
      if (Date.now() > deadline) throw new Error(`no connection #${n} within ${timeoutMs} ms`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, 50);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
    return this.connections[n]!;
  }

  async close(): Promise<void> {
    for (const c of this.wss.clients) c.terminate();
    await new Promise<void>((r) => this.wss.close(() => r()));
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private accept(ws: WebSocket, headers: http.IncomingHttpHeaders): void {
    const waiting: Array<() => void> = [];
    let closeWaiters: Array<() => void> = [];
    const consumed = new Set<AgentMessage>();
    const conn: HubConnection = {
      ws,
      headers,
      messages: [],
      closed: null,
      next: async (type, pred, timeoutMs = 5_000) => {
        const deadline = Date.now() + timeoutMs;
        for (;;) {
          const found = conn.messages.find(
            (m) => !consumed.has(m) && m.type === type && (!pred || pred(m as never)),
          );
          if (found) {
            consumed.add(found);
            return found as never;
          }
          if (Date.now() > deadline) throw new Error(`no ${type} message within ${timeoutMs} ms (got ${conn.messages.map((m) => m.type).join(",")})`);
          await new Promise<void>((r) => {
            const t = setTimeout(r, 50);
            waiting.push(() => {
              clearTimeout(t);
              r();
            });
          });
        }
      },
      send: (msg) => ws.send(typeof msg === "string" ? msg : JSON.stringify(msg)),
      waitClosed: async (timeoutMs = 5_000) => {
        const deadline = Date.now() + timeoutMs;
        while (!conn.closed) {
          if (Date.now() > deadline) throw new Error("connection not closed");
          await new Promise<void>((r) => {
            const t = setTimeout(r, 50);
            closeWaiters.push(() => {
              clearTimeout(t);
              r();
            });
          });
        }
        return conn.closed;
      },
    };
    ws.on("message", (data) => {
      const parsed = agentMessage.safeParse(JSON.parse(data.toString()));
      if (!parsed.success) throw new Error(`agent sent an invalid message: ${parsed.error.message}`);
      conn.messages.push(parsed.data);
      for (const w of waiting.splice(0)) w();
    });
    ws.on("close", (code, reason) => {
      conn.closed = { code, reason: reason.toString() };
      for (const w of closeWaiters) w();
      closeWaiters = [];
    });
    this.connections.push(conn);
    for (const w of this.waiters.splice(0)) w(conn);
    this.onConnection?.(conn);
  }
}

/** Records the probe set and lets tests inject verdicts. */
export class RecordingHealthEngine {
  targets: HealthTarget[] = [];
  setTargets(targets: readonly HealthTarget[]) {
    this.targets = [...targets];
    return { rejected: [] };
  }
}

export interface TestAgent {
  dp: FakeDatapath;
  dpTarget: DatapathTarget;
  controller: NodeController;
  client: SyncClient;
  store: StateStore;
  health: RecordingHealthEngine;
  maglev: MaglevPool;
  stop(): Promise<void>;
}

/** Assembles an agent (no hub connection yet: call client.start()). */
export function makeAgent(opts: {
  hubUrl: string;
  stateDir: string;
  dp?: DatapathPort & FakeDatapath;
  credential?: string;
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  random?: () => number;
}): TestAgent {
  const dp = opts.dp ?? new FakeDatapath();
  const maglev = new MaglevPool({ workers: 0, size: dp.tableSize });
  const dpTarget = new DatapathTarget(dp, maglev);
  const store = new StateStore(opts.stateDir);
  const health = new RecordingHealthEngine();
  let client: SyncClient | null = null;
  const controller = new NodeController({
    datapath: dpTarget,
    frr: new FrrTarget(null),
    health: new HealthTargetSet(health),
    persist: (s) => store.saveDesired(s),
    onAcks: (a) => client?.sendAcks(a),
    onHealth: (h) => client?.sendHealth(h),
    backoff: { baseMs: 50, maxMs: 200 },
  });
  client = new SyncClient({
    url: `${opts.hubUrl.replace("http:", "ws:")}${AGENT_PATH}`,
    credential: () => opts.credential ?? "tbn_test",
    agentVersion: "test",
    hello: () => ({ lastAppliedRevision: controller.lastAppliedRevision, restored: { vips: dpTarget.restoredSummary.vips, backends: dpTarget.restoredSummary.backends } }),
    onMessage: (m) => controller.handle(m),
    onConnected: () => {
      client?.sendAcks(controller.ackAll());
      client?.sendHealth(controller.healthReport());
    },
    reconnectMinMs: opts.reconnectMinMs ?? 50,
    reconnectMaxMs: opts.reconnectMaxMs ?? 400,
    heartbeatIntervalMs: 0,
    resyncIntervalMs: 0,
    random: opts.random,
  });
  const c = client;
  return {
    dp,
    dpTarget,
    controller,
    client: c,
    store,
    health,
    maglev,
    async stop() {
      await c.stop();
      await controller.idle();
      controller.close();
      await maglev.close();
    },
  };
}

/** A VIP with one TCP listener on `port` and the given members (address → weight). */
export function testVip(lbId: string, revision: number, address: string, members: Record<string, number>, port = 80): DesiredVip {
  return {
    lbId,
    revision,
    address,
    family: address.includes(":") ? 6 : 4,
    adminEnabled: true,
    listeners: [{ id: `${lbId}-l${port}`, protocol: "TCP", portStart: port, portEnd: port, allowedCidrs: [], affinity: "5-tuple", poolId: `${lbId}-p`, adminEnabled: true }],
    pools: [
      {
        id: `${lbId}-p`,
        minHealthy: { kind: "count", value: 1 },
        allDownPolicy: "withdraw",
        monitor: { type: "TCP", intervalMs: 1000, timeoutMs: 500, rise: 1, fall: 2, port: null, http: null },
        members: Object.entries(members).map(([addr, weight], i) => ({
          id: `${lbId}-m${i}`,
          address: addr,
          port: port,
          weight,
          adminState: "enabled" as const,
          monitorAddress: null,
          monitorPort: null,
        })),
      },
    ],
  };
}

export const NODE = { id: "node-1", name: "lb-a1", state: "active" as const };
