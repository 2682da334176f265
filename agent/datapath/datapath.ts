// The node agent's handle on the XDP load balancer: loads bpf/lb.bpf.c with its maps pinned
// under one bpffs directory (reusing them after a restart, contents intact), attaches it, and
// programs listeners, backends, Maglev tables and node settings; reads the counters.
// Closing never detaches or clears anything: the data plane keeps forwarding without us.
import fs from "node:fs";
import * as abi from "./abi";
import { attachXdp, detachXdp, linkPinPath, type AttachResult, type XdpMode } from "./attach";
import { BpfMap, BpfObject, MappedArray, TestRunner, isBpffs } from "./bpf-object";
import { bpfObjectPath } from "./build";
import { BpfError, check, libbpf } from "./libbpf";

export type Protocol = "tcp" | "udp";
export type Affinity = "flow" | "source-ip";

export interface DatapathOptions {
  /** bpffs directory for the pinned maps and links (created if missing; must be on bpffs). */
  pinDir: string;
  maxListeners?: number;
  maxBackends?: number;
  /** Flows each CPU's share of the connection cache holds (NO_COMMON_LRU splits by CPU). */
  conn4PerCpu?: number;
  conn6PerCpu?: number;
  /** A different build of lb.bpf.o (experiments); default: bpf/build/lb.bpf.o, built on demand. */
  objectPath?: string;
}

export interface BackendSpec {
  /** u32 id used in the maps and in Maglev tables; < maxBackends. */
  id: number;
  address: string;
}

export interface ListenerKey {
  vip: string;
  protocol: Protocol;
  port: number;
  /** Inclusive end of a port range; absent or equal to `port` for a single port. */
  portEnd?: number;
}

export interface ListenerSpec extends ListenerKey {
  /** Allowed source prefixes (the VIP's family); empty or absent = everyone. */
  allowedCidrs?: readonly string[];
  affinity?: Affinity;
  /** The backends the listener's tables may name. */
  backends?: readonly BackendSpec[];
}

export interface ListenerInfo {
  id: number;
  vip: string;
  protocol: Protocol;
  port: number;
  portEnd: number;
  affinity: Affinity;
  allowedCidrs: string[];
  backendIds: number[];
}

export interface NextHopFallback {
  /** 0 (or the ingress interface) = XDP_TX back out; otherwise XDP_REDIRECT there. */
  ifindex: number;
  dstMac: string;
  srcMac: string;
}

export interface NodeSettings {
  /** Outer source addresses; a backend of a family without a node address is unreachable. */
  nodeV4?: string;
  nodeV6?: string;
  /** Next hop from the kernel FIB (bpf_fib_lookup), falling back to `fallback`. */
  useFib?: boolean;
  /**
   * How long each CPU reuses a FIB answer per backend (default 100 ms; 0 = ask the FIB for
   * every packet, which costs about as much as the rest of the forwarding path). A route or
   * neighbour change reaches a backend's packets within this time; configure() and
   * flushNextHops() drop every cached answer at once.
   */
  nextHopCacheMs?: number;
  fallback?: NextHopFallback;
  /** SYN-flood guard: above `threshold` new flows per CPU per window, stop caching flows. */
  floodGuard?: { threshold: number; windowMs: number; cooldownMs: number };
}

export type ListenerCounters = Record<abi.ListenerCounter, bigint>;
export interface DatapathStats {
  global: Record<abi.GlobalCounter, bigint>;
  listeners: Map<number, ListenerCounters>;
  backends: Map<number, { packets: bigint; bytes: bigint }>;
  /** CPUs currently in flood (stateless) mode. */
  floodCpus: number[];
}

const DEFAULT_NEXT_HOP_CACHE_MS = 100;

/** Pins of maps an earlier layout used (see bpf/README.md, ABI rules); removed on open. */
/** The program's copy of tb_config: an internal map named after its ELF section. */
const CONFIG_COPY = ".data.tb_config";

const STALE_PINS = ["tb_conn4", "tb_conn6", "tb_stats_glb", "tb_listeners", "tb_table_sel"];

const PROTO: Record<Protocol, number> = { tcp: abi.IPPROTO_TCP, udp: abi.IPPROTO_UDP };
const PROTO_NAME: Record<number, Protocol> = { 6: "tcp", 17: "udp" };

interface ListenerState {
  id: number;
  /** tb_listener.gen: bumped each time the id is given to a new listener, so that flows
   * cached for an earlier holder of the id are not taken for this listener's. */
  gen: number;
  family: abi.Family;
  vipBytes: Buffer;
  key: ListenerKey & { portEnd: number };
  flags: number;
  cidrKeys: Map<string, Buffer>; // canonical text -> LPM key
  backendIds: Set<number>;
}

interface BackendState {
  address: string;
  refs: number;
}

function keyText(k: ListenerKey): string {
  return `${abi.formatAddr(...famBytes(k.vip))}|${k.protocol}|${k.port}-${k.portEnd ?? k.port}`;
}

