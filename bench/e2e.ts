/**
 * End-to-end control-loop benchmark on the real testbed (needs root; bounded traffic only).
 *
 *   npx tsx bench/e2e.ts [--vips=20] [--disables=5]        (npm run bench:e2e)
 *
 * Brings up the namespace testbed (prefix `tbbench-`, management 198.18.251.0/24: router with
 * FRR/ECMP, 3 LB nodes in 2 AZs running the real agent, 3 backends, 2 clients) around an
 * in-process Tenbin server wired like server/main.ts (HTTP API, agent hub, jobs; PGlite, or
 * PostgreSQL when TEST_DATABASE_URL is set), then:
 *
 * 1. creates N VIPs through the API, one after another (2 replicas, an HTTP pool of 3 members
 *    with an HTTP monitor), and times for each: the create call, the scheduler's placement
 *    commit, the hub's first push to an agent (both instrumented in process), the route at the
 *    router (first next hop, then every placed node), the placed nodes' acks, and the first
 *    successful curl from a client namespace (a new curl every 100 ms, each bounded to 1 s).
 *    Bar (issue 6): create → forwarding p50 ≤ 1 s, p99 ≤ 2 s.
 * 2. disables one member of a VIP through the API and polls from the clients with rounds of new
 *    connections: disable → no new flows to it is the start of the first round after the last
 *    round that still reached the member (≥ 5 clean rounds over ≥ 2 s confirm it). Bar: ≤ 1 s.
 *
 * Prints progress, then one JSON line of figures. Everything it started (namespaces, daemons,
 * pins, the server) is removed in `finally`, also on Ctrl-C / SIGTERM.
 */
import net from "node:net";
import os from "node:os";
import { performance } from "node:perf_hooks";
import { eq } from "drizzle-orm";
import { WebSocket } from "ws";
import { apiClient, type ApiClient } from "../e2e/testbed/api";
import { httpFromClient, nodeMaps, routerNexthops } from "../e2e/testbed/probe";
import { sleep } from "../e2e/testbed/sys";
import { down, up, type Testbed } from "../e2e/testbed/testbed";
import { buildTopology, testTopology, type TopologyOptions } from "../e2e/testbed/topology";
import type { Database } from "../server/db/client";
import { placement, user } from "../server/db/schema";
import { SYSTEM_ACTOR } from "../server/domain/context";
import { createToken } from "../server/domain/tokens";
import { ensureFirstAdmin } from "../server/domain/users";
import { loadEnv } from "../server/env";
import { createHttpServer, type TenbinHttpServer } from "../server/http";
import { AgentHub, CHANGES_CHANNEL } from "../server/hub/hub";
import { joinHandler } from "../server/hub/join";
import { Jobs } from "../server/jobs/scheduler";
import { createLogger } from "../server/log";
import { AGENT_PATH } from "../server/protocol/agent";
import { openServices, type Services } from "../server/services";
import { openTestDatabase } from "../server/testing/db";

const TOPOLOGY: TopologyOptions = testTopology("tbbench-", 251);
const ADMIN = { email: "bench-admin@tenbin.local", password: "bench-admin-password-1" };
const TENANT = "bench";
const REPLICAS = 2;
/** Upper bound of one VIP's wait for its first answer / one disable measurement. */
const VIP_TIMEOUT_MS = 20_000;
/** Spacing of the client's requests while it waits for a new VIP's first answer. */
const REQUEST_EVERY_MS = 100;
const DISABLE_TIMEOUT_MS = 30_000;
/** Concurrent new connections per polling round after a disable. */
const ROUND_SIZE = 6;
/** The member counts as out of rotation after this many clean rounds lasting at least CLEAN_MS. */
const CLEAN_ROUNDS = 5;
const CLEAN_MS = 2_000;

function flag(name: string, fallback: number): number {
  const prefix = `--${name}=`;
  const raw = process.argv.find((a) => a.startsWith(prefix))?.slice(prefix.length);
  const value = raw === undefined ? fallback : Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > 100)
    throw new Error(`--${name} must be an integer from 1 to 100, got ${raw}`);
  return value;
}

