/**
 * Compute-only Maglev micro benchmark (no BPF maps): `npx tsx bench/maglev-compute.ts`.
 *
 * Scenarios from the data-plane bars: 1,000 VIPs × 2 ports × 10 backends = 2,000 listeners, and
 * 10 VIPs × 2 ports = 20 listeners. "up": every listener goes from 9 to 10 healthy backends;
 * "down": one backend per listener goes away (10 -> 9). Each figure is the median of 5 runs of
 * MaglevPool.computeMany after a warm-up. Two backend layouts:
 *  - shared: both ports of a VIP balance over the same member addresses (ids differ per listener),
 *    so the pool computes one slot layout per VIP and relabels it;
 *  - distinct: every listener has its own addresses (worst case, nothing to share).
 * A baseline measured in the same run (the textbook scan-only population, single thread) makes
 * the figures comparable on a noisy machine. Ends with one JSON line.
 */
import { availableParallelism } from "node:os";
import {
  MAGLEV_TABLE_SIZE,
  MaglevPool,
  maglevTable,
  maglevTableReference,
  type MaglevBackend,
} from "../agent/datapath/maglev";

const RUNS = 5;
const BACKENDS_PER_LISTENER = 10;

type Layout = "shared" | "distinct";

/** 198.18.0.0/15 host address number `n` as text. */
function address(n: number): string {
  return `198.${18 + ((n >>> 16) & 1)}.${(n >>> 8) & 255}.${n & 255}`;
}

/** listener id -> backends; `downIndex` (if given) removes that backend of every listener. */
function scenario(listeners: number, layout: Layout, downIndex?: number): Map<number, MaglevBackend[]> {
  const tables = new Map<number, MaglevBackend[]>();
  for (let l = 0; l < listeners; l++) {
    const group = layout === "shared" ? l >>> 1 : l; // the two ports of VIP v are listeners 2v, 2v+1
    const backends: MaglevBackend[] = [];
    for (let k = 0; k < BACKENDS_PER_LISTENER; k++) {
      if (k === downIndex) continue;
      backends.push({ id: l * BACKENDS_PER_LISTENER + k, key: address(256 + group * BACKENDS_PER_LISTENER + k), weight: 100 });
    }
    tables.set(l + 1, backends);
  }
  return tables;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function timeRuns(pool: MaglevPool, up: Map<number, MaglevBackend[]>, down: Map<number, MaglevBackend[]>) {
  const ups: number[] = [];
  const downs: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    let t0 = performance.now();
    const a = await pool.computeMany(up);
    ups.push(performance.now() - t0);
    t0 = performance.now();
    const b = await pool.computeMany(down);
    downs.push(performance.now() - t0);
    if (a.size !== up.size || b.size !== down.size) throw new Error("bench: missing tables");
  }
  return { up: median(ups), down: median(downs), ups, downs };
}

const round = (x: number): number => Math.round(x * 100) / 100;

async function main(): Promise<void> {
  const workers = Math.min(2, availableParallelism());
  console.log(`maglev compute bench: M=${MAGLEV_TABLE_SIZE}, ${BACKENDS_PER_LISTENER} backends/listener, workers=${workers}, median of ${RUNS}`);

  // Baseline in the same run: textbook population, one thread, per table.
  const sample = [...scenario(40, "distinct").values()];
  for (const b of sample.slice(0, 5)) maglevTableReference(b);
  let t0 = performance.now();
  for (const b of sample) maglevTableReference(b);
  const baselinePerTable = (performance.now() - t0) / sample.length;
  for (const b of sample.slice(0, 5)) maglevTable(b);
  t0 = performance.now();
  for (const b of sample) maglevTable(b);
  const fastPerTable = (performance.now() - t0) / sample.length;
  console.log(`one table, one thread: textbook ${round(baselinePerTable * 1000)} µs, ours ${round(fastPerTable * 1000)} µs`);

  const figures: Record<string, number> = {
    baselineTableUs: round(baselinePerTable * 1000),
    tableUs: round(fastPerTable * 1000),
  };
  const pool = new MaglevPool({ workers });
  try {
    t0 = performance.now();
    await pool.warm();
    figures.workerStartMs = round(performance.now() - t0);
    console.log(`workers started in ${figures.workerStartMs} ms`);
    for (const layout of ["shared", "distinct"] as const) {
      for (const listeners of [2000, 20]) {
        const up = scenario(listeners, layout);
        const down = scenario(listeners, layout, 3);
        await timeRuns(pool, up, down); // warm-up (JIT, worker code paths)
        const r = await timeRuns(pool, up, down);
        const name = `${layout}${listeners}`;
        figures[`${name}UpMs`] = round(r.up);
        figures[`${name}DownMs`] = round(r.down);
        console.log(
          `${layout.padEnd(8)} ${String(listeners).padStart(4)} listeners: up ${round(r.up)} ms, down ${round(r.down)} ms` +
            `   (runs up ${r.ups.map(round).join("/")}; down ${r.downs.map(round).join("/")})`,
        );
      }
    }
    // Same batch on one thread, for the parallel speed-up.
    const inline = new MaglevPool({ workers: 0 });
    const r = await timeRuns(inline, scenario(2000, "distinct"), scenario(2000, "distinct", 3));
    await inline.close();
    figures.distinct2000UpInlineMs = round(r.up);
    figures.distinct2000DownInlineMs = round(r.down);
    console.log(`distinct 2000 listeners, inline (no workers): up ${round(r.up)} ms, down ${round(r.down)} ms`);
  } finally {
    await pool.close();
  }
  console.log(JSON.stringify({ bench: "maglev-compute", tableSize: MAGLEV_TABLE_SIZE, workers, ...figures }));
}

await main();
