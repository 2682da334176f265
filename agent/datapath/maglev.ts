/**
 * Maglev lookup tables for the XDP load balancer.
 *
 * Algorithm: Google's Maglev population (Eisenbud et al., NSDI 2016) with Katran's weighting
 * (MaglevHashV2). Backend i has a permutation of the M slots (M prime):
 *   offset_i = h1(key_i) mod M,  skip_i = h2(key_i) mod (M - 1) + 1,  perm_i[j] = (offset_i + j·skip_i) mod M
 * Backends take turns in rounds; a backend with weight w adds w to its credit each round and
 * takes a turn whenever its credit reaches the largest weight W (then pays W back), so it takes
 * turns in proportion to w (weight 0: never). On its turn a backend claims the first still-free
 * slot of its permutation. The table is full after exactly M turns.
 *
 * Everything depends only on the set of (key, weight, id): backends are sorted by key (UTF-16
 * code-unit order, never locale) and hashed by key, so every node computes the identical table
 * regardless of input order, ids or history.
 *
 * Hash: MurmurHash3 x86 32-bit over the key's UTF-8 bytes, with two fixed seeds (h1, h2). It is
 * well mixed, standard (maglev.test.ts checks the reference vectors), and cheap in integer JS.
 *
 * Cost: M claims plus the probes that hit taken slots (about 5·M for 10 backends, most of them
 * near the end), bound by branch mispredictions rather than arithmetic: the same loop in C is
 * no faster on this machine, and an exact bitmap-accelerated tail gained nothing measurable. So the code keeps the loop tight (typed arrays,
 * reused scratch, no per-slot allocation; permutations are never stored: each backend keeps its
 * position and steps by `skip`) and saves whole tables instead: listeners whose active backends
 * have the same keys and weights (the ports of one VIP) share one layout, relabelled with their
 * ids, and MaglevPool spreads big batches over worker threads.
 */
import { createRequire } from "node:module";
import { availableParallelism } from "node:os";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";

export const MAGLEV_TABLE_SIZE = 13313; // prime
export const NO_BACKEND = 0xffffffff; // every entry when no backend has weight > 0
export const MAGLEV_MAX_WEIGHT = 256;
/** Largest accepted table size (bounds scratch memory; far above any BPF map value size). */
export const MAGLEV_MAX_TABLE_SIZE = 1 << 24;
export const MAGLEV_MAX_KEY_LENGTH = 256;
/** Fixed MurmurHash3 seeds for offset and skip. Changing them changes every table in the fleet. */
export const MAGLEV_SEED_OFFSET = 0x7465_6e62; // "tenb"
export const MAGLEV_SEED_SKIP = 0x696e_6d67; // "inmg"

export interface MaglevBackend {
  /** u32 backend id used in the BPF maps (NO_BACKEND is reserved). */
  id: number;
  /** Stable identity, e.g. "198.18.2.10" or "[2001:db8::5]"; decides the permutation. */
  key: string;
  /** 0..256; 0 = drain (no slots). */
  weight: number;
}

/** Invalid backends or table size. The message names the offending listener/backend. */
export class MaglevInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MaglevInputError";
  }
}

// ---------------------------------------------------------------------------------------------
// Hashing

