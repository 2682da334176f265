/**
 * The health-check engine: a declarative set of targets, probed on a single ticking timer
 * wheel with at most `maxInFlight` probes running; verdicts follow rise/fall counting and
 * changes are delivered in batches.
 *
 * Loop (every `tickMs`):
 *   1. the wheel yields targets whose probe is due and probes whose timeout passed;
 *   2. a due target starts its probe, or, when `maxInFlight` probes run, waits in a FIFO queue
 *      (a "slip": counted, never a failure); the timeout clock starts only when the probe starts;
 *   3. a finished probe updates the target's counters, maybe its state, schedules the target's
 *      next probe one interval after the previous due time (same phase), and lets a queued
 *      probe start.
 * State changes are collected for `batchWindowMs` and delivered together.
 */
import { performance } from "node:perf_hooks";
import { createSecureContext, type SecureContext } from "node:tls";
import { FpingPinger } from "./fping";
import { loadNativeTransport } from "./native-probe";
import { startNetProbe, startTlsProbe, type ProbeDone, type RunningProbe } from "./socket-probe";
import { compareTarget, compileTarget, type CompiledCheck } from "./spec";
import { TimerWheel } from "./timer-wheel";
import type {
  HealthState,
  HealthStats,
  HealthTarget,
  HealthTransition,
  RejectedTarget,
  TargetStatus,
} from "./types";

export interface HealthEngineOptions {
  /** Receives state changes, in order, a batch at a time. */
  onTransitions: (batch: HealthTransition[]) => void;
  /**
   * Probes running at once (sockets plus ICMP requests). Default 4,000: well below the
   * file-descriptor limit (20,000 here) and the listen backlogs of a few backends.
   */
  maxInFlight?: number;
  /**
   * Adapt the number of probes in flight to what the machine sustains (default true). Every
   * 250 ms: if more than 10 % of the probes that ended took over half their timeout (counting
   * successes, and timeouts of targets that were answering until then), or the engine's own timer
   * ran over 100 ms late (short of CPU), probes are queueing and more concurrency would only turn
   * waiting into timeouts: the limit is halved (not below minInFlight). It starts at minInFlight
   * and grows only in windows where it held a probe back and at most 10 % of the probes took over
   * a fifth of their timeout: doubling until the first congestion (slow start, as in TCP), then
   * +10 %, up to maxInFlight. Due probes above the limit slip.
   */
  adaptiveInFlight?: boolean;
  /** Lowest in-flight limit the adaptive limit may set. Default 64. */
  minInFlight?: number;
  /** How long transitions are collected before delivery. Default 10 ms; 0 = next turn of the loop. */
  batchWindowMs?: number;
  /**
   * State of a new target before its first result. "unknown" (default): the first result decides
   * (one success → up, one failure → down). "up": needs `fall` failures to go down. "down": needs
   * `rise` successes to go up.
   */
  initialState?: HealthState;
  /**
   * Upper bound of the random delay before a new target's first probe (its phase). Default: the
   * target's interval, which spreads a large set evenly. 0 probes every new target at once.
   */
  maxInitialDelayMs?: number;
  /** Scheduler resolution. Default 10 ms: probes and timeouts fire up to this much late, never early. */
  tickMs?: number;
  /**
   * How TCP and HTTP probes reach the kernel. "native" (default): bare libuv TCP handles, about
   * half the CPU of net.Socket; falls back to "net" when this Node lacks the binding. "net":
   * net.Socket.
   */
  transport?: "native" | "net";
  /** fping executable and leading arguments for ICMP. Default ["fping"]. */
  fpingCommand?: readonly string[];
  /** Called when onTransitions throws. Default: a process warning. */
  onError?: (error: unknown) => void;
}

type Phase = "idle" | "queued" | "running";

class Target {
  state: HealthState;
  since: number;
  reason = "";
  successes = 0;
  failures = 0;
  lastCheckAt = 0;
  lastDurationMs = 0;
  phase: Phase = "idle";
  /** Monotonic time the current (or next) probe was planned for. */
  dueAt = 0;
  /** Monotonic time the running probe really started. */
  startedAt = 0;
  /** Bumped on every schedule, start and reconfiguration: stale wheel entries and probe results are ignored. */
  ticket = 0;
  probe: RunningProbe | undefined = undefined;
  removed = false;
  /** Number of the last setTargets call that listed this target. */
  listedIn = 0;

