// An in-memory stand-in for Datapath with the same observable rules (listener keys, ids, backend
// reference counts, capacity limits, whole-table writes), for tests that run without root.
// The root test (datapath.test.ts) runs the same controller against the real maps.
import type { BackendSpec, ListenerInfo, ListenerKey, ListenerSpec } from "../datapath/datapath";
import type { DatapathPort } from "./datapath-target";
import { canonicalAddress } from "./plan";

interface FakeListener {
  id: number;
  key: Required<ListenerKey>;
  affinity: "flow" | "source-ip";
  allowedCidrs: string[];
  backendIds: Set<number>;
}

const text = (k: ListenerKey) => `${canonicalAddress(k.vip)}|${k.protocol}|${k.port}-${k.portEnd ?? k.port}`;

export class FakeDatapath implements DatapathPort {
  readonly listeners = new Map<string, FakeListener>();
  readonly backends = new Map<number, { address: string; refs: number }>();
  readonly tables = new Map<number, Uint32Array>();
  writes = 0;
  /** Throws from the next upsertListener (simulates a syscall failure). */
  failNextUpsert: Error | null = null;

  constructor(
    readonly maxListeners = 64,
    readonly maxBackends = 256,
    readonly tableSize = 251,
  ) {}

  upsertListener(spec: ListenerSpec): number {
    if (this.failNextUpsert) {
      const e = this.failNextUpsert;
      this.failNextUpsert = null;
      throw e;
    }
    const key = { vip: canonicalAddress(spec.vip), protocol: spec.protocol, port: spec.port, portEnd: spec.portEnd ?? spec.port };
    let l = this.listeners.get(text(key));
    if (!l) {
      const used = new Set([...this.listeners.values()].map((x) => x.id));
      let id = 0;
      while (used.has(id)) id++;
      if (id >= this.maxListeners) throw new Error(`all ${this.maxListeners} listener slots are in use`);
      l = { id, key, affinity: "flow", allowedCidrs: [], backendIds: new Set() };
      this.listeners.set(text(key), l);
      this.tables.set(id, new Uint32Array(this.tableSize).fill(0xffffffff));
    }
    l.affinity = spec.affinity ?? "flow";
    l.allowedCidrs = [...(spec.allowedCidrs ?? [])];
    this.setBackendsOf(l, spec.backends ?? []);
    return l.id;
  }

  deleteListener(key: ListenerKey): boolean {
    const l = this.listeners.get(text(key));
    if (!l) return false;
    this.setBackendsOf(l, []);
    this.listeners.delete(text(key));
    this.tables.delete(l.id);
    return true;
  }

  listenerId(key: ListenerKey): number | undefined {
    return this.listeners.get(text(key))?.id;
  }

  setListenerBackends(listenerId: number, backends: readonly BackendSpec[]): void {
    const l = [...this.listeners.values()].find((x) => x.id === listenerId);
    if (!l) throw new Error(`no listener ${listenerId}`);
    this.setBackendsOf(l, backends);
  }

  pruneBackends(): number[] {
    const cleared = [...this.backends].filter(([, b]) => b.refs === 0).map(([id]) => id);
    for (const id of cleared) this.backends.delete(id);
    return cleared.sort((a, b) => a - b);
  }

  writeTables(tables: ReadonlyMap<number, Uint32Array>): void {
    for (const [id, t] of tables) {
      if (!this.tables.has(id)) throw new Error(`no listener ${id}`);
      if (t.length !== this.tableSize) throw new Error("bad table size");
      for (const b of t) if (b !== 0xffffffff && !this.backends.has(b)) throw new Error(`table of listener ${id} names unknown backend ${b}`);
    }
    for (const [id, t] of tables) this.tables.set(id, t.slice());
    this.writes++;
  }

  listListeners(): ListenerInfo[] {
    return [...this.listeners.values()]
      .sort((a, b) => a.id - b.id)
      .map((l) => ({ id: l.id, ...l.key, affinity: l.affinity, allowedCidrs: l.allowedCidrs, backendIds: [...l.backendIds].sort((a, b) => a - b) }));
  }

  listBackends(): BackendSpec[] {
    return [...this.backends].sort((a, b) => a[0] - b[0]).map(([id, b]) => ({ id, address: b.address }));
  }

  /** Listener of a VIP port with its backend addresses and table shares (slots per address). */
  view(vip: string, protocol: "tcp" | "udp", port: number): { backends: string[]; shares: Record<string, number> } | undefined {
    const l = this.listeners.get(text({ vip, protocol, port }));
    if (!l) return undefined;
    const shares: Record<string, number> = {};
    for (const b of this.tables.get(l.id) ?? []) {
      if (b === 0xffffffff) continue;
      const a = this.backends.get(b)!.address;
      shares[a] = (shares[a] ?? 0) + 1;
    }
    return { backends: [...l.backendIds].map((id) => this.backends.get(id)!.address).sort(), shares };
  }

  private setBackendsOf(l: FakeListener, list: readonly BackendSpec[]): void {
    if (list.some((b) => b.id < 0 || b.id >= this.maxBackends)) throw new Error("backend id out of range");
    const next = new Set(list.map((b) => b.id));
    for (const b of list) {
      const known = this.backends.get(b.id);
      if (!known) this.backends.set(b.id, { address: canonicalAddress(b.address), refs: 0 });
      else known.address = canonicalAddress(b.address);
      if (!l.backendIds.has(b.id)) this.backends.get(b.id)!.refs++;
    }
    for (const id of l.backendIds) {
      if (next.has(id)) continue;
      const known = this.backends.get(id);
      if (known && --known.refs <= 0) this.backends.delete(id);
    }
    l.backendIds = next;
  }
}
