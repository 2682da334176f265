// npm run bench:maglev — health event -> every affected Maglev table computed (MaglevPool) and
// installed in the kernel maps (Datapath.writeTables: inactive buffers, then one batched flip).
// Cases: 20,000 backends (1,000 VIPs x 2 ports x 10 backends) and 200 (10 VIPs x 2 x 10),
// each going up (all backends from down to up) and down (all up to down). Median of 5 runs.
// Needs root (BPF maps). Ends with one JSON line of figures.
import os from "node:os";
import { Datapath } from "../agent/datapath/datapath";
import { MaglevPool, type MaglevBackend } from "../agent/datapath/maglev";
import { isRoot, mountPrivateBpffs } from "../agent/datapath/test-support";

const RUNS = 5;
const BACKENDS_PER_LISTENER = 10;

interface Fleet {
  listeners: Map<number, MaglevBackend[]>; // listener id -> its backends (weight 1)
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function addressOf(n: number): string {
  // 198.18.0.0/15: room for 131,072 distinct backend addresses
  return `198.${18 + (n >> 16)}.${(n >> 8) & 255}.${n & 255}`;
}

/** Programs `vips` x 2 ports x 10 backends into the datapath; backend ids from `firstId`. */
function buildFleet(dp: Datapath, vips: number, vipBase: number, firstId: number): Fleet {
  const listeners = new Map<number, MaglevBackend[]>();
  let nextId = firstId;
  for (let v = 0; v < vips; v++) {
    const n = vipBase + v;
    const vip = `198.19.${n >> 8}.${n & 255}`;
    for (const port of [80, 443]) {
      const backends: MaglevBackend[] = [];
      for (let b = 0; b < BACKENDS_PER_LISTENER; b++) {
        const id = nextId++;
        // members are (address, port): distinct keys per listener, so no two tables share a layout
        backends.push({ id, key: `${addressOf(id)}:${port}`, weight: 1 });
      }
      const lid = dp.upsertListener({
        vip,
        protocol: "tcp",
        port,
        backends: backends.map((b) => ({ id: b.id, address: addressOf(b.id) })),
      });
      listeners.set(lid, backends);
    }
  }
  return { listeners };
}

interface Timing {
  totalMs: number;
  computeMs: number;
  installMs: number;
}

async function transition(
  pool: MaglevPool,
  dp: Datapath,
  fleet: Fleet,
  weight: number,
): Promise<Timing> {
  const t0 = process.hrtime.bigint();
  const input = new Map<number, MaglevBackend[]>();
  for (const [id, backends] of fleet.listeners)
    input.set(
      id,
      backends.map((b) => ({ ...b, weight })),
    );
  const tables = await pool.computeMany(input);
  const t1 = process.hrtime.bigint();
  dp.writeTables(tables);
  const t2 = process.hrtime.bigint();
  return {
    totalMs: Number(t2 - t0) / 1e6,
    computeMs: Number(t1 - t0) / 1e6,
    installMs: Number(t2 - t1) / 1e6,
  };
}

function medianTiming(ts: Timing[]): Timing {
  const m = (k: keyof Timing) => +median(ts.map((t) => t[k])).toFixed(2);
  return { totalMs: m("totalMs"), computeMs: m("computeMs"), installMs: m("installMs") };
}

async function measure(pool: MaglevPool, dp: Datapath, fleet: Fleet, label: string) {
  const up: Timing[] = [];
  const down: Timing[] = [];
  await transition(pool, dp, fleet, 1); // warm-up (workers, JIT, page faults)
  await transition(pool, dp, fleet, 0);
  const fmt = (t: Timing) =>
    `${t.totalMs.toFixed(1)} ms (compute ${t.computeMs.toFixed(1)}, install ${t.installMs.toFixed(1)})`;
  for (let r = 0; r < RUNS; r++) {
    up.push(await transition(pool, dp, fleet, 1));
    down.push(await transition(pool, dp, fleet, 0));
    console.log(`  ${label} run ${r + 1}: up ${fmt(up[r]!)}, down ${fmt(down[r]!)}`);
  }
  // sanity: the last "up" tables are really in the kernel
  await transition(pool, dp, fleet, 1);
  const [id, backends] = fleet.listeners.entries().next().value as [number, MaglevBackend[]];
  const table = dp.readTable(id);
  const ids = new Set(backends.map((b) => b.id));
  if (!table.every((e) => ids.has(e)))
    throw new Error(`${label}: table of listener ${id} is not installed`);
  await transition(pool, dp, fleet, 0);
  return { up: medianTiming(up), down: medianTiming(down) };
}

async function main() {
  if (!isRoot) {
    console.error("bench:maglev needs root (BPF maps)");
    process.exit(1);
  }
  const bpffs = mountPrivateBpffs("benchmaglev");
  const dp = Datapath.open({
    pinDir: bpffs.dir,
    maxListeners: 2048,
    conn4PerCpu: 1024,
    conn6PerCpu: 1024,
  });
  const pool = new MaglevPool();
  try {
    console.log(
      `bench:maglev: table size ${dp.tableSize}, ${pool.workerCount} workers, median of ${RUNS}`,
    );
    const big = buildFleet(dp, 1000, 0, 0);
    const small = buildFleet(dp, 10, 1000, 20000);
    console.log(`  programmed ${big.listeners.size + small.listeners.size} listeners`);
    const b = await measure(pool, dp, big, "20,000 backends");
    const s = await measure(pool, dp, small, "200 backends");
    const figures = {
      bench: "maglev",
      tableSize: dp.tableSize,
      workers: pool.workerCount,
      runs: RUNS,
      up20000Ms: b.up.totalMs,
      down20000Ms: b.down.totalMs,
      up200Ms: s.up.totalMs,
      down200Ms: s.down.totalMs,
      // where the time goes: MaglevPool.computeMany vs Datapath.writeTables
      breakdown: { up20000: b.up, down20000: b.down, up200: s.up, down200: s.down },
      loadAverage1m: +os.loadavg()[0]!.toFixed(2),
      bars: { up20000Ms: 250, down20000Ms: 100, up200Ms: 10, down200Ms: 3 },
    };
    console.log(
      `20,000 backends: up ${figures.up20000Ms} ms (bar 250), down ${figures.down20000Ms} ms (bar 100); ` +
        `200 backends: up ${figures.up200Ms} ms (bar 10), down ${figures.down200Ms} ms (bar 3)`,
    );
    console.log(JSON.stringify(figures));
  } finally {
    await pool.close();
    dp.close();
    bpffs.cleanup();
  }
}

await main();
