// Looking at the running testbed from outside: what the router learned (BGP, kernel routes),
// what each node's pinned maps hold, and real requests from a client namespace.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { Datapath, type ListenerCounters } from "../../agent/datapath/datapath";
import type { GlobalCounter } from "../../agent/datapath/abi";
import { agentPinDir, DATAPATH_SIZES, routerVtysh } from "./daemons";
import { ip, nsRun, run } from "./sys";
import type { HostSpec, LbNodeSpec, Topology } from "./topology";

export interface RouteNexthop {
  gateway?: string;
  dev?: string;
}
interface RouteJson {
  dst: string;
  gateway?: string;
  dev?: string;
  protocol?: string;
  nexthops?: RouteNexthop[];
}

/** Next-hop addresses of the router's kernel route to `prefix` (several when ECMP). */
export async function routerNexthops(t: Topology, prefix: string): Promise<string[]> {
  const family = prefix.includes(":") ? "-6" : "-4";
  const routes = JSON.parse((await ip("-n", t.router.ns, family, "-j", "route", "show", prefix)) || "[]") as RouteJson[];
  const out: string[] = [];
  for (const r of routes) {
    if (r.nexthops) out.push(...r.nexthops.map((h) => h.gateway ?? h.dev ?? "?"));
    else if (r.gateway) out.push(r.gateway);
  }
  return out.sort();
}

/** BGP session state at the router, per neighbor address. */
export async function routerBgpPeers(t: Topology): Promise<Map<string, { state: string; pfxRcd: number }>> {
  const s = JSON.parse(await routerVtysh(t, "show bgp summary json")) as Record<
    string,
    { peers?: Record<string, { state: string; pfxRcd?: number }> } | undefined
  >;
  const peers = new Map<string, { state: string; pfxRcd: number }>();
  for (const af of ["ipv4Unicast", "ipv6Unicast"]) {
    for (const [addr, p] of Object.entries(s[af]?.peers ?? {})) peers.set(addr, { state: p.state, pfxRcd: p.pfxRcd ?? 0 });
  }
  return peers;
}

export interface NodeMaps {
  listeners: {
    id: number;
    vip: string;
    protocol: string;
    port: number;
    backends: { id: number; address: string }[];
    /** Packets the XDP program matched to this listener (summed over CPUs). */
    packets: bigint;
    /** Every per-listener counter (packets, newFlows, dropDenied, …), summed over CPUs. */
    counters: ListenerCounters;
    allowedCidrs: string[];
  }[];
  /** Backend addresses that own at least one slot of the listener's active Maglev table. */
  tableBackends: Map<number, Set<string>>;
  /** A digest of the listener's active Maglev table, slot by slot, by backend address. */
  tableDigest: Map<number, string>;
  /** Packets and bytes the XDP program forwarded to each backend address. */
  backendCounters: Map<string, { packets: bigint; bytes: bigint }>;
  /** The program's global counters (pass = handed to the kernel, tx, drop, …). */
  global: Record<GlobalCounter, bigint>;
}

/** Reads what a node's pinned maps hold (opens them next to the running agent; read only). */
export function nodeMaps(t: Topology, n: LbNodeSpec): NodeMaps {
  const dp = Datapath.open({ pinDir: agentPinDir(t, n), ...DATAPATH_SIZES });
  try {
    const backends = new Map(dp.listBackends().map((b) => [b.id, b.address]));
    const stats = dp.readStats();
    const listeners = dp.listListeners().map((l) => ({
      id: l.id,
      vip: l.vip,
      protocol: l.protocol,
      port: l.port,
      backends: l.backendIds.map((id) => ({ id, address: backends.get(id) ?? "?" })),
      packets: stats.listeners.get(l.id)?.packets ?? 0n,
      counters: stats.listeners.get(l.id) ?? zeroListenerCounters(),
      allowedCidrs: l.allowedCidrs,
    }));
    const tableBackends = new Map<number, Set<string>>();
    const tableDigest = new Map<number, string>();
    for (const l of listeners) {
      const table = dp.readTable(l.id);
      const owners = new Set<string>();
      for (const id of new Set(table)) {
        const a = backends.get(id);
        if (a) owners.add(a);
      }
      tableBackends.set(l.id, owners);
      tableDigest.set(l.id, createHash("sha256").update(Array.from(table, (id) => backends.get(id) ?? "-").join(",")).digest("hex"));
    }
    const backendCounters = new Map<string, { packets: bigint; bytes: bigint }>();
    for (const [id, c] of stats.backends) {
      const a = backends.get(id);
      if (a) backendCounters.set(a, c);
    }
    return { listeners, tableBackends, tableDigest, backendCounters, global: stats.global };
  } finally {
    dp.close();
  }
}