/** Set on Ctrl-C / SIGTERM: every loop stops while the cleanup runs. */
let stopping = false;

const log = (line: string): void => console.error(`[bench:e2e] ${line}`);
const round = (ms: number | undefined): number | null => (ms === undefined ? null : Math.round(ms));

/** Nearest-rank percentile (p99 of 20 samples is the largest). */
function percentile(values: number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return Math.round(sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!);
}

function summary(values: (number | undefined)[]): {
  p50: number | null;
  p99: number | null;
  max: number | null;
  n: number;
} {
  const v = values.filter((x): x is number => x !== undefined);
  return {
    p50: percentile(v, 50),
    p99: percentile(v, 99),
    max: v.length ? Math.round(Math.max(...v)) : null,
    n: v.length,
  };
}

// ---- the server, in process (as server/main.ts wires it, minus the console) ----------------------

interface Server {
  database: Database;
  services: Services;
  hub: AgentHub;
  jobs: Jobs;
  http: TenbinHttpServer;
  unlisten: () => Promise<void>;
}

/** Real PostgreSQL when the environment names one, else PGlite (in memory). */
async function openDatabase(): Promise<Database> {
  process.env.TENBIN_TEST_DB = process.env.TEST_DATABASE_URL ? "postgres" : "pglite";
  return openTestDatabase();
}

async function startServer(
  host: string,
  server: Partial<Server>,
): Promise<{ url: string; api: ApiClient }> {
  const database = (server.database = await openDatabase());
  const env = loadEnv({
    ...process.env,
    TENBIN_AUTH_SECRET: "b".repeat(40),
    TENBIN_DATA_DIR: "/nonexistent",
  });
  const services = (server.services = await openServices(env, {
    database,
    baseURL: "http://localhost:1",
  }));
  const quiet = createLogger("silent");
  // Production intervals (hub poll 2 s, jobs 1 s): the NOTIFY of each commit is what wakes them.
  const hub = (server.hub = new AgentHub(database, quiet));
  await hub.start();
  const jobs = (server.jobs = new Jobs(database, services.auth, quiet));
  // Placement commits, timed where the scheduler makes them (VIPs are created one at a time).
  const schedule = jobs.schedule.bind(jobs);
  jobs.schedule = async () => {
    const result = await schedule();
    if (result.changed > 0) placementCommits.push(performance.now());
    return result;
  };
  server.unlisten = await database.listen(CHANGES_CHANNEL, () => jobs.wake());
  jobs.start();
  const http = (server.http = createHttpServer({
    services,
    log: quiet,
    upgrades: new Map([[AGENT_PATH, hub.handleUpgrade]]),
    routes: new Map([["/api/agent/join", joinHandler(database.db)]]),
  }));
  await new Promise<void>((resolve, reject) => {
    http.server.once("error", reject);
    http.server.listen(0, host, () => resolve()); // the management bridge only
  });
  const url = `http://${host}:${(http.server.address() as net.AddressInfo).port}`;
  await ensureFirstAdmin(database.db, services.auth, ADMIN);
  const [admin] = await database.db.select().from(user).where(eq(user.email, ADMIN.email));
  const { token } = await createToken(
    {
      db: database.db,
      auth: services.auth,
      actor: { ...SYSTEM_ACTOR, userId: admin!.id, email: admin!.email },
    },
    { name: "bench" },
  );
  return { url, api: apiClient(url, token) };
}

async function stopServer(s: Partial<Server>): Promise<void> {
  await s.hub?.stop().catch(() => undefined);
  await s.jobs?.stop().catch(() => undefined);
  await s.unlisten?.().catch(() => undefined);
  await s.http?.shutdown(200).catch(() => undefined);
  if (s.services) await s.services.close().catch(() => undefined);
  else await s.database?.close().catch(() => undefined);
}

// ---- hub push instrumentation ------------------------------------------------------------------

/** When the scheduler committed changed placements. */
const placementCommits: number[] = [];

