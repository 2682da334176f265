// The hub and the jobs against a real server (HTTP + websockets + database), with scripted
// agents speaking the protocol: registration, snapshot/update/tombstone, acks → ACTIVE,
// health → operating status, malformed messages, revocation, failover when a node goes silent.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import net from "node:net";
import { WebSocket } from "ws";
import { openTestDatabase } from "../testing/db";
import { openServices, type Services } from "../services";
import { loadEnv } from "../env";
import { createHttpServer, type TenbinHttpServer } from "../http";
import { createLogger } from "../log";
import { appRouter } from "../api/root";
import { createCallerFactory } from "../api/trpc";
import { SYSTEM_ACTOR } from "../domain/context";
import { AgentHub, CHANGES_CHANNEL } from "./hub";
import { joinHandler } from "./join";
import { Jobs } from "../jobs/scheduler";
import { AGENT_PATH, CloseCode, PROTOCOL_VERSION, type HubMessage } from "../protocol/agent";

let services: Services;
let http: TenbinHttpServer;
let hub: AgentHub;
let jobs: Jobs;
let base: string;
let unlisten: () => Promise<void>;
const createCaller = createCallerFactory(appRouter);
let admin: ReturnType<typeof createCaller>;

beforeAll(async () => {
  const database = await openTestDatabase();
  const env = loadEnv({ ...process.env, TENBIN_AUTH_SECRET: "h".repeat(40), TENBIN_DATA_DIR: "/nonexistent" });
  services = await openServices(env, { database, baseURL: "http://localhost:1" });
  const log = createLogger("silent");
  hub = new AgentHub(database, log, {}, { pollMs: 500 });
  await hub.start();
  jobs = new Jobs(database, services.auth, log, { intervalMs: 200, heartbeatTimeoutMs: 1500 });
  unlisten = await database.listen(CHANGES_CHANNEL, () => jobs.wake());
  jobs.start();
  http = createHttpServer({
    services,
    log,
    upgrades: new Map([[AGENT_PATH, hub.handleUpgrade]]),
    routes: new Map([["/api/agent/join", joinHandler(database.db)]]),
  });
  await new Promise<void>((r) => http.server.listen(0, "127.0.0.1", r));
  base = `127.0.0.1:${(http.server.address() as net.AddressInfo).port}`;
  admin = createCaller({ deps: services.deps, actor: { ...SYSTEM_ACTOR, email: "root" }, authError: null });
  const region = await admin.regions.create({ name: "r1" });
  await admin.azs.create({ regionId: region.id, name: "a" });
  await admin.azs.create({ regionId: region.id, name: "b" });
  await admin.ipPools.create({ regionId: region.id, name: "vips", cidr: "198.19.0.0/24" });
  await admin.tenants.create({ slug: "t1", name: "T1" });
}, 120_000);

afterAll(async () => {
  await hub?.stop();
  await jobs?.stop();
  await unlisten?.();
  await http?.shutdown(200);
  await services?.close();
});

/** A scripted agent: records what the hub sends, answers what the test tells it to. */
class ScriptedAgent {
  ws!: WebSocket;
  inbox: HubMessage[] = [];
  closed: { code: number; reason: string } | null = null;
  private waiters: (() => void)[] = [];
  constructor(readonly credential: string) {}
  async connect() {
    this.ws = new WebSocket(`ws://${base}${AGENT_PATH}`, { headers: { authorization: `Bearer ${this.credential}` } });
    this.ws.on("message", (d) => {
      this.inbox.push(JSON.parse(String(d)) as HubMessage);
      for (const w of this.waiters.splice(0)) w();
    });
    this.ws.on("close", (code, reason) => {
      this.closed = { code, reason: String(reason) };
      for (const w of this.waiters.splice(0)) w();
    });
    await new Promise<void>((resolve, reject) => {
      this.ws.once("open", () => resolve());
      this.ws.once("error", reject);
    });
  }
  send(msg: object) {
    this.ws.send(JSON.stringify(msg));
  }
  hello() {
    this.send({ type: "hello", protocolVersion: PROTOCOL_VERSION, agentVersion: "test-1", lastAppliedRevision: 0, restored: { vips: 0, backends: 0 } });
  }
  heartbeat() {
    this.send({ type: "heartbeat", at: Date.now(), bgp: { peersUp: 1, peersTotal: 1 }, advertised: 0 });
  }
  async waitFor<T extends HubMessage>(pred: (m: HubMessage) => m is T, timeoutMs?: number): Promise<T>;
  async waitFor(pred: (m: HubMessage) => boolean, timeoutMs?: number): Promise<HubMessage>;
  async waitFor(pred: (m: HubMessage) => boolean, timeoutMs = 10_000): Promise<HubMessage> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.inbox.findIndex(pred);
      if (i >= 0) return this.inbox.splice(i, 1)[0]!;
      if (this.closed) throw new Error(`socket closed: ${this.closed.code} ${this.closed.reason}`);
      if (Date.now() > deadline) throw new Error(`timed out; inbox: ${JSON.stringify(this.inbox).slice(0, 500)}`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 100);
      });
    }
  }
  close() {
    this.ws.close();
  }
}

