// The controller over an in-memory data plane and a recording FRR applier: announcements follow
// the maps and the node state, a failed step is rolled back and retried, health batches cost one
// table write.
import { afterEach, describe, expect, it } from "vitest";
import { MaglevPool } from "../datapath/maglev";
import { NODE, RecordingHealthEngine, testVip } from "../sync/test-support";
import { NodeController, type AckResult } from "./controller";
import { DatapathTarget } from "./datapath-target";
import { FrrTarget, type ConfigApplier } from "./frr-target";
import { HealthTargetSet } from "./health-target";
import { FakeDatapath } from "./test-support";

class RecordingApplier implements ConfigApplier {
  configs: string[] = [];
  fail: Error | null = null;
  apply(config: string) {
    if (this.fail) return Promise.reject(this.fail);
    this.configs.push(config);
    return Promise.resolve({ changed: true, durationMs: 0 });
  }
  get last(): string {
    return this.configs.at(-1) ?? "";
  }
}

const BGP = { hostname: "lb-a1", routerId: "198.18.0.1", localAsn: 65001, neighbors: [{ address: "198.18.0.254", remoteAsn: 65000 }] };

describe("NodeController", () => {
  const closers: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of closers.splice(0)) await c();
  });

  function setup(dp = new FakeDatapath()) {
    const maglev = new MaglevPool({ workers: 0, size: dp.tableSize });
    const applier = new RecordingApplier();
    const health = new RecordingHealthEngine();
    const acks: AckResult[][] = [];
    const controller = new NodeController({
      datapath: new DatapathTarget(dp, maglev),
      frr: new FrrTarget(BGP, applier),
      health: new HealthTargetSet(health),
      onAcks: (a) => acks.push(a),
      backoff: { baseMs: 20, maxMs: 40 },
    });
    closers.push(async () => {
      await controller.idle();
      controller.close();
      await maglev.close();
    });
    return { dp, applier, health, acks, controller };
  }

  it("announces VIPs that forward; withdraws them all when the node drains, keeping the maps", async () => {
    const { dp, applier, controller, acks } = setup();
    const disabled = { ...testVip("lb-off", 1, "198.19.0.3", { "198.18.3.1": 100 }), adminEnabled: false };
    await controller.handle({
      type: "snapshot",
      revision: 1,
      node: NODE,
      vips: [testVip("lb-a", 1, "198.19.0.1", { "198.18.1.1": 100 }), testVip("lb-6", 1, "2001:db8:19::1", { "2001:db8:2::1": 100 }), disabled],
    });
    expect(applier.last).toContain("network 198.19.0.1/32");
    expect(applier.last).toContain("network 2001:db8:19::1/128");
    expect(applier.last).not.toContain("198.19.0.3");
    expect(dp.view("198.19.0.3", "tcp", 80)?.backends).toEqual(["198.18.3.1"]); // in the map, not announced
    expect(acks.at(-1)!.find((a) => a.lbId === "lb-off")).toMatchObject({ ok: true, advertised: false, error: "VIP is admin-disabled" });
    expect(controller.advertisedCount).toBe(2);

    await controller.handle({ type: "update", revision: 2, node: { ...NODE, state: "draining" }, vips: [], tombstones: [] });
    expect(applier.last).not.toContain("network");
    expect(controller.advertisedCount).toBe(0);
    expect(dp.view("198.19.0.1", "tcp", 80)?.backends).toEqual(["198.18.1.1"]); // existing flows continue
    expect(acks.at(-1)!.find((a) => a.lbId === "lb-a")).toMatchObject({ ok: true, advertised: false, error: "node is draining" });
  });

  it("rolls a VIP back when staging fails midway, reports it, and retries after a backoff", async () => {
    const { dp, controller, acks } = setup();
    const v1 = testVip("lb-a", 1, "198.19.0.1", { "198.18.1.1": 100 });
    await controller.handle({ type: "snapshot", revision: 1, node: NODE, vips: [v1] });
    const before = dp.listListeners();

    // Revision 2 adds a second listener and a member; the second upsert fails like a syscall.
    const v2 = testVip("lb-a", 2, "198.19.0.1", { "198.18.1.1": 100, "198.18.1.2": 100 });
    v2.listeners.push({ ...v2.listeners[0]!, id: "lb-a-l443", portStart: 443, portEnd: 443 });
    const upsert = dp.upsertListener.bind(dp);
    let calls = 0;
    dp.upsertListener = (spec) => {
      if (++calls === 2) throw Object.assign(new Error("map update: ENOMEM"), { name: "BpfError" });
      return upsert(spec);
    };
    await controller.handle({ type: "update", revision: 2, vips: [v2], tombstones: [] });
    expect(dp.listListeners()).toEqual(before); // rolled back: nothing of revision 2
    expect(dp.listBackends().map((b) => b.address)).toEqual(["198.18.1.1"]);
    const failed = acks.at(-1)!.find((a) => a.lbId === "lb-a")!;
    expect(failed).toMatchObject({ revision: 2, ok: false, advertised: true }); // still announced: the old state forwards
    expect(failed.error).toMatch(/^data plane: map update: ENOMEM \(retrying, attempt 1\)$/);
    expect(controller.lastAppliedRevision).toBe(1); // the cursor does not pass the failed step

    // The retry timer fires a pass by itself.
    for (let i = 0; i < 200 && controller.status("lb-a").datapath?.state !== "ok"; i++) await new Promise((r) => setTimeout(r, 10));
    await controller.idle();
    expect(controller.status("lb-a").datapath?.state).toBe("ok");
    expect(dp.view("198.19.0.1", "tcp", 443)?.backends).toEqual(["198.18.1.1", "198.18.1.2"]);
    expect(acks.at(-1)!.find((a) => a.lbId === "lb-a")).toEqual({ lbId: "lb-a", revision: 2, ok: true, error: null, advertised: true });
    expect(controller.lastAppliedRevision).toBe(2);
  });

  it("a batch of health transitions over several VIPs costs one table write", async () => {
    const { dp, health, controller } = setup();
    await controller.handle({
      type: "snapshot",
      revision: 1,
      node: NODE,
      vips: [1, 2, 3].map((i) => testVip(`lb-${i}`, 1, `198.19.0.${i}`, { [`198.18.${i}.1`]: 100, [`198.18.${i}.2`]: 100 })),
    });
    const writes = dp.writes;
    const downs = health.targets.filter((t) => t.address.endsWith(".2")).map((t) => ({ key: t.key, from: "up" as const, to: "down" as const, at: 1, reason: "timeout" }));
    expect(downs).toHaveLength(3);
    controller.onHealthTransitions(downs);
    await controller.idle();
    expect(dp.writes).toBe(writes + 1);
    for (const i of [1, 2, 3]) expect(dp.view(`198.19.0.${i}`, "tcp", 80)!.shares).toEqual({ [`198.18.${i}.1`]: dp.tableSize });
  });

  it("an FRR failure fails the VIPs' acks (retryable) without touching the maps", async () => {
    const { dp, applier, controller, acks } = setup();
    applier.fail = new Error("frr-reload.py failed");
    await controller.handle({ type: "snapshot", revision: 1, node: NODE, vips: [testVip("lb-a", 1, "198.19.0.1", { "198.18.1.1": 100 })] });
    expect(acks.at(-1)![0]).toMatchObject({ ok: false, advertised: false });
    expect(acks.at(-1)![0]!.error).toMatch(/^BGP: FRR reload: frr-reload.py failed \(retrying/);
    expect(dp.view("198.19.0.1", "tcp", 80)?.backends).toEqual(["198.18.1.1"]);
    applier.fail = null;
    for (let i = 0; i < 200 && !acks.at(-1)![0]!.ok; i++) await new Promise((r) => setTimeout(r, 10));
    expect(acks.at(-1)![0]).toEqual({ lbId: "lb-a", revision: 1, ok: true, error: null, advertised: true });
  });
});