/** Time of the hub's first `update` frame to any agent that carries each load balancer id. */
const firstPush = new Map<string, number>();
function watchHubPushes(): void {
  const send = WebSocket.prototype.send;
  // Wraps send() of the server side of every agent socket in this process.
  WebSocket.prototype.send = function (this: WebSocket, data: unknown, ...rest: unknown[]) {
    if (typeof data === "string" && data.startsWith('{"type":"update"')) {
      const now = performance.now();
      for (const m of data.matchAll(/"lbId":"([0-9a-f-]{36})"/g))
        if (!firstPush.has(m[1]!)) firstPush.set(m[1]!, now);
    }
    return (send as (...a: unknown[]) => void).call(this, data, ...rest);
  } as typeof send;
}

// ---- 1. create → forwarding --------------------------------------------------------------------

interface VipTiming {
  address: string;
  createCall: number;
  placed?: number;
  pushed?: number;
  routeFirst?: number;
  routeAll?: number;
  acked?: number;
  firstResponse?: number;
  answeredBy?: string;
}

async function createVip(
  tb: Testbed,
  api: ApiClient,
  database: Database,
  i: number,
): Promise<VipTiming & { lbId: string }> {
  const members = tb.topo.backends.map((b) => ({ address: b.link.v4, port: tb.topo.httpPort }));
  const client = tb.topo.clients[i % tb.topo.clients.length]!;
  const t0 = performance.now();
  const since = (): number => performance.now() - t0;
  const lb = await api.lb.create.mutate({
    tenantId: TENANT,
    name: `bench-${i}`,
    replicas: REPLICAS,
    pools: [
      {
        name: "web",
        members,
        monitor: {
          type: "HTTP",
          intervalMs: 1000,
          timeoutMs: 500,
          rise: 2,
          fall: 2,
          http: { path: "/", expectedCodes: "200" },
        },
      },
    ],
    listeners: [{ protocol: "TCP", port: tb.topo.httpPort, pool: "web" }],
  });
  const t: VipTiming & { lbId: string } = { lbId: lb.id, address: lb.address, createCall: since() };
  const url = `http://${lb.address}:${tb.topo.httpPort}/`;
  const deadline = t0 + VIP_TIMEOUT_MS;
  const done = (): boolean =>
    t.firstResponse !== undefined && t.routeAll !== undefined && t.acked !== undefined;

  // Milestones (placement, push, route, acks) and the client's requests are watched side by side.
  const milestones = (async () => {
    while (!stopping && !done() && performance.now() < deadline) {
      if (t.placed === undefined) {
        const at = placementCommits.find((x) => x >= t0);
        if (at !== undefined) t.placed = at - t0;
      }
      if (t.acked === undefined && t.routeFirst !== undefined) {
        const rows = await database.db.select().from(placement).where(eq(placement.lbId, lb.id));
        if (rows.length === REPLICAS && rows.every((r) => r.advertised)) t.acked = since();
      }
      const pushedAt = firstPush.get(lb.id);
      if (t.pushed === undefined && pushedAt !== undefined) t.pushed = pushedAt - t0;
      if (t.routeAll === undefined) {
        const hops = await routerNexthops(tb.topo, `${lb.address}/32`);
        if (t.routeFirst === undefined && hops.length > 0) t.routeFirst = since();
        if (hops.length === REPLICAS) t.routeAll = since();
      }
      await sleep(25);
    }
  })();
  // A new request every REQUEST_EVERY_MS, each bounded to 1 s, without waiting for the previous
  // one: a SYN sent just before the route existed would otherwise hide the answer for a whole
  // retransmission timeout (1 s). At most ~10 requests in flight, for at most VIP_TIMEOUT_MS.
  const requests = (async () => {
    const inFlight: Promise<void>[] = [];
    while (!stopping && t.firstResponse === undefined && performance.now() < deadline) {
      inFlight.push(
        httpFromClient(client, url, 1).then((answer) => {
          if (answer !== null && t.firstResponse === undefined) {
            t.firstResponse = since();
            t.answeredBy = answer;
          }
        }),
      );
      await sleep(REQUEST_EVERY_MS);
    }
    await Promise.all(inFlight);
  })();
  await Promise.all([milestones, requests]);
  if (t.firstResponse === undefined)
    throw new Error(
      `VIP ${lb.address} (${lb.id}) never answered within ${VIP_TIMEOUT_MS} ms: ${JSON.stringify(t)}`,
    );
  return t;
}

