// Small system helpers for the testbed: commands (optionally inside a namespace), daemons that
// outlive the process that started them (pid files), and stopping them by their own pid only.
import { execFile, spawn } from "node:child_process";
import fs from "node:fs";
import { promisify } from "node:util";

const execFileP = promisify(execFile);

export class CommandError extends Error {
  constructor(
    readonly command: string,
    readonly output: string,
  ) {
    super(`${command} failed: ${output.trim().split("\n").slice(-8).join("\n")}`);
    this.name = "CommandError";
  }
}

/** Runs a command (no shell) and returns its stdout; throws with its output on failure. */
export async function run(cmd: string, args: readonly string[], timeoutMs = 20_000): Promise<string> {
  try {
    const { stdout } = await execFileP(cmd, [...args], { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 });
    return stdout;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message?: string };
    throw new CommandError(`${cmd} ${args.join(" ")}`, [e.stdout, e.stderr].filter(Boolean).join("\n") || String(e.message));
  }
}

/** Same, ignoring failure (cleanup paths). */
export async function runQuiet(cmd: string, args: readonly string[], timeoutMs = 20_000): Promise<string> {
  return run(cmd, args, timeoutMs).catch(() => "");
}

export const ip = (...args: string[]): Promise<string> => run("ip", args);
/** A command inside a namespace. */
export const nsRun = (ns: string, cmd: string, ...args: string[]): Promise<string> => run("ip", ["netns", "exec", ns, cmd, ...args]);

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** True while pid runs (a zombie counts as gone: this container's pid 1 reaps late). */
export function isAlive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

/** The process's command line (arguments joined by spaces), "" when gone. */
export function cmdline(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ");
  } catch {
    return "";
  }
}

/**
 * Stops pid — only if its command line contains `marker` (a path of this testbed), so a
 * recycled pid of some other process is never signalled. SIGTERM, up to `graceMs`, then SIGKILL.
 * Returns true when something was stopped.
 */
export async function stopPid(pid: number, marker: string, graceMs = 4000): Promise<boolean> {
  if (!Number.isInteger(pid) || pid <= 1 || !isAlive(pid) || !cmdline(pid).includes(marker)) return false;
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(pid, sig);
    } catch {
      // gone
    }
  };
  signal("SIGTERM");
  for (let waited = 0; waited < graceMs && isAlive(pid); waited += 50) await sleep(50);
  if (isAlive(pid)) {
    signal("SIGKILL");
    for (let waited = 0; waited < 2000 && isAlive(pid); waited += 50) await sleep(50);
  }
  return true;
}

export function readPidFile(file: string): number {
  try {
    const n = Number(fs.readFileSync(file, "utf8").trim());
    return Number.isInteger(n) && n > 0 ? n : 0;
  } catch {
    return 0;
  }
}

export interface DaemonSpec {
  /** Network namespace to run in (`ip netns exec`, which execs: the pid is the program's). */
  ns?: string;
  argv: readonly string[];
  logFile: string;
  pidFile: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/** Starts a daemon detached from us (it survives the CLI's exit), logging to a file; writes its pid file. */
export function startDaemon(spec: DaemonSpec): number {
  const out = fs.openSync(spec.logFile, "a");
  try {
    const [cmd, ...args] = spec.ns ? ["ip", "netns", "exec", spec.ns, ...spec.argv] : [...spec.argv];
    const child = spawn(cmd!, args, {
      detached: true,
      stdio: ["ignore", out, out],
      env: spec.env ?? process.env,
      cwd: spec.cwd,
    });
    if (child.pid === undefined) throw new Error(`could not start ${spec.argv.join(" ")}`);
    child.unref();
    fs.writeFileSync(spec.pidFile, `${child.pid}\n`);
    return child.pid;
  } finally {
    fs.closeSync(out);
  }
}

/** Polls until check() is true or the time is up; returns the elapsed ms, or throws with explain(). */
export async function waitFor(
  what: string,
  check: () => Promise<boolean> | boolean,
  timeoutMs: number,
  explain?: () => Promise<string> | string,
  intervalMs = 100,
): Promise<number> {
  const start = performance.now();
  for (;;) {
    if (await check()) return performance.now() - start;
    if (performance.now() - start > timeoutMs) {
      const details = explain ? await Promise.resolve(explain()).catch((e: unknown) => String(e)) : "";
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${details ? `\n${details}` : ""}`);
    }
    await sleep(intervalMs);
  }
}
