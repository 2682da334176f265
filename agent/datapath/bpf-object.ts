// BPF objects, maps and programs on top of libbpf: open/load with pinned-map reuse, plain and
// batched map access, and BPF_PROG_TEST_RUN.
import fs from "node:fs";
import { BPF_ANY, BpfError, addressOf, check, isNull, libbpf } from "./libbpf";

export interface OpenOptions {
  /** bpffs directory: maps with `pinning = LIBBPF_PIN_BY_NAME` are reused from / pinned to it. */
  pinRoot?: string;
  /** Override max_entries of named maps before load. */
  maxEntries?: Record<string, number>;
}

const OPEN_OPTS_SIZE = 80; // sizeof(struct bpf_object_open_opts), libbpf 1.1
const LOG_SIZE = 1 << 20;

export class BpfObject {
  private closed = false;
  private readonly maps = new Map<string, BpfMap>();

  private constructor(
    private readonly handle: unknown,
    readonly path: string,
    // keep option strings alive while libbpf holds pointers into them during open/load
    private readonly keepAlive: unknown[],
  ) {}

  /** Opens and loads an object file; pinned maps already in `pinRoot` are reused as they are. */
  static load(path: string, opts: OpenOptions = {}): BpfObject {
    const lib = libbpf();
    const o = Buffer.alloc(OPEN_OPTS_SIZE);
    const pinRoot = opts.pinRoot ? Buffer.from(opts.pinRoot + "\0") : null;
    const log = Buffer.alloc(LOG_SIZE);
    o.writeBigUInt64LE(BigInt(OPEN_OPTS_SIZE), 0);
    o.writeBigUInt64LE(addressOf(pinRoot), 24);
    o.writeBigUInt64LE(addressOf(log), 56);
    o.writeBigUInt64LE(BigInt(LOG_SIZE), 64);
    const handle = lib.objectOpenFile(path, o);
    if (isNull(handle)) throw new BpfError(`open ${path}`, lib.errno());
    const obj = new BpfObject(handle, path, [pinRoot, log, o]);
    try {
      for (const [name, n] of Object.entries(opts.maxEntries ?? {})) {
        const m = lib.objectFindMap(handle, name);
        if (isNull(m)) throw new Error(`map ${name} not in ${path}`);
        check(`set max_entries of ${name}`, lib.mapSetMaxEntries(m, n));
      }
      const rc = lib.objectLoad(handle);
      if (rc < 0) {
        const text = log.toString("utf8", 0, Math.max(0, log.indexOf(0))).trim();
        const err = new BpfError(`load ${path}`, -rc);
        if (text) err.message += `\n${text.split("\n").slice(-40).join("\n")}`;
        throw err;
      }
    } catch (e) {
      lib.objectClose(handle);
      throw e;
    }
    return obj;
  }

  map(name: string): BpfMap {
    let m = this.maps.get(name);
    if (!m) {
      this.assertOpen();
      const lib = libbpf();
      const p = lib.objectFindMap(this.handle, name);
      if (isNull(p)) throw new Error(`map ${name} not in ${this.path}`);
      m = new BpfMap(name, check(`fd of map ${name}`, lib.mapFd(p)));
      this.maps.set(name, m);
    }
    return m;
  }

  programFd(name: string): number {
    this.assertOpen();
    const lib = libbpf();
    const p = lib.objectFindProgram(this.handle, name);
    if (isNull(p)) throw new Error(`program ${name} not in ${this.path}`);
    return check(`fd of program ${name}`, lib.programFd(p));
  }

  /** Closes our fds. Pinned maps and attached links stay in the kernel. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    libbpf().objectClose(this.handle);
    this.keepAlive.length = 0;
  }

  private assertOpen(): void {
    if (this.closed) throw new Error(`${this.path} is closed`);
  }
}

const BATCH_OPTS_SIZE = 24; // sizeof(struct bpf_map_batch_opts)

/** One map, by fd. Keys and values are raw ABI bytes; codecs live in abi.ts. */
export class BpfMap {
  constructor(
    readonly name: string,
    readonly fd: number,
  ) {}

