// The node controller: keeps the desired state from the hub (or from the state directory after
// a restart) and drives the three reconcilers in order on every change:
//   1. health  — probe set from the pools' monitors;
//   2. datapath — VIP plans (weights after drain, health and the all-down policy) into the maps;
//   3. frr      — announce exactly the VIPs that forward in the map as applied, are admin-enabled,
//                 on a node that is not draining.
// Then it acknowledges per VIP (applied / failed + reason + advertised). Passes are serialized;
// health transitions and retry timers queue a pass, which coalesces with any already queued.
import type { DesiredVip, HubMessage, SnapshotMsg, UpdateMsg } from "../../server/protocol/agent";
import type { HealthTransition } from "../health/types";
import type { DatapathTarget } from "./datapath-target";
import type { FrrTarget } from "./frr-target";
import { probeTargetsOf, type HealthTargetSet, type ProbeTarget } from "./health-target";
import { notAdvertisedReason, planVip, shouldAdvertise, type HealthVerdict, type NodeState, type VipPlan } from "./plan";
import { Reconciler, type BackoffOptions, type ObjectStatus } from "./reconciler";

export interface AckResult {
  lbId: string;
  revision: number;
  ok: boolean;
  error: string | null;
  advertised: boolean;
}

export interface HealthReport {
  lbId: string;
  poolId: string;
  address: string;
  port: number;
  state: HealthVerdict;
  reason: string;
  at: number;
}

export interface NodeInfo {
  id: string;
  name: string;
  state: NodeState;
}

export interface PersistedDesired {
  revision: number;
  node: NodeInfo | null;
  vips: DesiredVip[];
}

interface Logger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface ControllerOptions {
  datapath: DatapathTarget;
  frr: FrrTarget;
  health: HealthTargetSet;
  /** Persists the desired state before it is applied (throwing aborts the message). */
  persist?: (state: PersistedDesired) => void;
  onAcks?: (results: AckResult[]) => void;
  onHealth?: (reports: HealthReport[]) => void;
  log?: Logger;
  backoff?: BackoffOptions;
}

const silent: Logger = { info() {}, warn() {}, error() {} };
const MAX_ERROR = 1900;

export class NodeController {
  private readonly vips = new Map<string, DesiredVip>();
  private node: NodeInfo | null = null;
  private revision = 0;
  /** A baseline exists (persisted state or a snapshot): FRR may be rendered from it. */
  private baseline = false;
  private snapshotSeen = false;
  private readonly planErrors = new Map<string, string>();
  private readonly verdicts = new Map<string, { state: HealthVerdict; reason: string; at: number }>();
  private readonly lastAck = new Map<string, string>();
  /** VIPs to replan in the next pass (all of them after a snapshot or a restore). */
  private readonly dirty = new Set<string>();
  private allDirty = true;
  readonly dpRec: Reconciler<VipPlan>;
  readonly frrRec: Reconciler<string>;
  readonly healthRec: Reconciler<ProbeTarget[]>;
  private chain: Promise<void> = Promise.resolve();
  private kickQueued = false;
  private closed = false;
  private readonly log: Logger;

  constructor(private readonly opts: ControllerOptions) {
    this.log = opts.log ?? silent;
    const common = {
      backoff: opts.backoff,
      onRetryDue: () => this.kick(),
      onError: (e: unknown) => this.log.warn({ err: e }, "reconcile step failed"),
    };
    this.dpRec = new Reconciler(opts.datapath, common);
    this.frrRec = new Reconciler(opts.frr, common);
    this.healthRec = new Reconciler(opts.health, common);
  }

  // ---- inputs -----------------------------------------------------------------------

  /** Applies the desired state persisted by an earlier run (no prune: that waits for a snapshot). */
  restore(state: PersistedDesired): Promise<void> {
    return this.serialize(async () => {
      this.node = state.node;
      this.revision = state.revision;
      for (const v of state.vips) this.vips.set(v.lbId, v);
      this.baseline = true;
      this.allDirty = true;
      await this.pass([], false, false);
    });
  }

  /** Applies one validated hub message; resolves once it is applied and acknowledged. */
  handle(msg: HubMessage): Promise<void> {
    return this.serialize(async () => {
      const mentioned = msg.type === "snapshot" ? this.takeSnapshot(msg) : this.takeUpdate(msg);
      if (mentioned === null) return;
      this.opts.persist?.({ revision: this.revision, node: this.node, vips: [...this.vips.values()] });
      await this.pass(mentioned, true, msg.type === "snapshot");
    });
  }