function famBytes(address: string): [abi.Family, Buffer] {
  const a = abi.addrBytes(address);
  return [a.family, a.bytes];
}

export class Datapath {
  private readonly listeners = new Map<string, ListenerState>();
  private readonly byId = new Map<number, ListenerState>();
  /** Listeners by VIP address (family|canonical text): a VIP's entries without a full scan. */
  private readonly byVip = new Map<string, Set<ListenerState>>();
  /** The VIP pre-filter as written, and how many VIP addresses set each of its bits. */
  private readonly vipFilter = Buffer.alloc(8 * abi.TB_VIP_FILTER_WORDS);
  private readonly vipFilterRefs = new Uint32Array(64 * abi.TB_VIP_FILTER_WORDS);
  private readonly backends = new Map<number, BackendState>();
  private readonly activeTable: Uint8Array;
  private readonly tables: MappedArray;
  private readonly cpus: number;
  private closed = false;
  readonly tableSize: number;
  readonly maxListeners: number;
  readonly maxBackends: number;

  private constructor(
    private readonly obj: BpfObject,
    readonly pinDir: string,
    /** True when the maps came from pins left by an earlier run. */
    readonly restored: boolean,
  ) {
    this.cpus = libbpf().numPossibleCpus();
    const tables = mapInfo(this.m("tb_maglev"));
    this.tableSize = tables.valueSize / 4;
    this.maxListeners = mapInfo(this.m("tb_listeners_v2")).maxEntries;
    this.maxBackends = mapInfo(this.m("tb_backends")).maxEntries;
    this.activeTable = new Uint8Array(this.maxListeners);
    this.tables = new MappedArray(this.m("tb_maglev"), tables.valueSize, tables.maxEntries);
  }

  /** Loads the program, reusing (never clearing) maps pinned in `pinDir` by an earlier run. */
  static open(opts: DatapathOptions): Datapath {
    fs.mkdirSync(opts.pinDir, { recursive: true });
    if (!isBpffs(opts.pinDir)) throw new Error(`${opts.pinDir} is not on a bpf filesystem`);
    const cpus = libbpf().numPossibleCpus();
    const maxListeners = opts.maxListeners ?? abi.TB_MAX_LISTENERS;
    const maxBackends = opts.maxBackends ?? abi.TB_MAX_BACKENDS;
    if (!Number.isInteger(maxListeners) || maxListeners < 1 || maxListeners > 65536) {
      throw new Error(`maxListeners must be 1..65536 (a cached flow holds a 16-bit listener id)`);
    }
    const restored =
      fs.existsSync(`${opts.pinDir}/tb_listeners_v2`) ||
      fs.existsSync(`${opts.pinDir}/tb_listeners`); // the previous layout, migrated below
    const load = () =>
      BpfObject.load(opts.objectPath ?? bpfObjectPath("lb"), {
        pinRoot: opts.pinDir,
        maxEntries: {
          tb_listen4: maxListeners,
          tb_listen6: maxListeners,
          tb_listeners_v2: maxListeners,
          tb_stats_lsn: maxListeners,
          tb_maglev: 2 * maxListeners,
          tb_backends: maxBackends,
          tb_stats_be: maxBackends,
          tb_nexthop: maxBackends,
          tb_conn4_v2: (opts.conn4PerCpu ?? defaultConnPerCpu(abi.TB_CONN4_PER_CPU, cpus)) * cpus,
          tb_conn6_v2: (opts.conn6PerCpu ?? defaultConnPerCpu(abi.TB_CONN6_PER_CPU, cpus)) * cpus,
        },
      });
    let obj: BpfObject;
    try {
      obj = load();
    } catch (e) {
      if (restored && e instanceof Error) {
        e.message +=
          `\n(maps pinned in ${opts.pinDir} could not be reused: were they created with other ` +
          `sizes (maxListeners, maxBackends, conn*PerCpu) or by a build with another layout? ` +
          `A layout change needs new map names, see bpf/README.md)`;
      }
      throw e;
    }
    const dp = new Datapath(obj, opts.pinDir, restored);
    try {
      dp.migrateListeners();
      if (restored) dp.restoreState();
    } catch (e) {
      obj.close();
      throw e;
    }
    try {
      dp.migrateGlobalStats();
      dp.loadConfigCopy(); // before attach(): the program never forwards with an empty copy
    } catch (e) {
      obj.close();
      throw e;
    }
    // Maps of an older layout that this program no longer uses (a program still attached
    // keeps its own reference until attach() swaps it).
    for (const stale of STALE_PINS) fs.rmSync(`${opts.pinDir}/${stale}`, { force: true });
    return dp;
  }

  // ---- program ----------------------------------------------------------------------

  get programFd(): number {
    return this.obj.programFd("tb_lb");
  }

  /** Attaches tb_lb to an interface (pinned link; an existing one gets the new program). */
  attach(ifname: string, mode: XdpMode = "auto"): AttachResult {
    return attachXdp(this.programFd, ifname, linkPinPath(this.pinDir, ifname, "tb_lb"), mode);
  }

