// The demo cluster (TENBIN_DEMO_CLUSTER=1, as root — what `scripts/start.sh` does): the testbed of
// e2e/testbed (a router with ECMP, 3 LB nodes running the real agent, 3 backends, 2 clients, all
// in network namespaces) around this very server process, plus a demo tenant and load balancer,
// so the README's first command ends with a VIP that answers curl.
//
// The agents reach the server through one extra listener on the testbed's management bridge
// address; its connections are handed to the same http.Server, so the console, the API and the
// agent hub are one process. Everything here runs in the background and never throws: a demo
// that cannot start (not root, missing packages, a forwarding root namespace) says why and
// leaves the console and the API running.
import type http from "node:http";
import net from "node:net";
import { asc, eq } from "drizzle-orm";
import type { Logger } from "pino";
import { user } from "./db/schema";
import type { DomainCtx } from "./domain/context";
import { createToken, revokeToken } from "./domain/tokens";
import type { Services } from "./services";
import { apiClient, type ApiClient } from "../e2e/testbed/api";
import { httpFromClient } from "../e2e/testbed/probe";
import { sleep } from "../e2e/testbed/sys";
import { down, up } from "../e2e/testbed/testbed";
import { buildTopology, DEFAULT_TOPOLOGY, type Topology, type TopologyOptions } from "../e2e/testbed/topology";

/**
 * The demo's shape: the CLI testbed's (3 LB nodes in 2 AZs, 3 backends, 2 clients) under its own
 * prefix and management subnet, so it never collides with `scripts/testbed.ts up` (tbt-,
 * 198.18.255.0/24) or the integration test (tb-cl-, 198.18.254.0/24).
 */
export const DEMO_TOPOLOGY: TopologyOptions = { ...DEFAULT_TOPOLOGY, prefix: "tbdemo-", mgmtOctet: 253 };
export const DEMO_TENANT = "demo";
export const DEMO_LB = "demo";

export interface DemoOptions {
  services: Services;
  /** The server whose connections the bridge listener hands over. */
  httpServer: http.Server;
  /** Port tried first on the bridge address (an ephemeral one when it is taken, e.g. HOST=0.0.0.0). */
  port: number;
  consoleUrl: string;
  adminEmail: string;
  /** The admin's password when this start created it (it was just printed), else undefined. */
  newAdminPassword?: string;
  passwordFromEnv: boolean;
  log: Logger;
}

export interface DemoCluster {
  /** Tears the testbed down (also half-built, also while `up` still runs). Never throws. */
  stop(): Promise<void>;
}

const say = (lines: string[]) => console.log(`\n${lines.join("\n")}\n`);

/** Starts the demo cluster in the background (see the file comment). */
export function startDemoCluster(o: DemoOptions): DemoCluster {
  if (process.getuid?.() !== 0) {
    say([
      "Demo cluster NOT started: the data plane (XDP programs, FRR, network namespaces) needs root.",
      "Console and API run without it. Run scripts/start.sh as root for the full demo.",
    ]);
    return { stop: async () => {} };
  }
  const topo = buildTopology(DEMO_TOPOLOGY);
  let stopping = false;
  let bridge: net.Server | undefined;
  let token: { secret: string; id: string; ctx: DomainCtx } | undefined;

  const run = (async () => {
    console.log(`Demo cluster: building the testbed (${topo.prefix}*, ~15 s); the console is already up`);
    const tb = await up({
      topology: DEMO_TOPOLOGY,
      log: (line) => o.log.info(`testbed: ${line}`),
      server: async (host) => {
        bridge = await listenOnBridge(o.httpServer, host, o.port);
        const url = `http://${host}:${(bridge.address() as net.AddressInfo).port}`;
        token = await mintAdminToken(o.services, o.adminEmail);
        return { url, api: findOrCreateInventory(apiClient(url, token.secret)) };
      },
    });
    if (stopping) return;
    const vip = await ensureDemoLoadBalancer(tb.server.api, tb.topo, o.adminEmail);
    const client = tb.topo.clients[0]!;
    const answer = await firstAnswer(client, `http://${vip}/`, 30_000, () => stopping);
    if (stopping) return;
    say(demoSummary(o, tb.topo, vip, answer));
  })();

  run.catch((err: unknown) => {
    if (stopping) return;
    const reason = err instanceof Error ? err.message : String(err);
    o.log.error({ err }, "demo cluster failed");
    say([
      "Demo cluster NOT started (console and API keep running without a data plane):",
      `  ${reason.split("\n").filter((l) => l.trim()).slice(0, 12).join("\n  ")}`,
      "Check: root, `bash scripts/setup-system.sh` (FRR, clang/libbpf, iproute2), net.ipv4.ip_forward=0.",
    ]);
    void cleanup(true);
  });

  /** Removes the testbed; `final` = nothing else sweeps after this one (a failure is worth a warning). */
  async function cleanup(final: boolean): Promise<void> {
    await down(topo).catch((e: unknown) => o.log[final ? "warn" : "debug"]({ err: e }, "testbed down failed"));
    await new Promise<void>((resolve) => (bridge ? bridge.close(() => resolve()) : resolve()));
    bridge = undefined;
    if (token) await revokeToken(token.ctx, token.id).catch(() => undefined);
    token = undefined;
  }

  return {
    async stop() {
      if (stopping) return;
      stopping = true;
      console.log("Demo cluster: tearing the testbed down");
      // Take the agents away now (up() then fails fast if it still runs), wait for it to give
      // up, and sweep again in case it created something meanwhile.
      await cleanup(false);
      await Promise.race([run.catch(() => undefined), sleep(20_000)]);
      await cleanup(true);
    },
  };
}

