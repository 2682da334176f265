import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import {
  MAGLEV_TABLE_SIZE,
  MaglevInputError,
  MaglevPool,
  NO_BACKEND,
  maglevTable,
  maglevTableReference,
  murmur3_32,
  setLayoutCacheBudget,
  MAGLEV_LAYOUT_CACHE_BYTES,
  type MaglevBackend,
} from "./maglev";

const M = MAGLEV_TABLE_SIZE;

function backends(n: number, group = 0, weight: (k: number) => number = () => 1): MaglevBackend[] {
  return Array.from({ length: n }, (_, k) => ({
    id: 100 + k,
    key: `198.18.${group}.${k + 1}`,
    weight: weight(k),
  }));
}

function slotCounts(table: Uint32Array): Map<number, number> {
  const counts = new Map<number, number>();
  for (const id of table) counts.set(id, (counts.get(id) ?? 0) + 1);
  return counts;
}

function movedFraction(a: Uint32Array, b: Uint32Array): number {
  let moved = 0;
  for (let s = 0; s < a.length; s++) if (a[s] !== b[s]) moved++;
  return moved / a.length;
}

function digest(table: Uint32Array): string {
  return createHash("sha256")
    .update(Buffer.from(table.buffer, table.byteOffset, table.byteLength))
    .digest("hex");
}

