// Integration: two network namespaces joined by a veth, a real FRR instance in each. One plays
// an LB node advertising VIPs through renderFrrConfig + FrrApplier, the other a router; the
// router must learn the VIP routes over BGP (IPv4 and IPv6 sessions) and lose them on withdraw.
import { execFile } from "node:child_process";
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FrrApplier } from "./apply";
import { FrrError, FrrInstance } from "./instance";
import { renderFrrConfig, type FrrConfigInput } from "./render";
import { VtySession } from "./vty";

const run = promisify(execFile);

const NS_NODE = "tb-frrt-a";
const NS_ROUTER = "tb-frrt-b";
const NODE_V4 = "198.18.250.1";
const ROUTER_V4 = "198.18.250.2";
const NODE_V6 = "2001:db8:250:1::1";
const ROUTER_V6 = "2001:db8:250:1::2";
const VIP_V4 = "198.19.250.10";
const VIP_V6 = "2001:db8:250::10";
const NODE_ASN = 65001;
const ROUTER_ASN = 65000;
const PASSWORD = "tb-frrt-md5";

const ip = async (...args: string[]): Promise<string> => (await run("ip", args)).stdout;
const ipQuiet = (...args: string[]): Promise<unknown> => run("ip", args).catch(() => undefined);

interface RouteJson {
  dst: string;
  gateway?: string;
  protocol?: string;
  type?: string;
}
async function routes(ns: string, family: "-4" | "-6", prefix: string): Promise<RouteJson[]> {
  return JSON.parse(
    (await ip("-n", ns, family, "-j", "route", "show", prefix)) || "[]",
  ) as RouteJson[];
}

/** A pid that exited is gone or a zombie (pid 1 in this container does not always reap). */
async function isRunning(pid: number): Promise<boolean> {
  const stat = await fs.readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
  return stat !== "" && stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
}

