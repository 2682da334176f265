// The testbed: `up` builds a real cluster in network namespaces around a Tenbin server, `down`
// removes everything it created (also after a crash), `status` says what runs.
//
// Reaching the server: agents run inside their namespaces, which have no route out. Each LB
// namespace gets one extra veth into a bridge in the root namespace (198.18.<mgmt>.0/24); the
// server listens on the bridge's address only (never 0.0.0.0). The root namespace must not
// forward (checked), so the bridge is a dead end: agents reach the server and nothing else.
import fs from "node:fs";
import path from "node:path";
import { registerNodes, type ApiClient, type Registration } from "./api";
import {
  agentFrrDir,
  agentLogFile,
  agentRunning,
  backendRunning,
  startAgent,
  startBackendHttp,
  startBackendUdp,
  startRouter,
} from "./daemons";
import { createNetwork, isMountedBpffs } from "./network";
import { routerBgpPeers, routerNexthops } from "./probe";
import { isAlive, readPidFile, run, runQuiet, stopPid, waitFor } from "./sys";
import { buildTopology, type Topology, type TopologyOptions } from "./topology";

export interface ServerHandle {
  /** Base URL the agents use (on the management bridge address). */
  url: string;
  /** Platform-admin API client. */
  api: ApiClient;
}

export interface UpOptions {
  topology: TopologyOptions;
  /** Starts (or connects to) the server listening on `host` (the bridge address), once the network exists. */
  server: (host: string) => Promise<ServerHandle>;
  log?: (line: string) => void;
  /** How long to wait for every agent to join and every BGP session to come up. */
  readyTimeoutMs?: number;
}

export interface Testbed {
  topo: Topology;
  server: ServerHandle;
  registration: Registration;
}

const STATE_FILE = "testbed.json";

interface StateFile {
  options: TopologyOptions;
  serverUrl?: string;
  startedAt: string;
}

function writeState(t: Topology, s: StateFile): void {
  fs.writeFileSync(path.join(t.stateDir, STATE_FILE), JSON.stringify(s, null, 2));
}

/** The options a running (or crashed) testbed was started with, from its state directory. */
export function readState(stateDir: string): StateFile | null {
  try {
    return JSON.parse(fs.readFileSync(path.join(stateDir, STATE_FILE), "utf8")) as StateFile;
  } catch {
    return null;
  }
}

export async function up(o: UpOptions): Promise<Testbed> {
  const log = o.log ?? (() => {});
  const topo = buildTopology(o.topology);
  await down(topo, log); // leftovers of an interrupted run
  try {
    const t0 = performance.now();
    await createNetwork(topo);
    writeState(topo, { options: o.topology, startedAt: new Date().toISOString() });
    log(`network: ${topo.lbNodes.length} LB nodes, ${topo.backends.length} backends, ${topo.clients.length} clients (${Math.round(performance.now() - t0)} ms)`);
    await startRouter(topo);
    for (const b of topo.backends) {
      startBackendHttp(topo, b);
      startBackendUdp(topo, b);
    }
    log("router FRR and backend servers started");

    const server = await o.server(topo.bridge.v4);
    writeState(topo, { options: o.topology, serverUrl: server.url, startedAt: new Date().toISOString() });
    const registration = await registerNodes(server.api, topo);
    for (const n of topo.lbNodes) {
      const r = registration.nodes.find((x) => x.name === n.name)!;
      startAgent(topo, n, server.url, r.joinToken);
    }
    log(`registered ${registration.nodes.length} nodes; agents starting`);
    await waitReady(topo, server.api, o.readyTimeoutMs ?? 60_000);
    log(`testbed ready in ${Math.round(performance.now() - t0)} ms`);
    return { topo, server, registration };
  } catch (err) {
    // Keep the logs for the error message, then remove everything.
    const logs = topo.lbNodes.map((n) => tail(agentLogFile(n), 15)).join("\n");
    await down(topo, log).catch(() => undefined);
    throw new Error(`testbed up failed: ${err instanceof Error ? err.message : String(err)}\n${logs}`);
  }
}