/** MurmurHash3 x86 32-bit of bytes[0..length) with the given seed; returns an unsigned u32. */
export function murmur3_32(bytes: Uint8Array, length: number, seed: number): number {
  const c1 = 0xcc9e2d51;
  const c2 = 0x1b873593;
  let h = seed | 0;
  const blockEnd = length & ~3;
  let i = 0;
  for (; i < blockEnd; i += 4) {
    let k = bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24);
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  const tail = length & 3;
  if (tail !== 0) {
    let k = 0;
    if (tail === 3) k ^= bytes[i + 2]! << 16;
    if (tail >= 2) k ^= bytes[i + 1]! << 8;
    k ^= bytes[i]!;
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
  }
  h ^= length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

const utf8 = new TextEncoder();
const keyBytes = new Uint8Array(MAGLEV_MAX_KEY_LENGTH * 3);

/** The two raw 32-bit hashes of a backend key (UTF-8) that define its permutation. */
export function maglevKeyHashes(key: string): { offsetHash: number; skipHash: number } {
  const { written } = utf8.encodeInto(key, keyBytes);
  return {
    offsetHash: murmur3_32(keyBytes, written, MAGLEV_SEED_OFFSET),
    skipHash: murmur3_32(keyBytes, written, MAGLEV_SEED_SKIP),
  };
}

// ---------------------------------------------------------------------------------------------
// Validation

export function isPrime(n: number): boolean {
  if (!Number.isInteger(n) || n < 2) return false;
  if (n % 2 === 0) return n === 2;
  for (let d = 3; d * d <= n; d += 2) if (n % d === 0) return false;
  return true;
}

const validatedSizes = new Set<number>();

export function validateTableSize(size: number): void {
  if (validatedSizes.has(size)) return;
  if (typeof size !== "number" || !Number.isInteger(size) || size < 3 || size > MAGLEV_MAX_TABLE_SIZE) {
    throw new MaglevInputError(`maglev: table size must be an integer 3..${MAGLEV_MAX_TABLE_SIZE}, got ${String(size)}`);
  }
  if (!isPrime(size)) {
    throw new MaglevInputError(`maglev: table size must be prime (every skip must be coprime with it), got ${size}`);
  }
  validatedSizes.add(size);
}

function describe(b: unknown, index: number): string {
  const key = typeof b === "object" && b !== null ? (b as { key?: unknown }).key : undefined;
  return typeof key === "string" ? `backend[${index}] (key ${JSON.stringify(key)})` : `backend[${index}]`;
}

/** Checks one backend list; returns the backends with weight > 0 sorted by key. */
function validateAndSort(backends: readonly MaglevBackend[], where: string): MaglevBackend[] {
  if (!Array.isArray(backends)) throw new MaglevInputError(`maglev: ${where}backends must be an array`);
  for (let i = 0; i < backends.length; i++) {
    const b: unknown = backends[i];
    if (typeof b !== "object" || b === null) {
      throw new MaglevInputError(`maglev: ${where}backend[${i}] must be an object {id, key, weight}`);
    }
    const { id, key, weight } = b as MaglevBackend;
    if (typeof key !== "string" || key.length === 0 || key.length > MAGLEV_MAX_KEY_LENGTH) {
      throw new MaglevInputError(
        `maglev: ${where}backend[${i}]: key must be a non-empty string of at most ${MAGLEV_MAX_KEY_LENGTH} characters`,
      );
    }
    if (typeof id !== "number" || !Number.isInteger(id) || id < 0 || id >= NO_BACKEND) {
      throw new MaglevInputError(
        `maglev: ${where}${describe(b, i)}: id must be an integer 0..${NO_BACKEND - 1} (${NO_BACKEND} means "no backend"), got ${String(id)}`,
      );
    }
    if (typeof weight !== "number" || !Number.isInteger(weight) || weight < 0 || weight > MAGLEV_MAX_WEIGHT) {
      throw new MaglevInputError(
        `maglev: ${where}${describe(b, i)}: weight must be an integer 0..${MAGLEV_MAX_WEIGHT}, got ${String(weight)}`,
      );
    }
  }
  const sorted = backends.slice().sort(byKey);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i]!.key === sorted[i - 1]!.key) {
      throw new MaglevInputError(`maglev: ${where}backend key ${JSON.stringify(sorted[i]!.key)} appears more than once`);
    }
  }
  if (sorted.length > 1) {
    const ids = new Set<number>();
    for (const b of sorted) {
      if (ids.has(b.id)) throw new MaglevInputError(`maglev: ${where}backend id ${b.id} is used by more than one key`);
      ids.add(b.id);
    }
  }
  return sorted.filter((b) => b.weight > 0);
}

function byKey(a: MaglevBackend, b: MaglevBackend): number {
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}

