// The control loop end to end, for real: a Tenbin server (HTTP API, agent hub, jobs; PostgreSQL
// when TEST_DATABASE_URL is set, else PGlite) and the testbed — a router running FRR with ECMP,
// 3 LB nodes in 2 AZs each running the real tenbin-agent (XDP on its uplink, pinned maps, its own
// FRR), 3 backends (tb_decap, HTTP + UDP servers on the VIPs) and 2 clients, all in network
// namespaces. A VIP created through the API must be advertised by the placed nodes, programmed
// into their maps, turn ACTIVE, and answer curl from a client (XDP → IPIP → decap → DSR); a dead
// backend must leave the tables after `fall` probes; a drained node must withdraw and its VIP move.
import net from "node:net";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openTestDatabase } from "../../server/testing/db";
import type { Database } from "../../server/db/client";
import { openServices, type Services } from "../../server/services";
import { loadEnv } from "../../server/env";
import { createHttpServer, type TenbinHttpServer } from "../../server/http";
import { createLogger } from "../../server/log";
import { AgentHub, CHANGES_CHANNEL } from "../../server/hub/hub";
import { joinHandler } from "../../server/hub/join";
import { Jobs } from "../../server/jobs/scheduler";
import { AGENT_PATH } from "../../server/protocol/agent";
import { SYSTEM_ACTOR } from "../../server/domain/context";
import { createToken } from "../../server/domain/tokens";
import { ensureFirstAdmin } from "../../server/domain/users";
import { user } from "../../server/db/schema";
import { apiClient, type ApiClient } from "./api";
import { startBackendHttp, stopBackendHttp } from "./daemons";
import { backendDecapStats } from "./network";
import { httpFromClient, nodeMaps, routerNexthops, udpFromClient } from "./probe";
import { sleep, waitFor } from "./sys";
import { down, up, type Testbed } from "./testbed";
import { buildTopology, testTopology, type TopologyOptions } from "./topology";

const isRoot = process.getuid?.() === 0;

const TOPOLOGY: TopologyOptions = testTopology("tb-cl-", 254);
const ADMIN = { email: "testbed-admin@tenbin.local", password: "testbed-admin-password-1" };
const TENANT = "tb-demo";
const FALL = 2;
const INTERVAL_MS = 500;

/** Real PostgreSQL when the environment names one (CI: scripts/test.sh), else PGlite. */
async function openDatabase(): Promise<Database> {
  const saved = process.env.TENBIN_TEST_DB;
  if (process.env.TEST_DATABASE_URL) process.env.TENBIN_TEST_DB = "postgres";
  try {
    return await openTestDatabase();
  } finally {
    if (saved === undefined) delete process.env.TENBIN_TEST_DB;
    else process.env.TENBIN_TEST_DB = saved;
  }
}

