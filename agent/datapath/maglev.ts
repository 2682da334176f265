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
 * Down backends (healthy: false) keep their place: the table is computed over all backends with
 * weight > 0, then the race continues over just the down backends' slots, among the healthy
 * ones (same turns, each claiming the freed slot that comes first in its own permutation). So a
 * health flap moves exactly the flapping backend's slots, there and back; plain Maglev (leaving
 * the backend out) also moves a few percent of the others' slots.
 *
 * Everything depends only on the list's (key, weight, id, healthy) set: backends are sorted by
 * key (UTF-16 code-unit order, never locale) and hashed by key, so every node computes the
 * identical table regardless of input order or history.
 *
 * Hash: MurmurHash3 x86 32-bit over the key's UTF-8 bytes, with two fixed seeds (h1, h2). It is
 * well mixed, standard (maglev.test.ts checks the reference vectors), and cheap in integer JS.
 *
 * Cost: M claims plus the probes that hit taken slots (about 5·M for 10 backends, mostly near the
 * end), bound by branch mispredictions rather than arithmetic: the same loop in C is no faster on
 * this machine, and an exact bitmap-accelerated tail gained nothing measurable. So the loop is
 * kept tight (typed arrays, reused scratch, no per-slot allocation, permutations never stored:
 * each backend keeps its position and steps by `skip`) and whole tables are saved instead:
 *  - listeners with the same keys, weights and health (the ports of one VIP) share one layout,
 *    relabelled with their own ids;
 *  - each thread keeps recent layouts (slot -> backend index) in an LRU cache keyed by keys and
 *    weights, so a health change only deals the down backends' slots (a bitmap per healthy
 *    backend over permutation indices finds its next freed slot with a find-first-set) and a
 *    recovery is a relabel;
 *  - MaglevPool spreads big batches over worker threads, each listener to a stable worker.
 * None of this changes a single entry: tests hold every path to a plain reference.
 */
import { createRequire } from "node:module";
import { availableParallelism } from "node:os";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";

export const MAGLEV_TABLE_SIZE = 13313; // prime
export const NO_BACKEND = 0xffffffff; // every entry when no backend has weight > 0 (or all are down)
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
  /**
   * Default true. false = down: the backend keeps its place in the layout and only its own slots
   * are dealt to the healthy backends, so a health flap moves exactly the flapping backend's
   * slots (and none back and forth between the others). Leaving the backend out of the list
   * instead gives the plain Maglev table of the rest (which moves a few percent more).
   */
  healthy?: boolean;
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
  if (
    typeof size !== "number" ||
    !Number.isInteger(size) ||
    size < 3 ||
    size > MAGLEV_MAX_TABLE_SIZE
  ) {
    throw new MaglevInputError(
      `maglev: table size must be an integer 3..${MAGLEV_MAX_TABLE_SIZE}, got ${String(size)}`,
    );
  }
  if (!isPrime(size)) {
    throw new MaglevInputError(
      `maglev: table size must be prime (every skip must be coprime with it), got ${size}`,
    );
  }
  validatedSizes.add(size);
}

function describe(b: unknown, index: number): string {
  const key = typeof b === "object" && b !== null ? (b as { key?: unknown }).key : undefined;
  return typeof key === "string"
    ? `backend[${index}] (key ${JSON.stringify(key)})`
    : `backend[${index}]`;
}

/** Checks one backend list; returns the backends with weight > 0 sorted by key. */
function validateAndSort(backends: readonly MaglevBackend[], where: string): MaglevBackend[] {
  checkFields(backends, where);
  return sortActive(backends, where);
}

