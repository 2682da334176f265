// The testbed's processes: the router's FRR, the backends' HTTP/UDP servers and the real
// `tenbin-agent` of every LB node (each inside its namespace, with its own pins, FRR instance and
// state directory). Each is recorded in a pid file under the state directory; `down` stops them
// by those pids (checked against their command lines), never by name.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { renderFrrConfig } from "../../agent/frr/render";
import { FrrInstance } from "../../agent/frr/instance";
import type { AgentConfig } from "../../agent/config";
import { cmdline, isAlive, readPidFile, run, sleep, startDaemon, stopPid } from "./sys";
import type { HostSpec, LbNodeSpec, Topology } from "./topology";

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const BACKEND_SCRIPT = path.join(REPO_ROOT, "e2e/testbed/backend-server.ts");
const AGENT_BIN = path.join(REPO_ROOT, "bin/tenbin-agent.mjs");

// ---- router ------------------------------------------------------------------------------------

export function routerFrrConfig(t: Topology): string {
  return renderFrrConfig({
    hostname: `${t.prefix}router`,
    routerId: t.router.routerId,
    localAsn: t.router.asn,
    neighbors: t.lbNodes.flatMap((n) => [
      { address: n.uplink.v4, remoteAsn: n.asn, description: n.name },
      { address: n.uplink.v6, remoteAsn: n.asn, description: `${n.name} v6` },
    ]),
    vips: [],
    maximumPaths: 16,
  });
}

/** Starts the router's FRR (zebra, staticd, bgpd) with its config loaded at start. */
export async function startRouter(t: Topology): Promise<FrrInstance> {
  fs.mkdirSync(t.router.dir, { recursive: true, mode: 0o755 });
  fs.writeFileSync(path.join(t.router.dir, "frr.conf"), routerFrrConfig(t), { mode: 0o644 });
  return FrrInstance.start({ dir: t.router.dir, netns: t.router.ns });
}

/** Runs vtysh against the router (its sockets are in its directory; no namespace needed). */
export async function routerVtysh(t: Topology, command: string): Promise<string> {
  return run("vtysh", ["--config_dir", t.router.dir, "--vty_socket", t.router.dir, "-c", command]);
}

// ---- backends ----------------------------------------------------------------------------------

const backendDir = (t: Topology, b: HostSpec) => path.join(t.stateDir, b.name);
const httpPidFile = (t: Topology, b: HostSpec) => path.join(backendDir(t, b), "http.pid");
const udpPidFile = (t: Topology, b: HostSpec) => path.join(backendDir(t, b), "udp.pid");

export function startBackendHttp(t: Topology, b: HostSpec): number {
  fs.mkdirSync(backendDir(t, b), { recursive: true, mode: 0o755 });
  return startDaemon({
    ns: b.ns,
    argv: [process.execPath, "--import", "tsx", BACKEND_SCRIPT, "http", b.name, String(t.httpPort), t.stateDir],
    logFile: path.join(backendDir(t, b), "http.log"),
    pidFile: httpPidFile(t, b),
    cwd: REPO_ROOT, // resolves `--import tsx`
  });
}

export function startBackendUdp(t: Topology, b: HostSpec): number {
  fs.mkdirSync(backendDir(t, b), { recursive: true, mode: 0o755 });
  const firstV4 = t.vipPoolV4.replace(/\.0\/\d+$/, ".1");
  const firstV6 = t.vipPoolV6.replace(/::\/\d+$/, "::1");
  return startDaemon({
    ns: b.ns,
    argv: [process.execPath, "--import", "tsx", BACKEND_SCRIPT, "udp", b.name, String(t.udpPort), t.stateDir, firstV4, "64", firstV6],
    logFile: path.join(backendDir(t, b), "udp.log"),
    pidFile: udpPidFile(t, b),
    cwd: REPO_ROOT,
  });
}

/** Stops a backend's HTTP server (a "backend died" event for tests). */
export async function stopBackendHttp(t: Topology, b: HostSpec): Promise<boolean> {
  return stopPid(readPidFile(httpPidFile(t, b)), t.stateDir);
}

export function backendRunning(t: Topology, b: HostSpec): { http: boolean; udp: boolean } {
  return { http: isAlive(readPidFile(httpPidFile(t, b))), udp: isAlive(readPidFile(udpPidFile(t, b))) };
}

