/**
 * Compute-only Maglev micro benchmark (no BPF maps): `npx tsx bench/maglev-compute.ts`.
 *
 * Scenarios from the data-plane bars: 1,000 VIPs × 2 ports × 10 backends = 2,000 listeners, and
 * 10 VIPs × 2 ports = 20 listeners, through MaglevPool.computeMany (workers for big batches,
 * inline for small ones). Per run, with backend keys never seen before (so "up" is cold):
 *   up        every listener's 10 backends come up (cold: full Maglev population);
 *   down      one backend per listener goes down, passed as healthy: false (cached layout, only
 *             the down backend's slots are dealt);
 *   recover   it comes back (cached layout, relabel only);
 *   removed   instead one backend per listener is left out of the list (cold plain Maglev of 9).
 * Two backend layouts:
 *   shared    both ports of a VIP use the same member keys (ids differ per listener);
 *   distinct  every listener has its own member keys (worst case).
 * Figures are medians of 5 runs after a warm-up. A single-thread baseline measured in the same run
 * (the textbook transcription, one table) makes them comparable on a noisy machine. Ends with one
 * JSON line.
 */
import { availableParallelism, loadavg } from "node:os";
import {
  MAGLEV_TABLE_SIZE,
  MaglevPool,
  maglevTable,
  maglevTableReference,
  MAGLEV_LAYOUT_CACHE_BYTES,
  setLayoutCacheBudget,
  type MaglevBackend,
} from "../agent/datapath/maglev";

const RUNS = 5;
const BACKENDS_PER_LISTENER = 10;
const DOWN_INDEX = 3;

type Layout = "shared" | "distinct";
type Phase = "up" | "down" | "recover" | "removed";

/** 198.18.0.0/15 host address number `n` as text. */
function address(n: number): string {
  return `198.${18 + ((n >>> 16) & 1)}.${(n >>> 8) & 255}.${n & 255}`;
}

/** listener id -> backends for one phase; `run` makes the keys new (member port) every run. */
function scenario(
  listeners: number,
  layout: Layout,
  phase: Phase,
  run: number,
): Map<number, MaglevBackend[]> {
  const tables = new Map<number, MaglevBackend[]>();
  for (let l = 0; l < listeners; l++) {
    const group = layout === "shared" ? l >>> 1 : l; // the two ports of VIP v are listeners 2v, 2v+1
    const backends: MaglevBackend[] = [];
    for (let k = 0; k < BACKENDS_PER_LISTENER; k++) {
      if (phase === "removed" && k === DOWN_INDEX) continue;
      const backend: MaglevBackend = {
        id: l * BACKENDS_PER_LISTENER + k,
        key: `${address(256 + group * BACKENDS_PER_LISTENER + k)}:${10000 + run}`,
        weight: 100,
      };
      if (phase === "down" && k === DOWN_INDEX) backend.healthy = false;
      backends.push(backend);
    }
    tables.set(l + 1, backends);
  }
  return tables;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const PHASES: Phase[] = ["up", "down", "recover", "removed"];

async function timeRuns(
  pool: MaglevPool,
  listeners: number,
  layout: Layout,
  firstRun: number,
  runs: number,
) {
  const times: Record<Phase, number[]> = { up: [], down: [], recover: [], removed: [] };
  for (let r = 0; r < runs; r++) {
    for (const phase of PHASES) {
      const input = scenario(listeners, layout, phase, firstRun + r);
      const t0 = performance.now();
      const tables = await pool.computeMany(input);
      times[phase].push(performance.now() - t0);
      if (tables.size !== input.size) throw new Error("bench: missing tables");
    }
  }
  return times;
}

const round = (x: number): number => Math.round(x * 100) / 100;

async function main(): Promise<void> {
  const workers = Math.min(2, availableParallelism());
  console.log(
    `maglev compute bench: M=${MAGLEV_TABLE_SIZE}, ${BACKENDS_PER_LISTENER} backends/listener, workers=${workers}, median of ${RUNS}`,
  );

  // Baseline in the same run: textbook population, one thread, per table.
  const sample = [...scenario(40, "distinct", "up", 999).values()];
  for (const b of sample.slice(0, 5)) maglevTableReference(b);
  let t0 = performance.now();
  for (const b of sample) maglevTableReference(b);
  const baselinePerTable = (performance.now() - t0) / sample.length;
  setLayoutCacheBudget(0); // cold: a full population per table
  for (const b of sample.slice(0, 5)) maglevTable(b);
  t0 = performance.now();
  for (const b of sample) maglevTable(b);
  const fastPerTable = (performance.now() - t0) / sample.length;
  setLayoutCacheBudget(MAGLEV_LAYOUT_CACHE_BYTES);
  console.log(
    `one table, one thread: textbook ${round(baselinePerTable * 1000)} µs, ours ${round(fastPerTable * 1000)} µs`,
  );

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
    let run = 0;
    for (const layout of ["shared", "distinct"] as const) {
      for (const listeners of [2000, 20]) {
        await timeRuns(pool, listeners, layout, run++, 1); // warm-up (JIT, worker code paths)
        const times = await timeRuns(pool, listeners, layout, run, RUNS);
        run += RUNS;
        const parts: string[] = [];
        for (const phase of PHASES) {
          const m = round(median(times[phase]));
          figures[`${layout}${listeners}${phase[0]!.toUpperCase()}${phase.slice(1)}Ms`] = m;
          parts.push(`${phase} ${m} ms`);
        }
        console.log(
          `${layout.padEnd(8)} ${String(listeners).padStart(4)} listeners: ${parts.join(", ")}`,
        );
      }
    }
    // The cold case on one thread, for the parallel speed-up.
    const inline = new MaglevPool({ workers: 0 });
    const times = await timeRuns(inline, 2000, "distinct", run, 3);
    await inline.close();
    figures.distinct2000UpInlineMs = round(median(times.up));
    console.log(`distinct 2000 listeners, one thread: up ${figures.distinct2000UpInlineMs} ms`);
  } finally {
    await pool.close();
  }
  const load = loadavg().map((x) => round(x));
  console.log(`load average during the run: ${load.join(" ")} (on ${availableParallelism()} cpus)`);
  console.log(
    JSON.stringify({
      bench: "maglev-compute",
      tableSize: MAGLEV_TABLE_SIZE,
      workers,
      loadavg: load,
      ...figures,
    }),
  );
}

await main();