/** Type and range checks of every backend's fields (cheap; also run before packing for workers). */
function checkFields(backends: readonly MaglevBackend[], where: string): void {
  if (!Array.isArray(backends))
    throw new MaglevInputError(`maglev: ${where}backends must be an array`);
  for (let i = 0; i < backends.length; i++) {
    const b: unknown = backends[i];
    if (typeof b !== "object" || b === null) {
      throw new MaglevInputError(
        `maglev: ${where}backend[${i}] must be an object {id, key, weight}`,
      );
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
    if (
      typeof weight !== "number" ||
      !Number.isInteger(weight) ||
      weight < 0 ||
      weight > MAGLEV_MAX_WEIGHT
    ) {
      throw new MaglevInputError(
        `maglev: ${where}${describe(b, i)}: weight must be an integer 0..${MAGLEV_MAX_WEIGHT}, got ${String(weight)}`,
      );
    }
    const healthy = (b as MaglevBackend).healthy;
    if (healthy !== undefined && typeof healthy !== "boolean") {
      throw new MaglevInputError(
        `maglev: ${where}${describe(b, i)}: healthy must be a boolean when given`,
      );
    }
  }
}

/** Sorts by key, rejects duplicate keys and ids, drops weight 0. */
function sortActive(backends: readonly MaglevBackend[], where: string): MaglevBackend[] {
  const sorted = backends.slice().sort(byKey);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i]!.key === sorted[i - 1]!.key) {
      throw new MaglevInputError(
        `maglev: ${where}backend key ${JSON.stringify(sorted[i]!.key)} appears more than once`,
      );
    }
  }
  const duplicateId = findDuplicateId(sorted);
  if (duplicateId) {
    throw new MaglevInputError(
      `maglev: ${where}backend id ${duplicateId.id} is used by more than one key`,
    );
  }
  return sorted.filter((b) => b.weight > 0);
}

/** The first backend whose id an earlier one already uses (no allocation for short lists). */
function findDuplicateId(list: readonly MaglevBackend[]): MaglevBackend | undefined {
  if (list.length <= 16) {
    for (let i = 1; i < list.length; i++)
      for (let k = 0; k < i; k++) if (list[k]!.id === list[i]!.id) return list[i];
    return undefined;
  }
  const seen = new Set<number>();
  for (const b of list) {
    if (seen.has(b.id)) return b;
    seen.add(b.id);
  }
  return undefined;
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
  layout = new Int32Array(0); // slot -> backend index; -1 = none
  position = new Int32Array(0);
  skip = new Int32Array(0);
  weight = new Int32Array(0);
  credit = new Int32Array(0);
  isHealthy = new Uint8Array(0);
  offset = new Int32Array(0);
  cursor = new Int32Array(0);
  freeSlots = new Int32Array(0);
  bitmaps = new Int32Array(0);

  ensure(size: number, backends: number): void {
    if (size > this.size) {
      this.size = size;
      this.filled = new Uint8Array(size);
      this.layout = new Int32Array(size);
      this.freeSlots = new Int32Array(size);
    }
    if (backends > this.backends) {
      const n = Math.max(backends, 16);
      this.backends = n;
      this.position = new Int32Array(n);
      this.skip = new Int32Array(n);
      this.weight = new Int32Array(n);
      this.credit = new Int32Array(n);
      this.isHealthy = new Uint8Array(n);
      this.offset = new Int32Array(n);
      this.cursor = new Int32Array(n);
    }
    const words = ((size + 31) >>> 5) * backends;
    if (this.bitmaps.length < words) this.bitmaps = new Int32Array(words);
  }
}

const scratch = new Scratch();

/**
 * Fills `out` (length = size): slot -> index (in `active`) of the backend that owns it, for
 * `active` backends already validated, filtered to weight > 0 and sorted by key.
 */
function populate(active: readonly MaglevBackend[], size: number, out: Int32Array): void {
  const n = active.length;
  if (n <= 1) {
    out.fill(n - 1, 0, size); // -1 (none) or 0
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
    if (b.weight > maxWeight) maxWeight = b.weight;
  }
  s.filled.fill(0, 0, size);
  fill(s, n, size, maxWeight, out);
}