  /** Detaches from an interface (the only way this class ever stops forwarding). */
  detach(ifname: string): boolean {
    return detachXdp(linkPinPath(this.pinDir, ifname, "tb_lb"));
  }

  /** A BPF_PROG_TEST_RUN harness for this program (tests, benchmarks). */
  testRunner(): TestRunner {
    return new TestRunner(this.programFd);
  }

  /** Raw map access for tools and tests. */
  map(name: string): BpfMap {
    return this.m(name);
  }

  // ---- node settings ----------------------------------------------------------------

  configure(s: NodeSettings): void {
    const flood = s.floodGuard;
    if (flood && (!(flood.threshold >= 0) || !(flood.windowMs > 0) || !(flood.cooldownMs >= 0))) {
      throw new Error("floodGuard needs threshold >= 0, windowMs > 0, cooldownMs >= 0");
    }
    const nhMs = s.nextHopCacheMs ?? DEFAULT_NEXT_HOP_CACHE_MS;
    if (!Number.isInteger(nhMs) || nhMs < 0 || nhMs > 0xffff) {
      throw new Error(`nextHopCacheMs must be an integer 0..65535 (ms), not ${nhMs}`);
    }
    const value = abi.encodeConfig({
      nodeV4: s.nodeV4,
      nodeV6: s.nodeV6,
      useFib: s.useFib ?? false,
      nextHopTtlMs: nhMs,
      nextHopGen: this.nextHopGen() + 1,
      fallback: s.fallback,
      flood: flood && {
        threshold: Math.floor(flood.threshold),
        windowNs: BigInt(Math.round(flood.windowMs * 1e6)),
        cooldownNs: BigInt(Math.round(flood.cooldownMs * 1e6)),
      },
    });
    this.writeConfig(value);
  }

  /**
   * tb_config (pinned: what a restart restores from), then the program's own copy that it reads
   * per packet (".data.tb_config", see lb.bpf.c).
   */
  private writeConfig(value: Buffer): void {
    this.m("tb_config").update(abi.u32(0), value);
    this.m(CONFIG_COPY).update(abi.u32(0), value);
  }

  /** A newly loaded program's copy of the configuration := the pinned tb_config. */
  private loadConfigCopy(): void {
    const cfg = Buffer.alloc(abi.LAYOUTS.tb_config.size);
    if (this.m("tb_config").lookup(abi.u32(0), cfg)) this.m(CONFIG_COPY).update(abi.u32(0), cfg);
  }

  /** Drops every cached FIB answer (tb_nexthop) at once, e.g. after a routing change. */
  flushNextHops(): void {
    this.assertOpen();
    const cfg = Buffer.alloc(abi.LAYOUTS.tb_config.size);
    this.m("tb_config").lookup(abi.u32(0), cfg);
    cfg.writeUInt16LE((this.nextHopGen() + 1) & 0xffff, abi.LAYOUTS.tb_config.fields.nh_gen);
    this.writeConfig(cfg);
  }

  private nextHopGen(): number {
    const cfg = Buffer.alloc(abi.LAYOUTS.tb_config.size);
    if (!this.m("tb_config").lookup(abi.u32(0), cfg)) return 0;
    return cfg.readUInt16LE(abi.LAYOUTS.tb_config.fields.nh_gen);
  }

  // ---- listeners --------------------------------------------------------------------

  /** Creates or updates a listener; returns its id (the key of its Maglev tables). */
  upsertListener(spec: ListenerSpec): number {
    this.assertOpen();
    const key = { ...spec, portEnd: spec.portEnd ?? spec.port };
    validateKey(key);
    const [family, vipBytes] = famBytes(spec.vip);
    const cidrs = new Map<string, Buffer>();
    for (const c of spec.allowedCidrs ?? []) {
      const p = abi.parseCidr(c);
      if (p.family !== family) throw new Error(`allowed CIDR ${c} is not of the VIP's family`);
      cidrs.set(`${abi.formatAddr(p.family, maskAddr(p.bytes, p.prefix))}/${p.prefix}`, p.bytes);
    }
    for (const b of spec.backends ?? []) this.validateBackend(b);

    const text = keyText(key);
    let st = this.listeners.get(text);
    const isNew = !st;
    if (!st) {
      const id = this.allocateListenerId();
      st = {
        id,
        gen: 0,
        family,
        vipBytes,
        key: {
          vip: abi.formatAddr(family, vipBytes),
          protocol: key.protocol,
          port: key.port,
          portEnd: key.portEnd,
        },
        flags: 0,
        cidrKeys: new Map(),
        backendIds: new Set(),
      };
      if (key.portEnd !== key.port) this.checkRangeFits(st);
      st.gen = this.resetListenerSlot(id);
    }

    // Backends first, so the tables written next can name them.
    this.setListenerBackendsOf(st, spec.backends ?? []);

    // Allowed sources: add new prefixes, switch flags, then remove stale prefixes.
    const lpm = this.m(family === 4 ? "tb_cidr4" : "tb_cidr6");
    const newKeys = new Map<string, Buffer>();
    for (const [textCidr, addr] of cidrs) {
      const prefix = Number(textCidr.split("/")[1]);
      const k = abi.cidrKey(family, st.id, maskAddr(addr, prefix), prefix);
      newKeys.set(textCidr, k);
      if (!st.cidrKeys.has(textCidr)) lpm.update(k, abi.u32(1));
    }
    st.flags =
      abi.LISTENER_F_ACTIVE |
      (spec.affinity === "source-ip" ? abi.LISTENER_F_SRC_AFFINITY : 0) |
      (newKeys.size ? abi.LISTENER_F_CIDR_FILTER : 0);
    this.writeListener(st.id, st.flags, st.gen);
    for (const [textCidr, k] of st.cidrKeys) if (!newKeys.has(textCidr)) lpm.delete(k);
    st.cidrKeys = newKeys;

    if (isNew) {
      this.listeners.set(text, st);
      this.publish(st); // last: only now can packets reach the listener
    }
    return st.id;
  }