function tail(file: string, lines: number): string {
  try {
    return `--- ${file}\n${fs.readFileSync(file, "utf8").trim().split("\n").slice(-lines).join("\n")}`;
  } catch {
    return "";
  }
}

/** Every agent joined and heartbeating, every BGP session (v4 and v6) established at the router. */
export async function waitReady(t: Topology, api: ApiClient, timeoutMs: number): Promise<void> {
  const peers = t.lbNodes.flatMap((n) => [n.uplink.v4, n.uplink.v6]);
  await waitFor(
    "agents to join and BGP sessions to come up",
    async () => {
      for (const n of t.lbNodes) if (!agentRunning(n)) throw new Error(`agent of ${n.name} exited:\n${tail(agentLogFile(n), 30)}`);
      const nodes = await api.nodes.list.query({});
      const joined = t.lbNodes.every((n) => nodes.find((x) => x.name === n.name)?.lastHeartbeatAt);
      if (!joined) return false;
      const state = await routerBgpPeers(t).catch(() => new Map<string, { state: string }>());
      return peers.every((p) => state.get(p)?.state === "Established");
    },
    timeoutMs,
    async () => {
      const nodes = await api.nodes.list.query({}).catch(() => []);
      const state = await routerBgpPeers(t).catch((e: unknown) => String(e));
      return [
        `nodes: ${JSON.stringify(nodes.map((n) => ({ name: n.name, state: n.state, heartbeat: n.lastHeartbeatAt })))}`,
        `router peers: ${state instanceof Map ? JSON.stringify([...state]) : state}`,
        ...t.lbNodes.map((n) => tail(agentLogFile(n), 10)),
      ].join("\n");
    },
    250,
  );
}

/** Topology of a prefix's testbed as recorded at `up`, or the given default shape. */
export function topologyFor(options: TopologyOptions): Topology {
  const t = buildTopology(options);
  const recorded = readState(t.stateDir);
  return recorded ? buildTopology(recorded.options) : t;
}

/**
 * Removes everything a testbed with this prefix created, whether it is running, half-built or
 * crashed: processes (by their pid files, then any process left inside its namespaces), FRR
 * daemons, namespaces, root-namespace links, the bpffs mount and the state directory.
 * Returns what it removed.
 */
export async function down(t: Topology, log: (line: string) => void = () => {}): Promise<string[]> {
  const removed: string[] = [];
  // 1. Our daemons by their pid files (agents, backend servers, FRR, a CLI-started server).
  //    Agents first: they must not restart anything while the rest goes away.
  const pidFiles = listPidFiles(t.stateDir).sort((a, b) => rank(a) - rank(b));
  for (const f of pidFiles) {
    const pid = readPidFile(f);
    if (await stopPid(pid, t.stateDir)) removed.push(`process ${pid} (${path.relative(t.stateDir, f)})`);
  }
  // 2. Namespaces with our prefix: anything still running inside them is ours; then delete them.
  const namespaces = (await runQuiet("ip", ["netns", "list"]))
    .split("\n")
    .map((l) => l.split(" ")[0] ?? "")
    .filter((ns) => ns.startsWith(t.prefix));
  for (const ns of namespaces) {
    const pids = (await runQuiet("ip", ["netns", "pids", ns])).split(/\s+/).filter(Boolean).map(Number);
    for (const pid of pids) if (await stopPid(pid, "")) removed.push(`process ${pid} (in ${ns})`);
    await runQuiet("ip", ["netns", "del", ns]);
    removed.push(`namespace ${ns}`);
  }
  // 3. Root-namespace links with our prefix (the bridge; veth ends go with their namespaces).
  const links = JSON.parse((await runQuiet("ip", ["-j", "link", "show"])) || "[]") as { ifname: string }[];
  for (const l of links.filter((x) => x.ifname.startsWith(t.prefix))) {
    await runQuiet("ip", ["link", "del", l.ifname]);
    removed.push(`link ${l.ifname}`);
  }
  // 4. The private bpffs (takes every pin with it) and the state directory.
  if (isMountedBpffs(t.bpffsDir)) {
    await run("umount", [t.bpffsDir]).catch(() => run("umount", ["-l", t.bpffsDir]));
    removed.push(`bpffs ${t.bpffsDir}`);
  }
  if (fs.existsSync(t.stateDir)) {
    fs.rmSync(t.stateDir, { recursive: true, force: true });
    removed.push(`directory ${t.stateDir}`);
  }
  for (const r of removed) log(`removed ${r}`);
  return removed;
}

