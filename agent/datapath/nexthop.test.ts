// The next hop from the kernel FIB, and its per-backend cache (tb_nexthop): a neighbour
// change reaches the packets after the cache lifetime, or at once after flushNextHops().
// One namespace with a veth pair: packets "arrive" on tb-nh1 (test runs), the route to the
// backends leaves through tb-nh0 via a gateway whose MAC the test changes.
import { execFileSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as abi from "./abi";
import { ifIndex } from "./attach";
import type { TestRunner } from "./bpf-object";
import { Datapath } from "./datapath";
import { xdpActionName } from "./libbpf";
import { withNetns } from "./netns";
import { TCP_ACK, buildPacket } from "./packet";
import { NOT_ROOT_REASON, isRoot, mountPrivateBpffs, type PrivateBpffs } from "./test-support";

const NS = `tb-dpnh-${process.pid}`;
const NODE = "198.18.234.1";
const GATEWAY = "198.18.234.254";
const BACKEND = { id: 1, address: "198.18.235.10" };
const VIP = "198.19.234.10";
const MAC_A = "02:00:00:00:34:0a";
const MAC_B = "02:00:00:00:34:0b";
const MAC_C = "02:00:00:00:34:0c";

const sh = (...cmd: string[]) =>
  execFileSync("ip", ["netns", "exec", NS, ...cmd], {
    stdio: ["ignore", "pipe", "pipe"],
    timeout: 10_000,
  }).toString();
const gatewayMac = (mac: string) =>
  sh("ip", "neigh", "replace", GATEWAY, "lladdr", mac, "dev", "tb-nh0", "nud", "permanent");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!isRoot)(
  `next hop from the FIB, cached per backend${isRoot ? "" : ` (skipped: ${NOT_ROOT_REASON})`}`,
  () => {
    let bpffs: PrivateBpffs;
    let dp: Datapath;
    let run: TestRunner;
    let ingress = 0;
    let sport = 30000;

    beforeAll(() => {
      bpffs = mountPrivateBpffs("nexthop");
      execFileSync("ip", ["netns", "add", NS]);
      sh("ip", "link", "add", "tb-nh0", "type", "veth", "peer", "name", "tb-nh1");
      for (const dev of ["lo", "tb-nh0", "tb-nh1"]) sh("ip", "link", "set", dev, "up");
      sh("ip", "addr", "add", `${NODE}/24`, "dev", "tb-nh0");
      sh("sysctl", "-qw", "net.ipv4.ip_forward=1"); // the FIB answers only for forwarding devices
      gatewayMac(MAC_A);
      sh("ip", "route", "add", "198.18.235.0/24", "via", GATEWAY, "dev", "tb-nh0");
      ingress = withNetns(NS, () => ifIndex("tb-nh1"));
      dp = Datapath.open({
        pinDir: bpffs.dir,
        maxListeners: 8,
        maxBackends: 8,
        conn4PerCpu: 1024,
        conn6PerCpu: 1024,
      });
      const id = dp.upsertListener({ vip: VIP, protocol: "tcp", port: 80, backends: [BACKEND] });
      dp.writeTables(new Map([[id, new Uint32Array(dp.tableSize).fill(BACKEND.id)]]));
      run = dp.testRunner();
    });

    afterAll(() => {
      dp?.close();
      try {
        execFileSync("ip", ["netns", "del", NS]);
      } catch {
        // already gone
      }
      bpffs?.cleanup();
    });

    /** One packet (a new flow each time) arriving on tb-nh1: where it goes, and how. */
    const send = () => {
      const before = dp.readStats().global;
      const flow = { src: "198.18.236.5", dst: VIP, proto: 6, sport: sport++, dport: 80 };
      const r = withNetns(NS, () => run.run(buildPacket({ ...flow, tcpFlags: TCP_ACK }), ingress));
      const after = dp.readStats().global;
      return {
        action: xdpActionName(r.action),
        dstMac: [...r.data.subarray(0, 6)].map((b) => b.toString(16).padStart(2, "0")).join(":"),
        fibOk: after.fibOk - before.fibOk,
        fibCached: after.fibCached - before.fibCached,
      };
    };

    it("reuses a FIB answer for its lifetime; a flush or the lifetime's end picks up the change", async () => {
      dp.configure({ nodeV4: NODE, useFib: true, nextHopCacheMs: 3000 }); // long enough for `ip neigh` calls on a loaded CI machine
      let r = send();
      // asked the FIB: the gateway's MAC, out of another device than the ingress
      expect(r).toMatchObject({ action: "REDIRECT", dstMac: MAC_A, fibOk: 1n, fibCached: 0n });
      r = send();
      expect(r).toMatchObject({ action: "REDIRECT", dstMac: MAC_A, fibOk: 0n, fibCached: 1n });

      gatewayMac(MAC_B);
      r = send();
      expect(r).toMatchObject({ dstMac: MAC_A, fibOk: 0n, fibCached: 1n }); // within the lifetime

      dp.flushNextHops();
      r = send();
      expect(r).toMatchObject({ dstMac: MAC_B, fibOk: 1n, fibCached: 0n });

      gatewayMac(MAC_C);
      expect(send().dstMac).toBe(MAC_B);
      await sleep(3200); // the lifetime is over
      r = send();
      expect(r).toMatchObject({ dstMac: MAC_C, fibOk: 1n, fibCached: 0n });

      dp.configure({ nodeV4: NODE, useFib: true, nextHopCacheMs: 0 }); // no cache: every packet asks
      gatewayMac(MAC_A);
      expect(send()).toMatchObject({ dstMac: MAC_A, fibOk: 1n, fibCached: 0n });
      expect(send()).toMatchObject({ dstMac: MAC_A, fibOk: 1n, fibCached: 0n });
    });

    it("rejects a cache lifetime the config cannot hold", () => {
      expect(() => dp.configure({ nodeV4: NODE, useFib: true, nextHopCacheMs: 70_000 })).toThrow(
        /nextHopCacheMs/,
      );
      expect(abi.LAYOUTS.tb_config.size).toBe(64);
    });
  },
);
