// The controller driving the REAL data plane (bpf/lb.bpf.c in a private bpffs): a snapshot
// becomes listeners, backends and Maglev tables in the maps (checked entry by entry against
// maglevTable and with packets through BPF_PROG_TEST_RUN); then an agent restart on the same
// pins restores everything and clears nothing before the first snapshot, and that snapshot
// prunes what is no longer desired.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DesiredVip } from "../../server/protocol/agent";
import * as abi from "../datapath/abi";
import { Datapath } from "../datapath/datapath";
import { xdpActionName } from "../datapath/libbpf";
import { MaglevPool, maglevTable } from "../datapath/maglev";
import { TCP_SYN, buildPacket } from "../datapath/packet";
import { NOT_ROOT_REASON, isRoot, mountPrivateBpffs, type PrivateBpffs } from "../datapath/test-support";
import { NodeController } from "./controller";
import { DatapathTarget } from "./datapath-target";
import { FrrTarget } from "./frr-target";
import { HealthTargetSet } from "./health-target";
import { testVip, RecordingHealthEngine, NODE } from "../sync/test-support";

const NODE_V4 = "198.18.0.1";
const FALLBACK = { ifindex: 0, dstMac: "02:00:00:00:00:fe", srcMac: "02:00:00:00:00:02" };

function webVip(): DesiredVip {
  const v = testVip("lb-web", 3, "198.19.0.10", { "198.18.2.10": 100, "198.18.2.11": 100, "198.18.2.12": 50, "198.18.2.13": 100 });
  v.pools[0]!.members[3]!.adminState = "draining";
  // A second listener on the same pool.
  v.listeners.push({ ...v.listeners[0]!, id: "lb-web-l443", portStart: 443, portEnd: 443 });
  return v;
}
const dnsVip = () => testVip("lb-dns", 4, "198.19.0.20", { "198.18.3.1": 100 }, 53);

function agentOn(dp: Datapath) {
  const maglev = new MaglevPool({ workers: 0, size: dp.tableSize });
  const target = new DatapathTarget(dp, maglev);
  const controller = new NodeController({ datapath: target, frr: new FrrTarget(null), health: new HealthTargetSet(new RecordingHealthEngine()) });
  return {
    target,
    controller,
    async close() {
      await controller.idle();
      controller.close();
      await maglev.close();
      dp.close(); // never detaches or clears
    },
  };
}

/**
 * Everything the maps hold: listeners (by key) with their active tables, and the backend map.
 * (Which listener references a weight-0 backend is not part of the pinned state: Datapath
 * restores that association from the tables only.)
 */
function mapsOf(dp: Datapath) {
  const listeners = Object.fromEntries(dp.listListeners().map((l) => [`${l.vip}|${l.protocol}|${l.port}`, { id: l.id, table: dp.readTable(l.id) }]));
  return { listeners, backends: dp.listBackends().map((b) => `${b.id}=${b.address}`) };
}

