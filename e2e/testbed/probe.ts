// Looking at the running testbed from outside: what the router learned (BGP, kernel routes),
// what each node's pinned maps hold, and real requests from a client namespace.
import { Datapath } from "../../agent/datapath/datapath";
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
  }[];
  /** Backend addresses that own at least one slot of the listener's active Maglev table. */
  tableBackends: Map<number, Set<string>>;
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
    }));
    const tableBackends = new Map<number, Set<string>>();
    for (const l of listeners) {
      const owners = new Set<string>();
      for (const id of new Set(dp.readTable(l.id))) {
        const a = backends.get(id);
        if (a) owners.add(a);
      }
      tableBackends.set(l.id, owners);
    }
    return { listeners, tableBackends };
  } finally {
    dp.close();
  }
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