// ---------------------------------------------------------------------------------------------
// Population

/** Per-thread scratch buffers, grown on demand and reused across tables (no per-slot allocation). */
class Scratch {
  size = 0;
  backends = 0;
  filled = new Uint8Array(0);
  layout = new Uint32Array(0);
  position = new Int32Array(0);
  skip = new Int32Array(0);
  weight = new Int32Array(0);
  credit = new Int32Array(0);
  labels = new Uint32Array(0);

  ensure(size: number, backends: number): void {
    if (size > this.size) {
      this.size = size;
      this.filled = new Uint8Array(size);
      this.layout = new Uint32Array(size);
    }
    if (backends > this.backends) {
      const n = Math.max(backends, 16);
      this.backends = n;
      this.position = new Int32Array(n);
      this.skip = new Int32Array(n);
      this.weight = new Int32Array(n);
      this.credit = new Int32Array(n);
      this.labels = new Uint32Array(n);
    }
  }
}

const scratch = new Scratch();

/**
 * Fills `out` (length = size): slot -> labels[i] of the backend i that owns it, for `active`
 * backends already validated, filtered to weight > 0 and sorted by key.
 */
function populate(active: readonly MaglevBackend[], size: number, labels: ArrayLike<number>, out: Uint32Array): void {
  const n = active.length;
  if (n === 0) {
    out.fill(NO_BACKEND, 0, size);
    return;
  }
  if (n === 1) {
    out.fill(labels[0]!, 0, size);
    return;
  }
  scratch.ensure(size, n);
  const s = scratch;
  let maxWeight = 0;
  for (let i = 0; i < n; i++) {
    const b = active[i]!;
    const { offsetHash, skipHash } = maglevKeyHashes(b.key);
    s.position[i] = offsetHash % size;
    s.skip[i] = (skipHash % (size - 1)) + 1;
    s.weight[i] = b.weight;
    s.credit[i] = 0;
    s.labels[i] = labels[i]!;
    if (b.weight > maxWeight) maxWeight = b.weight;
  }
  s.filled.fill(0, 0, size);
  fill(s, n, size, maxWeight, out);
}

/** Maglev turns until every slot is claimed. */
function fill(s: Scratch, n: number, size: number, maxWeight: number, out: Uint32Array): void {
  const { filled, position, skip, weight, credit, labels } = s;
  let i = 0;
  for (let claimed = 0; claimed < size; ) {
    const c = credit[i]! + weight[i]!;
    if (c >= maxWeight) {
      credit[i] = c - maxWeight;
      const step = skip[i]!;
      let p = position[i]!;
      while (filled[p] !== 0) {
        p += step;
        if (p >= size) p -= size;
      }
      filled[p] = 1;
      out[p] = labels[i]!;
      p += step;
      if (p >= size) p -= size;
      position[i] = p;
      claimed++;
    } else {
      credit[i] = c;
    }
    if (++i === n) i = 0;
  }
}

/** Reference: a plain transcription of the textbook algorithm (tests hold the fast path to it). */
export function maglevTableReference(backends: readonly MaglevBackend[], size: number = MAGLEV_TABLE_SIZE): Uint32Array {
  validateTableSize(size);
  const active = validateAndSort(backends, "");
  const out = new Uint32Array(size).fill(NO_BACKEND);
  const n = active.length;
  if (n === 0) return out;
  const filled = new Uint8Array(size);
  const position: number[] = [];
  const skip: number[] = [];
  const credit: number[] = new Array<number>(n).fill(0);
  const maxWeight = Math.max(...active.map((b) => b.weight));
  for (const b of active) {
    const { offsetHash, skipHash } = maglevKeyHashes(b.key);
    position.push(offsetHash % size);
    skip.push((skipHash % (size - 1)) + 1);
  }
  let claimed = 0;
  for (let i = 0; claimed < size; i = (i + 1) % n) {
    credit[i]! += active[i]!.weight;
    if (credit[i]! < maxWeight) continue;
    credit[i]! -= maxWeight;
    while (filled[position[i]!] !== 0) position[i] = (position[i]! + skip[i]!) % size;
    filled[position[i]!] = 1;
    out[position[i]!] = active[i]!.id;
    claimed++;
  }
  return out;
}

