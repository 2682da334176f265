// Builds the testbed's namespaces, links, addresses, routes and sysctls, and attaches the BPF
// programs that are not the agents' own: tb_pass on the router's LB-facing veths (an XDP_TX'd
// frame into a veth is delivered only when the peer has an XDP program) and tb_decap on the
// backends (this kernel has no ipip device). Nothing here has a route to the machine's uplink:
// the only link into the root namespace is the management bridge, whose address the server
// binds to; the root namespace does not forward (ip_forward stays as it is, checked below).
import fs from "node:fs";
import path from "node:path";
import { attachPassThrough, Decap } from "../../agent/datapath/decap";
import { withNetns } from "../../agent/datapath/netns";
import { ip, nsRun, run, runQuiet } from "./sys";
import type { HostSpec, LinkEnd, Topology } from "./topology";

/** bpffs mounted at `dir` (a private one: `ip netns exec` hides /sys/fs/bpf). */
export function isMountedBpffs(dir: string): boolean {
  const mounts = fs.readFileSync("/proc/mounts", "utf8");
  return mounts.split("\n").some((l) => {
    const [, where, type] = l.split(" ");
    return where === dir && type === "bpf";
  });
}

async function veth(a: LinkEnd, b: LinkEnd, mtu: number): Promise<void> {
  await ip("-n", a.ns, "link", "add", a.ifname, "address", a.mac, "type", "veth", "peer", "name", b.ifname, "address", b.mac, "netns", b.ns);
  for (const end of [a, b]) {
    await ip("-n", end.ns, "link", "set", end.ifname, "mtu", String(mtu));
    await ip("-n", end.ns, "addr", "add", `${end.v4}/24`, "dev", end.ifname);
    // nodad: a tentative address cannot be bound (bgpd) for seconds.
    await ip("-n", end.ns, "-6", "addr", "add", `${end.v6}/64`, "dev", end.ifname, "nodad");
    await ip("-n", end.ns, "link", "set", end.ifname, "up");
  }
}

async function sysctl(ns: string, ...settings: string[]): Promise<void> {
  await nsRun(ns, "sysctl", "-qw", ...settings);
}

async function defaultRoutes(h: { ns: string }, via: LinkEnd): Promise<void> {
  await ip("-n", h.ns, "route", "add", "default", "via", via.v4);
  await ip("-n", h.ns, "-6", "route", "add", "default", "via", via.v6);
}

/** Creates everything but the daemons. Throws on the first failure (the caller runs `down`). */
export async function createNetwork(t: Topology): Promise<void> {
  if ((await runQuiet("sysctl", ["-n", "net.ipv4.ip_forward"])).trim() === "1") {
    // The management bridge must never become a path to the uplink.
    throw new Error("the root namespace forwards IPv4 (net.ipv4.ip_forward=1): refusing to attach the testbed's management bridge");
  }
  fs.mkdirSync(t.stateDir, { recursive: true, mode: 0o755 });
  fs.chmodSync(t.stateDir, 0o755); // FRR daemons (user frr) must traverse it
  fs.mkdirSync(t.bpffsDir, { recursive: true });
  if (!isMountedBpffs(t.bpffsDir)) await run("mount", ["-t", "bpf", "bpf", t.bpffsDir]);

  // Namespaces.
  const all = [t.router.ns, ...t.lbNodes.map((n) => n.ns), ...t.backends.map((b) => b.ns), ...t.clients.map((c) => c.ns)];
  for (const ns of all) {
    await ip("netns", "add", ns);
    await ip("-n", ns, "link", "set", "lo", "up");
  }

  // Router: forwarding, L4 ECMP hashing, loose source checks (DSR replies come from the VIP).
  await sysctl(
    t.router.ns,
    "net.ipv4.ip_forward=1",
    "net.ipv6.conf.all.forwarding=1",
    "net.ipv4.fib_multipath_hash_policy=1",
    "net.ipv6.fib_multipath_hash_policy=1",
    "net.ipv4.conf.all.rp_filter=0",
    "net.ipv4.conf.default.rp_filter=0",
  );

  fs.mkdirSync(path.join(t.bpffsDir, "router"), { recursive: true });

  // LB nodes: uplink to the router (the agent attaches XDP to it), management link to the root ns.
  await ip("link", "add", t.bridge.ifname, "type", "bridge");
  await runQuiet("sysctl", ["-qw", `net.ipv6.conf.${t.bridge.ifname}.disable_ipv6=1`]); // IPv4 only
  await ip("addr", "add", `${t.bridge.v4}/24`, "dev", t.bridge.ifname);
  await ip("link", "set", t.bridge.ifname, "up");
  for (const n of t.lbNodes) {
    await veth(n.uplink, n.routerSide, t.underlayMtu);
    await ip("link", "add", n.mgmtRootIfname, "type", "veth", "peer", "name", n.mgmtIfname, "netns", n.ns);
    await ip("link", "set", n.mgmtRootIfname, "master", t.bridge.ifname, "up");
    await ip("-n", n.ns, "addr", "add", `${n.mgmtV4}/24`, "dev", n.mgmtIfname);
    await ip("-n", n.ns, "link", "set", n.mgmtIfname, "up");
    await defaultRoutes(n, n.routerSide);
    // Health probes leave through the kernel; the node is a traffic source of TCP checksums too.
    await sysctl(n.ns, "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0");
    withNetns(t.router.ns, () => attachPassThrough(path.join(t.bpffsDir, "router"), n.routerSide.ifname, "native"));
  }

  // Backends: decap on the link, every VIP of the pools local on lo (AnyIP routes).
  for (const b of t.backends) {
    await veth(b.link, b.routerSide, t.underlayMtu);
    await defaultRoutes(b, b.routerSide);
    await ip("-n", b.ns, "route", "add", "local", t.vipPoolV4, "dev", "lo");
    await ip("-n", b.ns, "-6", "route", "add", "local", t.vipPoolV6, "dev", "lo");
    await sysctl(b.ns, "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0", `net.ipv4.conf.${b.link.ifname}.rp_filter=0`);
    await attachDecap(t, b);
  }

  // Clients: 1500-byte links (the underlay has room for the outer header), no tx checksum
  // offload (XDP forwards what it receives: the checksum must be complete).
  for (const c of t.clients) {
    await veth(c.link, c.routerSide, 1500);
    await defaultRoutes(c, c.routerSide);
    await nsRun(c.ns, "ethtool", "-K", c.link.ifname, "tx", "off");
  }

  // rp_filter is max(all, interface): clear it on every router interface too.
  const routerIfs = [...t.lbNodes.map((n) => n.routerSide), ...t.backends.map((b) => b.routerSide), ...t.clients.map((c) => c.routerSide)];
  await sysctl(t.router.ns, ...routerIfs.map((r) => `net.ipv4.conf.${r.ifname}.rp_filter=0`));
}

async function attachDecap(t: Topology, b: HostSpec): Promise<void> {
  const d = withNetns(b.ns, () => {
    const decap = Decap.open(path.join(t.bpffsDir, b.name));
    decap.attach(b.link.ifname, "native");
    return decap;
  });
  d.close(); // the pinned link keeps it attached
  await Promise.resolve();
}

/** Decapsulation counters of a backend (read from its pinned map). */
export function backendDecapStats(t: Topology, b: HostSpec): { decapV4: bigint; decapV6: bigint } {
  const d = Decap.open(path.join(t.bpffsDir, b.name));
  try {
    const s = d.readStats();
    return { decapV4: s.decapV4, decapV6: s.decapV6 };
  } finally {
    d.close();
  }
}