  constructor(
    readonly key: string,
    public check: CompiledCheck,
    initialState: HealthState,
    now: number,
  ) {
    this.state = initialState;
    this.since = now;
  }
}

const WHEEL_SLOTS = 4096;
// Adaptive in-flight limit (see HealthEngineOptions.adaptiveInFlight).
const ADAPT_WINDOW_MS = 250;
const ADAPT_MIN_SAMPLES = 8;
const ADAPT_SLOW_RATIO = 0.5;
const ADAPT_BUSY_RATIO = 0.2;
const ADAPT_SLOW_SHARE = 0.1;
const ADAPT_LATE_TICK_MS = 100;

export class HealthEngine {
  private readonly targets = new Map<string, Target>();
  private readonly wheel: TimerWheel<Target>;
  private readonly queue: Target[] = [];
  private queueHead = 0;
  private inFlight = 0;
  /** Probes whose timeout passed, as (target, ticket) pairs, judged after the next I/O poll. */
  private expired: Array<Target | number> = [];
  private expiryScheduled = false;
  private ticker: NodeJS.Timeout | undefined;
  private pendingTransitions: HealthTransition[] = [];
  private flushTimer: NodeJS.Timeout | NodeJS.Immediate | undefined;
  private readonly secureContexts = new Map<string, SecureContext>();
  private readonly pinger: FpingPinger;
  private closed = false;
  private setTargetsCalls = 0;

  private readonly startPlain: (check: CompiledCheck, done: ProbeDone) => RunningProbe;
  /** The transport really used for TCP and HTTP probes. */
  readonly transport: "native" | "net";
  private readonly maxInFlight: number;
  private readonly adaptive: boolean;
  private readonly minInFlight: number;
  /** Current in-flight limit: maxInFlight, or less while the adaptive limit holds probes back. */
  private inFlightLimit: number;
  /** Fastest probe of the current window, as a fraction of its timeout (timeouts count as 1). */
  private windowSamples = 0;
  /** Samples that took more than half their timeout. */
  private windowSlow = 0;
  /** Samples that took more than a fifth of their timeout. */
  private windowBusy = 0;
  private windowMaxLateMs = 0;
  private lastTickAt = performance.now();
  private windowEndsAt = 0;
  /** The limit held a probe back during the current window (growing it is useful). */
  private windowLimited = false;
  /** No congestion seen yet: the limit doubles per window instead of growing by 10 %. */
  private slowStart = true;
  private readonly batchWindowMs: number;
  private readonly initialState: HealthState;
  private readonly maxInitialDelayMs: number;
  private readonly onTransitions: (batch: HealthTransition[]) => void;
  private readonly onError: (error: unknown) => void;

  private readonly counters = {
    probesStarted: 0,
    probesSucceeded: 0,
    probesFailed: 0,
    probesTimedOut: 0,
    probesSlipped: 0,
    maxSlipMs: 0,
    cyclesSkipped: 0,
    transitions: 0,
    batches: 0,
  };

  constructor(options: HealthEngineOptions) {
    this.onTransitions = options.onTransitions;
    this.maxInFlight = options.maxInFlight ?? 4_000;
    this.batchWindowMs = options.batchWindowMs ?? 10;
    this.initialState = options.initialState ?? "unknown";
    this.maxInitialDelayMs = options.maxInitialDelayMs ?? Infinity;
    this.onError =
      options.onError ??
      ((error) =>
        process.emitWarning(`health transitions handler failed: ${String(error)}`, "TenbinHealth"));
    if (!Number.isInteger(this.maxInFlight) || this.maxInFlight < 1)
      throw new Error("maxInFlight must be a positive integer");
    this.adaptive = options.adaptiveInFlight ?? true;
    this.minInFlight = Math.min(options.minInFlight ?? 64, this.maxInFlight);
    this.inFlightLimit = this.adaptive ? this.minInFlight : this.maxInFlight;
    const tickMs = options.tickMs ?? 10;
    if (!(tickMs >= 1)) throw new Error("tickMs must be >= 1");
    this.wheel = new TimerWheel<Target>(tickMs, WHEEL_SLOTS, performance.now());
    this.pinger = new FpingPinger(options.fpingCommand);
    const native = options.transport === "net" ? null : loadNativeTransport();
    this.startPlain = native ?? startNetProbe;
    this.transport = native === null ? "net" : "native";
  }