/** A listener on the bridge address handing every connection to the server's http.Server. */
async function listenOnBridge(httpServer: http.Server, host: string, port: number): Promise<net.Server> {
  const listen = (p: number) =>
    new Promise<net.Server>((resolve, reject) => {
      const s = net.createServer((socket) => httpServer.emit("connection", socket));
      s.once("error", reject);
      s.listen(p, host, () => resolve(s));
    });
  try {
    return await listen(port);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EADDRINUSE") throw err;
    return listen(0); // the main listener holds the port on every address (HOST=0.0.0.0)
  }
}

/** An API token of the platform admin (no password needed: this is the server itself). */
async function mintAdminToken(s: Services, email: string): Promise<{ secret: string; id: string; ctx: DomainCtx }> {
  const db = s.database.db;
  const admins = await db.select().from(user).where(eq(user.platformAdmin, true)).orderBy(asc(user.createdAt));
  const admin = admins.find((u) => u.email === email) ?? admins[0];
  if (!admin) throw new Error("no platform admin in the database");
  const ctx: DomainCtx = {
    db,
    auth: s.auth,
    actor: { userId: admin.id, email: admin.email, name: admin.name, platformAdmin: true, via: "system" },
    ...(s.deps.onCommitted ? { onCommitted: s.deps.onCommitted } : {}),
  };
  const { token, view } = await createToken(ctx, { name: "demo cluster (server)", expiresInDays: 1 });
  return { secret: token, id: view.id, ctx };
}

/**
 * up() registers the nodes with creates (region, AZs, IP pools, nodes), meant for a fresh
 * database; the demo's database outlives restarts, so here those creates find the existing row
 * by name first. Join tokens are issued anew every time (the agents' state went with `down`).
 */
function findOrCreateInventory(api: ApiClient): ApiClient {
  type In<K extends "regions" | "azs" | "ipPools" | "nodes"> = Parameters<ApiClient[K]["create"]["mutate"]>[0];
  const creates: Record<string, { mutate: (input: never) => Promise<unknown> }> = {
    regions: {
      mutate: async (i: In<"regions">) => (await api.regions.list.query()).find((r) => r.name === i.name) ?? api.regions.create.mutate(i),
    },
    azs: {
      mutate: async (i: In<"azs">) =>
        (await api.azs.list.query({ regionId: i.regionId })).find((a) => a.name === i.name) ?? api.azs.create.mutate(i),
    },
    ipPools: {
      mutate: async (i: In<"ipPools">) =>
        (await api.ipPools.list.query({ regionId: i.regionId })).find((p) => p.name === i.name) ?? api.ipPools.create.mutate(i),
    },
    nodes: {
      mutate: async (i: In<"nodes">) => (await api.nodes.list.query({})).find((n) => n.name === i.name) ?? api.nodes.create.mutate(i),
    },
  };
  return new Proxy(api, {
    get(target, router) {
      const routerClient: unknown = Reflect.get(target, router);
      const create = typeof router === "string" ? creates[router] : undefined;
      if (!create) return routerClient;
      return new Proxy(routerClient as object, {
        get: (inner, proc) => (proc === "create" ? create : Reflect.get(inner, proc)),
      });
    },
  });
}

