// One generic reconciler (the seeds' nlblet): desired objects keyed by id, driven into a target
// through `update / delete / prune`, with per-object status, exponential backoff for retryable
// errors, and terminal errors that wait for the desired object to change.
//
// Invariants:
//   - setting an object to a value equal to what is desired changes nothing (idempotent);
//   - an object is handed to the target again only when its desired value changed, or when it
//     failed with a retryable error and its backoff expired;
//   - a terminal error is never retried until the desired object changes;
//   - prune (remove whatever the target holds that is not desired, e.g. leftovers restored from
//     pinned maps) runs only after `markFull()` — the first full snapshot — never before;
//   - passes never overlap: `reconcile()` while a pass runs queues one more pass.

export type Outcome = { ok: true } | { ok: false; error: string; terminal: boolean };

export interface ReconcileTarget<D> {
  readonly name: string;
  /** Creates or updates objects (one batch). Ids missing from the result succeeded. */
  update(objects: ReadonlyMap<string, D>): Promise<Map<string, Outcome>> | Map<string, Outcome>;
  /** Removes objects that are no longer desired. Ids missing from the result succeeded. */
  delete(ids: readonly string[]): Promise<Map<string, Outcome>> | Map<string, Outcome>;
  /** Removes everything the target holds that is not in `keep`. Throws on failure (retried). */
  prune(keep: ReadonlySet<string>): Promise<void> | void;
}

export type ObjectState = "pending" | "ok" | "failed";

export interface ObjectStatus {
  state: ObjectState;
  error: string | null;
  terminal: boolean;
  /** Consecutive failed attempts of the current desired value. */
  attempts: number;
  /** Epoch ms of the next retry (retryable failures only). */
  nextRetryAt: number | null;
}

export interface BackoffOptions {
  baseMs: number;
  maxMs: number;
}

export interface ReconcilerOptions {
  backoff?: BackoffOptions;
  /** Called when a retry becomes due (schedule a pass). Default: run `reconcile()` itself. */
  onRetryDue?: () => void;
  /** Errors of the pass machinery itself (a target that throws instead of returning outcomes). */
  onError?: (error: unknown) => void;
  now?: () => number;
  random?: () => number;
}

interface Entry<D> {
  desired: D;
  /** Serialized desired value: equality check. */
  fingerprint: string;
  status: ObjectStatus;
}

interface Deletion {
  attempts: number;
  nextRetryAt: number;
  error: string | null;
}

export interface PassResult {
  /** Ids whose status changed in this pass (updated or deleted). */
  touched: string[];
  /** Ids deleted from the target in this pass. */
  deleted: string[];
  pruned: boolean;
}