/** Polls until check() returns true; returns the time it took. On timeout, explains the state. */
async function waitFor(
  what: string,
  check: () => Promise<boolean>,
  explain?: () => Promise<string>,
  timeoutMs = 20_000,
): Promise<number> {
  const start = performance.now();
  while (performance.now() - start < timeoutMs) {
    if (await check()) return performance.now() - start;
    await new Promise((r) => setTimeout(r, 100));
  }
  const details = explain ? await explain().catch((err: unknown) => String(err)) : "";
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${details}`);
}

const nodeConfig = (
  vips: string[],
  advertiseVia?: FrrConfigInput["advertiseVia"],
): FrrConfigInput => ({
  hostname: "lb-frrt-a",
  routerId: NODE_V4,
  localAsn: NODE_ASN,
  neighbors: [
    { address: ROUTER_V4, remoteAsn: ROUTER_ASN, description: "router v4", password: PASSWORD },
    { address: ROUTER_V6, remoteAsn: ROUTER_ASN, description: "router v6" },
  ],
  vips,
  advertiseVia,
});

const routerConfig: FrrConfigInput = {
  hostname: "router-frrt-b",
  routerId: ROUTER_V4,
  localAsn: ROUTER_ASN,
  neighbors: [
    { address: NODE_V4, remoteAsn: NODE_ASN, description: "lb-frrt-a v4", password: PASSWORD },
    { address: NODE_V6, remoteAsn: NODE_ASN, description: "lb-frrt-a v6" },
  ],
  vips: [],
};

describe.skipIf(process.getuid?.() !== 0)(
  "FRR in two namespaces: a node advertises VIPs to a router (needs root)",
  () => {
    // Fixed directories: a crashed earlier run's daemons are found there and stopped at start.
    const nodeDir = path.join(os.tmpdir(), NS_NODE);
    const routerDir = path.join(os.tmpdir(), NS_ROUTER);
    let node: FrrInstance | undefined;
    let router: FrrInstance | undefined;
    let nodeApplier: FrrApplier;
    const explainRouter = async (): Promise<string> =>
      [
        await router!.vtysh("show bgp summary"),
        await router!.vtysh("show bgp ipv6 unicast"),
        await ip("-n", NS_ROUTER, "-6", "route"),
        await ip("-n", NS_NODE, "-6", "addr"),
      ].join("\n");
    // The router installs IPv6 routes from a directly connected eBGP peer via the peer's
    // link-local address (FRR prefers it over the global next hop it also receives).
    let nodeLinkLocal = "";
    const readNodeLinkLocal = async (): Promise<string> => {
      // `ip -j` leaves an empty object for each address the scope filter drops.
      const addrs = JSON.parse(
        await ip("-n", NS_NODE, "-6", "-j", "addr", "show", "dev", "veth0", "scope", "link"),
      ) as {
        addr_info: { local?: string }[];
      }[];
      return addrs[0]?.addr_info.find((a) => a.local?.startsWith("fe80:"))?.local ?? "";
    };

    async function cleanup(): Promise<void> {
      nodeApplier?.close();
      for (const inst of [node, router]) await inst?.stop().catch(() => undefined);
      for (const ns of [NS_NODE, NS_ROUTER]) await ipQuiet("netns", "del", ns);
    }

    beforeAll(async () => {
      for (const ns of [NS_NODE, NS_ROUTER]) await ipQuiet("netns", "del", ns); // leftovers
      try {
        for (const ns of [NS_NODE, NS_ROUTER]) {
          await ip("netns", "add", ns);
          await ip("-n", ns, "link", "set", "lo", "up");
        }
        await ip(
          "-n",
          NS_NODE,
          "link",
          "add",
          "veth0",
          "type",
          "veth",
          "peer",
          "name",
          "veth0",
          "netns",
          NS_ROUTER,
        );
        for (const [ns, v4, v6] of [
          [NS_NODE, NODE_V4, NODE_V6],
          [NS_ROUTER, ROUTER_V4, ROUTER_V6],
        ] as const) {
          await ip("-n", ns, "addr", "add", `${v4}/30`, "dev", "veth0");
          // nodad: a tentative address (duplicate address detection) cannot be bound by bgpd.
          await ip("-n", ns, "addr", "add", `${v6}/64`, "dev", "veth0", "nodad");
          await ip("-n", ns, "link", "set", "veth0", "up");
        }
        [node, router] = await Promise.all([
          FrrInstance.start({ dir: nodeDir, netns: NS_NODE }),
          FrrInstance.start({ dir: routerDir, netns: NS_ROUTER }),
        ]);
        nodeApplier = new FrrApplier({
          confDir: node.confDir,
          vtySocketDir: node.vtySocketDir,
          debounceMs: 50,
        });
        const routerApplier = new FrrApplier({
          confDir: router.confDir,
          vtySocketDir: router.vtySocketDir,
        });
        await routerApplier.apply(renderFrrConfig(routerConfig));
      } catch (err) {
        await cleanup();
        throw err;
      }
    }, 60_000);

    afterAll(async () => {
      await cleanup();
      await fs.rm(nodeDir, { recursive: true, force: true });
      await fs.rm(routerDir, { recursive: true, force: true });
    }, 30_000);

    it("runs each instance's daemons with their own pids and paths inside its namespace", async () => {
      for (const [inst, ns] of [
        [node!, NS_NODE],
        [router!, NS_ROUTER],
      ] as const) {
        expect([...inst.processIds.keys()]).toEqual(["zebra", "staticd", "bgpd"]);
        const nsInode = (await fs.stat(`/run/netns/${ns}`)).ino;
        for (const pid of inst.processIds.values()) {
          expect((await fs.stat(`/proc/${pid}/ns/net`)).ino).toBe(nsInode);
        }
      }
      const nodePids = new Set(node!.processIds.values());
      for (const pid of router!.processIds.values()) expect(nodePids.has(pid)).toBe(false);
    });

    it("talks to a daemon's vty socket directly: batches run in order, a refused command names itself", async () => {
      const session = await VtySession.open(node!.vtySocketDir, "staticd");
      try {
        await expect(
          session.runAll([
            "configure terminal",
            "ip route 198.19.250.99/32 blackhole tag 4242",
            "bogus command",
            "end",
          ]),
        ).rejects.toThrow(/staticd refused "bogus command" \(status \d+\)[\s\S]*Unknown command/);
        // The daemon carried on with the rest of the batch (why a failed batch means "reload").
        expect(await node!.vtysh("show running-config")).toContain(
          "ip route 198.19.250.99/32 blackhole tag 4242",
        );
        await session.runAll([
          "configure terminal",
          "no ip route 198.19.250.99/32 blackhole tag 4242",
          "end",
        ]);
        expect(await node!.vtysh("show running-config")).not.toContain("198.19.250.99");
      } finally {
        session.close();
      }
      await expect(
        VtySession.open(path.join(os.tmpdir(), "tb-frrt-nowhere"), "bgpd"),
      ).rejects.toThrow(/cannot reach bgpd .*is FRR running/);
    });

    it("advertises both VIPs; the router installs them via the node within seconds", async () => {
      const result = await nodeApplier.apply(renderFrrConfig(nodeConfig([VIP_V4, VIP_V6])));
      expect(result.changed).toBe(true);
      expect(await fs.readFile(path.join(node!.confDir, "frr.conf"), "utf8")).toBe(
        renderFrrConfig(nodeConfig([VIP_V4, VIP_V6])),
      );

      // The blackhole statics put the VIPs into the node's own RIB/kernel (what `network` needs).
      expect((await routes(NS_NODE, "-4", `${VIP_V4}/32`))[0]?.type).toBe("blackhole");

      const v4Ms = await waitFor(
        "the IPv4 VIP route on the router",
        async () =>
          (await routes(NS_ROUTER, "-4", `${VIP_V4}/32`)).some(
            (r) => r.gateway === NODE_V4 && r.protocol === "bgp",
          ),
        explainRouter,
      );
      const v6Ms = await waitFor(
        "the IPv6 VIP route on the router",
        async () => {
          nodeLinkLocal = await readNodeLinkLocal();
          return (await routes(NS_ROUTER, "-6", `${VIP_V6}/128`)).some(
            (r) => r.gateway === nodeLinkLocal && r.protocol === "bgp",
          );
        },
        explainRouter,
      );
      expect(nodeLinkLocal).toMatch(/^fe80:/);
      console.log(
        `router learned the VIPs ${Math.round(v4Ms)} ms (v4) / ${Math.round(v4Ms + v6Ms)} ms (v6) after the reload`,
      );

      // Both sessions are up (the IPv4 one with TCP-MD5), seen through vtysh's JSON.
      const summary = await router!.vtyshJson<{
        ipv4Unicast?: { peers: Record<string, { state: string; pfxRcd: number }> };
        ipv6Unicast?: { peers: Record<string, { state: string; pfxRcd: number }> };
      }>("show bgp summary json");
      expect(summary.ipv4Unicast?.peers[NODE_V4]).toMatchObject({
        state: "Established",
        pfxRcd: 1,
      });
      expect(summary.ipv6Unicast?.peers[NODE_V6]).toMatchObject({
        state: "Established",
        pfxRcd: 1,
      });
    });

    it("withdraws a VIP removed from the config", async () => {
      const result = await nodeApplier.apply(renderFrrConfig(nodeConfig([VIP_V6])));
      expect(result.changed).toBe(true);
      const ms = await waitFor(
        "the IPv4 VIP route to leave the router",
        async () => (await routes(NS_ROUTER, "-4", `${VIP_V4}/32`)).length === 0,
      );
      console.log(`router dropped the withdrawn VIP ${Math.round(ms)} ms after the reload`);
      expect(await routes(NS_NODE, "-4", `${VIP_V4}/32`)).toEqual([]); // blackhole gone on the node too
      expect(
        (await routes(NS_ROUTER, "-6", `${VIP_V6}/128`)).some((r) => r.gateway === nodeLinkLocal),
      ).toBe(true);
    });

    it("skips an unchanged config and collapses a burst into one apply of the latest", async () => {
      const appliesBefore = nodeApplier.reloads + nodeApplier.vtyBatches;
      expect((await nodeApplier.apply(renderFrrConfig(nodeConfig([VIP_V6])))).changed).toBe(false);
      expect(nodeApplier.reloads + nodeApplier.vtyBatches).toBe(appliesBefore);

      const burst = [[VIP_V4], [VIP_V4, VIP_V6], ["198.19.250.11", VIP_V6]].map((vips) =>
        nodeApplier.apply(renderFrrConfig(nodeConfig(vips))),
      );
      const results = await Promise.all(burst);
      expect(results.every((r) => r.changed)).toBe(true);
      expect(nodeApplier.reloads + nodeApplier.vtyBatches).toBe(appliesBefore + 1);
      const latest = renderFrrConfig(nodeConfig(["198.19.250.11", VIP_V6]));
      expect(await fs.readFile(path.join(node!.confDir, "frr.conf"), "utf8")).toBe(latest);
      const addMs = await waitFor(
        "198.19.250.11 on the router",
        async () => (await routes(NS_ROUTER, "-4", "198.19.250.11/32")).length === 1,
      );
      console.log(
        `established session: apply (${results[0]!.method}) took ${Math.round(results[0]!.durationMs)} ms, the new VIP reached the router ${Math.round(addMs)} ms later`,
      );
      expect(await routes(NS_ROUTER, "-4", `${VIP_V4}/32`)).toEqual([]);
    });

    it("applies VIP-only changes over the vty sockets, without a reload, and keeps frr.conf equal to the running config", async () => {
      const reloadsBefore = nodeApplier.reloads;
      const vips = ["198.19.250.11", "198.19.250.21", "198.19.250.22", VIP_V6, "2001:db8:250::21"];
      const t0 = performance.now();
      const added = await nodeApplier.apply(renderFrrConfig(nodeConfig(vips)));
      const applyMs = performance.now() - t0;
      expect(added).toMatchObject({ changed: true, method: "vty" });
      const routeMs = await waitFor("the three new VIPs on the router", async () => {
        const v4 = await routes(NS_ROUTER, "-4", "198.19.250.22/32");
        const v4b = await routes(NS_ROUTER, "-4", "198.19.250.21/32");
        const v6 = await routes(NS_ROUTER, "-6", "2001:db8:250::21/128");
        return v4.length === 1 && v4b.length === 1 && v6.length === 1;
      });
      // The running config holds exactly what the file says (a restarted FRR loads the same).
      const running = await node!.vtysh("show running-config");
      for (const line of [
        "ip route 198.19.250.22/32 blackhole tag 4242",
        "  network 198.19.250.22/32",
        "  network 2001:db8:250::21/128",
      ])
        expect(running).toContain(line);
      expect(await fs.readFile(path.join(node!.confDir, "frr.conf"), "utf8")).toBe(
        renderFrrConfig(nodeConfig(vips)),
      );

      const t1 = performance.now();
      const removed = await nodeApplier.apply(
        renderFrrConfig(nodeConfig(["198.19.250.11", VIP_V6])),
      );
      const removeApplyMs = performance.now() - t1;
      expect(removed.method).toBe("vty");
      const withdrawMs = await waitFor("the three VIPs to leave the router", async () => {
        const gone = await Promise.all([
          routes(NS_ROUTER, "-4", "198.19.250.21/32"),
          routes(NS_ROUTER, "-4", "198.19.250.22/32"),
          routes(NS_ROUTER, "-6", "2001:db8:250::21/128"),
        ]);
        return gone.every((r) => r.length === 0);
      });
      expect(nodeApplier.reloads).toBe(reloadsBefore);
      expect(await node!.vtysh("show running-config")).not.toContain("198.19.250.21");
      console.log(
        `vty sockets: add 3 VIPs ${Math.round(applyMs)} ms (no debounce wait after a quiet period) + ${Math.round(routeMs)} ms to the router; ` +
          `withdraw 3 ${Math.round(removeApplyMs)} ms + ${Math.round(withdrawMs)} ms`,
      );
      // A few socket round trips and a file write: far below a reload's 1-3 s.
      expect(applyMs).toBeLessThan(1000);
      expect(removeApplyMs).toBeLessThan(1000);
    });

    it("refuses a config FRR cannot parse and leaves the live file and routes alone", async () => {
      const live = await fs.readFile(path.join(node!.confDir, "frr.conf"), "utf8");
      const broken = live.replace(" coalesce-time 50", " coalesce-time fifty");
      await expect(nodeApplier.apply(broken)).rejects.toThrow(FrrError);
      await expect(nodeApplier.apply(broken)).rejects.toThrow(/vtysh -C/);
      expect(await fs.readFile(path.join(node!.confDir, "frr.conf"), "utf8")).toBe(live);
      expect((await fs.readdir(node!.confDir)).filter((f) => f.endsWith(".tmp"))).toEqual([]);
      expect((await routes(NS_ROUTER, "-4", "198.19.250.11/32")).length).toBe(1);
    });

    it("advertises and withdraws the same way with redistribute-static", async () => {
      await nodeApplier.apply(
        renderFrrConfig(
          nodeConfig(["198.19.250.11", "198.19.250.12", VIP_V6], "redistribute-static"),
        ),
      );
      await waitFor("198.19.250.12 on the router (redistributed)", async () =>
        (await routes(NS_ROUTER, "-4", "198.19.250.12/32")).some(
          (r) => r.gateway === NODE_V4 && r.protocol === "bgp",
        ),
      );
      await nodeApplier.apply(
        renderFrrConfig(nodeConfig(["198.19.250.11"], "redistribute-static")),
      );
      await waitFor("198.19.250.12 and the IPv6 VIP to leave the router", async () => {
        const gone4 = (await routes(NS_ROUTER, "-4", "198.19.250.12/32")).length === 0;
        const gone6 = (await routes(NS_ROUTER, "-6", `${VIP_V6}/128`)).length === 0;
        return gone4 && gone6;
      });
      expect((await routes(NS_ROUTER, "-4", "198.19.250.11/32")).length).toBe(1);
      // Only the VIP statics (tagged) are redistributed: the router learned nothing else.
      const learned = await router!.vtyshJson<{ routes: Record<string, unknown> }>(
        "show bgp ipv4 unicast json",
      );
      expect(Object.keys(learned.routes)).toEqual(["198.19.250.11/32"]);
    });

    it("a VIP change while FRR is down fails; once FRR is back the retry reloads in full", async () => {
      await node!.stop();
      const wanted = renderFrrConfig(
        nodeConfig(["198.19.250.11", "198.19.250.31"], "redistribute-static"),
      );
      await expect(nodeApplier.apply(wanted)).rejects.toThrow(/over the vty sockets failed/);
      // FRR comes back with the file as last applied (the failed change never reached it)...
      node = await FrrInstance.start({ dir: nodeDir, netns: NS_NODE });
      expect(await node.vtysh("show running-config")).toContain(
        "ip route 198.19.250.11/32 blackhole tag 4242",
      );
      // ...and the retry does not trust the half-known running config: a full reload.
      const reloadsBefore = nodeApplier.reloads;
      expect(await nodeApplier.apply(wanted)).toMatchObject({ changed: true, method: "reload" });
      expect(nodeApplier.reloads).toBe(reloadsBefore + 1);
      await waitFor(
        "198.19.250.31 on the router after FRR came back",
        async () =>
          (await routes(NS_ROUTER, "-4", "198.19.250.31/32")).some((r) => r.gateway === NODE_V4),
        explainRouter,
      );
      expect(
        (
          await nodeApplier.apply(
            renderFrrConfig(nodeConfig(["198.19.250.11"], "redistribute-static")),
          )
        ).method,
      ).toBe("vty");
      await waitFor(
        "198.19.250.31 to leave the router",
        async () => (await routes(NS_ROUTER, "-4", "198.19.250.31/32")).length === 0,
      );
    });

    it("stops by its own pids and restarts on its directory with the last applied config", async () => {
      const oldPids = [...node!.processIds.values()];
      await node!.stop();
      for (const pid of oldPids) expect(await isRunning(pid)).toBe(false);
      // bgpd said goodbye (Cease): the router drops the route without waiting for the hold time.
      await waitFor("the router to drop the stopped node's VIP", async () => {
        return (await routes(NS_ROUTER, "-4", "198.19.250.11/32")).length === 0;
      });

      node = await FrrInstance.start({ dir: nodeDir, netns: NS_NODE });
      await waitFor(
        "the restarted node's VIP on the router",
        async () => {
          const learned = await routes(NS_ROUTER, "-4", "198.19.250.11/32");
          return learned.some((r) => r.gateway === NODE_V4);
        },
        explainRouter,
      );
    });
  },
);