function zeroListenerCounters(): ListenerCounters {
  return { packets: 0n, bytes: 0n, newFlows: 0n, dropDenied: 0n, dropNoBackend: 0n, dropEncap: 0n, dropNoRoute: 0n };
}

/** An interface's kernel counters inside a namespace (`ip -s link`). */
export async function linkCounters(ns: string, ifname: string): Promise<{ rxPackets: bigint; rxBytes: bigint; txPackets: bigint; txBytes: bigint }> {
  const [l] = JSON.parse(await ip("-n", ns, "-j", "-s", "link", "show", "dev", ifname)) as {
    stats64: { rx: { packets: number; bytes: number }; tx: { packets: number; bytes: number } };
  }[];
  if (!l) throw new Error(`no interface ${ifname} in ${ns}`);
  const { rx, tx } = l.stats64;
  return { rxPackets: BigInt(rx.packets), rxBytes: BigInt(rx.bytes), txPackets: BigInt(tx.packets), txBytes: BigInt(tx.bytes) };
}

/** One HTTP GET from a client namespace (curl, bounded); the body (backend name) or null. */
export async function httpFromClient(client: HostSpec, url: string, timeoutS = 1): Promise<string | null> {
  try {
    const out = await nsRun(client.ns, "curl", "-s", "--max-time", String(timeoutS), "--connect-timeout", String(timeoutS), url);
    return out.trim() || null;
  } catch {
    return null;
  }
}

/** One UDP exchange from a client namespace (bounded); the answer ("<backend> <payload>") or null. */
export async function udpFromClient(client: HostSpec, vip: string, port: number, payload: string, timeoutMs = 1000): Promise<string | null> {
  const family = vip.includes(":") ? "udp6" : "udp4";
  const script = `
const s = require("node:dgram").createSocket(${JSON.stringify(family)});
const t = setTimeout(() => { console.log(""); process.exit(0); }, ${timeoutMs});
s.on("message", (m) => { clearTimeout(t); console.log(m.toString()); process.exit(0); });
s.send(${JSON.stringify(payload)}, ${port}, ${JSON.stringify(vip)});`;
  const out = await run("ip", ["netns", "exec", client.ns, process.execPath, "-e", script], timeoutMs + 5000).catch(() => "");
  return out.trim() || null;
}

export interface Transfer {
  /** curl's exit code (0: the whole body arrived within the time limit). */
  exitCode: number;
  /** Body bytes received. */
  bytes: number;
  /** The first line of the body: the backend's name. */
  backend: string;
  ms: number;
}

/**
 * One HTTP GET from a client namespace whose body is counted, not kept (bulk answers, long
 * transfers); bounded by `timeoutS`. Resolves when curl exits, whatever happened.
 */
export function transferFromClient(client: HostSpec, url: string, timeoutS: number): Promise<Transfer> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn("ip", ["netns", "exec", client.ns, "curl", "-s", "--max-time", String(timeoutS), "--connect-timeout", "2", url], {
      stdio: ["ignore", "pipe", "ignore"],
    });
    let bytes = 0;
    let head = "";
    child.stdout.on("data", (d: Buffer) => {
      if (head.length < 64 && !head.includes("\n")) head += d.subarray(0, 64).toString("latin1");
      bytes += d.length;
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ exitCode: code ?? -1, bytes, backend: head.split("\n")[0] ?? "", ms: performance.now() - t0 }));
  });
}

/** UDP exchanges from a client namespace: one datagram from each of `count` sockets (distinct flows). */
export async function udpFlowsFromClient(client: HostSpec, vip: string, port: number, count: number, timeoutMs = 1500): Promise<(string | null)[]> {
  const family = vip.includes(":") ? "udp6" : "udp4";
  const script = `
const dgram = require("node:dgram");
const answers = new Array(${count}).fill(null);
const sockets = [];
const done = () => { console.log(JSON.stringify(answers)); process.exit(0); };
setTimeout(done, ${timeoutMs});
let pending = ${count};
for (let i = 0; i < ${count}; i++) {
  const s = dgram.createSocket(${JSON.stringify(family)});
  sockets.push(s);
  s.on("message", (m) => { if (answers[i] === null) { answers[i] = m.toString(); if (--pending === 0) done(); } });
  s.send("flow-" + i, ${port}, ${JSON.stringify(vip)});
}`;
  const out = await run("ip", ["netns", "exec", client.ns, process.execPath, "-e", script], timeoutMs + 10_000);
  return JSON.parse(out) as (string | null)[];
}