  /** Removes a listener: it stops matching at once; its flows are hashed no more. */
  deleteListener(key: ListenerKey): boolean {
    this.assertOpen();
    const text = keyText({ ...key, portEnd: key.portEnd ?? key.port });
    const st = this.listeners.get(text);
    if (!st) return false;
    this.listeners.delete(text);
    this.unpublish(st);
    this.writeListener(st.id, 0, st.gen);
    const lpm = this.m(st.family === 4 ? "tb_cidr4" : "tb_cidr6");
    for (const k of st.cidrKeys.values()) lpm.delete(k);
    this.setListenerBackendsOf(st, []);
    return true;
  }

  /** Replaces the set of backends a listener's tables may name. */
  setListenerBackends(listenerId: number, backends: readonly BackendSpec[]): void {
    const st = this.byId.get(listenerId);
    if (!st) throw new Error(`no listener ${listenerId}`);
    for (const b of backends) this.validateBackend(b);
    this.setListenerBackendsOf(st, backends);
  }

  listenerId(key: ListenerKey): number | undefined {
    return this.listeners.get(keyText({ ...key, portEnd: key.portEnd ?? key.port }))?.id;
  }

  /** Listeners as the maps hold them (after a restart: as restored from the pins). */
  listListeners(): ListenerInfo[] {
    return [...this.byId.values()]
      .sort((a, b) => a.id - b.id)
      .map((st) => ({
        id: st.id,
        ...st.key,
        affinity: st.flags & abi.LISTENER_F_SRC_AFFINITY ? "source-ip" : "flow",
        allowedCidrs: [...st.cidrKeys.keys()],
        backendIds: [...st.backendIds].sort((a, b) => a - b),
      }));
  }

  listBackends(): BackendSpec[] {
    return [...this.backends.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([id, b]) => ({ id, address: b.address }));
  }

  /**
   * Clears backend entries that no listener lists. After a restart the maps come back from the
   * pins with every backend id in use, but a restored listener only knows the backends its
   * active table names: one that had weight 0 at shutdown and that the new desired state no
   * longer lists is referenced by nobody. Call once the desired state has been applied (the
   * reconciler's prune step); cached flows to a cleared backend are hashed again. Returns the
   * ids cleared.
   */
  pruneBackends(): number[] {
    this.assertOpen();
    const be = this.m("tb_backends");
    const cleared: number[] = [];
    for (const [id, b] of this.backends) {
      if (b.refs > 0) continue;
      be.update(abi.u32(id), abi.encodeBackend(0, Buffer.alloc(16)));
      this.backends.delete(id);
      cleared.push(id);
    }
    return cleared.sort((x, y) => x - y);
  }

  // ---- Maglev tables ----------------------------------------------------------------

  /**
   * Installs tables (entries: backend ids or NO_BACKEND) for many listeners: each into the
   * listener's inactive buffer, then all flips in one batch.
   */
  writeTables(tables: ReadonlyMap<number, Uint32Array>): void {
    this.assertOpen();
    const n = tables.size;
    if (n === 0) return;
    const keys = Buffer.alloc(4 * n);
    const values = Buffer.alloc(8 * n);
    let i = 0;
    for (const [id, table] of tables) {
      if (!this.byId.has(id)) throw new Error(`no listener ${id}`);
      if (table.length !== this.tableSize) {
        throw new Error(
          `table for listener ${id} has ${table.length} entries, want ${this.tableSize}`,
        );
      }
      const next = this.activeTable[id]! ^ 1;
      this.tables.u32(id * 2 + next).set(table);
      const st = this.byId.get(id)!;
      keys.writeUInt32LE(id, i * 4);
      abi.encodeListener(st.flags, st.gen, next).copy(values, i * 8);
      i++;
    }
    // the flips: each listener's entry as it stands, with the other buffer active
    this.m("tb_listeners_v2").updateBatch(keys, values, n);
    for (const id of tables.keys()) this.activeTable[id] = this.activeTable[id]! ^ 1;
  }

