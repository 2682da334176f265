// The testbed's shape, computed from a few parameters: namespace names, interface names, MAC and
// IP addresses of every link. Pure (no side effects), so `up`, `down`, `status` and the tests all
// agree on what exists.
//
//   client ns ×C ──┐                      ┌── LB node ns ×N (agent: XDP + maps + FRR)  AZ a, b, …
//                  ├── router ns (FRR, ───┤
//                  │   ECMP, L4 hash)     └── backend ns ×B (tb_decap; HTTP + UDP on the VIPs)
//   root ns: bridge <prefix>br (mgmt) ── one veth per LB node: agents reach the server only here
//
// Every address is from 198.18.0.0/15 (underlay; VIP pool 198.19.0.0/24) or 2001:db8::/32.
import os from "node:os";
import path from "node:path";

export interface TopologyOptions {
  /** Prefix of every namespace and root-namespace interface ("tbt-"): `down` sweeps by it. */
  prefix: string;
  /** LB nodes: name and AZ, e.g. [{name:"lb-a1",az:"a"},…]. At least 1. */
  lbNodes: readonly { name: string; az: string }[];
  /** Number of backend namespaces (1–40). */
  backends: number;
  /** Number of client namespaces (1–40). */
  clients: number;
  /** Third octet of the management subnet 198.18.<mgmtOctet>.0/24 in the root namespace (200–255). */
  mgmtOctet: number;
  /** State directory (configs, logs, pid files, bpffs mount); default: <tmpdir>/tenbin-testbed-<prefix>. */
  stateDir?: string;
}

export interface LinkEnd {
  ns: string;
  ifname: string;
  mac: string;
  v4: string;
  v6: string;
}

export interface LbNodeSpec {
  index: number;
  name: string;
  az: string;
  ns: string;
  asn: number;
  /** Node side of the uplink to the router (XDP attached here) and the router's side. */
  uplink: LinkEnd;
  routerSide: LinkEnd;
  /** Management veth: node side (in ns) and root-side name (enslaved to the bridge). */
  mgmtV4: string;
  mgmtIfname: string;
  mgmtRootIfname: string;
  dir: string;
}

export interface HostSpec {
  index: number;
  name: string;
  ns: string;
  link: LinkEnd;
  routerSide: LinkEnd;
}

export interface Topology {
  prefix: string;
  stateDir: string;
  bpffsDir: string;
  router: { ns: string; asn: number; routerId: string; dir: string };
  bridge: { ifname: string; v4: string; cidr: string };
  lbNodes: LbNodeSpec[];
  backends: HostSpec[];
  clients: HostSpec[];
  vipPoolV4: string;
  vipPoolV6: string;
  /** Port of the backends' UDP echo-with-name server. */
  udpPort: number;
  /** Port of the backends' HTTP server. */
  httpPort: number;
  underlayMtu: number;
}

export const ROUTER_ASN = 65000;
export const LB_ASN_BASE = 65100;
export const VIP_POOL_V4 = "198.19.0.0/24";
export const VIP_POOL_V6 = "2001:db8:ff00::/120";

const hex = (n: number) => n.toString(16);
const mac = (kind: number, index: number, side: number) =>
  `02:74:62:${hex(kind).padStart(2, "0")}:${hex(index).padStart(2, "0")}:${hex(side).padStart(2, "0")}`;

