// Applies a rendered frr.conf to a running FRR instance:
//  1. debounce: after a quiet period (nothing applied or running for `debounceMs`) the first
//     change starts on the next tick, so a lone change waits for nothing; changes that follow it
//     within `debounceMs`, or arrive while an apply runs, collapse into one apply of the latest
//     config (every caller of a batch gets that apply's result);
//  2. skip when the config equals the one this applier last applied successfully (the first
//     apply after start always reloads: FRR may have restarted with another running config);
//  3. fast path — when the new config differs from the last applied one ONLY in VIP lines (the
//     `ip route … blackhole tag 4242` statics and the `network` statements, see `vipDelta`), the
//     difference is written straight to staticd's and bgpd's vty sockets (vty.ts: a few ms)
//     instead of a reload (~1–3 s, python plus several vtysh processes), then frr.conf is
//     rewritten atomically so a restarted FRR loads the same state. A failed batch (FRR down, a
//     command refused) forgets the last applied config, so the retry reloads in full and
//     converges whatever part of the batch went through;
//  4. full path — validate with `vtysh -C` before touching the live file, so a bad config never
//     replaces a good frr.conf; write atomically (temp file in the same directory, fsync, rename
//     over `<confdir>/frr.conf`, fsync the directory); reload with `frr-reload.py --reload` on
//     that same `<confdir>/frr.conf`. Any other file name makes frr-reload.py finish with
//     `vtysh write`, which overwrites frr.conf with the running config. `--stdout` keeps its log
//     out of /var/log/frr; `--vty_socket` points vtysh at this instance's daemons; `--rundir`
//     keeps its temp files in the instance directory.
// Applies never overlap: one runs at a time, the next batch waits for it.
import { execFile } from "node:child_process";
import { promises as fs } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { FrrError, VTYSH } from "./instance";
import { VIP_STATIC_TAG } from "./render";
import { VtySession, type VtyDaemon } from "./vty";

const run = promisify(execFile);

export const FRR_RELOAD_SCRIPT = "/usr/lib/frr/frr-reload.py";

export interface FrrApplierOptions {
  /** The instance's config directory; the config always lands in `<confDir>/frr.conf`. */
  confDir: string;
  /** Directory of the daemons' vty sockets; default confDir. */
  vtySocketDir?: string;
  reloadScript?: string;
  /** Directory holding vtysh; default /usr/bin. */
  vtyshBinDir?: string;
  /** Window that collapses a burst of changes into one apply (the first after a quiet period goes at once); default 100 ms. */
  debounceMs?: number;
  reloadTimeoutMs?: number;
}

export interface ApplyResult {
  /** False when the config equalled the last one applied (nothing was done). */
  changed: boolean;
  /** Milliseconds spent validating, writing and reloading (or sending the VIP lines over the vty sockets). */
  durationMs: number;
  /** How it was applied: a full frr-reload.py, or only the VIP lines over the daemons' vty sockets. */
  method?: "reload" | "vty";
}

interface VipLine {
  /** Enclosing blocks, outermost first (e.g. `router bgp 65001`, `address-family ipv4 unicast`). */
  context: string[];
  /** The command itself, without indentation. */
  command: string;
}

const VIP_STATIC = new RegExp(`^(ip|ipv6) route \\S+ blackhole tag ${VIP_STATIC_TAG}$`);
const NETWORK = /^ {2}network \S+$/;

/** Splits a rendered config into its VIP lines (keyed) and everything else (separators dropped). */
function splitVipLines(config: string): { rest: string[]; vips: Map<string, VipLine> } {
  const rest: string[] = [];
  const vips = new Map<string, VipLine>();
  let top = "";
  let family = "";
  for (const line of config.split("\n")) {
    if (line.trim() === "!" || line === "") continue;
    if (VIP_STATIC.test(line)) {
      vips.set(line, { context: [], command: line });
      continue;
    }
    if (NETWORK.test(line) && top.startsWith("router bgp ") && family) {
      const context = [top, family];
      vips.set(`${context.join("/")}/${line.trim()}`, { context, command: line.trim() });
      continue;
    }
    rest.push(line);
    if (/^\S/.test(line)) top = line === "exit" ? "" : line;
    else if (line.startsWith(" address-family ")) family = line.trim();
    else if (line === " exit-address-family") family = "";
  }
  return { rest, vips };
}

/** Commands for one daemon's vty, run in config mode (`configure terminal` … `end` included). */
export interface VtyStep {
  daemon: VtyDaemon;
  commands: string[];
}