function idsOf(active: readonly MaglevBackend[]): number[] {
  return active.map((b) => b.id);
}

/** The Maglev table (entries are backend ids) for one listener. Pure and deterministic. */
export function maglevTable(backends: readonly MaglevBackend[], size: number = MAGLEV_TABLE_SIZE): Uint32Array {
  validateTableSize(size);
  const active = validateAndSort(backends, "");
  const out = new Uint32Array(size);
  populate(active, size, idsOf(active), out);
  return out;
}

/** Slot layout identity: the table depends only on the active backends' keys and weights. */
function layoutSignature(active: readonly MaglevBackend[]): string {
  let sig = "";
  for (const b of active) sig += `${b.key}\u0000${b.weight}\u0000`;
  return sig;
}

/**
 * Computes one batch in the current thread (used inline and by the workers); errors name the
 * listener. Listeners whose active backends have the same keys and weights (e.g. the ports of one
 * VIP) share one slot layout, computed once and relabelled with each listener's ids.
 */
export function computeBatch(
  listenerIds: readonly number[],
  backendLists: readonly (readonly MaglevBackend[])[],
  size: number,
): Uint32Array[] {
  validateTableSize(size);
  const count = listenerIds.length;
  const actives: MaglevBackend[][] = [];
  const groups = new Map<string, number[]>();
  for (let t = 0; t < count; t++) {
    const active = validateAndSort(backendLists[t]!, `listener ${listenerIds[t]}: `);
    actives.push(active);
    const sig = layoutSignature(active);
    const group = groups.get(sig);
    if (group) group.push(t);
    else groups.set(sig, [t]);
  }
  const tables = new Array<Uint32Array>(count);
  for (const group of groups.values()) {
    if (group.length === 1) {
      const t = group[0]!;
      const out = new Uint32Array(size);
      populate(actives[t]!, size, idsOf(actives[t]!), out);
      tables[t] = out;
      continue;
    }
    const n = actives[group[0]!]!.length;
    scratch.ensure(size, n);
    const layout = scratch.layout; // slot -> index of the backend in key order
    populate(actives[group[0]!]!, size, Array.from({ length: n }, (_, k) => k), layout);
    for (const t of group) {
      const out = new Uint32Array(size);
      if (n === 0) out.fill(NO_BACKEND);
      else relabel(layout, idsOf(actives[t]!), out, size);
      tables[t] = out;
    }
  }
  return tables;
}

function relabel(layout: Uint32Array, ids: readonly number[], out: Uint32Array, size: number): void {
  const labels = Uint32Array.from(ids);
  for (let s = 0; s < size; s++) out[s] = labels[layout[s]!]!;
}

// ---------------------------------------------------------------------------------------------
// Worker pool

/** Message to a worker: one slice of a batch. */
export interface MaglevWorkerRequest {
  seq: number;
  size: number;
  listenerIds: number[];
  backendLists: (readonly MaglevBackend[])[];
}

/** Message from a worker: tables in request order (their buffers transferred), or an error. */
export type MaglevWorkerResponse =
  | { seq: number; ok: true; buffers: ArrayBuffer[] }
  | { seq: number; ok: false; message: string; inputError: boolean };

interface Pending {
  resolve: (buffers: ArrayBuffer[]) => void;
  reject: (error: Error) => void;
}

interface PoolWorker {
  worker: Worker;
  pending: Map<number, Pending>;
  ready: Promise<void>;
}

/** Batches at least this big go to the workers; smaller ones are cheaper inline (no messaging). */
export const MAGLEV_PARALLEL_THRESHOLD = 32;