  /** The active table of a listener, as the program sees it. */
  readTable(listenerId: number): Uint32Array {
    this.assertOpen();
    return this.tables.u32(listenerId * 2 + this.activeTable[listenerId]!).slice();
  }

  // ---- counters ---------------------------------------------------------------------

  /** All counters, summed over CPUs. */
  readStats(): DatapathStats {
    this.assertOpen();
    const cpus = this.cpus;
    const g = this.m("tb_stats_glb_v2").readArray(1, abi.perCpuStride(128, cpus));
    const gs = abi.sumPerCpu(g, 0, 128, cpus, abi.GLOBAL_COUNTERS.length);
    const global = Object.fromEntries(abi.GLOBAL_COUNTERS.map((n, i) => [n, gs[i]!])) as Record<
      abi.GlobalCounter,
      bigint
    >;

    const listeners = new Map<number, ListenerCounters>();
    if (this.byId.size) {
      const stride = abi.perCpuStride(64, cpus);
      const ls = this.m("tb_stats_lsn").readArray(this.maxListeners, stride);
      for (const id of this.byId.keys()) {
        const s = abi.sumPerCpu(ls, id * stride, 64, cpus, abi.LISTENER_COUNTERS.length);
        listeners.set(
          id,
          Object.fromEntries(abi.LISTENER_COUNTERS.map((n, i) => [n, s[i]!])) as ListenerCounters,
        );
      }
    }

    const backends = new Map<number, { packets: bigint; bytes: bigint }>();
    if (this.backends.size) {
      const stride = abi.perCpuStride(16, cpus);
      const bs = this.m("tb_stats_be").readArray(this.maxBackends, stride);
      for (const id of this.backends.keys()) {
        const [packets, bytes] = abi.sumPerCpu(bs, id * stride, 16, cpus, 2);
        backends.set(id, { packets: packets!, bytes: bytes! });
      }
    }

    // A CPU leaves flood mode lazily (at its next new flow); report it as out once its
    // cool-down has passed. The program's coarse clock and ours share CLOCK_MONOTONIC.
    const f = this.m("tb_flood").readArray(1, abi.perCpuStride(24, cpus));
    const now = process.hrtime.bigint();
    const floodCpus: number[] = [];
    for (let c = 0; c < cpus; c++) {
      if (f.readUInt32LE(c * 24 + 20) && f.readBigUInt64LE(c * 24 + 8) > now) floodCpus.push(c);
    }
    return { global, listeners, backends, floodCpus };
  }

  /** Closes our handles; maps stay pinned and the program stays attached. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.tables.close();
    this.obj.close();
  }

  // ---- internals --------------------------------------------------------------------

  private m(name: string): BpfMap {
    return this.obj.map(name);
  }

  private assertOpen(): void {
    if (this.closed) throw new Error("datapath is closed");
  }

  private validateBackend(b: BackendSpec): void {
    if (!Number.isInteger(b.id) || b.id < 0 || b.id >= this.maxBackends) {
      throw new Error(`backend id ${b.id} out of range 0..${this.maxBackends - 1}`);
    }
    abi.addrBytes(b.address); // throws on a bad address
    // The same id with a new address is allowed: the id is the caller's; it moves everywhere.
  }

  private setListenerBackendsOf(st: ListenerState, list: readonly BackendSpec[]): void {
    const be = this.m("tb_backends");
    const next = new Set<number>();
    for (const b of list) {
      next.add(b.id);
      const address = canonical(b.address);
      const known = this.backends.get(b.id);
      if (!known || known.address !== address) {
        const a = abi.addrBytes(address);
        be.update(abi.u32(b.id), abi.encodeBackend(a.family, a.bytes));
        if (!known) this.resetBackendStats(b.id);
        this.backends.set(b.id, { address, refs: known?.refs ?? 0 });
      }
      if (!st.backendIds.has(b.id)) this.backends.get(b.id)!.refs++;
    }
    for (const id of st.backendIds) {
      if (next.has(id)) continue;
      const known = this.backends.get(id);
      if (known && --known.refs <= 0) {
        // Unused id: cached flows to it are re-hashed by the program.
        be.update(abi.u32(id), abi.encodeBackend(0, Buffer.alloc(16)));
        this.backends.delete(id);
      }
    }
    st.backendIds = next;
  }

  private allocateListenerId(): number {
    for (let id = 0; id < this.maxListeners; id++) if (!this.byId.has(id)) return id;
    throw new Error(`all ${this.maxListeners} listener slots are in use`);
  }

  /**
   * A fresh slot: both tables empty (NO_BACKEND), buffer 0 active, counters zero. Returns the
   * slot's next generation (the previous holder's + 1; written when the listener is).
   */
  private resetListenerSlot(id: number): number {
    const prev = Buffer.alloc(abi.LAYOUTS.tb_listener.size);
    const gen = this.m("tb_listeners_v2").lookup(abi.u32(id), prev)
      ? (abi.decodeListener(prev).gen + 1) & 0xffff
      : 0;
    this.tables.u32(id * 2).fill(abi.TB_NO_BACKEND);
    this.tables.u32(id * 2 + 1).fill(abi.TB_NO_BACKEND);
    this.activeTable[id] = 0; // written with the listener's entry
    this.m("tb_stats_lsn").update(abi.u32(id), Buffer.alloc(abi.perCpuStride(64, this.cpus)));
    return gen;
  }