  /** Health verdict changes from the engine: replan the affected VIPs at once, report them. */
  onHealthTransitions(batch: readonly HealthTransition[]): void {
    const reports: HealthReport[] = [];
    const affected = new Set<string>();
    for (const t of batch) {
      const m = this.opts.health.member(t.key);
      if (!m) continue;
      this.verdicts.set(t.key, { state: t.to, reason: t.reason, at: t.at });
      affected.add(m.lbId);
      this.dirty.add(m.lbId);
      reports.push({ lbId: m.lbId, poolId: m.poolId, address: m.address, port: m.port, state: t.to, reason: t.reason.slice(0, 500), at: t.at });
    }
    if (reports.length) this.opts.onHealth?.(reports);
    if (affected.size) this.kick();
  }

  /** Every member verdict currently known (sent after a reconnect). */
  healthReport(): HealthReport[] {
    const out: HealthReport[] = [];
    for (const [key, v] of this.verdicts) {
      const m = this.opts.health.member(key);
      if (m) out.push({ lbId: m.lbId, poolId: m.poolId, address: m.address, port: m.port, state: v.state, reason: v.reason.slice(0, 500), at: v.at });
    }
    return out;
  }

  /** Acks of every desired VIP (sent after a reconnect). */
  ackAll(): AckResult[] {
    return [...this.vips.keys()].map((id) => this.ackOf(id));
  }

  /** Queues a pass (retry timers, health changes); coalesces with a queued one. */
  kick(): void {
    if (this.kickQueued || this.closed) return;
    this.kickQueued = true;
    this.serialize(async () => {
      this.kickQueued = false;
      await this.pass([], false, false);
    }).catch((e: unknown) => this.log.error({ err: e }, "reconcile pass failed"));
  }

  /** Waits for every queued pass. */
  idle(): Promise<void> {
    return this.chain;
  }

  close(): void {
    this.closed = true;
    this.dpRec.close();
    this.frrRec.close();
    this.healthRec.close();
  }

  // ---- state ------------------------------------------------------------------------

  get nodeInfo(): NodeInfo | null {
    return this.node;
  }

  get receivedRevision(): number {
    return this.revision;
  }

  get hasSnapshot(): boolean {
    return this.snapshotSeen;
  }

  desiredVips(): DesiredVip[] {
    return [...this.vips.values()];
  }

  /**
   * The cursor for `hello`: the received revision, held back below the oldest VIP revision
   * still waiting for a retry (never advance past a failed step).
   */
  get lastAppliedRevision(): number {
    let cursor = this.revision;
    const unsettled = new Set([...this.dpRec.unsettled(), ...this.healthRec.unsettled(), ...this.frrRec.unsettled()]);
    for (const id of unsettled) {
      const v = this.vips.get(id);
      if (v) cursor = Math.min(cursor, v.revision - 1);
    }
    return Math.max(0, cursor);
  }

  get advertisedCount(): number {
    return this.opts.frr.advertisedCount;
  }

  health(key: string): HealthVerdict | undefined {
    return this.verdicts.get(key)?.state;
  }

  status(lbId: string): { datapath?: ObjectStatus; health?: ObjectStatus; frr?: ObjectStatus; planError?: string } {
    return {
      datapath: this.dpRec.status(lbId),
      health: this.healthRec.status(lbId),
      frr: this.frrRec.status(lbId),
      planError: this.planErrors.get(lbId),
    };
  }

  // ---- internals --------------------------------------------------------------------

  private serialize(fn: () => Promise<void>): Promise<void> {
    const next = this.chain.then(fn);
    this.chain = next.catch(() => undefined);
    return next;
  }

  private takeSnapshot(msg: SnapshotMsg): string[] {
    const before = new Set(this.vips.keys());
    this.vips.clear();
    for (const v of msg.vips) this.vips.set(v.lbId, v);
    this.node = msg.node;
    this.revision = msg.revision;
    this.baseline = true;
    this.snapshotSeen = true;
    this.allDirty = true;
    // Removed VIPs are acknowledged too (as gone), so the hub sees the deletion done.
    return [...new Set([...before, ...this.vips.keys()])];
  }

  private takeUpdate(msg: UpdateMsg): string[] | null {
    const mentioned: string[] = [];
    if (msg.node) this.node = msg.node;
    for (const v of msg.vips) {
      const known = this.vips.get(v.lbId);
      if (known && known.revision > v.revision) continue; // stale: a newer state is applied
      this.vips.set(v.lbId, v);
      mentioned.push(v.lbId);
    }
    for (const t of msg.tombstones) {
      const known = this.vips.get(t.lbId);
      if (known && known.revision > t.revision) continue;
      this.vips.delete(t.lbId);
      this.tombstoneRevision.set(t.lbId, t.revision);
      mentioned.push(t.lbId);
    }
    this.revision = Math.max(this.revision, msg.revision);
    for (const id of mentioned) this.dirty.add(id);
    return mentioned;
  }

  private readonly tombstoneRevision = new Map<string, number>();