function shuffled<T>(xs: readonly T[], seed: number): T[] {
  const out = [...xs];
  let state = seed;
  for (let i = out.length - 1; i > 0; i--) {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    const j = state % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

describe("murmur3_32 (the documented hash)", () => {
  it("matches the reference MurmurHash3 x86_32 vectors", () => {
    const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
    const cases: [string, number, number][] = [
      ["", 0, 0],
      ["", 1, 0x514e28b7],
      ["test", 0, 0xba6bd213],
      ["Hello, world!", 0x9747b28c, 0x24884cba],
      ["The quick brown fox jumps over the lazy dog", 0x9747b28c, 0x2fa826cd],
      ["aaaa", 0x9747b28c, 0x5a97808a],
      ["abc", 0, 0xb3dd93fa],
    ];
    for (const [text, seed, expected] of cases) {
      const bytes = enc(text);
      expect(murmur3_32(bytes, bytes.length, seed), `${JSON.stringify(text)} seed ${seed}`).toBe(
        expected,
      );
    }
  });
});

describe("maglevTable", () => {
  it("gives every backend its fair share M/N (within ±1 slot, far inside ±1 %) for equal weights", () => {
    for (const n of [2, 3, 5, 7, 10, 16, 50]) {
      const counts = slotCounts(maglevTable(backends(n, n)));
      expect(counts.size).toBe(n);
      for (const [id, count] of counts) {
        expect(Math.abs(count - M / n), `N=${n} backend ${id}`).toBeLessThanOrEqual(1);
        expect(Math.abs(count - M / n) / (M / n)).toBeLessThanOrEqual(0.01);
      }
    }
  });

  it("gives shares proportional to the weights", () => {
    for (const weights of [
      [1, 2, 4],
      [3, 5, 7, 11],
      [1, 256],
      [100, 100, 50, 1],
    ]) {
      const list = backends(weights.length, 7, (k) => weights[k]!);
      const counts = slotCounts(maglevTable(list));
      const total = weights.reduce((a, w) => a + w, 0);
      list.forEach((b, k) => {
        const expected = (M * weights[k]!) / total;
        expect(
          Math.abs((counts.get(b.id) ?? 0) - expected),
          `weights ${weights} backend ${k}`,
        ).toBeLessThanOrEqual(2);
      });
    }
  });

  it("gives weight 0 no slots, and NO_BACKEND everywhere when nothing has weight", () => {
    const list = backends(4, 3, (k) => (k === 2 ? 0 : 10));
    const counts = slotCounts(maglevTable(list));
    expect(counts.has(list[2]!.id)).toBe(false);
    expect(counts.size).toBe(3);
    for (const table of [maglevTable([]), maglevTable(backends(3, 1, () => 0))]) {
      expect(table.length).toBe(M);
      expect(table.every((id) => id === NO_BACKEND)).toBe(true);
    }
  });

  it("gives a single backend every slot", () => {
    expect(maglevTable(backends(1)).every((id) => id === 100)).toBe(true);
  });

  it("moves about 1/N of the slots when one of N backends leaves (or joins)", () => {
    // Measured over many backend sets: N <= 10 moves at most 1.08/N, N = 20 at most 1.29/N
    // (Maglev's known extra disruption grows as M/N shrinks). Never fewer than the leaver's 1/N.
    for (const [n, bound] of [
      [3, 1.1],
      [5, 1.1],
      [10, 1.15],
      [20, 1.4],
    ] as const) {
      for (let group = 0; group < 3; group++) {
        const all = backends(n, 40 + group);
        const before = maglevTable(all);
        const leaver = all[group % n]!;
        const after = maglevTable(all.filter((b) => b !== leaver));
        const moved = movedFraction(before, after);
        const leaverShare = (slotCounts(before).get(leaver.id) ?? 0) / M;
        expect(moved, `N=${n} group ${group}`).toBeGreaterThanOrEqual(leaverShare);
        expect(moved * n, `N=${n} group ${group}`).toBeLessThanOrEqual(bound);
        expect(after.includes(leaver.id)).toBe(false);
        // Joining is the same change backwards.
        expect(movedFraction(after, maglevTable(all))).toBe(moved);
      }
    }
  });

  it("does not depend on input order", () => {
    const list = backends(12, 9, (k) => 1 + (k % 4) * 50);
    const expected = digest(maglevTable(list));
    for (let seed = 1; seed <= 5; seed++)
      expect(digest(maglevTable(shuffled(list, seed)))).toBe(expected);
  });

  it("derives the layout from keys only: other ids give the same slots with those ids", () => {
    const a = backends(6, 5);
    const b = a.map((x) => ({ ...x, id: x.id + 1000 }));
    const ta = maglevTable(a);
    const tb = maglevTable(b);
    expect(digest(tb)).toBe(digest(ta.map((id) => id + 1000)));
  });

  it("equals a plain transcription of the textbook algorithm, across sizes, weights and health", () => {
    for (const size of [7, 251, 4099, M]) {
      for (const n of [2, 5, 13]) {
        const list = backends(n, n + size, (k) => 1 + ((k * 37) % 256));
        expect(digest(maglevTable(list, size))).toBe(digest(maglevTableReference(list, size)));
        const someDown = list.map((b, k) => (k % 3 === 1 ? { ...b, healthy: false } : b));
        expect(digest(maglevTable(someDown, size)), `size ${size} N=${n} some down`).toBe(
          digest(maglevTableReference(someDown, size)),
        );
      }
    }
  });

  it("gives the same tables with the layout cache off, cold and warm", () => {
    const lists = [
      backends(10, 60),
      backends(10, 60).map((b, k) => (k === 4 ? { ...b, healthy: false } : b)),
    ];
    try {
      setLayoutCacheBudget(0);
      const uncached = lists.map((l) => digest(maglevTable(l)));
      setLayoutCacheBudget(MAGLEV_LAYOUT_CACHE_BYTES);
      expect(lists.map((l) => digest(maglevTable(l)))).toEqual(uncached);
      expect(lists.map((l) => digest(maglevTable(l)))).toEqual(uncached);
    } finally {
      setLayoutCacheBudget(MAGLEV_LAYOUT_CACHE_BYTES);
    }
  });

  it("keeps the tables of earlier releases (nodes on different versions must agree)", () => {
    // Pinned output for a fixed input: if this changes, mixed-version fleets disagree on every
    // flow during an upgrade. Change it only together with a fleet-wide migration plan.
    const table = maglevTable([
      { id: 1, key: "198.18.2.10", weight: 1 },
      { id: 2, key: "198.18.2.11", weight: 1 },
      { id: 3, key: "[2001:db8::5]", weight: 2 },
    ]);
    expect(Array.from(table.subarray(0, 16))).toEqual(GOLDEN_FIRST_16);
  });

  it("rejects invalid input with clear messages", () => {
    const ok = backends(2);
    expect(() => maglevTable(ok, 13312)).toThrow(/table size must be prime/);
    expect(() => maglevTable(ok, 1)).toThrow(/table size must be an integer/);
    expect(() => maglevTable(ok, 13313.5)).toThrow(/table size must be an integer/);
    expect(() => maglevTable([...ok, { ...ok[0]!, id: 7 }])).toThrow(
      /key "198\.18\.0\.1" appears more than once/,
    );
    expect(() => maglevTable([{ ...ok[0]!, weight: 1.5 }])).toThrow(
      /weight must be an integer 0\.\.256, got 1\.5/,
    );
    expect(() => maglevTable([{ ...ok[0]!, weight: 257 }])).toThrow(
      /weight must be an integer 0\.\.256/,
    );
    expect(() => maglevTable([{ ...ok[0]!, weight: -1 }])).toThrow(
      /weight must be an integer 0\.\.256/,
    );
    expect(() => maglevTable([{ ...ok[0]!, id: NO_BACKEND }])).toThrow(/id must be an integer/);
    expect(() => maglevTable([{ ...ok[0]!, id: -3 }])).toThrow(/id must be an integer/);
    expect(() => maglevTable([{ ...ok[0]!, key: "" }])).toThrow(/key must be a non-empty string/);
    expect(() => maglevTable([{ ...ok[0]!, healthy: "no" as unknown as boolean }])).toThrow(
      /healthy must be a boolean/,
    );
    expect(() => maglevTable([ok[0]!, { ...ok[1]!, id: ok[0]!.id }])).toThrow(
      /backend id 100 is used by more than one key/,
    );
    expect(() => maglevTable(ok, 13312)).toThrow(MaglevInputError);
  });
});

describe("down backends (healthy: false)", () => {
  const down = (list: MaglevBackend[], ...ids: number[]): MaglevBackend[] =>
    list.map((b) => (ids.includes(b.id) ? { ...b, healthy: false } : b));

  it("moves exactly the down backend's slots, evenly to the others, and all of them back on recovery", () => {
    for (const n of [3, 5, 10, 20]) {
      const all = backends(n, 80 + n);
      const before = maglevTable(all);
      const leaver = all[n - 1]!;
      const after = maglevTable(down(all, leaver.id));
      const leaverSlots = slotCounts(before).get(leaver.id)!;
      for (let s = 0; s < M; s++) {
        if (before[s] !== leaver.id && after[s] !== before[s])
          throw new Error(`N=${n}: slot ${s} of a healthy backend moved`);
      }
      expect(movedFraction(before, after)).toBe(leaverSlots / M);
      const counts = slotCounts(after);
      expect(counts.has(leaver.id)).toBe(false);
      for (const [id, count] of counts)
        expect(Math.abs(count - M / (n - 1)), `N=${n} backend ${id}`).toBeLessThanOrEqual(2);
      expect(digest(maglevTable(all))).toBe(digest(before)); // recovery restores the table
    }
  });

  it("keeps weights proportional with several backends down, and gives NO_BACKEND when all are down", () => {
    const weights = [1, 2, 4, 8, 3, 5];
    const list = backends(weights.length, 90, (k) => weights[k]!);
    const table = maglevTable(down(list, list[3]!.id, list[5]!.id));
    const healthy = list.filter((_, k) => k !== 3 && k !== 5);
    const total = healthy.reduce((a, b) => a + b.weight, 0);
    const counts = slotCounts(table);
    expect(counts.size).toBe(healthy.length);
    for (const b of healthy)
      expect(
        Math.abs(counts.get(b.id)! - (M * b.weight) / total),
        `weight ${b.weight}`,
      ).toBeLessThanOrEqual(3);
    expect(maglevTable(down(list, ...list.map((b) => b.id))).every((id) => id === NO_BACKEND)).toBe(
      true,
    );
  });

  it("does not depend on input order", () => {
    const list = down(
      backends(9, 91, (k) => 1 + k),
      100,
      104,
    );
    const expected = digest(maglevTable(list));
    for (let seed = 1; seed <= 3; seed++)
      expect(digest(maglevTable(shuffled(list, seed)))).toBe(expected);
  });
});

describe("identical tables in separate processes", () => {
  const tempDirs: string[] = [];
  afterAll(async () => {
    await Promise.all(tempDirs.map((d) => rm(d, { recursive: true, force: true })));
  });

  it("a child process computes the same table (other input order) as this one", async () => {
    const list = backends(10, 77, (k) => 1 + k * 20).map((b, k) =>
      k === 6 ? { ...b, healthy: false } : b,
    );
    const dir = await mkdtemp(join(tmpdir(), "tb-maglev-"));
    tempDirs.push(dir);
    const script = join(dir, "digest.ts");
    const moduleUrl = new URL("./maglev.ts", import.meta.url).href;
    await writeFile(
      script,
      [
        `import { createHash } from "node:crypto";`,
        `import { maglevTable } from ${JSON.stringify(moduleUrl)};`,
        `const list = ${JSON.stringify([...list].reverse())};`,
        `const t = maglevTable(list);`,
        `console.log(createHash("sha256").update(Buffer.from(t.buffer)).digest("hex"));`,
      ].join("\n"),
    );
    const tsxCli = createRequire(import.meta.url).resolve("tsx/cli");
    const { stdout } = await promisify(execFile)(process.execPath, [tsxCli, script], {
      cwd: fileURLToPath(new URL(".", import.meta.url)),
      timeout: 20_000,
    });
    expect(stdout.trim()).toBe(digest(maglevTable(list)));
  });
});

describe("MaglevPool", () => {
  const pools: MaglevPool[] = [];
  afterAll(async () => {
    await Promise.all(pools.map((p) => p.close()));
  });
  const newPool = (opts?: ConstructorParameters<typeof MaglevPool>[0]): MaglevPool => {
    const pool = new MaglevPool(opts);
    pools.push(pool);
    return pool;
  };

  /** 40 listeners: pairs share member addresses (two ports of one VIP) with their own ids. */
  function batch(count: number): Map<number, MaglevBackend[]> {
    const tables = new Map<number, MaglevBackend[]>();
    for (let l = 0; l < count; l++) {
      const n = 2 + (l % 9);
      const list = backends(n, l >> 1, (k) => (l % 5 === 0 ? 1 + k : 1)).map((b, k) => ({
        ...b,
        id: l * 100 + b.id,
        ...(l % 4 === 1 && k === 1 ? { healthy: false } : {}),
      }));
      tables.set(1000 + l, l % 3 === 0 ? shuffled(list, l) : list);
    }
    return tables;
  }

  it("computes big batches in worker threads, identical to maglevTable", async () => {
    const pool = newPool({ workers: 2 });
    expect(pool.runningWorkers).toBe(0); // started lazily
    const input = batch(40);
    const result = await pool.computeMany(input);
    expect(pool.runningWorkers).toBe(2);
    expect([...result.keys()]).toEqual([...input.keys()]);
    for (const [listener, list] of input) {
      const table = result.get(listener)!;
      expect(table).toBeInstanceOf(Uint32Array);
      expect(table.length).toBe(M);
      expect(digest(table), `listener ${listener}`).toBe(digest(maglevTable(list)));
    }
    await pool.close();
    expect(pool.runningWorkers).toBe(0);
    await expect(pool.computeMany(input)).rejects.toThrow(/closed/);
  });

  it("computes small batches inline without starting workers", async () => {
    const pool = newPool();
    const input = batch(5);
    const result = await pool.computeMany(input);
    expect(pool.runningWorkers).toBe(0);
    for (const [listener, list] of input)
      expect(digest(result.get(listener)!)).toBe(digest(maglevTable(list)));
    expect((await pool.computeMany(new Map())).size).toBe(0);
  });

  it("rejects bad fields in a big batch before any worker runs, naming the listener", async () => {
    const pool = newPool({ workers: 1, parallelThreshold: 1 });
    const input = batch(3);
    input.set(23, [{ id: 1, key: "198.18.0.1", weight: 300 }]);
    await expect(pool.computeMany(input)).rejects.toThrow(
      /listener 23: backend\[0\] \(key "198\.18\.0\.1"\): weight must be an integer 0\.\.256, got 300/,
    );
    expect(pool.runningWorkers).toBe(0);
  });

  it("reports invalid input from a worker as MaglevInputError naming the listener", async () => {
    const pool = newPool({ workers: 1, parallelThreshold: 1 });
    const input = batch(3);
    input.set(17, [...backends(2), { id: 5, key: "198.18.0.1", weight: 1 }]);
    const failure = pool.computeMany(input);
    await expect(failure).rejects.toThrow(MaglevInputError);
    await expect(failure).rejects.toThrow(
      /listener 17: backend key "198\.18\.0\.1" appears more than once/,
    );
    // The worker survives bad input.
    const again = await pool.computeMany(batch(3));
    expect(again.size).toBe(3);
    expect(pool.runningWorkers).toBe(1);
  });

  it("rejects a non-prime table size up front", () => {
    expect(() => new MaglevPool({ size: 1000 })).toThrow(/table size must be prime/);
  });
});

// Computed once by this implementation (murmur3 seeds "tenb"/"inmg", M = 13313); see the test above.
const GOLDEN_FIRST_16 = [1, 1, 3, 3, 3, 1, 3, 3, 1, 1, 3, 3, 3, 3, 3, 2];