  private resetBackendStats(id: number): void {
    this.m("tb_stats_be").update(abi.u32(id), Buffer.alloc(abi.perCpuStride(16, this.cpus)));
  }

  private rangesOf(family: abi.Family, vipBytes: Buffer): abi.PortRange[] {
    const out: abi.PortRange[] = [];
    for (const st of this.byVip.get(vipIndexKey(family, vipBytes)) ?? []) {
      if (st.key.portEnd === st.key.port) continue;
      out.push({
        first: st.key.port,
        last: st.key.portEnd,
        proto: PROTO[st.key.protocol],
        listenerId: st.id,
      });
    }
    return out.sort((a, b) => a.first - b.first);
  }

  private checkRangeFits(st: ListenerState): void {
    const ranges = this.rangesOf(st.family, st.vipBytes);
    const proto = PROTO[st.key.protocol];
    for (const r of ranges) {
      if (r.proto === proto && r.first <= st.key.portEnd && st.key.port <= r.last) {
        throw new Error(
          `port range ${st.key.port}-${st.key.portEnd} overlaps ${r.first}-${r.last}`,
        );
      }
    }
    if (ranges.length >= abi.TB_MAX_RANGES_PER_VIP) {
      throw new Error(`at most ${abi.TB_MAX_RANGES_PER_VIP} port-range listeners per VIP`);
    }
  }

  private writeVip(family: abi.Family, vipBytes: Buffer): void {
    const vipMap = this.m(family === 4 ? "tb_vip4" : "tb_vip6");
    if (this.byVip.get(vipIndexKey(family, vipBytes))?.size)
      vipMap.update(abi.vipKey(family, vipBytes), abi.encodeVip(this.rangesOf(family, vipBytes)));
    else vipMap.delete(abi.vipKey(family, vipBytes));
  }

  /**
   * Adds a listener to byId/byVip; the first listener of a VIP address counts its pre-filter
   * bit. Returns true when the bit went from clear to set (the filter must be written).
   */
  private index(st: ListenerState): boolean {
    this.byId.set(st.id, st);
    const key = vipIndexKey(st.family, st.vipBytes);
    const set = this.byVip.get(key);
    if (set) {
      set.add(st);
      return false;
    }
    this.byVip.set(key, new Set([st]));
    const bit = abi.vipFilterBit(st.family, st.vipBytes);
    if (this.vipFilterRefs[bit]!++ > 0) return false;
    this.vipFilter[bit >> 3] = this.vipFilter[bit >> 3]! | (1 << (bit & 7));
    return true;
  }

  /** The reverse of index(): true when a pre-filter bit went clear. */
  private unindex(st: ListenerState): boolean {
    this.byId.delete(st.id);
    const key = vipIndexKey(st.family, st.vipBytes);
    const set = this.byVip.get(key);
    if (!set?.delete(st) || set.size) return false;
    this.byVip.delete(key);
    const bit = abi.vipFilterBit(st.family, st.vipBytes);
    if (--this.vipFilterRefs[bit]! > 0) return false;
    this.vipFilter[bit >> 3] = this.vipFilter[bit >> 3]! & ~(1 << (bit & 7));
    return true;
  }

  /** One write of the whole pre-filter (8 KB) when a bit changed: O(1) per listener. */
  private writeVipFilter(): void {
    this.m("tb_vip_filter").update(abi.u32(0), this.vipFilter);
  }

  private publish(st: ListenerState): void {
    // first: the filter must never hide a published VIP
    if (this.index(st)) this.writeVipFilter();
    if (st.key.portEnd === st.key.port) {
      const k =
        st.family === 4
          ? abi.listenKey4(st.vipBytes, st.key.port, PROTO[st.key.protocol])
          : abi.listenKey6(st.vipBytes, st.key.port, PROTO[st.key.protocol]);
      this.m(st.family === 4 ? "tb_listen4" : "tb_listen6").update(k, abi.u32(st.id));
    }
    this.writeVip(st.family, st.vipBytes);
  }