  update(key: Buffer, value: Buffer, flags = BPF_ANY): void {
    check(`update ${this.name}`, libbpf().mapUpdate(this.fd, key, value, flags));
  }

  /** Returns false when the key is absent. */
  lookup(key: Buffer, value: Buffer): boolean {
    const rc = libbpf().mapLookup(this.fd, key, value);
    if (rc === -2) return false; // ENOENT
    check(`lookup ${this.name}`, rc);
    return true;
  }

  /** Returns false when the key was absent. */
  delete(key: Buffer): boolean {
    const rc = libbpf().mapDelete(this.fd, key);
    if (rc === -2) return false;
    check(`delete ${this.name}`, rc);
    return true;
  }

  /** All keys of a hash/LPM map (snapshot; fine for the small maps we iterate). */
  keys(keySize: number): Buffer[] {
    const lib = libbpf();
    const out: Buffer[] = [];
    let prev: Buffer | null = null;
    for (;;) {
      const next = Buffer.alloc(keySize);
      const rc = lib.mapNextKey(this.fd, prev, next);
      if (rc === -2) break;
      check(`next key ${this.name}`, rc);
      out.push(next);
      prev = next;
    }
    return out;
  }

  /** One syscall for many elements: `keys` and `values` are packed arrays of `count` items. */
  updateBatch(keys: Buffer, values: Buffer, count: number, flags = BPF_ANY): void {
    if (count === 0) return;
    const n = new Uint32Array([count]);
    const opts = Buffer.alloc(BATCH_OPTS_SIZE);
    opts.writeBigUInt64LE(BigInt(BATCH_OPTS_SIZE), 0);
    opts.writeBigUInt64LE(flags, 8);
    check(`update batch ${this.name}`, libbpf().mapUpdateBatch(this.fd, keys, values, n, opts));
    if (n[0] !== count) throw new Error(`update batch ${this.name}: ${n[0]}/${count} written`);
  }

  /**
   * Reads every element of an ARRAY/PERCPU_ARRAY map with `u32` keys in batches.
   * `valueStride` is the per-element size as the kernel lays it out (for per-CPU maps
   * round_up(value_size, 8) * possible CPUs). Returns the packed values.
   */
  readArray(maxEntries: number, valueStride: number): Buffer {
    const lib = libbpf();
    const values = Buffer.alloc(maxEntries * valueStride);
    const keys = Buffer.alloc(maxEntries * 4);
    const opts = Buffer.alloc(BATCH_OPTS_SIZE);
    opts.writeBigUInt64LE(BigInt(BATCH_OPTS_SIZE), 0);
    const count = new Uint32Array([maxEntries]);
    const outBatch = Buffer.alloc(4);
    const rc = lib.mapLookupBatch(this.fd, null, outBatch, keys, values, count, opts);
    if (rc < 0 && rc !== -2) check(`lookup batch ${this.name}`, rc);
    if (count[0] !== maxEntries) {
      throw new Error(`lookup batch ${this.name}: ${count[0]}/${maxEntries} read`);
    }
    return values;
  }
}

/**
 * A BPF_F_MMAPABLE array mapped into our memory: element i of `valueSize` bytes starts at
 * i * round_up(valueSize, 8). Writes are visible to the program at once.
 */
export class MappedArray {
  private ptr: unknown;
  private readonly length: number;
  readonly stride: number;
  readonly memory: ArrayBuffer;

  constructor(
    map: BpfMap,
    readonly valueSize: number,
    readonly maxEntries: number,
  ) {
    const lib = libbpf();
    this.stride = Math.ceil(valueSize / 8) * 8;
    const len = Math.ceil((this.stride * maxEntries) / 4096) * 4096;
    const p = lib.mmapShared(map.fd, len);
    if (p === null) throw new BpfError(`mmap ${map.name}`, lib.errno());
    this.ptr = p;
    this.memory = lib.view(p, len);
    this.length = len;
  }

  /** Element i as 32-bit words (valueSize must be a multiple of 4). */
  u32(i: number): Uint32Array {
    if (!this.ptr) throw new Error("mapping is closed");
    if (i < 0 || i >= this.maxEntries) throw new RangeError(`element ${i} of ${this.maxEntries}`);
    return new Uint32Array(this.memory, i * this.stride, this.valueSize / 4);
  }