describe.skipIf(!isRoot)(`controller → real data plane${isRoot ? "" : ` (skipped: ${NOT_ROOT_REASON})`}`, () => {
  let bpffs: PrivateBpffs;
  const opts = () => ({ pinDir: `${bpffs.dir}/node`, maxListeners: 16, maxBackends: 64, conn4PerCpu: 1024, conn6PerCpu: 256 });

  beforeAll(() => {
    bpffs = mountPrivateBpffs("agentdp");
  });
  afterAll(() => bpffs?.cleanup());

  it("programs a snapshot, then restarts on the same pins without clearing anything before the first snapshot", async () => {
    // ---- first agent run
    const dp1 = Datapath.open(opts());
    dp1.configure({ nodeV4: NODE_V4, fallback: FALLBACK });
    const a1 = agentOn(dp1);
    await a1.controller.handle({ type: "snapshot", revision: 4, node: NODE, vips: [webVip(), dnsVip()] });
    expect(a1.controller.status("lb-web").datapath?.state).toBe("ok");

    const listeners = dp1.listListeners();
    expect(listeners.map((l) => `${l.vip}:${l.protocol}:${l.port}`).sort()).toEqual(["198.19.0.10:tcp:443", "198.19.0.10:tcp:80", "198.19.0.20:tcp:53"]);
    // Each table is exactly the Maglev table of the plan: the draining member has no slots.
    const id = (a: string) => a1.target.backendId("lb-web", a)!;
    const expected = maglevTable(
      [
        { id: id("198.18.2.10"), key: "198.18.2.10", weight: 100 },
        { id: id("198.18.2.11"), key: "198.18.2.11", weight: 100 },
        { id: id("198.18.2.12"), key: "198.18.2.12", weight: 50 },
        { id: id("198.18.2.13"), key: "198.18.2.13", weight: 0 },
      ],
      dp1.tableSize,
    );
    const web80 = dp1.listenerId({ vip: "198.19.0.10", protocol: "tcp", port: 80 })!;
    const web443 = dp1.listenerId({ vip: "198.19.0.10", protocol: "tcp", port: 443 })!;
    expect(dp1.readTable(web80)).toEqual(expected);
    expect(dp1.readTable(web443)).toEqual(expected);
    expect(new Set(dp1.readTable(web80)).has(id("198.18.2.13"))).toBe(false);
    // ... but the draining member stays in the backend map (its existing flows continue).
    expect(dp1.listBackends().map((b) => b.address).sort()).toEqual(["198.18.2.10", "198.18.2.11", "198.18.2.12", "198.18.2.13", "198.18.3.1"]);

    // A packet to the VIP leaves encapsulated towards the backend its table slot names.
    const run = dp1.testRunner();
    const syn = buildPacket({ src: "198.18.100.1", dst: "198.19.0.10", proto: 6, sport: 40000, dport: 80, tcpFlags: TCP_SYN });
    const r1 = run.run(syn);
    expect(xdpActionName(r1.action)).toBe("TX");
    const backendOfFlow = abi.formatAddr(4, r1.data.subarray(30, 34));
    expect(["198.18.2.10", "198.18.2.11", "198.18.2.12"]).toContain(backendOfFlow);

    const before = mapsOf(dp1);
    const persisted = { revision: a1.controller.receivedRevision, node: a1.controller.nodeInfo, vips: a1.controller.desiredVips() };
    await a1.close();

    // ---- the agent restarts on the same pins
    const dp2 = Datapath.open(opts());
    expect(dp2.restored).toBe(true);
    const a2 = agentOn(dp2);
    expect(a2.target.restoredSummary).toEqual({ vips: 2, listeners: 3, backends: 5 });
    expect(mapsOf(dp2)).toEqual(before); // restored, nothing cleared

    // The persisted desired state is applied before any hub answers: adopted in place, the
    // same backend ids and identical tables (flows keep their backend).
    await a2.controller.restore(persisted);
    expect(a2.controller.status("lb-web").datapath?.state).toBe("ok");
    expect(mapsOf(dp2)).toEqual(before);
    expect(abi.formatAddr(4, dp2.testRunner().run(syn).data.subarray(30, 34))).toBe(backendOfFlow);

    a2.controller.close();
    // A restart that knows nothing (no persisted state) prunes nothing either; the first
    // snapshot then removes what is no longer desired (lb-dns) and keeps lb-web as it was.
    const a3 = agentOn(dp2);
    await a3.controller.handle({ type: "update", revision: 5, vips: [], tombstones: [] });
    expect(mapsOf(dp2)).toEqual(before);
    await a3.controller.handle({ type: "snapshot", revision: 6, node: NODE, vips: [webVip()] });
    const after = mapsOf(dp2);
    expect(Object.keys(after.listeners).sort()).toEqual(["198.19.0.10|tcp|443", "198.19.0.10|tcp|80"]);
    expect(after.listeners["198.19.0.10|tcp|80"]).toEqual(before.listeners["198.19.0.10|tcp|80"]);
    expect(dp2.listBackends().map((b) => b.address)).not.toContain("198.18.3.1");
    expect(abi.formatAddr(4, dp2.testRunner().run(syn).data.subarray(30, 34))).toBe(backendOfFlow);

    // A member disabled → gone from the map and the tables at once.
    const v = webVip();
    v.revision = 7;
    v.pools[0]!.members = v.pools[0]!.members.filter((m) => m.address !== backendOfFlow);
    await a3.controller.handle({ type: "update", revision: 7, vips: [v], tombstones: [] });
    expect(dp2.listBackends().map((b) => b.address)).not.toContain(backendOfFlow);
    const moved = abi.formatAddr(4, dp2.testRunner().run(syn).data.subarray(30, 34));
    expect(moved).not.toBe(backendOfFlow);
    await a3.close();
  });

  it("refuses a VIP the maps cannot hold, with nothing of it in the maps", async () => {
    const dp = Datapath.open({ ...opts(), pinDir: `${bpffs.dir}/small`, maxListeners: 2 });
    const a = agentOn(dp);
    const big = webVip(); // 2 listeners
    big.listeners.push({ ...big.listeners[0]!, id: "lb-web-l8080", portStart: 8080, portEnd: 8080 });
    await a.controller.handle({ type: "snapshot", revision: 1, node: NODE, vips: [big] });
    expect(a.controller.status("lb-web").datapath).toMatchObject({ state: "failed", terminal: true });
    expect(a.controller.status("lb-web").datapath?.error).toMatch(/too many listeners for the map: this VIP needs 3 more listener slot\(s\), 2 of 2 are free/);
    expect(dp.listListeners()).toEqual([]);
    expect(dp.listBackends()).toEqual([]);
    await a.close();
  });
});