  private unpublish(st: ListenerState): void {
    if (st.key.portEnd === st.key.port) {
      const k =
        st.family === 4
          ? abi.listenKey4(st.vipBytes, st.key.port, PROTO[st.key.protocol])
          : abi.listenKey6(st.vipBytes, st.key.port, PROTO[st.key.protocol]);
      this.m(st.family === 4 ? "tb_listen4" : "tb_listen6").delete(k);
    }
    const bitCleared = this.unindex(st);
    this.writeVip(st.family, st.vipBytes);
    if (bitCleared) this.writeVipFilter(); // last: after the VIP's entries are gone
  }

  /**
   * Carries the global counters of a pinned tb_stats_glb (the previous counter order) over into
   * a fresh tb_stats_glb_v2, so an upgrade does not reset them. Counts the old program makes
   * between open() and attach() are not carried over.
   */
  private migrateGlobalStats(): void {
    const path = `${this.pinDir}/tb_stats_glb`;
    if (!fs.existsSync(path)) return;
    const cpus = this.cpus;
    const stride = abi.perCpuStride(128, cpus);
    const next = this.m("tb_stats_glb_v2");
    if (next.readArray(1, stride).some((b) => b !== 0)) return; // already carried over
    const fd = check(`open ${path}`, libbpf().objGet(path));
    try {
      const old = new BpfMap("tb_stats_glb", fd).readArray(1, stride);
      const out = Buffer.alloc(stride);
      const slot = new Map<string, number>(abi.GLOBAL_COUNTERS.map((n, i) => [n, i]));
      for (let cpu = 0; cpu < cpus; cpu++) {
        abi.GLOBAL_COUNTERS_V1.forEach((name, i) => {
          const v = old.readBigUInt64LE(cpu * 128 + i * 8);
          out.writeBigUInt64LE(v, cpu * 128 + slot.get(name)! * 8);
        });
      }
      next.update(abi.u32(0), out);
    } finally {
      libbpf().close(fd);
    }
  }

  /** tb_listeners_v2[id] := flags, gen and the active buffer as this process knows it. */
  private writeListener(id: number, flags: number, gen: number): void {
    this.m("tb_listeners_v2").update(
      abi.u32(id),
      abi.encodeListener(flags, gen, this.activeTable[id]!),
    );
  }

  /**
   * Fills a fresh tb_listeners_v2 from the previous layout's pins (tb_listeners: flags and gen;
   * tb_table_sel: the active buffer), so an upgrade keeps every listener, its cached flows
   * (same gen) and its active table.
   */
  private migrateListeners(): void {
    const oldPath = `${this.pinDir}/tb_listeners`;
    const selPath = `${this.pinDir}/tb_table_sel`;
    if (!fs.existsSync(oldPath) || !fs.existsSync(selPath)) return;
    const next = this.m("tb_listeners_v2");
    const n = this.maxListeners;
    if (next.readArray(n, 8).some((b) => b !== 0)) return; // already carried over
    const lib = libbpf();
    const oldFd = check(`open ${oldPath}`, lib.objGet(oldPath));
    let selFd = -1;
    try {
      selFd = check(`open ${selPath}`, lib.objGet(selPath));
      const oldMap = new BpfMap("tb_listeners", oldFd);
      const selMap = new BpfMap("tb_table_sel", selFd);
      const oldInfo = mapInfo(oldMap);
      const selInfo = mapInfo(selMap);
      if (oldInfo.valueSize !== 8 || selInfo.valueSize !== 4) {
        throw new Error(
          `${oldPath} / ${selPath}: values of ${oldInfo.valueSize} / ${selInfo.valueSize} bytes, ` +
            `not the previous layout's 8 / 4: remove them, or restore with the build that made them`,
        );
      }
      const count = Math.min(n, oldInfo.maxEntries, selInfo.maxEntries);
      const old = oldMap.readArray(count, 8);
      const sel = selMap.readArray(count, 4);
      const keys = Buffer.alloc(4 * count);
      const values = Buffer.alloc(8 * count);
      for (let id = 0; id < count; id++) {
        const { flags, gen } = abi.decodeListenerV1(old, id * 8);
        keys.writeUInt32LE(id, id * 4);
        abi.encodeListener(flags, gen, sel.readUInt32LE(id * 4)).copy(values, id * 8);
      }
      next.updateBatch(keys, values, count);
    } finally {
      lib.close(oldFd);
      if (selFd >= 0) lib.close(selFd);
    }
  }