// ---- 2. disable → no new flows -----------------------------------------------------------------

interface DisableTiming {
  address: string;
  member: string;
  disableCall: number;
  /** Start of the first round after the last one that reached the member. */
  effect: number;
  rounds: number;
  requests: number;
  victimAnswers: number;
  failures: number;
}

async function measureDisable(
  tb: Testbed,
  api: ApiClient,
  vip: { lbId: string; address: string },
  k: number,
): Promise<DisableTiming> {
  const victim = tb.topo.backends[k % tb.topo.backends.length]!;
  const url = `http://${vip.address}:${tb.topo.httpPort}/`;
  const t0 = performance.now();
  const since = (): number => performance.now() - t0;
  const call = api.poolMembers.setState.mutate({
    tenantId: TENANT,
    target: { lb: vip.lbId, pool: "web" },
    members: [{ address: victim.link.v4, port: tb.topo.httpPort }],
    state: "disabled",
  });
  let disableCall = 0;
  void call.then(
    () => (disableCall = since()),
    () => undefined,
  );
  let lastHitRoundEnd = -1;
  let effect = 0;
  let rounds = 0;
  let requests = 0;
  let victimAnswers = 0;
  let failures = 0;
  let cleanSince = 0;
  let cleanRounds = 0;
  while (!stopping && since() < DISABLE_TIMEOUT_MS) {
    const start = since();
    const answers = await Promise.all(
      Array.from({ length: ROUND_SIZE }, (_, j) =>
        httpFromClient(tb.topo.clients[j % tb.topo.clients.length]!, url, 1),
      ),
    );
    rounds++;
    requests += answers.length;
    failures += answers.filter((a) => a === null).length;
    const hits = answers.filter((a) => a === victim.name).length;
    victimAnswers += hits;
    if (hits > 0) {
      lastHitRoundEnd = since();
      cleanRounds = 0;
      effect = -1;
    } else {
      if (cleanRounds === 0) {
        cleanSince = start;
        effect = start;
      }
      cleanRounds++;
      if (cleanRounds >= CLEAN_ROUNDS && since() - cleanSince >= CLEAN_MS) break;
    }
  }
  await call;
  if (effect < 0 || cleanRounds < CLEAN_ROUNDS || since() - cleanSince < CLEAN_MS) {
    const view = await api.lb.get.query({ tenantId: TENANT, lb: vip.lbId });
    const tables = view.placements.map((p) => {
      const n = tb.topo.lbNodes.find((x) => x.name === p.nodeName)!;
      const maps = nodeMaps(tb.topo, n);
      const l = maps.listeners.find((x) => x.vip === vip.address);
      return `${n.name}: ${l ? [...maps.tableBackends.get(l.id)!].join(",") : "no listener"}`;
    });
    throw new Error(
      `member ${victim.name} of ${vip.address} still got new flows ${DISABLE_TIMEOUT_MS} ms after it was disabled ` +
        `(${victimAnswers} of ${requests} answers, the last in the round ending at ${Math.round(lastHitRoundEnd)} ms); ` +
        `router next hops ${(await routerNexthops(tb.topo, `${vip.address}/32`)).join(",")}; ` +
        `members ${JSON.stringify(view.pools[0]?.members.map((m) => [m.address, m.adminState]))}, placements ${JSON.stringify(view.placements)}, Maglev tables ${tables.join("; ")}`,
    );
  }
  return {
    address: vip.address,
    member: victim.name,
    disableCall,
    effect,
    rounds,
    requests,
    victimAnswers,
    failures,
  };
}