/** Tenant `demo` (the admin a member) and load balancer `demo`, created once; returns the VIP. */
async function ensureDemoLoadBalancer(api: ApiClient, t: Topology, adminEmail: string): Promise<string> {
  const tenants = await api.tenants.list.query();
  if (!tenants.some((x) => x.slug === DEMO_TENANT)) await api.tenants.create.mutate({ slug: DEMO_TENANT, name: "Demo" });
  const members = await api.members.list.query({ tenantId: DEMO_TENANT });
  if (!members.some((m) => m.email === adminEmail)) {
    await api.members.add.mutate({ tenantId: DEMO_TENANT, email: adminEmail, role: "admin" });
  }
  const existing = (await api.lb.list.query({ tenantId: DEMO_TENANT, search: DEMO_LB })).find((l) => l.name === DEMO_LB);
  if (existing) return existing.address;
  const monitor = { type: "HTTP" as const, intervalMs: 1000, timeoutMs: 500, rise: 2, fall: 2, port: t.httpPort, http: { path: "/", expectedCodes: "200" } };
  const lb = await api.lb.create.mutate({
    tenantId: DEMO_TENANT,
    name: DEMO_LB,
    description: "Demo load balancer on the local testbed (scripts/start.sh as root)",
    idempotencyKey: "demo-cluster-lb",
    pools: [
      { name: "web", monitor, members: t.backends.map((b) => ({ address: b.link.v4, port: t.httpPort })) },
      // UDP has no probe of its own: the backends' HTTP server stands for their health.
      { name: "udp", monitor, members: t.backends.map((b) => ({ address: b.link.v4, port: t.udpPort })) },
    ],
    listeners: [
      { name: "http", protocol: "TCP", port: t.httpPort, pool: "web" },
      { name: "udp", protocol: "UDP", port: t.udpPort, pool: "udp" },
    ],
  });
  return lb.address;
}

/** The first answer of the VIP from a client namespace (bounded), or null. */
async function firstAnswer(client: Topology["clients"][number], url: string, timeoutMs: number, cancelled: () => boolean): Promise<string | null> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && !cancelled()) {
    const answer = await httpFromClient(client, url, 1);
    if (answer) return answer;
    await sleep(250);
  }
  return null;
}

function demoSummary(o: DemoOptions, t: Topology, vip: string, answer: string | null): string[] {
  const line = "=".repeat(72);
  const password = o.newAdminPassword
    ? o.newAdminPassword
    : o.passwordFromEnv
      ? "(from TENBIN_ADMIN_PASSWORD, unless the admin was created earlier with another one)"
      : "(printed when this database was first started; or set TENBIN_ADMIN_PASSWORD on a fresh one)";
  const ns = t.clients[0]!.ns;
  return [
    line,
    ` Demo cluster ready: ${t.lbNodes.length} LB nodes (AZs ${[...new Set(t.lbNodes.map((n) => n.az))].join(", ")}), a router with ECMP, ${t.backends.length} backends, ${t.clients.length} clients`,
    `   console:  ${o.consoleUrl}`,
    `   admin:    ${o.adminEmail}`,
    `   password: ${password}`,
    `   tenant "${DEMO_TENANT}", load balancer "${DEMO_LB}": VIP ${vip}, TCP ${t.httpPort} and UDP ${t.udpPort} → ${t.backends.map((b) => b.name).join(", ")}`,
    `   curl the VIP from a client namespace${answer ? ` (answered by ${answer} just now)` : " (not answering yet: give it a few seconds)"}:`,
    `     ip netns exec ${ns} curl -s http://${vip}/`,
    `   send test traffic (bounded; the console's live views show it):`,
    `     npx tsx scripts/traffic.ts --duration 30 --rate 50`,
    `   what runs:  npx tsx scripts/testbed.ts status --prefix ${t.prefix}`,
    `   Ctrl-C / SIGTERM stops the server and removes the testbed.`,
    line,
  ];
}