function rank(file: string): number {
  if (file.endsWith("agent.pid")) return 0;
  if (file.endsWith("server.pid")) return 3;
  if (file.includes(`${path.sep}frr${path.sep}`) || file.includes(`${path.sep}router${path.sep}`)) return 2;
  return 1;
}

function listPidFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, depth: number) => {
    if (depth > 4) return;
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = path.join(d, e.name);
      if (e.isDirectory() && e.name !== "bpffs") walk(p, depth + 1);
      else if (e.isFile() && e.name.endsWith(".pid")) out.push(p);
    }
  };
  walk(dir, 0);
  return out;
}

/** A human-readable report of what runs. */
export async function status(t: Topology): Promise<string> {
  const lines: string[] = [];
  const state = readState(t.stateDir);
  const existing = new Set(
    (await runQuiet("ip", ["netns", "list"])).split("\n").map((l) => l.split(" ")[0] ?? ""),
  );
  if (!state && ![...existing].some((ns) => ns.startsWith(t.prefix))) return `no testbed with prefix ${t.prefix} (state dir ${t.stateDir})`;
  lines.push(`testbed ${t.prefix} — state ${t.stateDir}${state ? `, up since ${state.startedAt}` : " (no state file)"}`);
  if (state?.serverUrl) {
    const serverPid = readPidFile(path.join(t.stateDir, "server.pid"));
    lines.push(`server: ${state.serverUrl}${serverPid ? ` (pid ${serverPid}, ${isAlive(serverPid) ? "running" : "NOT running"})` : ""}`);
  }
  const ns = (name: string) => (existing.has(name) ? "" : " [namespace missing]");
  const frr = (dir: string) =>
    (["zebra", "staticd", "bgpd"] as const)
      .map((d) => `${d} ${isAlive(readPidFile(path.join(dir, `${d}.pid`))) ? "up" : "down"}`)
      .join(", ");
  lines.push(`router ${t.router.ns}${ns(t.router.ns)}: ${frr(t.router.dir)}`);
  const peers = await routerBgpPeers(t).catch(() => new Map<string, { state: string; pfxRcd: number }>());
  for (const n of t.lbNodes) {
    const p4 = peers.get(n.uplink.v4);
    const p6 = peers.get(n.uplink.v6);
    lines.push(
      `LB node ${n.name} (AZ ${n.az}) ${n.ns}${ns(n.ns)}: agent ${agentRunning(n) ? "running" : "NOT running"}; FRR ${frr(agentFrrDir(n))}; ` +
        `BGP v4 ${p4?.state ?? "?"} (${p4?.pfxRcd ?? 0} prefixes), v6 ${p6?.state ?? "?"} (${p6?.pfxRcd ?? 0})`,
    );
  }
  for (const b of t.backends) {
    const r = backendRunning(t, b);
    lines.push(`backend ${b.name} ${b.link.v4}${ns(b.ns)}: HTTP ${r.http ? "up" : "down"}, UDP ${r.udp ? "up" : "down"}`);
  }
  for (const c of t.clients) lines.push(`client ${c.name} ${c.link.v4}${ns(c.ns)}`);
  const learned = (await runQuiet("ip", ["-n", t.router.ns, "-j", "route", "show", "proto", "bgp"])) || "[]";
  const vips = (JSON.parse(learned) as { dst: string }[]).map((r) => r.dst);
  lines.push(`VIP routes at the router: ${vips.length ? "" : "none"}`);
  for (const v of vips) lines.push(`  ${v} via ${(await routerNexthops(t, v)).join(", ")}`);
  lines.push(`try: ip netns exec ${t.clients[0]?.ns} curl -s http://<VIP>/`);
  return lines.join("\n");
}