  /**
   * Declares the complete set of targets. New keys are added (first probe at a random phase
   * within one interval, or within maxInitialDelayMs), missing keys are removed (their running
   * probes aborted, no transition reported), identical targets keep their state and schedule. A changed target keeps its state;
   * if what is probed changed (type, address, port, HTTP or TLS settings) its counters restart
   * and its next probe comes within one interval; if only timing or thresholds changed its
   * counters are kept. Invalid targets are returned in `rejected` and leave any previous
   * version of that key running unchanged.
   */
  setTargets(targets: readonly HealthTarget[]): { rejected: RejectedTarget[] } {
    if (this.closed) throw new Error("health engine is closed");
    const now = performance.now();
    const wall = Date.now();
    const rejected: RejectedTarget[] = [];
    // Targets listed in this call carry this mark; the rest are removed afterwards.
    const mark = ++this.setTargetsCalls;
    const rejectedNewKeys = new Set<string>();
    for (const spec of targets) {
      if (typeof spec !== "object" || spec === null) {
        rejected.push({ key: String(spec), error: "a target must be an object" });
        continue;
      }
      const key = String(spec.key);
      const existing = this.targets.get(key);
      if (existing?.listedIn === mark || rejectedNewKeys.has(key)) {
        rejected.push({ key, error: "duplicate key" });
        continue;
      }
      // Unchanged targets (the common case of a full resync) are recognised without recompiling.
      const change = existing === undefined ? "probe" : compareTarget(existing.check, spec);
      if (existing !== undefined) existing.listedIn = mark;
      if (change === "none") continue;
      let check: CompiledCheck;
      try {
        check = compileTarget(spec);
      } catch (error) {
        rejected.push({ key, error: error instanceof Error ? error.message : String(error) });
        if (existing === undefined) rejectedNewKeys.add(key);
        continue;
      }
      if (existing === undefined) {
        const target = new Target(key, check, this.initialState, wall);
        target.listedIn = mark;
        this.targets.set(key, target);
        this.scheduleAt(
          target,
          now + Math.random() * Math.min(check.intervalMs, this.maxInitialDelayMs),
        );
      } else if (change === "probe") {
        this.reconfigure(existing, check, now);
      } else {
        const intervalChanged = existing.check.intervalMs !== check.intervalMs;
        existing.check = check;
        if (intervalChanged && existing.phase === "idle")
          this.scheduleAt(existing, now + Math.random() * check.intervalMs);
      }
    }
    for (const target of this.targets.values()) if (target.listedIn !== mark) this.remove(target);
    this.pruneSecureContexts();
    this.updateTicker();
    return { rejected };
  }

  state(key: string): TargetStatus | undefined {
    const target = this.targets.get(key);
    if (target === undefined) return undefined;
    const lastOk = target.successes > 0;
    return {
      state: target.state,
      since: target.since,
      reason: target.reason,
      consecutive: lastOk ? target.successes : target.failures,
      lastCheckAt: target.lastCheckAt,
      lastDurationMs: target.lastDurationMs,
    };
  }

  stats(): HealthStats {
    return {
      targets: this.targets.size,
      inFlight: this.inFlight,
      inFlightLimit: this.inFlightLimit,
      queued: this.queue.length - this.queueHead,
      tlsContexts: this.secureContexts.size,
      icmpRuns: this.pinger.runs,
      ...this.counters,
    };
  }

