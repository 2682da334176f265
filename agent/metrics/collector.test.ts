import { describe, expect, it } from "vitest";
import type { DatapathStats, ListenerCounters } from "../datapath/datapath";
import { MetricsDeltas, MetricsLoop, type Owners } from "./collector";

const lc = (packets: number, bytes: number, newFlows = 0, dropNoBackend = 0, dropDenied = 0): ListenerCounters => ({
  packets: BigInt(packets),
  bytes: BigInt(bytes),
  newFlows: BigInt(newFlows),
  dropDenied: BigInt(dropDenied),
  dropNoBackend: BigInt(dropNoBackend),
  dropEncap: 0n,
  dropNoRoute: 0n,
});

function stats(listeners: Record<number, ListenerCounters>, backends: Record<number, [number, number]>): DatapathStats {
  return {
    global: {} as DatapathStats["global"],
    listeners: new Map(Object.entries(listeners).map(([k, v]) => [Number(k), v])),
    backends: new Map(Object.entries(backends).map(([k, [p, b]]) => [Number(k), { packets: BigInt(p), bytes: BigInt(b) }])),
    floodCpus: [],
  };
}

describe("metrics deltas", () => {
  const listenerOwners = new Map([
    [0, { lbId: "lb-a", listenerId: "l80" }],
    [1, { lbId: "lb-a", listenerId: "l443" }],
  ]);
  const backendOwners = new Map([
    [7, { lbId: "lb-a", address: "198.18.1.1" }],
    [8, { lbId: "lb-b", address: "198.18.1.1" }],
  ]);
  const owners: Owners = { listenerOwner: (id) => listenerOwners.get(id), backendOwner: (id) => backendOwners.get(id) };

  it("first reading is a baseline; then per-listener and per-backend deltas in the hub's terms", () => {
    const d = new MetricsDeltas();
    expect(d.sample(stats({ 0: lc(100, 10_000, 5) }, { 7: [100, 10_000] }), owners, 1_000)).toBeNull();
    const s = d.sample(stats({ 0: lc(150, 16_000, 7, 2, 1), 1: lc(0, 0), 9: lc(5, 5) }, { 7: [140, 14_000], 8: [10, 1_000] }), owners, 2_000)!;
    expect(s.intervalMs).toBe(1_000);
    expect(s.at).toBe(2_000);
    // listener 1 had no traffic (omitted), listener 9 has no owner (not ours yet: omitted)
    expect(s.listeners).toEqual([{ lbId: "lb-a", listenerId: "l80", packets: 50, bytes: 6_000, newFlows: 2, drops: 3 }]);
    // backend 8 is new since the last reading: all of its count is new
    expect(s.backends).toEqual([
      { lbId: "lb-a", address: "198.18.1.1", packets: 40, bytes: 4_000 },
      { lbId: "lb-b", address: "198.18.1.1", packets: 10, bytes: 1_000 },
    ]);
  });

  it("a counter that went backwards or a slot with a new owner counts from zero", () => {
    const d = new MetricsDeltas();
    d.sample(stats({ 0: lc(1_000, 1_000) }, {}), owners, 1_000);
    expect(d.sample(stats({ 0: lc(30, 300) }, {}), owners, 2_000)!.listeners).toEqual([
      { lbId: "lb-a", listenerId: "l80", packets: 30, bytes: 300, newFlows: 0, drops: 0 },
    ]);
    listenerOwners.set(0, { lbId: "lb-z", listenerId: "lz" });
    expect(d.sample(stats({ 0: lc(40, 400) }, {}), owners, 3_000)!.listeners).toEqual([
      { lbId: "lb-z", listenerId: "lz", packets: 40, bytes: 400, newFlows: 0, drops: 0 },
    ]);
    listenerOwners.set(0, { lbId: "lb-a", listenerId: "l80" });
  });

  it("the loop reports every interval and survives a failing read", async () => {
    let packets = 0;
    let fail = false;
    const samples: number[] = [];
    const errors: unknown[] = [];
    const loop = new MetricsLoop({
      read: () => {
        if (fail) throw new Error("map read failed");
        packets += 10;
        return stats({ 0: lc(packets, packets * 100) }, {});
      },
      owners,
      onSample: (s) => samples.push(s.listeners[0]?.packets ?? 0),
      onError: (e) => errors.push(e),
      intervalMs: 20,
    });
    loop.start();
    await new Promise((r) => setTimeout(r, 75));
    fail = true;
    loop.tick();
    fail = false;
    loop.stop();
    expect(samples.length).toBeGreaterThanOrEqual(2);
    expect(samples.every((p) => p === 10)).toBe(true);
    expect(errors).toHaveLength(1);
  });
});
