// The in-memory metrics store: agents' deltas become per-second rates per node, per load
// balancer and per backend; silence is "no data" (null), never zero; the ring forgets what is
// older than 10 minutes and memory stays bounded.
import { describe, expect, it } from "vitest";
import { MetricsStore, STALE_AFTER_SECONDS, WINDOW_SECONDS } from "./store";

/** A store on a hand-driven clock (ms). */
function clocked(start = 1_700_000_000_000, opts: { maxSeries?: number } = {}) {
  const clock = { ms: start };
  const store = new MetricsStore({ now: () => clock.ms, ...opts });
  return { clock, store };
}

const listener = (lbId: string, packets: number, bytes = packets * 100, newFlows = 0, drops = 0) => ({
  lbId,
  listenerId: `${lbId}-l1`,
  packets,
  bytes,
  newFlows,
  drops,
});
const backend = (lbId: string, address: string, packets: number) => ({ lbId, address, packets, bytes: packets * 100 });

describe("metrics store", () => {
  it("turns deltas into rates per node, per load balancer and per backend, summed over nodes", () => {
    const { clock, store } = clocked();
    for (let i = 0; i < 5; i++) {
      store.record("n1", { intervalMs: 1000, listeners: [listener("lbA", 100, 10_000, 7, 1), listener("lbB", 40)], backends: [backend("lbA", "198.18.1.1", 100)] });
      // n2 counted over 500 ms: 50 packets is 100 packets/s.
      store.record("n2", { intervalMs: 500, listeners: [listener("lbA", 50)], backends: [backend("lbA", "198.18.1.1", 25)] });
      clock.ms += 1000;
    }
    expect(store.lbOnNode("lbA", "n1").latest).toEqual({ packets: 100, bytes: 10_000, newFlows: 7, drops: 1 });
    expect(store.lbOnNode("lbA", "n2").latest?.packets).toBe(100);
    expect(store.nodeLatest("n1").latest?.packets).toBe(140); // the node's own total: both VIPs
    const w = store.window(5);
    expect(store.lbSeries("lbA", ["n1", "n2"], w).packets).toEqual([200, 200, 200, 200, 200]);
    expect(store.lbSeries("lbB", ["n1", "n2"], w).packets).toEqual([40, 40, 40, 40, 40]);
    expect(store.backendSeries("lbA", "198.18.1.1", ["n1", "n2"], w).packets).toEqual([150, 150, 150, 150, 150]);
    expect(store.backendLatest("lbA", "198.18.1.1", ["n1", "n2"])).toEqual({ packets: 150, bytes: 15_000 });
    // Only the nodes asked for count (a tenant's scope is its load balancer's placements).
    expect(store.lbSeries("lbA", ["n2"], w).packets).toEqual([100, 100, 100, 100, 100]);
  });

  it("shows an idle node as zero and a silent node as no data", () => {
    const { clock, store } = clocked();
    store.record("n1", { intervalMs: 1000, listeners: [listener("lbA", 10)], backends: [] });
    clock.ms += 1000;
    store.record("n1", { intervalMs: 1000, listeners: [], backends: [] }); // idle: reported, nothing counted
    clock.ms += 1000;
    expect(store.lbOnNode("lbA", "n1").latest).toEqual({ packets: 0, bytes: 0, newFlows: 0, drops: 0 });
    expect(store.lbSeries("lbA", ["n1"], store.window(2)).packets).toEqual([10, 0]);
    // Silence: past the staleness bound the current value is gone, and the seconds without a
    // report are null in the series (a chart gap), not zero.
    clock.ms += (STALE_AFTER_SECONDS + 1) * 1000;
    expect(store.lbOnNode("lbA", "n1").latest).toBeNull();
    expect(store.nodeLatest("n1").latest).toBeNull();
    expect(store.lbSeries("lbA", ["n1"], store.window(6)).packets).toEqual([10, 0, null, null, null, null]);
    expect(store.backendLatest("lbA", "198.18.1.1", ["n1"])).toBeNull();
    // A node never heard of has no data either.
    expect(store.nodeLatest("n9").latest).toBeNull();
    expect(store.nodeSeries("n9", store.window(3)).packets).toEqual([null, null, null]);
  });

  it("averages two reports landing in one second and spreads a late one over the seconds it covers", () => {
    const { clock, store } = clocked();
    store.record("n1", { intervalMs: 1000, listeners: [listener("lbA", 100)], backends: [] });
    clock.ms += 300;
    store.record("n1", { intervalMs: 1000, listeners: [listener("lbA", 300)], backends: [] });
    clock.ms += 700;
    // 3 s of counting arriving at once fill the 3 seconds they cover with 50 packets/s each.
    clock.ms += 2000;
    store.record("n1", { intervalMs: 3000, listeners: [listener("lbA", 150)], backends: [] });
    clock.ms += 1000;
    const s = store.lbSeries("lbA", ["n1"], store.window(4)).packets;
    expect(s[3]).toBe(50);
    expect(s[2]).toBe(50);
    expect(s[1]).toBe(50);
    // First second: (100 + 300) packets over (1000 + 1000) ms, not 400.
    expect(s[0]).toBe(200);
  });

  it("keeps 10 minutes: older seconds read as no data, and sweeping frees what went quiet", () => {
    const { clock, store } = clocked();
    store.record("n1", { intervalMs: 1000, listeners: [listener("lbA", 10)], backends: [backend("lbA", "198.18.1.1", 10)] });
    const first = Math.floor(clock.ms / 1000);
    clock.ms += 1000;
    for (let i = 0; i < WINDOW_SECONDS + 5; i++) {
      store.record("n1", { intervalMs: 1000, listeners: [listener("lbB", 1)], backends: [] });
      clock.ms += 1000;
    }
    expect(store.lbSeries("lbA", ["n1"], { from: first, to: first }).packets).toEqual([null]);
    expect(store.stats().series).toBe(3); // lbA, its backend, lbB
    store.sweep();
    expect(store.stats().series).toBe(1); // only lbB still has data in the window
    expect(store.lbOnNode("lbB", "n1").latest?.packets).toBe(1);
    // A node silent for the whole window is forgotten too.
    clock.ms += (WINDOW_SECONDS + 2) * 1000;
    store.sweep();
    expect(store.stats()).toMatchObject({ nodes: 0, series: 0 });
  });

  it("bounds memory: past maxSeries new series are refused and counted, existing ones keep working", () => {
    const { clock, store } = clocked(1_700_000_000_000, { maxSeries: 3 });
    const backends = Array.from({ length: 10 }, (_, i) => backend("lbA", `198.18.2.${i + 1}`, 5));
    store.record("n1", { intervalMs: 1000, listeners: [listener("lbA", 50)], backends });
    clock.ms += 1000;
    const stats = store.stats();
    expect(stats.series).toBe(3);
    expect(stats.refusedSeries).toBe(8);
    // ~12 KB per load balancer series, ~7 KB per backend series, plus the node's own rings.
    expect(stats.approxBytes).toBeLessThan(60_000);
    expect(store.lbOnNode("lbA", "n1").latest?.packets).toBe(50);
    expect(store.backendLatest("lbA", "198.18.2.1", ["n1"])?.packets).toBe(5);
  });

  it("tells subscribers which node reported and which load balancers it mentioned", () => {
    const { store } = clocked();
    const seen: [string, string[]][] = [];
    const off = store.subscribe((node, lbIds) => seen.push([node, [...lbIds].sort()]));
    store.record("n1", { intervalMs: 1000, listeners: [listener("lbB", 1)], backends: [backend("lbA", "198.18.1.1", 1)] });
    off();
    store.record("n1", { intervalMs: 1000, listeners: [], backends: [] });
    expect(seen).toEqual([["n1", ["lbA", "lbB"]]]);
  });
});
