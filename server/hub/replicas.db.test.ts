// Two server replicas on one PostgreSQL database: a change made through replica A reaches an
// agent connected to replica B (LISTEN/NOTIFY wakes B's hub, which reads the revision log).
// PGlite is single-process by design, so this runs in the "postgres" project only.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import net from "node:net";
import { WebSocket } from "ws";
import { openTestDatabase } from "../testing/db";
import { openDatabase, type Database } from "../db/client";
import { openServices, type Services } from "../services";
import { loadEnv } from "../env";
import { createHttpServer, type TenbinHttpServer } from "../http";
import { createLogger } from "../log";
import { appRouter } from "../api/root";
import { createCallerFactory } from "../api/trpc";
import { SYSTEM_ACTOR } from "../domain/context";
import { exchangeJoinToken } from "../domain/agents";
import { AgentHub, CHANGES_CHANNEL } from "./hub";
import { Jobs } from "../jobs/scheduler";
import { AGENT_PATH, PROTOCOL_VERSION, type HubMessage } from "../protocol/agent";

const onPostgres = loadEnv().TENBIN_TEST_DB === "postgres";
const createCaller = createCallerFactory(appRouter);

describe.skipIf(!onPostgres)("two server replicas (PostgreSQL; PGlite is single-process)", () => {
  let a: Services;
  let bDb: Database;
  let hubA: AgentHub;
  let hubB: AgentHub;
  let jobs: Jobs;
  let httpB: TenbinHttpServer;
  let unlisten: () => Promise<void>;
  let admin: ReturnType<typeof createCaller>;
  let ws: WebSocket;
  const inbox: HubMessage[] = [];

  beforeAll(async () => {
    const database = await openTestDatabase();
    const env = loadEnv({ ...process.env, TENBIN_AUTH_SECRET: "r".repeat(40), TENBIN_DATA_DIR: "/nonexistent" });
    a = await openServices(env, { database, baseURL: "http://localhost:1" });
    bDb = await openDatabase({ url: database.url! });
    const log = createLogger("silent");
    // Long polls: only NOTIFY can deliver changes quickly.
    hubA = new AgentHub(database, log, {}, { pollMs: 60_000 });
    hubB = new AgentHub(bDb, log, {}, { pollMs: 60_000 });
    await hubA.start();
    await hubB.start();
    jobs = new Jobs(database, a.auth, log, { intervalMs: 200 });
    unlisten = await database.listen(CHANGES_CHANNEL, () => jobs.wake());
    jobs.start();
    httpB = createHttpServer({ services: a, log, upgrades: new Map([[AGENT_PATH, hubB.handleUpgrade]]) });
    await new Promise<void>((r) => httpB.server.listen(0, "127.0.0.1", r));
    admin = createCaller({ deps: a.deps, actor: { ...SYSTEM_ACTOR, email: "root" }, authError: null });
  }, 120_000);

  afterAll(async () => {
    ws?.close();
    await hubA?.stop();
    await hubB?.stop();
    await jobs?.stop();
    await unlisten?.();
    await httpB?.shutdown(200);
    await bDb?.close();
    await a?.close();
  });

  it("a VIP created through replica A is pushed by replica B's hub to its agent", async () => {
    const region = await admin.regions.create({ name: "r" });
    const az = await admin.azs.create({ regionId: region.id, name: "a" });
    await admin.ipPools.create({ regionId: region.id, name: "vips", cidr: "198.19.7.0/24" });
    await admin.tenants.create({ slug: "rep", name: "Rep" });
    const node = await admin.nodes.create({ name: "lb-1", azId: az.id, address: "198.18.7.1", asn: 65001, capacity: 10 });
    const { joinToken } = await admin.agents.issueJoinToken({ nodeId: node.id });
    const { credential } = await exchangeJoinToken(a.database.db, { joinToken, agentVersion: "t" });

    const port = (httpB.server.address() as net.AddressInfo).port;
    ws = new WebSocket(`ws://127.0.0.1:${port}${AGENT_PATH}`, { headers: { authorization: `Bearer ${credential}` } });
    ws.on("message", (d) => inbox.push(JSON.parse(String(d)) as HubMessage));
    await new Promise((r, j) => (ws.once("open", r), ws.once("error", j)));
    ws.send(JSON.stringify({ type: "hello", protocolVersion: PROTOCOL_VERSION, agentVersion: "t", lastAppliedRevision: 0, restored: { vips: 0, backends: 0 } }));
    await expect.poll(() => inbox.some((m) => m.type === "snapshot"), { timeout: 10_000 }).toBe(true);

    const lb = await admin.lb.create({
      tenantId: "rep",
      name: "web",
      replicas: 1,
      pools: [{ name: "p", members: [{ address: "198.18.8.1", port: 80 }] }],
      listeners: [{ protocol: "TCP", port: 80, pool: "p" }],
    });
    await expect
      .poll(() => inbox.some((m) => m.type === "update" && m.vips.some((v) => v.lbId === lb.id)), { timeout: 10_000 })
      .toBe(true);
    const changed = await admin.poolMembers.add({ tenantId: "rep", target: { lb: lb.id, pool: "p" }, members: [{ address: "198.18.8.2", port: 80 }] });
    await expect
      .poll(() => inbox.some((m) => m.type === "update" && m.vips.some((v) => v.revision === changed.revision)), { timeout: 10_000 })
      .toBe(true);
  });
});