async function join(name: string, azId: string, address: string) {
  const node = await admin.nodes.create({ name, azId, address, asn: 65001, peers: [{ address: "198.18.0.1", asn: 65000 }], capacity: 100 });
  const { joinToken } = await admin.agents.issueJoinToken({ nodeId: node.id });
  const res = await fetch(`http://${base}/api/agent/join`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ joinToken, agentVersion: "test-1" }),
  });
  expect(res.status).toBe(200);
  const body = (await res.json()) as { nodeId: string; credential: string };
  // A join token works once.
  const again = await fetch(`http://${base}/api/agent/join`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ joinToken, agentVersion: "test-1" }),
  });
  expect(again.status).toBe(401);
  return { nodeId: body.nodeId, credential: body.credential };
}

const isSnapshot = (m: HubMessage): m is Extract<HubMessage, { type: "snapshot" }> => m.type === "snapshot";
const isUpdate = (m: HubMessage): m is Extract<HubMessage, { type: "update" }> => m.type === "update";

describe("agent hub and jobs", () => {
  let a1: ScriptedAgent;
  let b1: ScriptedAgent;
  let a1Id: string;
  let b1Id: string;
  let lbId: string;

  it("nodes join with one-time tokens; a bad credential is refused before the upgrade", async () => {
    const azs = await admin.azs.list({});
    const azA = azs.find((z) => z.name === "a")!;
    const azB = azs.find((z) => z.name === "b")!;
    const j1 = await join("lb-a1", azA.id, "198.18.1.1");
    const j2 = await join("lb-b1", azB.id, "198.18.1.2");
    a1Id = j1.nodeId;
    b1Id = j2.nodeId;
    a1 = new ScriptedAgent(j1.credential);
    b1 = new ScriptedAgent(j2.credential);
    const bad = new ScriptedAgent("tbn_not-a-real-credential");
    await expect(bad.connect()).rejects.toThrow(/401/);
    const bogus = await fetch(`http://${base}/api/agent/join`, { method: "POST", body: "{}" });
    expect(bogus.status).toBe(400);
  });

  it("sends a snapshot on hello, then places a new VIP on both nodes (2 AZs) and pushes it", async () => {
    await a1.connect();
    await b1.connect();
    a1.hello();
    b1.hello();
    expect((await a1.waitFor(isSnapshot)).vips).toEqual([]);
    expect((await b1.waitFor(isSnapshot)).vips).toEqual([]);
    const lb = await admin.lb.create({
      tenantId: "t1",
      name: "web",
      pools: [{ name: "p", members: [{ address: "198.18.2.1", port: 80 }, { address: "198.18.2.2", port: 80 }], monitor: { type: "TCP" } }],
      listeners: [{ protocol: "TCP", port: 80, pool: "p" }],
    });
    lbId = lb.id;
    const u1 = await a1.waitFor((m): m is HubMessage => isUpdate(m) && m.vips.some((v) => v.lbId === lb.id));
    const u2 = await b1.waitFor((m): m is HubMessage => isUpdate(m) && m.vips.some((v) => v.lbId === lb.id));
    const vip = (u1 as Extract<HubMessage, { type: "update" }>).vips[0]!;
    expect(vip).toMatchObject({ address: "198.19.0.1", revision: lb.revision });
    expect(vip.pools[0]!.members.map((m) => m.address)).toEqual(["198.18.2.1", "198.18.2.2"]);
    expect(u2.type).toBe("update");
    const view = await admin.lb.get({ tenantId: "t1", lb: lb.id });
    expect(view.provisioning).toMatchObject({ status: "PENDING_CREATE", nodesTotal: 2, nodesAtRevision: 0 });
  });

  it("acks turn provisioning ACTIVE with 'n/n nodes at revision r'", async () => {
    const lb = await admin.lb.get({ tenantId: "t1", lb: lbId });
    a1.send({ type: "ack", results: [{ lbId, revision: lb.revision, ok: true, error: null, advertised: true }] });
    await expect.poll(async () => (await admin.lb.get({ tenantId: "t1", lb: lbId })).provisioning.reason, { timeout: 5000 }).toMatch(/1\/2 nodes/);
    b1.send({ type: "ack", results: [{ lbId, revision: lb.revision, ok: true, error: null, advertised: true }] });
    await expect
      .poll(async () => (await admin.lb.get({ tenantId: "t1", lb: lbId })).provisioning, { timeout: 5000 })
      .toMatchObject({ status: "ACTIVE", reason: `2/2 nodes at revision ${lb.revision}` });
    const active = await admin.lb.get({ tenantId: "t1", lb: lbId });
    expect(active.placements.map((p) => `${p.nodeName}:${p.appliedRevision}:${p.advertised}`).sort()).toEqual([
      `lb-a1:${lb.revision}:true`,
      `lb-b1:${lb.revision}:true`,
    ]);
    expect(await admin.nodes.get({ nodeId: a1Id })).toMatchObject({ joined: true, vipCount: 1, vipsBehind: 0, desiredRevision: lb.revision });
    // A change makes it pending again, with the new revision pushed.
    const changed = await admin.poolMembers.setState({ tenantId: "t1", target: { lb: lbId, pool: "p" }, members: [{ address: "198.18.2.2", port: 80 }], state: "disabled" });
    expect(changed.provisioning.status).toBe("PENDING_UPDATE");
    const u = await a1.waitFor((m): m is HubMessage => isUpdate(m) && m.vips.some((v) => v.revision === changed.revision));
    expect((u as Extract<HubMessage, { type: "update" }>).vips[0]!.pools[0]!.members[1]!.adminState).toBe("disabled");
    expect(await admin.nodes.get({ nodeId: a1Id })).toMatchObject({ vipsBehind: 1, desiredRevision: changed.revision });
  });

  it("health reports roll up into operating status with a per-node breakdown", async () => {
    const lb = await admin.lb.get({ tenantId: "t1", lb: lbId });
    const poolId = lb.pools[0]!.id;
    const t = Date.now();
    a1.send({ type: "health", transitions: [{ lbId, poolId, address: "198.18.2.1", port: 80, state: "up", reason: "TCP connect ok", at: t }] });
    b1.send({ type: "health", transitions: [{ lbId, poolId, address: "198.18.2.1", port: 80, state: "down", reason: "connect ECONNREFUSED", at: t }] });
    await expect
      .poll(async () => (await admin.lb.get({ tenantId: "t1", lb: lbId })).pools[0]!.members[0]!.operating, { timeout: 5000 })
      .toMatchObject({ status: "DEGRADED", reason: /down on 1 of 2 nodes: connect ECONNREFUSED/ });
    const view = await admin.lb.get({ tenantId: "t1", lb: lbId });
    const m = view.pools[0]!.members[0]!;
    expect(m.nodes.map((n) => n.state).sort()).toEqual(["down", "up"]);
    // The only enabled member is degraded: so are its pool and the load balancer (not "no reports").
    expect(view.operating.status).toBe("DEGRADED");
  });

  it("a malformed message closes that socket with a reason and applies nothing", async () => {
    const before = await admin.lb.get({ tenantId: "t1", lb: lbId });
    b1.send({ type: "ack", results: [{ lbId, revision: "NaN" }] });
    await expect.poll(() => b1.closed?.code, { timeout: 5000 }).toBe(CloseCode.malformed);
    expect(b1.closed!.reason).toMatch(/invalid message/);
    const after = await admin.lb.get({ tenantId: "t1", lb: lbId });
    expect(after.placements).toEqual(before.placements);
    // The other agent is unaffected.
    a1.heartbeat();
    expect(a1.closed).toBeNull();
  });

  it("a node that goes silent is marked down and its VIPs move; a revoked node is cut off", async () => {
    // b1 is disconnected now and sends no heartbeats; a1 keeps beating.
    const beat = setInterval(() => a1.heartbeat(), 300);
    try {
      await expect.poll(async () => (await admin.nodes.get({ nodeId: b1Id })).state, { timeout: 10_000 }).toBe("down");
      const node = await admin.nodes.get({ nodeId: b1Id });
      expect(node.stateReason).toMatch(/auto: no heartbeat/);
      await expect
        .poll(async () => (await admin.lb.get({ tenantId: "t1", lb: lbId })).placements.map((p) => p.nodeId), { timeout: 10_000 })
        .toEqual([a1Id]);
    } finally {
      clearInterval(beat);
    }
    await admin.agents.revokeCredential({ nodeId: a1Id });
    a1.heartbeat();
    await expect.poll(() => a1.closed?.code, { timeout: 5000 }).toBe(CloseCode.revoked);
  });
});