// ---- main ----------------------------------------------------------------------------------------

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) {
    console.error("bench:e2e needs root (network namespaces, XDP, FRR)");
    process.exitCode = 2;
    return;
  }
  const vipCount = flag("vips", 20);
  const disableCount = Math.min(flag("disables", 5), vipCount);
  const topo = buildTopology(TOPOLOGY);
  const server: Partial<Server> = {};
  let cleaning: Promise<void> | null = null;
  const cleanup = (): Promise<void> =>
    (cleaning ??= (async () => {
      log("cleaning up");
      await down(topo).catch((e: unknown) => log(`testbed down failed: ${String(e)}`));
      await stopServer(server);
    })());
  const onSignal = (signal: NodeJS.Signals): void => {
    log(`${signal}: stopping`);
    stopping = true;
    void cleanup().finally(() => process.exit(130));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);

  try {
    watchHubPushes();
    const tb = await up({
      topology: TOPOLOGY,
      server: (host) => startServer(host, server),
      log,
      readyTimeoutMs: 90_000,
    });
    const api = tb.server.api;
    await api.tenants.create.mutate({ slug: TENANT, name: "Benchmark" });
    const load = os.loadavg()[0]!;

    const vips: (VipTiming & { lbId: string })[] = [];
    for (let i = 0; i < vipCount && !stopping; i++) {
      const t = await createVip(tb, api, server.database!, i);
      vips.push(t);
      log(
        `VIP ${i + 1}/${vipCount} ${t.address}: create call ${round(t.createCall)} ms, placed ${round(t.placed)}, pushed ${round(t.pushed)}, ` +
          `route ${round(t.routeFirst)} (all ${REPLICAS} nodes ${round(t.routeAll)}), acked ${round(t.acked)}, first answer ${round(t.firstResponse)} ms (${t.answeredBy})`,
      );
    }
    const disables: DisableTiming[] = [];
    for (let k = 0; k < disableCount && !stopping; k++) {
      const d = await measureDisable(tb, api, vips[k]!, k);
      disables.push(d);
      log(
        `disable ${d.member} of ${d.address}: API call ${round(d.disableCall)} ms, no new flows from ${round(d.effect)} ms ` +
          `(${d.rounds} rounds, ${d.requests} requests, ${d.victimAnswers} answered by it before, ${d.failures} failed)`,
      );
    }

    if (stopping) return;
    const pick = (k: keyof VipTiming) => vips.map((v) => v[k] as number | undefined);
    const forwarding = summary(pick("firstResponse"));
    const disableEffect = summary(disables.map((d) => d.effect));
    const figures = {
      bench: "e2e",
      vips: vipCount,
      replicas: REPLICAS,
      database: server.database?.kind,
      createToFirstResponseMs: forwarding,
      createToRouteOnAllPlacedNodesMs: summary(pick("routeAll")),
      stepsP50Ms: {
        createCall: summary(pick("createCall")).p50,
        placed: summary(pick("placed")).p50,
        pushed: summary(pick("pushed")).p50,
        routeFirstNode: summary(pick("routeFirst")).p50,
        routeAllNodes: summary(pick("routeAll")).p50,
        acked: summary(pick("acked")).p50,
        firstResponse: forwarding.p50,
      },
      disableToNoNewFlowsMs: disableEffect,
      disableRequests: disables.reduce((s, d) => s + d.requests, 0),
      disableFailedRequests: disables.reduce((s, d) => s + d.failures, 0),
      bars: {
        createToForwarding:
          (forwarding.p50 ?? Infinity) <= 1000 && (forwarding.p99 ?? Infinity) <= 2000,
        disableToEffect: (disableEffect.max ?? Infinity) <= 1000,
      },
      loadAverage1m: {
        start: Math.round(load * 100) / 100,
        end: Math.round(os.loadavg()[0]! * 100) / 100,
      },
    };
    console.log(JSON.stringify(figures));
  } finally {
    await cleanup();
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exitCode = 1;
});