/** Jittered exponential backoff: base·2^(attempt-1), capped, times a factor in [0.5, 1). */
export function backoffDelay(attempt: number, opts: BackoffOptions, random: () => number = Math.random): number {
  const exp = Math.min(opts.maxMs, opts.baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(exp * (0.5 + random() / 2));
}

function describeError(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export class Reconciler<D> {
  private readonly objects = new Map<string, Entry<D>>();
  private readonly deletions = new Map<string, Deletion>();
  private full = false;
  private pruneDue = false;
  private pruneAttempts = 0;
  private pruneRetryAt = 0;
  private lastPruneError: string | null = null;
  private running: Promise<PassResult> | null = null;
  private queued: Promise<PassResult> | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private closed = false;
  private readonly backoff: BackoffOptions;
  private readonly now: () => number;
  private readonly random: () => number;

  constructor(
    readonly target: ReconcileTarget<D>,
    private readonly opts: ReconcilerOptions = {},
  ) {
    this.backoff = opts.backoff ?? { baseMs: 1_000, maxMs: 60_000 };
    this.now = opts.now ?? Date.now;
    this.random = opts.random ?? Math.random;
  }

  // ---- desired state ----------------------------------------------------------------

  /** Declares the desired value of one object; returns false when it equals the current one. */
  set(id: string, desired: D): boolean {
    const fingerprint = JSON.stringify(desired);
    const existing = this.objects.get(id);
    this.deletions.delete(id);
    if (existing && existing.fingerprint === fingerprint) return false;
    this.objects.set(id, {
      desired,
      fingerprint,
      status: { state: "pending", error: null, terminal: false, attempts: 0, nextRetryAt: null },
    });
    return true;
  }

  /** The object is no longer desired: it is deleted from the target on the next pass. */
  remove(id: string): boolean {
    if (!this.objects.delete(id)) return false;
    this.deletions.set(id, { attempts: 0, nextRetryAt: 0, error: null });
    return true;
  }

  /** Replaces the whole desired set (a full snapshot) and allows pruning from now on. */
  replaceAll(objects: ReadonlyMap<string, D>): void {
    for (const id of [...this.objects.keys()]) if (!objects.has(id)) this.remove(id);
    for (const [id, d] of objects) this.set(id, d);
    this.markFull();
  }

  /** The first (or a new) full snapshot arrived: prune leftovers on the next pass. */
  markFull(): void {
    this.full = true;
    this.pruneDue = true;
    this.pruneAttempts = 0;
    this.pruneRetryAt = 0;
  }

  get hasFullSnapshot(): boolean {
    return this.full;
  }

  desired(id: string): D | undefined {
    return this.objects.get(id)?.desired;
  }

  ids(): string[] {
    return [...this.objects.keys()];
  }

  status(id: string): ObjectStatus | undefined {
    const e = this.objects.get(id);
    return e && { ...e.status };
  }

  /** Ids waiting to be applied or retried (not ok, not terminal). */
  unsettled(): string[] {
    const out: string[] = [];
    for (const [id, e] of this.objects) if (e.status.state === "pending" || (e.status.state === "failed" && !e.status.terminal)) out.push(id);
    return out;
  }

  get pendingDeletions(): number {
    return this.deletions.size;
  }

  get pruneError(): string | null {
    return this.lastPruneError;
  }

  // ---- passes -----------------------------------------------------------------------

  /** Runs one pass; while one runs, queues (at most) one more and resolves when that is done. */
  reconcile(): Promise<PassResult> {
    if (!this.running) {
      this.running = this.pass().finally(() => {
        this.running = null;
      });
      return this.running;
    }
    if (!this.queued) {
      this.queued = this.running
        .catch(() => undefined)
        .then(() => {
          this.queued = null;
          return this.reconcile();
        });
    }
    return this.queued;
  }

  /** Stops retry timers; the target is left as it is. */
  close(): void {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }

  private async pass(): Promise<PassResult> {
    const now = this.now();
    const result: PassResult = { touched: [], deleted: [], pruned: false };

    // 1. Deletions (first: they free map slots the updates may need).
    const deleteIds = [...this.deletions].filter(([, d]) => d.nextRetryAt <= now).map(([id]) => id);
    if (deleteIds.length > 0) {
      const outcomes = await this.call(() => this.target.delete(deleteIds), deleteIds);
      for (const id of deleteIds) {
        const d = this.deletions.get(id);
        if (!d) continue; // re-desired while we were deleting
        const o = outcomes.get(id);
        if (!o || o.ok) {
          this.deletions.delete(id);
          result.deleted.push(id);
        } else {
          d.attempts++;
          d.error = o.error;
          d.nextRetryAt = this.now() + backoffDelay(d.attempts, this.backoff, this.random);
        }
        result.touched.push(id);
      }
    }

    // 2. Updates: changed objects and retryable failures whose backoff expired.
    const batch = new Map<string, D>();
    const fingerprints = new Map<string, string>();
    for (const [id, e] of this.objects) {
      const s = e.status;
      const due = s.state === "pending" || (s.state === "failed" && !s.terminal && (s.nextRetryAt ?? 0) <= now);
      if (due) {
        batch.set(id, e.desired);
        fingerprints.set(id, e.fingerprint);
      }
    }
    if (batch.size > 0) {
      const outcomes = await this.call(() => this.target.update(batch), [...batch.keys()]);
      for (const id of batch.keys()) {
        const e = this.objects.get(id);
        // Changed (or removed) while the target worked: the newer value gets its own pass.
        if (!e || e.fingerprint !== fingerprints.get(id)) continue;
        const o = outcomes.get(id) ?? { ok: true };
        if (o.ok) {
          e.status = { state: "ok", error: null, terminal: false, attempts: 0, nextRetryAt: null };
        } else {
          const attempts = e.status.attempts + 1;
          e.status = {
            state: "failed",
            error: o.error,
            terminal: o.terminal,
            attempts,
            nextRetryAt: o.terminal ? null : this.now() + backoffDelay(attempts, this.backoff, this.random),
          };
        }
        result.touched.push(id);
      }
    }

    // 3. Prune, only once a full snapshot told us everything that should exist.
    if (this.full && this.pruneDue && this.pruneRetryAt <= now) {
      try {
        await this.target.prune(new Set(this.objects.keys()));
        this.pruneDue = false;
        this.pruneAttempts = 0;
        this.lastPruneError = null;
        result.pruned = true;
      } catch (e) {
        this.pruneAttempts++;
        this.lastPruneError = describeError(e);
        this.pruneRetryAt = this.now() + backoffDelay(this.pruneAttempts, this.backoff, this.random);
        this.opts.onError?.(e);
      }
    }

    this.scheduleRetry();
    return result;
  }

  /** Runs a target call; a throw fails every id of the call (retryable). */
  private async call(fn: () => Promise<Map<string, Outcome>> | Map<string, Outcome>, ids: readonly string[]): Promise<Map<string, Outcome>> {
    try {
      return await fn();
    } catch (e) {
      this.opts.onError?.(e);
      const error = `${this.target.name}: ${describeError(e)}`;
      return new Map(ids.map((id) => [id, { ok: false, error, terminal: false }]));
    }
  }

  private scheduleRetry(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    if (this.closed) return;
    let next = Infinity;
    for (const e of this.objects.values()) {
      if (e.status.state === "failed" && !e.status.terminal && e.status.nextRetryAt !== null) next = Math.min(next, e.status.nextRetryAt);
    }
    for (const d of this.deletions.values()) next = Math.min(next, d.nextRetryAt);
    if (this.full && this.pruneDue) next = Math.min(next, this.pruneRetryAt);
    if (next === Infinity) return;
    const delay = Math.max(0, next - this.now());
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (this.opts.onRetryDue) this.opts.onRetryDue();
      else this.reconcile().catch((e: unknown) => this.opts.onError?.(e));
    }, delay);
    this.retryTimer.unref?.();
  }
}