  /** One reconcile of all three targets, then acks. */
  private async pass(mentioned: readonly string[], fullAck: boolean, full: boolean): Promise<void> {
    if (this.closed) return;

    // Only VIPs whose desired state or health changed are planned again.
    const changed: DesiredVip[] = [];
    for (const id of this.allDirty ? this.vips.keys() : this.dirty) {
      const v = this.vips.get(id);
      if (v) changed.push(v);
    }
    this.allDirty = false;
    this.dirty.clear();

    // 1. Health checks.
    for (const id of this.healthRec.ids()) if (!this.vips.has(id)) this.healthRec.remove(id);
    for (const v of changed) this.healthRec.set(v.lbId, probeTargetsOf(v));

    // 2. Data plane plans (health verdicts included).
    for (const id of this.dpRec.ids()) if (!this.vips.has(id)) this.dpRec.remove(id);
    const lookup = (lbId: string, poolId: string, memberId: string) => this.verdicts.get(`${lbId}/${poolId}/${memberId}`)?.state;
    for (const v of changed) {
      try {
        this.dpRec.set(v.lbId, planVip(v, lookup));
        this.planErrors.delete(v.lbId);
      } catch (e) {
        // The maps keep what they hold for this VIP (nothing half-applied).
        this.planErrors.set(v.lbId, e instanceof Error ? e.message : String(e));
      }
    }
    for (const id of this.planErrors.keys()) if (!this.vips.has(id)) this.planErrors.delete(id);
    if (full) {
      this.healthRec.markFull();
      this.dpRec.markFull();
    }
    await this.healthRec.reconcile();
    // Verdicts of members no longer probed are forgotten (a re-added member starts unknown).
    for (const key of [...this.verdicts.keys()]) if (!this.opts.health.member(key)) this.verdicts.delete(key);
    await this.dpRec.reconcile();

    // 3. Announcements: from what the maps hold, not from what is desired.
    if (this.baseline) {
      const nodeState = this.node?.state ?? "active";
      for (const id of this.frrRec.ids()) if (!this.vips.has(id)) this.frrRec.remove(id);
      for (const v of this.vips.values()) {
        const applied = this.opts.datapath.appliedPlan(v.lbId);
        if (shouldAdvertise(applied, v.adminEnabled, nodeState)) this.frrRec.set(v.lbId, applied!.address);
        else this.frrRec.remove(v.lbId);
      }
      if (full) this.frrRec.markFull();
      await this.frrRec.reconcile();
    }

    // 4. Acks: every VIP the message mentioned, plus any whose result changed.
    const acks: AckResult[] = [];
    const ids = new Set<string>([...mentioned, ...this.vips.keys(), ...this.lastAck.keys()]);
    const mentionedSet = new Set(mentioned);
    for (const id of ids) {
      const ack = this.ackOf(id);
      const fp = `${ack.revision}|${ack.ok}|${ack.error}|${ack.advertised}`;
      const changed = this.lastAck.get(id) !== fp;
      if ((fullAck && mentionedSet.has(id)) || changed) acks.push(ack);
      if (this.vips.has(id) || !ack.ok) this.lastAck.set(id, fp);
      else this.lastAck.delete(id);
    }
    if (acks.length) this.opts.onAcks?.(acks);
  }

  private ackOf(lbId: string): AckResult {
    const v = this.vips.get(lbId);
    if (!v) {
      // Removed: done once the maps and FRR no longer carry it.
      const dpGone = this.opts.datapath.appliedPlan(lbId) === undefined;
      const frrGone = !this.opts.frr.isAdvertised(lbId);
      const ok = dpGone && frrGone;
      return {
        lbId,
        revision: this.tombstoneRevision.get(lbId) ?? this.revision,
        ok,
        error: ok ? null : "removal pending",
        advertised: !frrGone,
      };
    }
    const errors: string[] = [];
    const planError = this.planErrors.get(lbId);
    if (planError) errors.push(`invalid desired state: ${planError}`);
    const describe = (what: string, s: ObjectStatus | undefined) => {
      if (!s || s.state !== "failed") return;
      errors.push(`${what}: ${s.error}${s.terminal ? "" : ` (retrying, attempt ${s.attempts})`}`);
    };
    describe("data plane", this.dpRec.status(lbId));
    describe("health checks", this.healthRec.status(lbId));
    describe("BGP", this.frrRec.status(lbId));
    const advertised = this.opts.frr.isAdvertised(lbId);
    const ok = errors.length === 0;
    let error: string | null = ok ? null : errors.join("; ");
    if (ok && !advertised) {
      error = this.baseline ? notAdvertisedReason(this.opts.datapath.appliedPlan(lbId), v.adminEnabled, this.node?.state ?? "active") : null;
    }
    return { lbId, revision: v.revision, ok, error: error && error.slice(0, MAX_ERROR), advertised };
  }
}