/** Namespace names may be long; interface names must stay ≤ 15 characters. */
export function buildTopology(o: TopologyOptions): Topology {
  if (!/^tb[a-z0-9-]{1,8}$/.test(o.prefix)) throw new Error(`prefix must match tb[a-z0-9-]{1,8}, got "${o.prefix}"`);
  if (o.lbNodes.length < 1 || o.lbNodes.length > 40) throw new Error("1–40 LB nodes");
  if (o.backends < 1 || o.backends > 40 || o.clients < 1 || o.clients > 40) throw new Error("1–40 backends and clients");
  if (!Number.isInteger(o.mgmtOctet) || o.mgmtOctet < 200 || o.mgmtOctet > 255) throw new Error("mgmtOctet must be 200–255");
  const stateDir = o.stateDir ?? path.join(os.tmpdir(), `tenbin-testbed-${o.prefix.replace(/-+$/, "")}`);
  const p = o.prefix;
  const routerNs = `${p}router`;
  // Link subnets: LB i → 198.18.(10+i).0/24, backend j → 198.18.(50+j).0/24, client k → 198.18.(100+k).0/24.
  // On each: the host side is .1 / ::1, the router side .254 / ::fe.
  const link = (kind: number, third: number, i: number, ns: string, ifname: string, routerIf: string) => {
    const v6net = `2001:db8:${hex(third)}::`;
    const host: LinkEnd = { ns, ifname, mac: mac(kind, i, 1), v4: `198.18.${third}.1`, v6: `${v6net}1` };
    const router: LinkEnd = { ns: routerNs, ifname: routerIf, mac: mac(kind, i, 2), v4: `198.18.${third}.254`, v6: `${v6net}fe` };
    return { host, router };
  };
  const lbNodes = o.lbNodes.map((n, idx): LbNodeSpec => {
    const i = idx + 1;
    if (!/^[a-z0-9-]{1,20}$/.test(n.name)) throw new Error(`bad LB node name ${n.name}`);
    const ns = `${p}${n.name}`;
    const l = link(1, 10 + i, i, ns, "up0", `lb${i}`);
    return {
      index: i,
      name: n.name,
      az: n.az,
      ns,
      asn: LB_ASN_BASE + i,
      uplink: l.host,
      routerSide: l.router,
      mgmtV4: `198.18.${o.mgmtOctet}.${10 + i}`,
      mgmtIfname: "mgmt0",
      mgmtRootIfname: `${p}m${i}`,
      dir: path.join(stateDir, n.name),
    };
  });
  const hosts = (kind: number, count: number, base: number, label: string, routerIf: string): HostSpec[] =>
    Array.from({ length: count }, (_, idx) => {
      const i = idx + 1;
      const name = `${label}${i}`;
      const ns = `${p}${name}`;
      const l = link(kind, base + i, i, ns, "eth0", `${routerIf}${i}`);
      return { index: i, name, ns, link: l.host, routerSide: l.router };
    });
  return {
    prefix: p,
    stateDir,
    bpffsDir: path.join(stateDir, "bpffs"),
    router: { ns: routerNs, asn: ROUTER_ASN, routerId: "198.18.10.254", dir: path.join(stateDir, "router") },
    bridge: { ifname: `${p}br`, v4: `198.18.${o.mgmtOctet}.1`, cidr: `198.18.${o.mgmtOctet}.0/24` },
    lbNodes,
    backends: hosts(2, o.backends, 50, "be", "be"),
    clients: hosts(3, o.clients, 100, "cl", "cl"),
    vipPoolV4: VIP_POOL_V4,
    vipPoolV6: VIP_POOL_V6,
    udpPort: 9000,
    httpPort: 80,
    underlayMtu: 1600,
  };
}

/** The default demo/CLI shape: 3 LB nodes in 2 AZs, 3 backends, 2 clients. */
export const DEFAULT_TOPOLOGY: TopologyOptions = {
  prefix: "tbt-",
  lbNodes: [
    { name: "lb-a1", az: "a" },
    { name: "lb-a2", az: "a" },
    { name: "lb-b1", az: "b" },
  ],
  backends: 3,
  clients: 2,
  mgmtOctet: 255,
};

/** The tests' topology: 3 LB nodes a1, a2 (AZ a) and b1 (AZ b), 3 backends, 2 clients. */
export const testTopology = (prefix: string, mgmtOctet: number): TopologyOptions => ({
  prefix,
  lbNodes: [
    { name: "a1", az: "a" },
    { name: "a2", az: "a" },
    { name: "b1", az: "b" },
  ],
  backends: 3,
  clients: 2,
  mgmtOctet,
});

/** Every namespace of the testbed. */
export function allNamespaces(t: Topology): string[] {
  return [t.router.ns, ...t.lbNodes.map((n) => n.ns), ...t.backends.map((b) => b.ns), ...t.clients.map((c) => c.ns)];
}
