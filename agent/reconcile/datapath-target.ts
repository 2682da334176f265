// The datapath target: puts VIP plans (plan.ts) into the XDP maps through `Datapath`.
//
// One batch = one Maglev computation and one table flip for every listener it touches:
//   1. stage each VIP: upsert its listeners with the UNION of the old and new backend sets, so
//      the tables still active keep naming only backends present in the map;
//   2. compute every touched listener's table at once (MaglevPool.computeMany) and write them
//      all with one writeTables (inactive buffers, then one batch of flips);
//   3. finalize: shrink each listener's backends to the new set, delete listeners the plan no
//      longer has, release backend ids nobody uses.
// A VIP whose staging fails is rolled back to what the maps held before (nothing half-applied)
// and fails alone; capacity is checked before anything is written. After an agent restart the
// maps come back from the pins: listeners a plan names are adopted in place (same listener id,
// same backend ids for the same addresses, so the recomputed tables are identical), and the
// rest is left forwarding until prune() runs after the first full snapshot.
import type { MaglevBackend } from "../datapath/maglev";
import type { BackendSpec, ListenerInfo, ListenerKey, ListenerSpec } from "../datapath/datapath";
import { canonicalAddress, PlanError, type ListenerPlan, type VipPlan } from "./plan";
import type { Outcome, ReconcileTarget } from "./reconciler";

/** What the target needs of `Datapath` (the real class satisfies it; tests may fake it). */
export interface DatapathPort {
  readonly tableSize: number;
  readonly maxListeners: number;
  readonly maxBackends: number;
  upsertListener(spec: ListenerSpec): number;
  deleteListener(key: ListenerKey): boolean;
  listenerId(key: ListenerKey): number | undefined;
  setListenerBackends(listenerId: number, backends: readonly BackendSpec[]): void;
  writeTables(tables: ReadonlyMap<number, Uint32Array>): void;
  listListeners(): ListenerInfo[];
  listBackends(): BackendSpec[];
  /** Clears backend ids no listener references (restored from pins, never adopted). */
  pruneBackends(): number[];
}

/** What the target needs of `MaglevPool`. */
export interface TableComputer {
  computeMany(tables: Map<number, readonly MaglevBackend[]>): Promise<Map<number, Uint32Array>>;
}

/** The maps cannot hold the desired state (terminal until the desired state changes). */
export class CapacityError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CapacityError";
  }
}

interface AppliedListener {
  dpId: number;
  key: Required<ListenerKey>;
  plan: ListenerPlan;
  /** Backend ids the listener holds in the maps (after staging: old ∪ new). */
  holds: Set<number>;
}

interface AppliedVip {
  plan: VipPlan;
  listeners: Map<string, AppliedListener>; // by desired listener id
  /** Backend ids of this VIP, by address (shared by its listeners). */
  backendIds: Map<string, number>;
}

interface Staged {
  lbId: string;
  plan: VipPlan;
  prev: AppliedVip | undefined;
  listeners: Map<string, AppliedListener>;
  backendIds: Map<string, number>;
  /** Ids allocated for this VIP in this batch (released on failure), and which were adopted from the pins. */
  newIds: number[];
  adopted: Map<number, string>;
  /** Listeners the staging created (not reused). */
  created: number;
  /** Listener keys this staging touched and what the maps held before (null = did not exist). */
  before: Map<string, { key: Required<ListenerKey>; spec: ListenerSpec | null }>;
}

export function listenerKeyText(k: ListenerKey): string {
  return `${canonicalAddress(k.vip)}|${k.protocol}|${k.port}-${k.portEnd ?? k.port}`;
}

function keyOf(address: string, l: ListenerPlan): Required<ListenerKey> {
  return { vip: address, protocol: l.protocol, port: l.port, portEnd: l.portEnd };
}