/** Maglev turns until every slot is claimed. */
function fill(s: Scratch, n: number, size: number, maxWeight: number, out: Int32Array): void {
  const { filled, position, skip, weight, credit } = s;
  let i = 0;
  for (let claimed = 0; claimed < size;) {
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
      out[p] = i;
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

/**
 * Reference: a plain transcription of the textbook algorithm, then the same race continued by
 * the healthy backends over the slots of the down ones (tests hold the fast paths to it).
 */
export function maglevTableReference(
  backends: readonly MaglevBackend[],
  size: number = MAGLEV_TABLE_SIZE,
): Uint32Array {
  validateTableSize(size);
  const active = validateAndSort(backends, "");
  const out = new Uint32Array(size).fill(NO_BACKEND);
  const n = active.length;
  if (n === 0 || active.every((b) => b.healthy === false)) return out;
  const offset: number[] = [];
  const skip: number[] = [];
  for (const b of active) {
    const { offsetHash, skipHash } = maglevKeyHashes(b.key);
    offset.push(offsetHash % size);
    skip.push((skipHash % (size - 1)) + 1);
  }
  const permutation = (i: number, j: number): number => (offset[i]! + j * skip[i]!) % size;
  const race = (players: number[], isFree: (slot: number) => boolean, slots: number): void => {
    const next = players.map(() => 0);
    const credit = players.map(() => 0);
    const maxWeight = Math.max(...players.map((i) => active[i]!.weight));
    for (let k = 0, claimed = 0; claimed < slots; k = (k + 1) % players.length) {
      const i = players[k]!;
      credit[k]! += active[i]!.weight;
      if (credit[k]! < maxWeight) continue;
      credit[k]! -= maxWeight;
      while (!isFree(permutation(i, next[k]!))) next[k]!++;
      const slot = permutation(i, next[k]!);
      owner[slot] = i;
      claimed++;
    }
  };
  const owner: number[] = new Array<number>(size).fill(-1);
  race([...active.keys()], (slot) => owner[slot] === -1, size);
  const isDown = (i: number): boolean => active[i]!.healthy === false;
  const freed = new Set<number>();
  for (let slot = 0; slot < size; slot++) if (isDown(owner[slot]!)) freed.add(slot);
  const healthy = [...active.keys()].filter((i) => !isDown(i));
  race(healthy, (slot) => freed.has(slot) && isDown(owner[slot]!), freed.size);
  for (let slot = 0; slot < size; slot++) out[slot] = active[owner[slot]!]!.id;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Down backends: deal their slots to the healthy ones

/**
 * (a·b) mod m for 0 <= a, b < m. Small tables use 32-bit integer math (V8 would otherwise fall
 * back to a slow floating-point modulo); larger ones stay exact in doubles (m <= 2^24).
 */
function mulMod(a: number, b: number, m: number): number {
  return m <= 46340 ? Math.imul(a, b) % m : (a * b) % m;
}

/** Inverse of a modulo prime m (extended Euclid). */
function invMod(a: number, m: number): number {
  let oldR = a;
  let r = m;
  let oldS = 1;
  let s = 0;
  while (r !== 0) {
    const q = Math.floor(oldR / r);
    const nextR = oldR - q * r;
    oldR = r;
    r = nextR;
    const nextS = oldS - q * s;
    oldS = s;
    s = nextS;
  }
  return ((oldS % m) + m) % m;
}

/**
 * Rewrites `layout` (slot -> index into `active`) so that the slots of unhealthy backends belong
 * to healthy ones: the Maglev race continues over just those slots. Healthy backends take turns
 * (weighted as before, in key order) and each claims the freed slot that comes first in its own
 * permutation. Other slots keep their owner. The freed slots are found per backend with a bitmap
 * over permutation indices j (j = (slot - offset)·skip⁻¹ mod M), so a claim is a find-first-set.
 */
function dealSlotsOfDown(active: readonly MaglevBackend[], size: number, layout: Int32Array): void {
  const n = active.length;
  scratch.ensure(size, n);
  const { offset, skip, weight, credit, cursor, isHealthy } = scratch;
  const healthyIndex: number[] = [];
  let maxWeight = 0;
  for (let i = 0; i < n; i++) {
    const b = active[i]!;
    isHealthy[i] = b.healthy === false ? 0 : 1;
    if (b.healthy === false) continue;
    healthyIndex.push(i);
    if (b.weight > maxWeight) maxWeight = b.weight;
  }
  // Each loop lives in its own small function: V8 optimizes them separately (one function with
  // several hot loops deoptimizes at every phase change).
  const free = collectFreedSlots(size, layout);
  const words = (size + 31) >>> 5;
  const h = healthyIndex.length;
  scratch.bitmaps.fill(0, 0, h * words);
  for (let k = 0; k < h; k++) {
    const b = active[healthyIndex[k]!]!;
    const { offsetHash, skipHash } = maglevKeyHashes(b.key);
    offset[k] = offsetHash % size;
    skip[k] = (skipHash % (size - 1)) + 1;
    weight[k] = b.weight;
    credit[k] = 0;
    cursor[k] = 0;
    markFreedSlots(k * words, offset[k]!, invMod(skip[k]!, size), free, size);
  }
  dealTurns(h, size, maxWeight, free, words, healthyIndex, layout);
}

/** Lists the slots of down backends in scratch.freeSlots (marking them free); returns how many. */
function collectFreedSlots(size: number, layout: Int32Array): number {
  const { filled, freeSlots, isHealthy } = scratch;
  let free = 0;
  for (let slot = 0; slot < size; slot++) {
    // Branch-free: about one slot in N is freed, an unpredictable branch would cost more.
    const up = isHealthy[layout[slot]!]!;
    freeSlots[free] = slot;
    free += 1 - up;
    filled[slot] = up;
  }
  return free;
}

/** Sets bit j = (slot - offset)·skip⁻¹ mod M of one backend's bitmap for every freed slot. */
function markFreedSlots(
  base: number,
  offset: number,
  inverseSkip: number,
  free: number,
  size: number,
): void {
  const { freeSlots, bitmaps } = scratch;
  for (let f = 0; f < free; f++) {
    let d = freeSlots[f]! - offset;
    if (d < 0) d += size;
    const j = mulMod(d, inverseSkip, size);
    bitmaps[base + (j >>> 5)]! |= 1 << (j & 31);
  }
}

function dealTurns(
  h: number,
  size: number,
  maxWeight: number,
  free: number,
  words: number,
  healthyIndex: readonly number[],
  layout: Int32Array,
): void {
  const { filled, offset, skip, weight, credit, cursor, bitmaps } = scratch;
  let k = 0;
  for (let remaining = free; remaining > 0;) {
    const c = credit[k]! + weight[k]!;
    if (c >= maxWeight) {
      credit[k] = c - maxWeight;
      const base = k * words;
      let j = cursor[k]!;
      let w = j >>> 5;
      let bits = bitmaps[base + w]! & (-1 << (j & 31));
      // Every free slot has its bit set in every healthy backend's bitmap, so this finds one.
      for (;;) {
        while (bits === 0) bits = bitmaps[base + ++w]!;
        const low = bits & -bits;
        bits ^= low;
        j = (w << 5) + (31 - Math.clz32(low));
        let slot = offset[k]! + mulMod(j, skip[k]!, size);
        if (slot >= size) slot -= size;
        if (filled[slot] === 0) {
          filled[slot] = 1;
          layout[slot] = healthyIndex[k]!;
          break;
        }
      }
      cursor[k] = j + 1;
      remaining--;
    } else {
      credit[k] = c;
    }
    if (++k === h) k = 0;
  }
}

// ---------------------------------------------------------------------------------------------
// Tables, batches and the layout cache

/** Per-thread cache of computed layouts (slot -> backend index in key order), least recently used out. */
export const MAGLEV_LAYOUT_CACHE_BYTES = 48 * 1024 * 1024;
const layoutCache = new Map<string, Uint16Array | Int32Array>();
let layoutCacheBytes = 0;
let layoutCacheBudget = MAGLEV_LAYOUT_CACHE_BYTES;

/** Sets this thread's layout cache budget (0 disables it). */
export function setLayoutCacheBudget(bytes: number): void {
  layoutCacheBudget = Math.max(0, bytes);
  evictLayouts();
}

function evictLayouts(): void {
  for (const [sig, layout] of layoutCache) {
    if (layoutCacheBytes <= layoutCacheBudget) break;
    layoutCache.delete(sig);
    layoutCacheBytes -= layout.byteLength;
  }
}

/** Layout identity: the base layout depends only on the active backends' keys and weights. */
function layoutSignature(active: readonly MaglevBackend[], size: number): string {
  let sig = `${size}`;
  for (const b of active) sig += `\u0000${b.key}\u0000${b.weight}`;
  return sig;
}

/**
 * Writes the final index layout of `active` into `into` (slot -> index into `active`, or -1 when
 * nothing is healthy): the cached or freshly computed base layout, with the slots of down
 * backends dealt to the healthy ones.
 */
function indexLayout(
  active: readonly MaglevBackend[],
  sig: string,
  size: number,
  into: Int32Array,
): void {
  const n = active.length;
  let healthy = 0;
  for (const b of active) if (b.healthy !== false) healthy++;
  if (healthy === 0) {
    into.fill(-1, 0, size);
    return;
  }
  const cached = layoutCache.get(sig);
  if (cached) {
    layoutCache.delete(sig); // most recently used goes last
    layoutCache.set(sig, cached);
    into.set(cached);
  } else {
    populate(active, size, into);
    const compact = n <= 0xffff;
    const bytes = (compact ? 2 : 4) * size;
    if (bytes <= layoutCacheBudget) {
      layoutCache.set(
        sig,
        compact ? Uint16Array.from(into.subarray(0, size)) : into.slice(0, size),
      );
      layoutCacheBytes += bytes;
      evictLayouts();
    }
  }
  if (healthy < n) dealSlotsOfDown(active, size, into);
}

function relabel(
  layout: Int32Array,
  active: readonly MaglevBackend[],
  out: Uint32Array,
  size: number,
): void {
  if (layout[0] === -1) {
    out.fill(NO_BACKEND, 0, size);
    return;
  }
  const labels = Uint32Array.from(active, (b) => b.id);
  for (let s = 0; s < size; s++) out[s] = labels[layout[s]!]!;
}

/** The Maglev table (entries are backend ids) for one listener. Pure and deterministic. */
export function maglevTable(
  backends: readonly MaglevBackend[],
  size: number = MAGLEV_TABLE_SIZE,
): Uint32Array {
  return computeBatch([0], [backends], size, false)[0]!;
}

/**
 * Computes one batch in the current thread (used inline and by the workers); errors name the
 * listener. Listeners with the same keys, weights and health (e.g. the ports of one VIP) share
 * one layout, computed once and relabelled with each listener's ids.
 */
export function computeBatch(
  listenerIds: readonly number[],
  backendLists: readonly (readonly MaglevBackend[])[],
  size: number,
  nameListeners = true,
): Uint32Array[] {
  validateTableSize(size);
  const count = listenerIds.length;
  const actives: MaglevBackend[][] = [];
  const layoutSigs: string[] = [];
  const groups = new Map<string, number[]>();
  for (let t = 0; t < count; t++) {
    const where = nameListeners ? `listener ${listenerIds[t]}: ` : "";
    const active = validateAndSort(backendLists[t]!, where);
    actives.push(active);
    const layoutSig = layoutSignature(active, size);
    layoutSigs.push(layoutSig);
    let health = "";
    for (const b of active) health += b.healthy === false ? "0" : "1";
    const sig = `${health}\u0000${layoutSig}`;
    const group = groups.get(sig);
    if (group) group.push(t);
    else groups.set(sig, [t]);
  }
  const tables = new Array<Uint32Array>(count);
  for (const group of groups.values()) {
    const first = actives[group[0]!]!;
    scratch.ensure(size, first.length);
    const layout = scratch.layout;
    indexLayout(first, layoutSigs[group[0]!]!, size, layout);
    for (const t of group) {
      const out = new Uint32Array(size);
      relabel(layout, actives[t]!, out, size);
      tables[t] = out;
    }
  }
  return tables;
}

// ---------------------------------------------------------------------------------------------
// Worker pool

/**
 * Message to a worker: one slice of a batch, packed into typed arrays and one string (structured
 * cloning thousands of small objects costs tens of milliseconds on the main thread).
 */
export interface MaglevWorkerRequest {
  seq: number;
  size: number;
  listenerIds: Float64Array;
  /** Backends per listener. */
  counts: Uint32Array;
  ids: Uint32Array;
  weights: Uint16Array;
  /** 1 healthy, 0 down. */
  healthy: Uint8Array;
  keyLengths: Uint16Array;
  /** Every key, concatenated in order. */
  keys: string;
  /** The worker's layout cache budget. */
  layoutCacheBytes: number;
}

/** Packs the listeners at `indices` for a worker, after the field checks (errors stay here). */
function packListeners(
  listenerIds: readonly number[],
  backendLists: readonly (readonly MaglevBackend[])[],
  indices: readonly number[],
  seq: number,
  size: number,
  layoutCacheBytes: number,
): MaglevWorkerRequest {
  let total = 0;
  for (const t of indices) total += backendLists[t]!.length;
  const req: MaglevWorkerRequest = {
    seq,
    size,
    listenerIds: Float64Array.from(indices, (t) => listenerIds[t]!),
    counts: new Uint32Array(indices.length),
    ids: new Uint32Array(total),
    weights: new Uint16Array(total),
    healthy: new Uint8Array(total),
    keyLengths: new Uint16Array(total),
    keys: "",
    layoutCacheBytes,
  };
  const keys: string[] = [];
  let k = 0;
  indices.forEach((t, at) => {
    const list = backendLists[t]!;
    req.counts[at] = list.length;
    for (const b of list) {
      req.ids[k] = b.id;
      req.weights[k] = b.weight;
      req.healthy[k] = b.healthy === false ? 0 : 1;
      req.keyLengths[k] = b.key.length;
      keys.push(b.key);
      k++;
    }
  });
  req.keys = keys.join("");
  return req;
}

/** The worker side of packListeners. */
export function unpackListeners(req: MaglevWorkerRequest): {
  listenerIds: number[];
  backendLists: MaglevBackend[][];
} {
  const listenerIds = Array.from(req.listenerIds);
  const backendLists: MaglevBackend[][] = [];
  let k = 0;
  let at = 0;
  for (const count of req.counts) {
    const list: MaglevBackend[] = [];
    for (let c = 0; c < count; c++, k++) {
      const end = at + req.keyLengths[k]!;
      const backend: MaglevBackend = {
        id: req.ids[k]!,
        key: req.keys.slice(at, end),
        weight: req.weights[k]!,
      };
      if (req.healthy[k] === 0) backend.healthy = false;
      list.push(backend);
      at = end;
    }
    backendLists.push(list);
  }
  return { listenerIds, backendLists };
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
  if (!import.meta.url.endsWith(".ts"))
    return new Worker(new URL("./maglev-worker.js", import.meta.url));
  const require = createRequire(import.meta.url);
  const tsxPackageJson = require.resolve("tsx/package.json");
  const tsxExports = (
    require(tsxPackageJson) as { exports: Record<string, { import?: { default?: string } }> }
  ).exports;
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
  readonly layoutCacheBytes: number;
  private workers: PoolWorker[] = [];
  private seq = 0;
  private closed = false;
  private workerFailure: Error | undefined;

  /**
   * workers: threads for big batches (default min(2, cpus); 0 = always inline). size: table size
   * (prime). parallelThreshold: smallest batch sent to the workers. layoutCacheBytes: layout cache
   * per worker thread (the inline thread's is set with setLayoutCacheBudget).
   */
  constructor(
    opts: {
      workers?: number;
      size?: number;
      parallelThreshold?: number;
      layoutCacheBytes?: number;
    } = {},
  ) {
    this.size = opts.size ?? MAGLEV_TABLE_SIZE;
    validateTableSize(this.size);
    const workers = opts.workers ?? Math.min(2, availableParallelism());
    if (!Number.isInteger(workers) || workers < 0) {
      throw new MaglevInputError(
        `maglev: workers must be a non-negative integer, got ${String(workers)}`,
      );
    }
    this.workerCount = workers;
    this.parallelThreshold = opts.parallelThreshold ?? MAGLEV_PARALLEL_THRESHOLD;
    this.layoutCacheBytes = opts.layoutCacheBytes ?? MAGLEV_LAYOUT_CACHE_BYTES;
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
  async computeMany(
    tables: Map<number, readonly MaglevBackend[]>,
  ): Promise<Map<number, Uint32Array>> {
    this.assertOpen();
    const listenerIds = [...tables.keys()];
    const backendLists = [...tables.values()];
    const parallel =
      this.workerCount > 0 && listenerIds.length >= this.parallelThreshold && !this.workerFailure;
    if (!parallel) return this.computeInline(listenerIds, backendLists);
    // Field checks first, so input errors never depend on (or wait for) a worker. Each listener
    // goes to the worker picked by its smallest backend key: stable across batches and health
    // changes (so that worker's layout cache hits), and listeners sharing a layout meet there.
    const shares: number[][] = Array.from({ length: this.workerCount }, () => []);
    for (let t = 0; t < listenerIds.length; t++) {
      const list = backendLists[t]!;
      checkFields(list, `listener ${listenerIds[t]}: `);
      shares[routeHash(list) % shares.length]!.push(t);
    }
    try {
      await this.warm();
    } catch (e) {
      this.workerFailure = e instanceof Error ? e : new Error(String(e));
      return this.computeInline(listenerIds, backendLists);
    }
    const replies = await Promise.all(
      shares.map(async (indices, w): Promise<Uint32Array[]> => {
        if (indices.length === 0) return [];
        try {
          const buffers = await this.request(this.workers[w]!, (seq) =>
            packListeners(
              listenerIds,
              backendLists,
              indices,
              seq,
              this.size,
              this.layoutCacheBytes,
            ),
          );
          return buffers.map((b) => new Uint32Array(b));
        } catch (e) {
          if (e instanceof MaglevInputError || this.closed) throw e;
          // The worker died: do its share here.
          const ids = indices.map((t) => listenerIds[t]!);
          return computeBatch(
            ids,
            indices.map((t) => backendLists[t]!),
            this.size,
          );
        }
      }),
    );
    const byIndex = new Array<Uint32Array>(listenerIds.length);
    shares.forEach((indices, w) => indices.forEach((t, k) => (byIndex[t] = replies[w]![k]!)));
    return new Map(listenerIds.map((id, t) => [id, byIndex[t]!]));
  }

  private computeInline(
    listenerIds: number[],
    backendLists: (readonly MaglevBackend[])[],
  ): Map<number, Uint32Array> {
    const computed = computeBatch(listenerIds, backendLists, this.size);
    return new Map(listenerIds.map((id, t) => [id, computed[t]!]));
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
      worker.once("exit", (code) =>
        reject(new Error(`maglev: worker exited with code ${code} while starting`)),
      );
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
    worker.on("error", (e: Error) =>
      onDeath(new Error(`maglev: worker failed: ${e.message}`, { cause: e })),
    );
    worker.on("exit", (code) => onDeath(new Error(`maglev: worker exited with code ${code}`)));
    return entry;
  }

  private request(
    w: PoolWorker,
    pack: (seq: number) => MaglevWorkerRequest,
  ): Promise<ArrayBuffer[]> {
    const seq = ++this.seq;
    const msg = pack(seq); // throws MaglevInputError before anything is sent
    return new Promise<ArrayBuffer[]>((resolve, reject) => {
      w.pending.set(seq, { resolve, reject });
      w.worker.ref();
      const transfer = [
        msg.listenerIds,
        msg.counts,
        msg.ids,
        msg.weights,
        msg.healthy,
        msg.keyLengths,
      ].map((a) => a.buffer);
      w.worker.postMessage(msg, transfer as ArrayBuffer[]);
    });
  }
}

function failAll(w: PoolWorker, error: Error): void {
  const pending = [...w.pending.values()];
  w.pending.clear();
  for (const p of pending) p.reject(error);
}

/** FNV-1a of the smallest key in the list (0 for an empty list): a stable worker choice. */
function routeHash(list: readonly MaglevBackend[]): number {
  let smallest: string | undefined;
  for (const b of list) if (smallest === undefined || b.key < smallest) smallest = b.key;
  let h = 0x811c9dc5;
  if (smallest !== undefined) {
    for (let i = 0; i < smallest.length; i++) h = Math.imul(h ^ smallest.charCodeAt(i), 0x01000193);
  }
  return h >>> 0;
}