  close(): void {
    if (!this.ptr) return;
    libbpf().munmap(this.ptr, this.length);
    this.ptr = null;
  }
}

export interface TestRunResult {
  /** XDP action code returned by the program. */
  action: number;
  /** The packet as the program left it. */
  data: Buffer;
  /** Kernel-measured run time in ns (single run). */
  durationNs: number;
}

const TEST_RUN_OPTS_SIZE = 80; // sizeof(struct bpf_test_run_opts)

/**
 * One BPF_PROG_TEST_RUN call with fresh input (repeat = 1). `ingressIfindex` sets the xdp_md
 * ingress device (must exist in the calling thread's network namespace); default is lo.
 */
export class TestRunner {
  private readonly opts = Buffer.alloc(TEST_RUN_OPTS_SIZE);
  private readonly out: Buffer;
  private readonly ctx = Buffer.alloc(24);

  constructor(
    readonly progFd: number,
    maxPacket = 9000,
  ) {
    this.out = Buffer.alloc(maxPacket + 512);
  }

  run(packet: Buffer, ingressIfindex = 0): TestRunResult {
    const r = this.runRaw(packet, ingressIfindex);
    return { ...r, data: Buffer.from(this.out.subarray(0, r.outLen)) };
  }

  /** Like run() without copying the output: for benchmarks. */
  runRaw(
    packet: Buffer,
    ingressIfindex = 0,
  ): { action: number; durationNs: number; outLen: number } {
    const o = this.opts;
    o.fill(0);
    o.writeBigUInt64LE(BigInt(TEST_RUN_OPTS_SIZE), 0);
    o.writeBigUInt64LE(addressOf(packet), 8);
    o.writeBigUInt64LE(addressOf(this.out), 16);
    o.writeUInt32LE(packet.length, 24);
    o.writeUInt32LE(this.out.length, 28);
    if (ingressIfindex) {
      const c = this.ctx;
      c.fill(0);
      c.writeUInt32LE(packet.length, 4); // data_end
      c.writeUInt32LE(ingressIfindex, 12);
      o.writeBigUInt64LE(addressOf(c), 32);
      o.writeUInt32LE(c.length, 48);
    }
    o.writeInt32LE(1, 60); // repeat
    check("test run", libbpf().progTestRun(this.progFd, o));
    return {
      action: o.readUInt32LE(56),
      durationNs: o.readUInt32LE(64),
      outLen: o.readUInt32LE(28),
    };
  }
}

/** Pins the calling thread (Node's main thread) to one CPU; per-CPU state becomes predictable. */
export function pinThreadToCpu(cpu: number): number[] {
  const lib = libbpf();
  const size = 128;
  const old = Buffer.alloc(size);
  check("sched_getaffinity", lib.schedGetAffinity(0, size, old) < 0 ? -lib.errno() : 0);
  const mask = Buffer.alloc(size);
  mask[cpu >> 3] = 1 << (cpu & 7);
  if (lib.schedSetAffinity(0, size, mask) < 0) throw new BpfError("sched_setaffinity", lib.errno());
  const cpus: number[] = [];
  for (let i = 0; i < size * 8; i++) if ((old[i >> 3]! >> (i & 7)) & 1) cpus.push(i);
  return cpus;
}

/** Restores an affinity returned by pinThreadToCpu. */
export function restoreThreadCpus(cpus: number[]): void {
  const lib = libbpf();
  const mask = Buffer.alloc(128);
  for (const c of cpus) mask[c >> 3] = (mask[c >> 3] ?? 0) | (1 << (c & 7));
  if (lib.schedSetAffinity(0, mask.length, mask) < 0) {
    throw new BpfError("sched_setaffinity", lib.errno());
  }
}

export function isBpffs(dir: string): boolean {
  try {
    // BPF_FS_MAGIC 0xcafe4a11
    return fs.statfsSync(dir).type === 0xcafe4a11;
  } catch {
    return false;
  }
}