function isTerminal(e: unknown): boolean {
  // Syscall failures (BpfError) may pass; everything else is the input's fault.
  return !(e instanceof Error && e.name === "BpfError");
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export interface DatapathTargetOptions {
  /** Called with the VIPs whose applied plan changed (advertising depends on it). */
  onApplied?: (lbIds: string[]) => void;
}

export class DatapathTarget implements ReconcileTarget<VipPlan> {
  readonly name = "datapath";
  private readonly applied = new Map<string, AppliedVip>();
  /** Listener key text -> owning lbId. */
  private readonly owners = new Map<string, string>();
  /** Listener id in the maps -> owner (metrics). */
  private readonly listenerOwners = new Map<number, { lbId: string; listenerId: string }>();
  /** Backend ids in use, -> owner (metrics). */
  private readonly backendOwners = new Map<number, { lbId: string; address: string }>();
  /** Backend ids found in the pins and not yet adopted (never allocated until prune). */
  private readonly restoredBackends = new Map<number, string>();
  /** The same, by address (adoption looks up by address). */
  private readonly restoredByAddress = new Map<string, Set<number>>();
  private nextId = 0;
  /** What the pins held at start. */
  readonly restoredSummary: { vips: number; listeners: number; backends: number };

  constructor(
    private readonly dp: DatapathPort,
    private readonly maglev: TableComputer,
    private readonly opts: DatapathTargetOptions = {},
  ) {
    const listeners = dp.listListeners();
    for (const b of dp.listBackends()) this.addRestored(b.id, canonicalAddress(b.address));
    this.restoredSummary = {
      vips: new Set(listeners.map((l) => canonicalAddress(l.vip))).size,
      listeners: listeners.length,
      backends: this.restoredBackends.size,
    };
  }

  // ---- queries ----------------------------------------------------------------------

  appliedPlan(lbId: string): VipPlan | undefined {
    return this.applied.get(lbId)?.plan;
  }

  listenerOwner(dpId: number): { lbId: string; listenerId: string } | undefined {
    return this.listenerOwners.get(dpId);
  }

  backendOwner(id: number): { lbId: string; address: string } | undefined {
    return this.backendOwners.get(id);
  }

  /** Listener id in the maps of a VIP's listener. */
  listenerDpId(lbId: string, listenerId: string): number | undefined {
    return this.applied.get(lbId)?.listeners.get(listenerId)?.dpId;
  }

  backendId(lbId: string, address: string): number | undefined {
    return this.applied.get(lbId)?.backendIds.get(canonicalAddress(address));
  }

  get backendsInUse(): number {
    return this.backendOwners.size;
  }

  // ---- ReconcileTarget --------------------------------------------------------------

  async update(plans: ReadonlyMap<string, VipPlan>): Promise<Map<string, Outcome>> {
    const outcomes = new Map<string, Outcome>();
    const staged: Staged[] = [];
    // What the maps hold at the start of the batch (VIPs of one batch touch disjoint keys).
    const listed = this.dp.listListeners();
    const ctx: BatchContext = {
      infos: new Map(listed.map((l) => [listenerKeyText(l), l])),
      addressOf: new Map(this.dp.listBackends().map((b) => [b.id, b.address])),
      listenersInUse: listed.length,
    };
    for (const [lbId, plan] of plans) {
      let s: Staged | undefined;
      try {
        s = this.prepare(lbId, plan, ctx.listenersInUse);
        this.stage(s, ctx);
        ctx.listenersInUse += s.created;
        staged.push(s);
      } catch (e) {
        if (s) this.rollback(s);
        outcomes.set(lbId, { ok: false, error: message(e), terminal: isTerminal(e) });
      }
    }
    if (staged.length === 0) return outcomes;

    // One computation and one flip for every touched listener of the batch.
    const inputs = new Map<number, MaglevBackend[]>();
    for (const s of staged) {
      for (const l of s.listeners.values()) {
        inputs.set(
          l.dpId,
          l.plan.backends.map((b) => ({ id: s.backendIds.get(b.address)!, key: b.address, weight: b.weight })),
        );
      }
    }
    try {
      const tables = await this.maglev.computeMany(inputs);
      this.dp.writeTables(tables);
    } catch (e) {
      for (const s of staged.reverse()) {
        this.rollback(s);
        outcomes.set(s.lbId, { ok: false, error: `maglev tables: ${message(e)}`, terminal: false });
      }
      return outcomes;
    }

    const changed: string[] = [];
    for (const s of staged) {
      try {
        this.finalize(s);
      } catch (e) {
        // The new tables are live; only cleanup failed. Retry reapplies the same plan.
        outcomes.set(s.lbId, { ok: false, error: `cleanup after table flip: ${message(e)}`, terminal: false });
      }
      changed.push(s.lbId);
    }
    this.opts.onApplied?.(changed);
    return outcomes;
  }

  delete(ids: readonly string[]): Map<string, Outcome> {
    const outcomes = new Map<string, Outcome>();
    const changed: string[] = [];
    for (const lbId of ids) {
      const a = this.applied.get(lbId);
      if (!a) continue;
      try {
        for (const l of a.listeners.values()) this.removeListener(l.key);
        this.applied.delete(lbId);
        for (const id of a.backendIds.values()) this.backendOwners.delete(id);
        changed.push(lbId);
      } catch (e) {
        outcomes.set(lbId, { ok: false, error: message(e), terminal: false });
      }
    }
    if (changed.length) this.opts.onApplied?.(changed);
    return outcomes;
  }

  /** Removes listeners no desired VIP owns (left in the pins by an earlier run). */
  prune(keep: ReadonlySet<string>): void {
    const gone = [...this.applied.keys()].filter((id) => !keep.has(id));
    const failed = [...this.delete(gone).values()].find((o) => !o.ok);
    if (failed && !failed.ok) throw new Error(failed.error);
    for (const l of this.dp.listListeners()) {
      const text = listenerKeyText(l);
      if (!this.owners.has(text)) this.dp.deleteListener(l);
    }
    this.dp.pruneBackends();
    this.restoredBackends.clear();
    this.restoredByAddress.clear();
  }

  // ---- internals --------------------------------------------------------------------

  private prepare(lbId: string, plan: VipPlan, listenersInUse: number): Staged {
    const prev = this.applied.get(lbId);
    const listeners = new Map<string, AppliedListener>();
    let newSlots = 0;
    const seenKeys = new Set<string>();
    for (const l of plan.listeners) {
      const key = keyOf(plan.address, l);
      const text = listenerKeyText(key);
      const owner = this.owners.get(text);
      if (owner !== undefined && owner !== lbId) {
        throw new PlanError(`listener ${l.protocol.toUpperCase()} ${plan.address}:${l.port} is already used by load balancer ${owner}`);
      }
      if (seenKeys.has(text)) throw new PlanError(`two listeners of ${plan.address} use ${l.protocol.toUpperCase()} port ${l.port}`);
      seenKeys.add(text);
      // Reused in place: owned by this VIP already, or restored from the pins.
      const existing = this.findListener(key);
      if (existing === undefined) newSlots++;
      listeners.set(l.listenerId, { dpId: existing ?? -1, key, plan: l, holds: new Set() });
    }
    // Listeners of the previous plan are deleted only after the flip: they still hold slots.
    const free = this.dp.maxListeners - listenersInUse;
    if (newSlots > free) {
      throw new CapacityError(
        `too many listeners for the map: this VIP needs ${newSlots} more listener slot(s), ${Math.max(0, free)} of ${this.dp.maxListeners} are free`,
      );
    }

    const addresses = new Set<string>();
    for (const l of plan.listeners) for (const b of l.backends) addresses.add(b.address);
    const backendIds = new Map<string, number>();
    const newIds: number[] = [];
    const adopted = new Map<number, string>();
    const needed = [...addresses].filter((a) => prev?.backendIds.get(a) === undefined);
    const freeIds = this.dp.maxBackends - this.backendOwners.size - this.restoredBackends.size;
    const adoptable = needed.filter((a) => this.restoredByAddress.has(a)).length;
    if (needed.length - adoptable > freeIds) {
      throw new CapacityError(
        `too many backends for the map: this VIP needs ${needed.length - adoptable} more backend id(s), ${Math.max(0, freeIds)} of ${this.dp.maxBackends} are free`,
      );
    }
    for (const a of addresses) {
      const known = prev?.backendIds.get(a);
      if (known !== undefined) {
        backendIds.set(a, known);
        continue;
      }
      const restored = this.adoptRestored(a);
      if (restored !== undefined) adopted.set(restored, a);
      const id = restored ?? this.allocateId();
      this.backendOwners.set(id, { lbId, address: a });
      backendIds.set(a, id);
      newIds.push(id);
    }
    return { lbId, plan, prev, listeners, backendIds, newIds, adopted, created: 0, before: new Map() };
  }

  private findListener(key: Required<ListenerKey>): number | undefined {
    return this.dp.listenerId(key);
  }

  private addRestored(id: number, address: string): void {
    this.restoredBackends.set(id, address);
    let ids = this.restoredByAddress.get(address);
    if (!ids) this.restoredByAddress.set(address, (ids = new Set()));
    ids.add(id);
  }

  private adoptRestored(address: string): number | undefined {
    const ids = this.restoredByAddress.get(address);
    for (const id of ids ?? []) {
      ids!.delete(id);
      if (ids!.size === 0) this.restoredByAddress.delete(address);
      this.restoredBackends.delete(id);
      if (!this.backendOwners.has(id)) return id;
    }
    return undefined;
  }

  private allocateId(): number {
    const max = this.dp.maxBackends;
    // Round robin: a freed id is reused as late as possible (cached flows may still name it).
    for (let n = 0; n < max; n++) {
      const id = (this.nextId + n) % max;
      if (!this.backendOwners.has(id) && !this.restoredBackends.has(id)) {
        this.nextId = (id + 1) % max;
        return id;
      }
    }
    throw new CapacityError(`too many backends for the map: all ${max} backend ids are in use`);
  }

  /** Step 1: listeners upserted with old ∪ new backends. */
  private stage(s: Staged, ctx: BatchContext): void {
    const { infos, addressOf } = ctx;
    for (const l of s.listeners.values()) {
      const text = listenerKeyText(l.key);
      const info = infos.get(text);
      if (!s.before.has(text)) s.before.set(text, { key: l.key, spec: info ? specOf(info, addressOf) : null });
      if (!info) s.created++;
      const backends = new Map<number, string>();
      for (const id of info?.backendIds ?? []) {
        const address = addressOf.get(id);
        if (address !== undefined) backends.set(id, address);
      }
      const held = backends.size;
      for (const b of l.plan.backends) backends.set(s.backendIds.get(b.address)!, b.address);
      l.holds = new Set(backends.keys());
      // Only weights changed (a health flip, a weight edit): the maps need new tables only.
      const prev = s.prev?.listeners.get(l.plan.listenerId);
      if (
        info &&
        prev &&
        listenerKeyText(prev.key) === text &&
        prev.plan.affinity === l.plan.affinity &&
        prev.plan.allowedCidrs.join() === l.plan.allowedCidrs.join() &&
        backends.size === held
      ) {
        l.dpId = info.id;
        continue;
      }
      l.dpId = this.dp.upsertListener({
        ...l.key,
        allowedCidrs: l.plan.allowedCidrs,
        affinity: l.plan.affinity,
        backends: [...backends].map(([id, address]) => ({ id, address })),
      });
    }
  }

  /** Puts every listener the staging touched back as it was, and releases new ids. */
  private rollback(s: Staged): void {
    for (const { key, spec } of [...s.before.values()].reverse()) {
      try {
        if (spec) this.dp.upsertListener(spec);
        else this.dp.deleteListener(key);
      } catch {
        // Best effort: the maps keep whatever they hold; the next attempt re-stages.
      }
    }
    for (const id of s.newIds) this.backendOwners.delete(id);
    // Adopted restored ids go back to the restored set.
    for (const [id, address] of s.adopted) this.addRestored(id, address);
  }

  /** Step 3: after the flip. */
  private finalize(s: Staged): void {
    const newKeys = new Set([...s.listeners.values()].map((l) => listenerKeyText(l.key)));
    for (const l of s.listeners.values()) {
      const wanted = l.plan.backends.map((b) => ({ id: s.backendIds.get(b.address)!, address: b.address }));
      if (wanted.length === l.holds.size && wanted.every((b) => l.holds.has(b.id))) continue;
      this.dp.setListenerBackends(l.dpId, wanted);
      l.holds = new Set(wanted.map((b) => b.id));
    }
    for (const old of s.prev?.listeners.values() ?? []) {
      if (!newKeys.has(listenerKeyText(old.key))) this.removeListener(old.key);
    }
    for (const [address, id] of s.prev?.backendIds ?? []) {
      if (!s.backendIds.has(address)) this.backendOwners.delete(id);
    }
    for (const l of s.listeners.values()) {
      this.owners.set(listenerKeyText(l.key), s.lbId);
      this.listenerOwners.set(l.dpId, { lbId: s.lbId, listenerId: l.plan.listenerId });
    }
    this.applied.set(s.lbId, { plan: s.plan, listeners: s.listeners, backendIds: s.backendIds });
  }

  private removeListener(key: Required<ListenerKey>): void {
    const text = listenerKeyText(key);
    const id = this.findListener(key);
    this.dp.deleteListener(key);
    this.owners.delete(text);
    if (id !== undefined) this.listenerOwners.delete(id);
  }
}

interface BatchContext {
  infos: Map<string, ListenerInfo>;
  addressOf: Map<number, string>;
  listenersInUse: number;
}

function specOf(info: ListenerInfo, addressOf: Map<number, string>): ListenerSpec {
  return {
    vip: info.vip,
    protocol: info.protocol,
    port: info.port,
    portEnd: info.portEnd,
    allowedCidrs: info.allowedCidrs,
    affinity: info.affinity,
    backends: info.backendIds.flatMap((id) => {
      const address = addressOf.get(id);
      return address === undefined ? [] : [{ id, address }];
    }),
  };
}
