// Applies a rendered frr.conf to a running FRR instance:
//  1. debounce: bursts of apply() calls within `debounceMs` collapse into one reload of the latest
//     config (every caller in the burst gets that reload's result);
//  2. skip when the config equals the one this applier last reloaded successfully (the first
//     apply after start always reloads: FRR may have restarted with another running config);
//  3. validate with `vtysh -C` before touching the live file, so a bad config never replaces a
//     good frr.conf;
//  4. write atomically: temp file in the same directory, fsync, rename over `<confdir>/frr.conf`,
//     fsync the directory;
//  5. reload with `frr-reload.py --reload` on that same `<confdir>/frr.conf`. Any other file name
//     makes frr-reload.py finish with `vtysh write`, which overwrites frr.conf with the running
//     config. `--stdout` keeps its log out of /var/log/frr; `--vty_socket` points vtysh at this
//     instance's daemons; `--rundir` keeps its temp files in the instance directory.
// Reloads never overlap: one runs at a time, the next batch waits for it.
import { execFile } from "node:child_process";
import { promises as fs } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { FrrError, VTYSH } from "./instance";

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
  /** Quiet period that collapses a burst of changes into one reload; default 100 ms. */
  debounceMs?: number;
  reloadTimeoutMs?: number;
}

export interface ApplyResult {
  /** False when the config equalled the last one applied (nothing was done). */
  changed: boolean;
  /** Milliseconds spent validating, writing and reloading. */
  durationMs: number;
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
  private applied: string | undefined;
  private tempCounter = 0;
  /** Reloads actually run (for tests and metrics). */
  reloads = 0;

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
      if (this.timer) clearTimeout(this.timer);
      this.timer = setTimeout(() => this.startBatch(), this.debounceMs);
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
    // The queue never rejects: each batch settles its own waiters.
    this.queue = this.queue.then(async () => {
      try {
        const result = await this.applyNow(batch.config);
        for (const w of batch.waiters) w.resolve(result);
      } catch (err) {
        for (const w of batch.waiters) w.reject(err);
      }
    });
  }

  private async applyNow(config: string): Promise<ApplyResult> {
    const started = performance.now();
    if (config === this.applied) return { changed: false, durationMs: performance.now() - started };
    await this.writeValidated(config);
    await this.reload();
    this.applied = config;
    return { changed: true, durationMs: performance.now() - started };
  }

  private async writeValidated(config: string): Promise<void> {
    const temp = path.join(this.confDir, `.frr.conf.${process.pid}.${++this.tempCounter}.tmp`);
    try {
      const handle = await fs.open(temp, "w", 0o640);
      try {
        await handle.writeFile(config);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await run(
        path.join(this.vtyshBinDir, "vtysh"),
        ["--config_dir", this.confDir, "-C", "-f", temp],
        {
          timeout: this.reloadTimeoutMs,
        },
      ).catch((err: unknown) => {
        throw new FrrError("FRR rejected the rendered config (vtysh -C)", failureOutput(err));
      });
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