/**
 * The vty commands that turn a running `from` config into `to`, or null when they differ in
 * anything but VIP lines (then only a full reload is safe). Statics go to staticd, `network`
 * lines to bgpd. Order: `network` removals, static removals and additions, `network` additions —
 * a `network` only advertises a prefix that is in the RIB (import-check), so its static goes first.
 */
export function vipDelta(from: string, to: string): VtyStep[] | null {
  const a = splitVipLines(from);
  const b = splitVipLines(to);
  if (a.rest.length !== b.rest.length || a.rest.some((l, i) => l !== b.rest[i])) return null;
  const removed = [...a.vips].filter(([k]) => !b.vips.has(k)).map(([, v]) => v);
  const added = [...b.vips].filter(([k]) => !a.vips.has(k)).map(([, v]) => v);
  const inBlocks = (lines: VipLine[], negate: boolean): string[] => {
    const byContext = new Map<string, VipLine[]>();
    for (const l of lines) {
      const key = l.context.join("\n");
      byContext.set(key, [...(byContext.get(key) ?? []), l]);
    }
    const out: string[] = [];
    for (const group of byContext.values()) {
      const context = group[0]!.context;
      out.push(...context);
      for (const l of group) out.push(negate ? `no ${l.command}` : l.command);
      // Leave the blocks again: `exit-address-family`, then `exit` for each outer block.
      for (const c of [...context].reverse())
        out.push(c.startsWith("address-family ") ? "exit-address-family" : "exit");
    }
    return out;
  };
  const isStatic = (l: VipLine): boolean => l.context.length === 0;
  const steps: VtyStep[] = [
    {
      daemon: "bgpd",
      commands: inBlocks(
        removed.filter((l) => !isStatic(l)),
        true,
      ),
    },
    {
      daemon: "staticd",
      commands: [
        ...inBlocks(removed.filter(isStatic), true),
        ...inBlocks(added.filter(isStatic), false),
      ],
    },
    {
      daemon: "bgpd",
      commands: inBlocks(
        added.filter((l) => !isStatic(l)),
        false,
      ),
    },
  ];
  return steps
    .filter((s) => s.commands.length > 0)
    .map((s) => ({ daemon: s.daemon, commands: ["configure terminal", ...s.commands, "end"] }));
}

interface Waiter {
  resolve: (r: ApplyResult) => void;
  reject: (e: unknown) => void;
}

function failureOutput(err: unknown): string {
  const e = err as { stdout?: string; stderr?: string; message?: string };
  return [e.stdout, e.stderr].filter(Boolean).join("\n") || String(e.message ?? err);
}

export class FrrApplier {
  readonly confDir: string;
  readonly configPath: string;
  private readonly vtySocketDir: string;
  private readonly reloadScript: string;
  private readonly vtyshBinDir: string;
  private readonly debounceMs: number;
  private readonly reloadTimeoutMs: number;
  private pending: { config: string; waiters: Waiter[] } | null = null;
  private timer: NodeJS.Timeout | null = null;
  private queue: Promise<void> = Promise.resolve();
  private timerAtOnce = false;
  /** Batches started and not yet settled. */
  private inFlight = 0;
  private lastStartedAt = -Infinity;
  private applied: string | undefined;
  private tempCounter = 0;
  /** Reloads actually run (for tests and metrics). */
  reloads = 0;
  /** VIP-only changes sent straight to the daemons' vty sockets instead of a reload. */
  vtyBatches = 0;

  constructor(opts: FrrApplierOptions) {
    this.confDir = path.resolve(opts.confDir);
    this.configPath = path.join(this.confDir, "frr.conf");
    this.vtySocketDir = path.resolve(opts.vtySocketDir ?? opts.confDir);
    this.reloadScript = opts.reloadScript ?? FRR_RELOAD_SCRIPT;
    this.vtyshBinDir = opts.vtyshBinDir ?? path.dirname(VTYSH);
    this.debounceMs = opts.debounceMs ?? 100;
    this.reloadTimeoutMs = opts.reloadTimeoutMs ?? 30_000;
  }

  /** The config of the last successful reload. */
  get lastApplied(): string | undefined {
    return this.applied;
  }