  /** Rebuilds the in-memory view from pinned maps left by an earlier run. */
  private restoreState(): void {
    const listenerBuf = this.m("tb_listeners_v2").readArray(this.maxListeners, 8);
    const found: Array<{
      id: number;
      family: abi.Family;
      vip: Buffer;
      port: number;
      portEnd: number;
      proto: number;
    }> = [];
    for (const family of [4, 6] as const) {
      const lm = this.m(family === 4 ? "tb_listen4" : "tb_listen6");
      const v = Buffer.alloc(4);
      for (const k of lm.keys(family === 4 ? 8 : 20)) {
        if (!lm.lookup(k, v)) continue;
        const d = abi.decodeListenKey(family, k);
        found.push({
          id: v.readUInt32LE(0),
          family,
          vip: d.vip,
          port: d.port,
          portEnd: d.port,
          proto: d.proto,
        });
      }
      const vm = this.m(family === 4 ? "tb_vip4" : "tb_vip6");
      const vv = Buffer.alloc(abi.LAYOUTS.tb_vip.size);
      for (const k of vm.keys(family === 4 ? 4 : 16)) {
        if (!vm.lookup(k, vv)) continue;
        const vip = Buffer.alloc(16);
        k.copy(vip);
        for (const r of abi.decodeVip(vv)) {
          found.push({
            id: r.listenerId,
            family,
            vip,
            port: r.first,
            portEnd: r.last,
            proto: r.proto,
          });
        }
      }
    }
    for (const f of found) {
      if (f.id >= this.maxListeners) continue;
      const { flags, gen, tableSel } = abi.decodeListener(listenerBuf, f.id * 8);
      const protocol = PROTO_NAME[f.proto];
      if (!(flags & abi.LISTENER_F_ACTIVE) || !protocol) continue;
      const st: ListenerState = {
        id: f.id,
        gen,
        family: f.family,
        vipBytes: f.vip,
        key: { vip: abi.formatAddr(f.family, f.vip), protocol, port: f.port, portEnd: f.portEnd },
        flags,
        cidrKeys: new Map(),
        backendIds: new Set(),
      };
      this.activeTable[f.id] = tableSel;
      this.listeners.set(keyText(st.key), st);
      this.index(st); // the pinned pre-filter already has its bit
    }
    for (const family of [4, 6] as const) {
      const lpm = this.m(family === 4 ? "tb_cidr4" : "tb_cidr6");
      for (const k of lpm.keys(family === 4 ? 12 : 24)) {
        const d = abi.decodeCidrKey(family, k);
        const st = this.byId.get(d.listenerId);
        if (st) st.cidrKeys.set(`${abi.formatAddr(family, d.addr)}/${d.prefix}`, k);
      }
    }
    // Backends: the ids in use, and which listener's active table names which of them.
    const beBuf = this.m("tb_backends").readArray(this.maxBackends, 20);
    for (let id = 0; id < this.maxBackends; id++) {
      const fam = beBuf[id * 20 + 16];
      if (fam !== 4 && fam !== 6) continue;
      this.backends.set(id, {
        address: abi.formatAddr(fam, beBuf.subarray(id * 20, id * 20 + 16)),
        refs: 0,
      });
    }
    for (const st of this.byId.values()) {
      const table = this.readTable(st.id);
      for (const b of table) {
        if (b === abi.TB_NO_BACKEND || st.backendIds.has(b)) continue;
        const known = this.backends.get(b);
        if (!known) continue;
        st.backendIds.add(b);
        known.refs++;
      }
    }
  }
}

/**
 * Default per-CPU cache share: the header's value on small machines; on many-CPU machines the
 * total is held at 8 x that value (RSS spreads flows, so each CPU needs only its part), but
 * never below 1/8 of it per CPU.
 */
export function defaultConnPerCpu(perCpu: number, cpus: number): number {
  if (cpus <= 8) return perCpu;
  return Math.max(perCpu / 8, Math.ceil((perCpu * 8) / cpus));
}

function validateKey(k: ListenerKey & { portEnd: number }): void {
  if (!(k.protocol in PROTO)) throw new Error(`protocol must be tcp or udp, not ${k.protocol}`);
  for (const p of [k.port, k.portEnd]) {
    if (!Number.isInteger(p) || p < 1 || p > 65535)
      throw new Error(`port ${p} out of range 1..65535`);
  }
  if (k.portEnd < k.port) throw new Error(`port range ${k.port}-${k.portEnd} is empty`);
}

function vipIndexKey(family: abi.Family, vipBytes: Buffer): string {
  return `${family}|${abi.formatAddr(family, vipBytes)}`;
}

function canonical(address: string): string {
  const [f, b] = famBytes(address);
  return abi.formatAddr(f, b);
}

function maskAddr(addr: Buffer, prefix: number): Buffer {
  const out = Buffer.alloc(16);
  for (let i = 0; i < 16; i++) {
    const bits = Math.max(0, Math.min(8, prefix - i * 8));
    out[i] = addr[i]! & ((0xff << (8 - bits)) & 0xff);
  }
  return out;
}

interface MapInfo {
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
}

function mapInfo(map: BpfMap): MapInfo {
  const info = Buffer.alloc(88); // struct bpf_map_info prefix
  const len = new Uint32Array([info.length]);
  const rc = libbpf().objGetInfoByFd(map.fd, info, len);
  if (rc < 0) throw new BpfError(`info of map ${map.name}`, -rc);
  check("map info", rc);
  return {
    type: info.readUInt32LE(0),
    keySize: info.readUInt32LE(8),
    valueSize: info.readUInt32LE(12),
    maxEntries: info.readUInt32LE(16),
  };
}