// ---- agents ------------------------------------------------------------------------------------

export const agentPidFile = (n: LbNodeSpec) => path.join(n.dir, "agent.pid");
export const agentLogFile = (n: LbNodeSpec) => path.join(n.dir, "agent.log");
export const agentPinDir = (t: Topology, n: LbNodeSpec) => path.join(t.bpffsDir, n.name);
export const agentFrrDir = (n: LbNodeSpec) => path.join(n.dir, "frr");

/** Map sizes of the testbed's agents (small: the defaults would take ~0.6 GB per node). */
export const DATAPATH_SIZES = { maxListeners: 64, maxBackends: 256, conn4PerCpu: 16_384, conn6PerCpu: 4_096 } as const;

export function agentConfig(t: Topology, n: LbNodeSpec, serverUrl: string, joinToken: string): AgentConfig {
  return {
    server: { url: serverUrl, joinToken },
    node: { name: n.name, addressV4: n.uplink.v4, addressV6: n.uplink.v6 },
    interfaces: [{ name: n.uplink.ifname, mode: "native" }],
    datapath: {
      pinDir: agentPinDir(t, n),
      ...DATAPATH_SIZES,
      useFib: true,
      // The router is the only next hop; used when the FIB has no neighbour entry yet.
      fallback: { ifname: n.uplink.ifname, dstMac: n.routerSide.mac, srcMac: n.uplink.mac },
      maglevWorkers: 0,
    },
    bgp: {
      asn: n.asn,
      routerId: n.uplink.v4,
      neighbors: [
        { address: n.routerSide.v4, remoteAsn: t.router.asn, description: "router" },
        { address: n.routerSide.v6, remoteAsn: t.router.asn, description: "router v6" },
      ],
    },
    frr: { enabled: true, confDir: agentFrrDir(n), debounceMs: 50, manageInstance: { dir: agentFrrDir(n) } },
    health: {},
    stateDir: path.join(n.dir, "state"),
    intervals: { metricsMs: 1000, heartbeatMs: 1000, resyncMs: 60_000, reconnectMinMs: 200, reconnectMaxMs: 2000, pingMs: 5000 },
    logLevel: "info",
  };
}

/** Starts the real agent inside the node's namespace (it starts its own FRR instance). */
export function startAgent(t: Topology, n: LbNodeSpec, serverUrl: string, joinToken: string): number {
  fs.mkdirSync(n.dir, { recursive: true, mode: 0o755 });
  const configFile = path.join(n.dir, "agent.json");
  fs.writeFileSync(configFile, JSON.stringify(agentConfig(t, n, serverUrl, joinToken), null, 2), { mode: 0o600 });
  // Only the config file configures the agent: drop TENBIN_* overrides of the caller.
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith("TENBIN_")) delete env[k];
  return startDaemon({
    ns: n.ns,
    argv: [process.execPath, AGENT_BIN, "--config", configFile],
    logFile: agentLogFile(n),
    pidFile: agentPidFile(n),
    env,
    cwd: REPO_ROOT,
  });
}

export async function stopAgent(t: Topology, n: LbNodeSpec): Promise<boolean> {
  return stopPid(readPidFile(agentPidFile(n)), t.stateDir);
}

export function agentRunning(n: LbNodeSpec): boolean {
  return isAlive(readPidFile(agentPidFile(n)));
}

/**
 * Kills a node's agent abruptly (SIGKILL by the pid in its pid file, only if that process is
 * this testbed's agent): no shutdown code runs, as in a crash. Returns the pid once it is gone.
 */
export async function killAgent(t: Topology, n: LbNodeSpec): Promise<number> {
  const pid = readPidFile(agentPidFile(n));
  if (!isAlive(pid) || !cmdline(pid).includes(AGENT_BIN) || !cmdline(pid).includes(n.dir)) {
    throw new Error(`the agent of ${n.name} is not running (pid file: ${pid || "none"}) in ${t.stateDir}`);
  }
  process.kill(pid, "SIGKILL");
  for (let waited = 0; isAlive(pid); waited += 20) {
    if (waited > 5000) throw new Error(`agent pid ${pid} of ${n.name} survived SIGKILL for 5 s`);
    await sleep(20);
  }
  return pid;
}