  /** Stops probing, aborts running probes and delivers transitions already decided. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.ticker !== undefined) clearInterval(this.ticker);
    this.ticker = undefined;
    for (const target of this.targets.values()) this.remove(target);
    this.targets.clear();
    this.queue.length = 0;
    this.queueHead = 0;
    this.flushTransitions();
    await this.pinger.close();
  }

  // ---- scheduling ----

  private scheduleAt(target: Target, dueAt: number): void {
    target.phase = "idle";
    target.dueAt = dueAt;
    this.wheel.schedule(target, ++target.ticket, dueAt);
  }

  private updateTicker(): void {
    if (this.targets.size > 0 && this.ticker === undefined) {
      this.lastTickAt = performance.now();
      this.ticker = setInterval(() => this.tick(), this.wheel.tickMs);
    } else if (this.targets.size === 0 && this.ticker !== undefined) {
      clearInterval(this.ticker);
      this.ticker = undefined;
    }
  }

  private readonly visit = (target: Target, ticket: number): void => {
    if (target.removed || ticket !== target.ticket) return;
    if (target.phase === "idle") this.due(target);
    else if (target.phase === "running") this.expired.push(target, ticket);
  };

  private tick(): void {
    const now = performance.now();
    // A late tick means this process is short of CPU: answered probes wait to be read.
    const lateMs = now - this.lastTickAt - this.wheel.tickMs;
    this.lastTickAt = now;
    if (lateMs > this.windowMaxLateMs) this.windowMaxLateMs = lateMs;
    if (this.adaptive && now >= this.windowEndsAt) this.adaptInFlightLimit(now);
    this.wheel.advance(now, this.visit);
    // Timers run before the loop polls for I/O: an answer that already arrived while the engine
    // was busy would be read only after this tick. Judge timeouts after the next poll instead, so
    // a busy prober never turns an answered probe into a timeout.
    if (this.expired.length > 0 && !this.expiryScheduled) {
      this.expiryScheduled = true;
      setImmediate(this.judgeExpired);
    }
  }

  private readonly judgeExpired = (): void => {
    this.expiryScheduled = false;
    const expired = this.expired;
    this.expired = [];
    for (let i = 0; i < expired.length; i += 2) {
      const target = expired[i] as Target;
      const ticket = expired[i + 1] as number;
      if (!target.removed && ticket === target.ticket && target.phase === "running")
        this.timeout(target);
    }
  };

  private adaptInFlightLimit(now: number): void {
    const samples = this.windowSamples;
    const congested =
      this.windowMaxLateMs > ADAPT_LATE_TICK_MS ||
      (samples >= ADAPT_MIN_SAMPLES && this.windowSlow > samples * ADAPT_SLOW_SHARE);
    const quiet =
      samples >= ADAPT_MIN_SAMPLES &&
      this.windowBusy <= samples * ADAPT_SLOW_SHARE &&
      this.windowMaxLateMs < ADAPT_LATE_TICK_MS / 2;
    if (congested) {
      // Halve what is really in flight: fewer probes at once also means fewer started per second.
      const inFlight = Math.min(this.inFlight, this.inFlightLimit);
      this.inFlightLimit = Math.max(this.minInFlight, Math.floor(inFlight / 2));
      this.slowStart = false;
    } else if (quiet && this.windowLimited && this.inFlightLimit < this.maxInFlight) {
      const grown = this.slowStart
        ? this.inFlightLimit * 2
        : this.inFlightLimit + Math.max(8, Math.ceil(this.inFlightLimit * 0.1));
      this.inFlightLimit = Math.min(this.maxInFlight, grown);
      this.startQueued();
    }
    this.windowLimited = this.inFlight >= this.inFlightLimit;
    this.windowSamples = 0;
    this.windowSlow = 0;
    this.windowBusy = 0;
    this.windowMaxLateMs = 0;
    this.windowEndsAt = now + ADAPT_WINDOW_MS;
  }

  private due(target: Target): void {
    if (this.inFlight < this.inFlightLimit) {
      this.start(target);
      return;
    }
    // Overload: the probe waits for a free slot instead of failing.
    this.windowLimited = true;
    target.phase = "queued";
    target.ticket++;
    this.queue.push(target);
    this.counters.probesSlipped++;
  }

  private start(target: Target): void {
    const now = performance.now();
    const slip = now - target.dueAt;
    if (slip > this.counters.maxSlipMs) this.counters.maxSlipMs = slip;
    const check = target.check;
    const ticket = ++target.ticket;
    target.phase = "running";
    target.startedAt = now;
    this.inFlight++;
    this.counters.probesStarted++;
    // The timeout counts from the real start, not from the due time.
    this.wheel.schedule(target, ticket, now + check.timeoutMs);
    const done = (ok: boolean, reason: string): void => this.finish(target, ticket, ok, reason);
    switch (check.type) {
      case "TCP":
      case "HTTP":
        target.probe = this.startPlain(check, done);
        break;
      case "HTTPS":
        target.probe = startTlsProbe(check, this.secureContext(check.tls!.ca), done);
        break;
      case "ICMP":
        target.probe = this.pinger.ping(check.address, check.timeoutMs, done);
        break;
    }
  }

  private timeout(target: Target): void {
    target.probe?.abort();
    this.counters.probesTimedOut++;
    this.finish(target, target.ticket, false, `timeout after ${target.check.timeoutMs} ms`);
  }

  private finish(target: Target, ticket: number, ok: boolean, reason: string): void {
    if (target.removed || ticket !== target.ticket || target.phase !== "running") return;
    const now = performance.now();
    target.probe = undefined;
    this.inFlight--;
    // Congestion samples: successes, and timeouts of targets that were answering until now (a
    // target already failing, e.g. a black-holed host, says nothing about this machine's load).
    if (ok || target.failures === 0) {
      const ratio = (now - target.startedAt) / target.check.timeoutMs;
      this.windowSamples++;
      if (ratio > ADAPT_SLOW_RATIO) this.windowSlow++;
      if (ratio > ADAPT_BUSY_RATIO) this.windowBusy++;
    }
    this.record(target, ok, reason, now);
    // Next probe one interval after the previous due time, keeping the target's phase; cycles
    // already missed (a long slip) are skipped rather than run back to back.
    const interval = target.check.intervalMs;
    let next = target.dueAt + interval;
    if (next < now) {
      const missed = Math.ceil((now - next) / interval);
      next += missed * interval;
      this.counters.cyclesSkipped += missed;
    }
    this.scheduleAt(target, next);
    this.startQueued();
  }

  private startQueued(): void {
    while (this.inFlight < this.inFlightLimit && this.queueHead < this.queue.length) {
      const target = this.queue[this.queueHead++]!;
      if (!target.removed && target.phase === "queued") this.start(target);
    }
    if (this.queueHead === this.queue.length) {
      this.queue.length = 0;
      this.queueHead = 0;
    } else if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
      this.queue.splice(0, this.queueHead);
      this.queueHead = 0;
    }
  }

  // ---- verdicts ----

  private record(target: Target, ok: boolean, reason: string, now: number): void {
    const wall = Date.now();
    target.reason = reason;
    target.lastCheckAt = wall;
    target.lastDurationMs = now - target.startedAt;
    if (ok) {
      this.counters.probesSucceeded++;
      target.successes++;
      target.failures = 0;
    } else {
      this.counters.probesFailed++;
      target.failures++;
      target.successes = 0;
    }
    let next = target.state;
    if (target.state === "unknown") next = ok ? "up" : "down";
    else if (target.state === "down" && ok && target.successes >= target.check.rise) next = "up";
    else if (target.state === "up" && !ok && target.failures >= target.check.fall) next = "down";
    if (next === target.state) return;
    this.pendingTransitions.push({
      key: target.key,
      from: target.state,
      to: next,
      at: wall,
      reason,
    });
    target.state = next;
    target.since = wall;
    this.counters.transitions++;
    if (this.flushTimer === undefined) {
      this.flushTimer =
        this.batchWindowMs > 0
          ? setTimeout(() => this.flushTransitions(), this.batchWindowMs)
          : setImmediate(() => this.flushTransitions());
    }
  }

  private flushTransitions(): void {
    if (this.flushTimer !== undefined) {
      clearTimeout(this.flushTimer as NodeJS.Timeout);
      clearImmediate(this.flushTimer as NodeJS.Immediate);
      this.flushTimer = undefined;
    }
    if (this.pendingTransitions.length === 0) return;
    const batch = this.pendingTransitions;
    this.pendingTransitions = [];
    this.counters.batches++;
    try {
      this.onTransitions(batch);
    } catch (error) {
      this.onError(error);
    }
  }

  // ---- changes ----

  private reconfigure(target: Target, check: CompiledCheck, now: number): void {
    target.check = check;
    target.successes = 0;
    target.failures = 0;
    if (target.phase === "queued") return; // will start with the new settings
    if (target.phase === "running") {
      target.probe?.abort();
      target.probe = undefined;
      this.inFlight--;
    }
    this.scheduleAt(target, now + Math.random() * check.intervalMs);
    this.startQueued();
  }

  private remove(target: Target): void {
    target.removed = true;
    target.ticket++;
    if (target.phase === "running") {
      target.probe?.abort();
      target.probe = undefined;
      this.inFlight--;
    }
    this.targets.delete(target.key);
  }

  private secureContext(ca: string | undefined): SecureContext {
    const key = ca ?? "";
    let context = this.secureContexts.get(key);
    if (context === undefined) {
      context = createSecureContext(ca === undefined ? {} : { ca });
      this.secureContexts.set(key, context);
    }
    return context;
  }

  private pruneSecureContexts(): void {
    if (this.secureContexts.size === 0) return;
    const used = new Set<string>();
    for (const target of this.targets.values())
      if (target.check.tls) used.add(target.check.tls.ca ?? "");
    for (const key of this.secureContexts.keys())
      if (!used.has(key)) this.secureContexts.delete(key);
  }
}