describe.skipIf(!isRoot)(
  `control loop on a real testbed${isRoot ? "" : " (skipped: needs root for network namespaces, XDP and FRR)"}`,
  () => {
    const topo = buildTopology(TOPOLOGY);
    let database: Database | undefined;
    let services: Services | undefined;
    let hub: AgentHub | undefined;
    let jobs: Jobs | undefined;
    let http: TenbinHttpServer | undefined;
    let unlisten: (() => Promise<void>) | undefined;
    let tb: Testbed;
    let api: ApiClient;
    let dbKind = "";

    async function startServer(host: string) {
      database = await openDatabase();
      dbKind = database.kind;
      const env = loadEnv({ ...process.env, TENBIN_AUTH_SECRET: "t".repeat(40), TENBIN_DATA_DIR: "/nonexistent" });
      services = await openServices(env, { database, baseURL: "http://localhost:1" });
      const log = createLogger("silent");
      hub = new AgentHub(database, log, {}, { pollMs: 500 });
      await hub.start();
      jobs = new Jobs(database, services.auth, log, { intervalMs: 250, heartbeatTimeoutMs: 10_000 });
      unlisten = await database.listen(CHANGES_CHANNEL, () => jobs?.wake());
      jobs.start();
      http = createHttpServer({
        services,
        log,
        upgrades: new Map([[AGENT_PATH, hub.handleUpgrade]]),
        routes: new Map([["/api/agent/join", joinHandler(database.db)]]),
      });
      const server = http.server;
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(0, host, () => resolve()); // the management bridge only
      });
      const url = `http://${host}:${(server.address() as net.AddressInfo).port}`;
      await ensureFirstAdmin(database.db, services.auth, ADMIN);
      const [admin] = await database.db.select().from(user).where(eq(user.email, ADMIN.email));
      const { token } = await createToken(
        { db: database.db, auth: services.auth, actor: { ...SYSTEM_ACTOR, userId: admin!.id, email: admin!.email } },
        { name: "testbed" },
      );
      api = apiClient(url, token);
      return { url, api };
    }

    async function stopServer() {
      await hub?.stop().catch(() => undefined);
      await jobs?.stop().catch(() => undefined);
      await unlisten?.().catch(() => undefined);
      await http?.shutdown(200).catch(() => undefined);
      await services?.close().catch(() => undefined);
      if (!services) await database?.close().catch(() => undefined);
    }

    beforeAll(async () => {
      try {
        tb = await up({ topology: TOPOLOGY, server: startServer, log: (l) => console.log(`[testbed] ${l}`), readyTimeoutMs: 60_000 });
        console.log(`[testbed] database: ${dbKind}`);
        await api.tenants.create.mutate({ slug: TENANT, name: "Testbed demo" });
      } catch (err) {
        await stopServer();
        throw err;
      }
    }, 150_000);

    afterAll(async () => {
      // Agents first (down), then the server: nothing is left whatever failed above.
      await down(topo).catch((e: unknown) => console.error(`testbed down failed: ${String(e)}`));
      await stopServer();
    }, 60_000);

    const nodeByName = (name: string) => tb.topo.lbNodes.find((n) => n.name === name)!;
    const nodeById = (id: string) => nodeByName(tb.registration.nodes.find((n) => n.nodeId === id)!.name);
    const client = () => tb.topo.clients[0]!;
    const getLb = (lb: string) => api.lb.get.query({ tenantId: TENANT, lb });

    const fmt = (ms: number | undefined) => (ms === undefined ? "?" : `${Math.round(ms)} ms`);
    let lbId = "";
    let vip = "";
    /** Packets a node's XDP program matched to the VIP's TCP listener. */
    const tcpPackets = (n: ReturnType<typeof nodeByName>) =>
      nodeMaps(tb.topo, n).listeners.find((l) => l.vip === vip && l.protocol === "tcp")?.packets ?? 0n;

    it("a VIP created through the API is advertised by its placed nodes, programmed, ACTIVE, and answers a client", async () => {
      const members = tb.topo.backends.map((b) => ({ address: b.link.v4, port: tb.topo.httpPort }));
      const t0 = performance.now();
      const lb = await api.lb.create.mutate({
        tenantId: TENANT,
        name: "web",
        replicas: 2,
        pools: [
          {
            name: "web",
            members,
            monitor: { type: "HTTP", intervalMs: INTERVAL_MS, timeoutMs: 400, rise: 2, fall: FALL, http: { path: "/", expectedCodes: "200" } },
          },
          { name: "dns", members: members.map((m) => ({ ...m, port: tb.topo.udpPort })) },
        ],
        listeners: [
          { protocol: "TCP", port: tb.topo.httpPort, pool: "web" },
          { protocol: "UDP", port: tb.topo.udpPort, pool: "dns" },
        ],
      });
      lbId = lb.id;
      vip = lb.address;
      const url = `http://${vip}:${tb.topo.httpPort}/`;

      // Milestones, watched while the client polls: the router's route and ACTIVE.
      const milestones: Record<string, number> = {};
      let watching = true;
      const watcher = (async () => {
        while (watching && (milestones.route === undefined || milestones.active === undefined)) {
          if (milestones.route === undefined && (await routerNexthops(tb.topo, `${vip}/32`)).length > 0) milestones.route = performance.now() - t0;
          if (milestones.active === undefined && (await getLb(lbId)).provisioning.status === "ACTIVE") milestones.active = performance.now() - t0;
          await sleep(50);
        }
      })();

      // (3) Real traffic: client → router (ECMP) → XDP on a node → IPIP → decap → backend → client.
      let answer: string | null = null;
      const firstResponseMs = await waitFor(
        `a first answer from ${url}`,
        async () => (answer = await httpFromClient(client(), url, 1)) !== null,
        30_000,
        async () => JSON.stringify({ lb: await getLb(lbId), routes: await routerNexthops(tb.topo, `${vip}/32`) }).slice(0, 3000),
        50,
      );
      const createToFirstResponse = performance.now() - t0;
      expect(tb.topo.backends.map((b) => b.name)).toContain(answer);

      // (2) Acked revisions turn provisioning ACTIVE on every placed node.
      await expect
        .poll(async () => (await getLb(lbId)).provisioning, { timeout: 15_000, interval: 200 })
        .toMatchObject({ status: "ACTIVE", reason: expect.stringMatching(/^2\/2 nodes at revision \d+/) as unknown });
      watching = false;
      await watcher;
      console.log(
        `[testbed] VIP ${vip}: create → first successful response ${Math.round(createToFirstResponse)} ms ` +
          `(create call ${Math.round(createToFirstResponse - firstResponseMs)} ms; route at the router after ${fmt(milestones.route)}; ACTIVE after ${fmt(milestones.active)})`,
      );
      const view = await getLb(lbId);
      const placed = view.placements.map((p) => nodeById(p.nodeId));
      expect(placed).toHaveLength(2);
      expect(new Set(placed.map((n) => n.az)).size).toBe(2); // spread over both AZs
      expect(view.placements.every((p) => p.advertised && p.error === null)).toBe(true);

      // (1) The router learned the /32 from both placed nodes' bgpd: one multipath route.
      await expect
        .poll(() => routerNexthops(tb.topo, `${vip}/32`), { timeout: 10_000, interval: 100 })
        .toEqual(placed.map((n) => n.uplink.v4).sort());
      // ... and it is in their maps (TCP and UDP listeners, every backend in the Maglev table),
      // and in no other node's.
      for (const n of tb.topo.lbNodes) {
        const maps = nodeMaps(tb.topo, n);
        const mine = maps.listeners.filter((l) => l.vip === vip);
        if (!placed.includes(n)) {
          expect(mine, `${n.name} is not placed`).toEqual([]);
          continue;
        }
        expect(mine.map((l) => `${l.protocol}/${l.port}`).sort()).toEqual([`tcp/${tb.topo.httpPort}`, `udp/${tb.topo.udpPort}`]);
        for (const l of mine) expect([...maps.tableBackends.get(l.id)!].sort()).toEqual(members.map((m) => m.address).sort());
      }

      // New flows spread over both placed nodes (the router's L4 ECMP hash) and over every
      // backend (Maglev); 20 bounded requests from both clients.
      const packetsBefore = placed.map((n) => tcpPackets(n));
      const seen = new Set<string>();
      for (let i = 0; i < 20; i++) {
        const a = await httpFromClient(tb.topo.clients[i % tb.topo.clients.length]!, url, 2);
        expect(a).not.toBeNull();
        seen.add(a!);
      }
      expect([...seen].sort()).toEqual(tb.topo.backends.map((b) => b.name).sort());
      const packetsAfter = placed.map((n) => tcpPackets(n));
      placed.forEach((n, i) => expect(packetsAfter[i]! - packetsBefore[i]!, `packets through ${n.name}`).toBeGreaterThan(0n));
      const udp = await udpFromClient(client(), vip, tb.topo.udpPort, "ping");
      expect(udp).toMatch(new RegExp(`^(${tb.topo.backends.map((b) => b.name).join("|")}) ping$`));
      const decapped = tb.topo.backends.reduce((s, b) => s + backendDecapStats(tb.topo, b).decapV4, 0n);
      expect(decapped).toBeGreaterThan(0n);
    }, 60_000);

    it("a backend whose HTTP server stops is marked down after `fall` probes and leaves the tables", async () => {
      expect(lbId).not.toBe("");
      const victim = tb.topo.backends[1]!;
      const before = await getLb(lbId);
      const placedIds = before.placements.map((p) => p.nodeId);
      const t0 = performance.now();
      expect(await stopBackendHttp(tb.topo, victim)).toBe(true);

      // The API shows it down on every placed node.
      await expect
        .poll(
          async () => {
            const m = (await getLb(lbId)).pools.find((p) => p.name === "web")!.members.find((x) => x.address === victim.link.v4)!;
            return placedIds.every((id) => m.nodes.find((n) => n.nodeId === id)?.state === "down");
          },
          { timeout: 15_000, interval: 100 },
        )
        .toBe(true);
      const downMs = performance.now() - t0;
      console.log(`[testbed] backend ${victim.name} stopped → down in the API after ${Math.round(downMs)} ms (fall ${FALL} × ${INTERVAL_MS} ms)`);
      expect(downMs).toBeGreaterThanOrEqual((FALL - 1) * INTERVAL_MS); // not before `fall` probes could fail
      const member = (await getLb(lbId)).pools.find((p) => p.name === "web")!.members.find((x) => x.address === victim.link.v4)!;
      expect(member.operating.status).not.toBe("ONLINE");

      // Gone from the TCP listener's Maglev table on every placed node...
      for (const id of placedIds) {
        const n = nodeById(id);
        const maps = nodeMaps(tb.topo, n);
        const l = maps.listeners.find((x) => x.vip === vip && x.protocol === "tcp")!;
        expect([...maps.tableBackends.get(l.id)!].sort(), n.name).toEqual(
          tb.topo.backends.filter((b) => b !== victim).map((b) => b.link.v4).sort(),
        );
      }
      // ... so no new flow reaches it: every request is answered, never by the victim.
      const url = `http://${vip}:${tb.topo.httpPort}/`;
      const answers: (string | null)[] = [];
      for (let i = 0; i < 12; i++) answers.push(await httpFromClient(tb.topo.clients[i % 2]!, url, 2));
      expect(answers.filter((a) => a === null)).toEqual([]);
      expect(answers).not.toContain(victim.name);

      // Restarted, it comes back after `rise` probes and takes new flows again.
      startBackendHttp(tb.topo, victim);
      await expect
        .poll(
          async () => {
            const m = (await getLb(lbId)).pools.find((p) => p.name === "web")!.members.find((x) => x.address === victim.link.v4)!;
            return placedIds.every((id) => m.nodes.find((n) => n.nodeId === id)?.state === "up");
          },
          { timeout: 15_000, interval: 100 },
        )
        .toBe(true);
      for (const id of placedIds) {
        const maps = nodeMaps(tb.topo, nodeById(id));
        const l = maps.listeners.find((x) => x.vip === vip && x.protocol === "tcp")!;
        expect(maps.tableBackends.get(l.id)!.has(victim.link.v4)).toBe(true);
      }
    }, 60_000);

    it("a drained node withdraws its routes at the router and its VIP is placed elsewhere", async () => {
      expect(lbId).not.toBe("");
      const before = await getLb(lbId);
      const drainedId = before.placements[0]!.nodeId;
      const drained = nodeById(drainedId);
      const t0 = performance.now();
      await api.nodes.setState.mutate({ nodeId: drainedId, state: "draining", reason: "testbed drain" });

      // Re-placed on a node that is not draining; the router loses the drained node's path
      // and learns the new one.
      await expect
        .poll(async () => (await getLb(lbId)).placements.map((p) => p.nodeId), { timeout: 15_000, interval: 200 })
        .not.toContain(drainedId);
      const after = await getLb(lbId);
      expect(after.placements).toHaveLength(2);
      const expected = after.placements.map((p) => nodeById(p.nodeId).uplink.v4).sort();
      await expect.poll(() => routerNexthops(tb.topo, `${vip}/32`), { timeout: 20_000, interval: 100 }).toEqual(expected);
      console.log(`[testbed] drained ${drained.name}: routes moved to ${expected.join(", ")} after ${Math.round(performance.now() - t0)} ms`);
      expect(expected).not.toContain(drained.uplink.v4);
      await expect
        .poll(async () => (await getLb(lbId)).provisioning.status, { timeout: 15_000, interval: 200 })
        .toBe("ACTIVE");

      // The drained node no longer carries the VIP; traffic still flows through the others.
      await expect.poll(() => nodeMaps(tb.topo, drained).listeners.filter((l) => l.vip === vip), { timeout: 10_000 }).toEqual([]);
      const url = `http://${vip}:${tb.topo.httpPort}/`;
      for (let i = 0; i < 6; i++) {
        expect(await httpFromClient(tb.topo.clients[i % 2]!, url, 2)).not.toBeNull();
        await sleep(20);
      }
    }, 60_000);

    it("an IPv6 VIP answers end to end (IPv6-in-IPv6, decap, DSR)", async () => {
      const t0 = performance.now();
      const lb = await api.lb.create.mutate({
        tenantId: TENANT,
        name: "web6",
        family: 6,
        pools: [{ name: "web", members: tb.topo.backends.map((b) => ({ address: b.link.v6, port: tb.topo.httpPort })) }],
        listeners: [{ protocol: "TCP", port: tb.topo.httpPort, pool: "web" }],
      });
      expect(lb.address).toMatch(/^2001:db8:/);
      const url = `http://[${lb.address}]:${tb.topo.httpPort}/`;
      let answer: string | null = null;
      await waitFor(`an answer from ${url}`, async () => (answer = await httpFromClient(client(), url, 1)) !== null, 30_000, undefined, 50);
      console.log(`[testbed] IPv6 VIP ${lb.address}: create → first successful response ${Math.round(performance.now() - t0)} ms`);
      expect(tb.topo.backends.map((b) => b.name)).toContain(answer);
      // Installed at the router via the placed nodes' link-local addresses (eBGP over IPv6).
      expect((await routerNexthops(tb.topo, `${lb.address}/128`)).every((h) => h.startsWith("fe80:"))).toBe(true);
    }, 60_000);
  },
);