export interface Conversation {
  conn: number;
  /** The backend that answered the connection's first request. */
  backend: string | null;
  sent: number;
  answered: number;
  /** Why the conversation ended early (null: it ran its whole duration on one connection). */
  error: string | null;
}

export interface Conversations {
  /** Resolves with each connection's first answer (the backend it landed on), in connection order. */
  started: Promise<(string | null)[]>;
  /** Resolves when every conversation has ended. */
  done: Promise<Conversation[]>;
  /** Stops the client process (cleanup after a failed assertion). */
  stop(): void;
}

/**
 * Long-lived TCP connections from a client namespace: `connections` keep-alive connections to
 * http://host:port/keep, each asking again `intervalMs` after every answer, for `durationMs`.
 * A connection that is reset, closed, unanswered for 2 s or answered by another backend ends
 * with an error: one connection, one backend, from start to end, or it failed.
 */
export function startConversations(client: HostSpec, host: string, port: number, o: { connections: number; intervalMs: number; durationMs: number }): Conversations {
  const script = `
const net = require("node:net");
const host = ${JSON.stringify(host)}, port = ${port}, interval = ${o.intervalMs};
const end = Date.now() + ${o.durationMs};
let open = ${o.connections};
const out = (x) => process.stdout.write(JSON.stringify(x) + "\\n");
for (let c = 0; c < ${o.connections}; c++) {
  const s = net.connect({ host, port });
  let buf = "", sent = 0, answered = 0, backend = null, done = false, timer;
  const finish = (error) => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    if (backend === null) out({ first: c, backend: null });
    out({ conn: c, backend, sent, answered, error });
    s.destroy();
    if (--open === 0) process.exit(0);
  };
  const ask = () => {
    if (Date.now() >= end) return finish(null);
    s.write("GET /keep HTTP/1.1\\r\\nHost: " + host + "\\r\\n\\r\\n");
    sent++;
    timer = setTimeout(() => finish("no answer within 2000 ms"), 2000);
  };
  s.setNoDelay(true);
  s.on("connect", ask);
  s.on("data", (d) => {
    buf += d.toString("latin1");
    for (;;) {
      const i = buf.indexOf("\\r\\n\\r\\n");
      if (i < 0) return;
      const len = Number((/content-length: *(\\d+)/i.exec(buf.slice(0, i)) || [])[1] || 0);
      if (buf.length < i + 4 + len) return;
      const name = buf.slice(i + 4, i + 4 + len).trim();
      buf = buf.slice(i + 4 + len);
      clearTimeout(timer);
      answered++;
      if (backend === null) { backend = name; out({ first: c, backend }); }
      else if (name !== backend) return finish("answered by " + name + " after " + backend);
      setTimeout(ask, interval);
    }
  });
  s.on("error", (e) => finish(e.message));
  s.on("close", () => finish("closed by the peer"));
}
setTimeout(() => process.exit(1), ${o.durationMs} + 10000);`;
  const child = spawn("ip", ["netns", "exec", client.ns, process.execPath, "-e", script], { stdio: ["ignore", "pipe", "pipe"] });
  const firsts: (string | null)[] = new Array<string | null>(o.connections).fill(null);
  let firstCount = 0;
  const results: Conversation[] = [];
  let stderr = "";
  let resolveStarted: (v: (string | null)[]) => void = () => {};
  const started = new Promise<(string | null)[]>((r) => (resolveStarted = r));
  let pending = "";
  child.stdout.on("data", (d: Buffer) => {
    pending += d.toString();
    let nl: number;
    while ((nl = pending.indexOf("\n")) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      const m = JSON.parse(line) as { first?: number; backend: string | null } & Partial<Conversation>;
      if (m.first !== undefined) {
        firsts[m.first] = m.backend;
        if (++firstCount === o.connections) resolveStarted(firsts);
      } else results.push(m as Conversation);
    }
  });
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<Conversation[]>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => {
      resolveStarted(firsts);
      if (results.length !== o.connections) reject(new Error(`conversation client exited ${code} with ${results.length}/${o.connections} results: ${stderr.slice(-2000)}`));
      else resolve(results.sort((a, b) => a.conn - b.conn));
    });
  });
  return {
    started,
    done,
    stop: () => {
      if (child.exitCode === null && child.pid !== undefined) child.kill("SIGKILL");
    },
  };
}