/**
 * Starts one worker thread. Compiled to JS, this module loads maglev-worker.js directly. Run from
 * TypeScript (tsx, vitest), the worker has no TypeScript loader: tsx registers its hooks only in
 * the main thread. So a tiny eval'd bootstrap registers tsx's loader in the worker, then imports
 * maglev-worker.ts. A load failure surfaces as the worker's "error" event.
 */
function startWorker(): Worker {
  if (!import.meta.url.endsWith(".ts")) return new Worker(new URL("./maglev-worker.js", import.meta.url));
  const require = createRequire(import.meta.url);
  const tsxPackageJson = require.resolve("tsx/package.json");
  const tsxExports = (require(tsxPackageJson) as { exports: Record<string, { import?: { default?: string } }> }).exports;
  const apiPath = tsxExports["./esm/api"]?.import?.default;
  if (!apiPath) throw new Error("maglev: cannot find tsx's ESM API to load the TypeScript worker");
  const tsxApi = pathToFileURL(join(dirname(tsxPackageJson), apiPath)).href;
  const entry = new URL("./maglev-worker.ts", import.meta.url).href;
  const bootstrap = `import(${JSON.stringify(tsxApi)}).then(({ register }) => { register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(bootstrap, { eval: true, execArgv: [] });
}

/**
 * Computes many listeners' tables at once, in worker threads when the batch is big enough.
 * Workers start on first use (or warm()) and stop in close().
 */
export class MaglevPool {
  readonly size: number;
  readonly workerCount: number;
  readonly parallelThreshold: number;
  private workers: PoolWorker[] = [];
  private seq = 0;
  private closed = false;
  private workerFailure: Error | undefined;

  constructor(opts: { workers?: number; size?: number; parallelThreshold?: number } = {}) {
    this.size = opts.size ?? MAGLEV_TABLE_SIZE;
    validateTableSize(this.size);
    const workers = opts.workers ?? Math.min(2, availableParallelism());
    if (!Number.isInteger(workers) || workers < 0) {
      throw new MaglevInputError(`maglev: workers must be a non-negative integer, got ${String(workers)}`);
    }
    this.workerCount = workers;
    this.parallelThreshold = opts.parallelThreshold ?? MAGLEV_PARALLEL_THRESHOLD;
  }

  /** Worker threads currently running (0 until the first big batch or warm(), and after close()). */
  get runningWorkers(): number {
    return this.workers.length;
  }

  /** Starts the workers now (optional; otherwise the first big batch starts them). */
  async warm(): Promise<void> {
    this.assertOpen();
    for (let w = this.workers.length; w < this.workerCount; w++) this.workers.push(this.spawn());
    await Promise.all(this.workers.map((w) => w.ready));
  }

  /**
   * Tables for every listener in `tables` (listener id -> backends), keyed like the input.
   * Invalid input rejects with MaglevInputError. If worker threads cannot start or die, the
   * batch is computed inline instead: programming the data plane never depends on them.
   */
  async computeMany(tables: Map<number, readonly MaglevBackend[]>): Promise<Map<number, Uint32Array>> {
    this.assertOpen();
    const listenerIds = [...tables.keys()];
    const backendLists = [...tables.values()];
    const result = new Map<number, Uint32Array>();
    const parallel = this.workerCount > 0 && listenerIds.length >= this.parallelThreshold && !this.workerFailure;
    if (parallel) {
      try {
        await this.warm();
      } catch (e) {
        this.workerFailure = e instanceof Error ? e : new Error(String(e));
      }
    }
    if (!parallel || this.workerFailure) {
      const computed = computeBatch(listenerIds, backendLists, this.size);
      for (let t = 0; t < listenerIds.length; t++) result.set(listenerIds[t]!, computed[t]!);
      return result;
    }
    // Contiguous slices (neighbouring listeners often share a layout) balanced by backend count.
    const slices = splitByWork(backendLists, this.workers.length);
    const replies = await Promise.all(
      slices.map(async ([from, to], w): Promise<Uint32Array[]> => {
        const ids = listenerIds.slice(from, to);
        const lists = backendLists.slice(from, to);
        try {
          const buffers = await this.request(this.workers[w]!, ids, lists);
          return buffers.map((b) => new Uint32Array(b));
        } catch (e) {
          if (e instanceof MaglevInputError || this.closed) throw e;
          return computeBatch(ids, lists, this.size); // the worker died: do its share here
        }
      }),
    );
    slices.forEach(([from], w) => {
      const tablesOfSlice = replies[w]!;
      for (let t = 0; t < tablesOfSlice.length; t++) result.set(listenerIds[from + t]!, tablesOfSlice[t]!);
    });
    return result;
  }

  /** Why worker threads are not used (they failed to start), or undefined. */
  get workerError(): Error | undefined {
    return this.workerFailure;
  }

  /** Terminates the workers; pending computations reject. */
  async close(): Promise<void> {
    this.closed = true;
    const workers = this.workers;
    this.workers = [];
    for (const w of workers) failAll(w, new Error("maglev: pool closed"));
    await Promise.all(workers.map((w) => w.worker.terminate()));
  }

  private assertOpen(): void {
    if (this.closed) throw new Error("maglev: pool is closed");
  }

  private spawn(): PoolWorker {
    // Idle workers never keep the process alive: a worker is ref'd only while starting or busy.
    const worker = startWorker();
    const entry: PoolWorker = { worker, pending: new Map(), ready: Promise.resolve() };
    entry.ready = new Promise<void>((resolve, reject) => {
      worker.once("message", () => resolve()); // the first message is the worker's "ready"
      worker.once("error", reject);
      worker.once("exit", (code) => reject(new Error(`maglev: worker exited with code ${code} while starting`)));
    });
    entry.ready.catch(() => undefined); // also reported through warm() and the pending requests
    worker.on("message", (msg: MaglevWorkerResponse | { ready: true }) => {
      if ("ready" in msg) {
        if (entry.pending.size === 0) worker.unref();
        return;
      }
      const p = entry.pending.get(msg.seq);
      if (!p) return;
      entry.pending.delete(msg.seq);
      if (entry.pending.size === 0) worker.unref();
      if (msg.ok) p.resolve(msg.buffers);
      else p.reject(msg.inputError ? new MaglevInputError(msg.message) : new Error(msg.message));
    });
    const onDeath = (error: Error): void => {
      // A dead worker is replaced on the next batch.
      this.workers = this.workers.filter((w) => w !== entry);
      failAll(entry, error);
    };
    worker.on("error", (e: Error) => onDeath(new Error(`maglev: worker failed: ${e.message}`, { cause: e })));
    worker.on("exit", (code) => onDeath(new Error(`maglev: worker exited with code ${code}`)));
    return entry;
  }

  private request(
    w: PoolWorker,
    listenerIds: number[],
    backendLists: (readonly MaglevBackend[])[],
  ): Promise<ArrayBuffer[]> {
    const seq = ++this.seq;
    return new Promise<ArrayBuffer[]>((resolve, reject) => {
      w.pending.set(seq, { resolve, reject });
      w.worker.ref();
      const msg: MaglevWorkerRequest = { seq, size: this.size, listenerIds, backendLists };
      w.worker.postMessage(msg);
    });
  }
}

function failAll(w: PoolWorker, error: Error): void {
  const pending = [...w.pending.values()];
  w.pending.clear();
  for (const p of pending) p.reject(error);
}

/** Splits [0, lists.length) into `parts` contiguous ranges of about equal total backends. */
function splitByWork(lists: readonly (readonly MaglevBackend[])[], parts: number): [number, number][] {
  let total = 0;
  for (const l of lists) total += l.length + 1;
  const ranges: [number, number][] = [];
  let from = 0;
  let acc = 0;
  for (let t = 0; t < lists.length && ranges.length < parts - 1; t++) {
    acc += lists[t]!.length + 1;
    if (acc >= (total * (ranges.length + 1)) / parts) {
      ranges.push([from, t + 1]);
      from = t + 1;
    }
  }
  ranges.push([from, lists.length]);
  return ranges.filter(([a, b]) => b > a);
}