  /** Schedules `config`; resolves when it (or a later config of the same burst) is live. */
  apply(config: string): Promise<ApplyResult> {
    return new Promise<ApplyResult>((resolve, reject) => {
      if (this.pending) {
        this.pending.config = config;
        this.pending.waiters.push({ resolve, reject });
      } else {
        this.pending = { config, waiters: [{ resolve, reject }] };
      }
      if (this.timer && this.timerAtOnce) return; // joins the batch starting on the next tick
      if (this.timer) clearTimeout(this.timer);
      this.timerAtOnce =
        this.inFlight === 0 && performance.now() - this.lastStartedAt >= this.debounceMs;
      this.timer = setTimeout(() => this.startBatch(), this.timerAtOnce ? 0 : this.debounceMs);
    });
  }

  /** Applies what is pending now, without waiting for the debounce; resolves when done. */
  async flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.startBatch();
    }
    await this.queue;
  }

  /** Drops a pending (not yet started) apply; its callers get an error. */
  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const batch = this.pending;
    this.pending = null;
    for (const w of batch?.waiters ?? [])
      w.reject(new FrrError("FRR applier closed before the config was applied"));
  }

  private startBatch(): void {
    this.timer = null;
    const batch = this.pending;
    this.pending = null;
    if (!batch) return;
    this.inFlight++;
    this.lastStartedAt = performance.now();
    // The queue never rejects: each batch settles its own waiters.
    this.queue = this.queue.then(async () => {
      try {
        const result = await this.applyNow(batch.config);
        for (const w of batch.waiters) w.resolve(result);
      } catch (err) {
        for (const w of batch.waiters) w.reject(err);
      } finally {
        this.inFlight--;
        this.lastStartedAt = performance.now();
      }
    });
  }

  private async applyNow(config: string): Promise<ApplyResult> {
    const started = performance.now();
    if (config === this.applied) return { changed: false, durationMs: performance.now() - started };
    const delta = this.applied === undefined ? null : vipDelta(this.applied, config);
    if (delta) {
      // Until both the batch and the file write succeed, the running config is unknown.
      this.applied = undefined;
      await this.vtyBatch(delta);
      await this.writeAtomically(config, false);
      this.applied = config;
      return { changed: true, durationMs: performance.now() - started, method: "vty" };
    }
    await this.writeAtomically(config, true);
    // A failed reload may have changed part of the running config: the retry must reload too.
    this.applied = undefined;
    await this.reload();
    this.applied = config;
    return { changed: true, durationMs: performance.now() - started, method: "reload" };
  }

  private async vtyBatch(steps: readonly VtyStep[]): Promise<void> {
    this.vtyBatches++;
    const sessions = new Map<VtyDaemon, VtySession>();
    try {
      for (const step of steps) {
        let session = sessions.get(step.daemon);
        if (!session) {
          session = await VtySession.open(this.vtySocketDir, step.daemon, this.reloadTimeoutMs);
          sessions.set(step.daemon, session);
        }
        await session.runAll(step.commands);
      }
    } catch (err) {
      throw new FrrError(
        "applying VIP changes over the vty sockets failed (FRR down or a command refused)",
        err instanceof Error ? err.message : String(err),
      );
    } finally {
      for (const session of sessions.values()) session.close();
    }
  }

  /** Atomic replace of frr.conf; `validate` first has FRR parse the whole file (`vtysh -C`). */
  private async writeAtomically(config: string, validate: boolean): Promise<void> {
    const temp = path.join(this.confDir, `.frr.conf.${process.pid}.${++this.tempCounter}.tmp`);
    try {
      const handle = await fs.open(temp, "w", 0o640);
      try {
        await handle.writeFile(config);
        await handle.sync();
      } finally {
        await handle.close();
      }
      if (validate) {
        await run(
          path.join(this.vtyshBinDir, "vtysh"),
          ["--config_dir", this.confDir, "-C", "-f", temp],
          {
            timeout: this.reloadTimeoutMs,
          },
        ).catch((err: unknown) => {
          throw new FrrError("FRR rejected the rendered config (vtysh -C)", failureOutput(err));
        });
      }
      await fs.rename(temp, this.configPath);
    } finally {
      await fs.rm(temp, { force: true });
    }
    const dir = await fs.open(this.confDir, "r");
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }

  private async reload(): Promise<void> {
    this.reloads++;
    const args = [
      "--reload",
      "--stdout",
      "--confdir",
      this.confDir,
      "--vty_socket",
      this.vtySocketDir,
      "--rundir",
      this.confDir,
      "--bindir",
      this.vtyshBinDir,
      this.configPath,
    ];
    await run(this.reloadScript, args, {
      timeout: this.reloadTimeoutMs,
      maxBuffer: 16 * 1024 * 1024,
    }).catch((err: unknown) => {
      throw new FrrError(`frr-reload.py failed for ${this.configPath}`, failureOutput(err));
    });
  }
}
