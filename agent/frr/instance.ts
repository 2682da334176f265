// One FRR instance (zebra + staticd + bgpd) with all of its state in one directory: pid files,
// vty sockets, the zserv socket, logs, vtysh.conf and frr.conf. Several instances can run on one
// machine (one per network namespace in the testbed) because nothing uses FRR's default paths.
// Stopped by the pids it started, never by name.
//
// Daemons start with an empty config and the integrated frr.conf is pushed afterwards through
// vtysh (`vtysh -b` at start when the file exists, then frr-reload.py via FrrApplier), which is
// how FRR's own init script does it. They run as the `frr` user (root is refused: it is not in
// the `frrvty` group), so the directory is handed to that user.
import { execFile } from "node:child_process";
import { promises as fs, readFileSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export const FRR_SBIN_DIR = "/usr/lib/frr";
export const VTYSH = "/usr/bin/vtysh";

export type FrrDaemon = "zebra" | "staticd" | "bgpd";
const START_ORDER: readonly FrrDaemon[] = ["zebra", "staticd", "bgpd"];

export interface FrrInstanceOptions {
  /** Directory for all of this instance's state (created if missing). */
  dir: string;
  /** Network namespace to run the daemons in (`ip netns exec NS`). */
  netns?: string;
  /** Daemons to run; zebra always runs first. Default: zebra, staticd, bgpd. */
  daemons?: readonly FrrDaemon[];
  /** Where the daemons live (Debian: /usr/lib/frr). */
  sbinDir?: string;
  /** Unprivileged user the daemons switch to; it must own `dir` (default "frr"). */
  user?: string;
}

export class FrrError extends Error {
  constructor(
    message: string,
    readonly output = "",
  ) {
    super(output ? `${message}\n${output.trim().split("\n").slice(-15).join("\n")}` : message);
    this.name = "FrrError";
  }
}

interface ExecFailure {
  stdout?: string;
  stderr?: string;
  message?: string;
}

function failureOutput(err: unknown): string {
  const e = err as ExecFailure;
  return [e.stdout, e.stderr].filter(Boolean).join("\n") || String(e.message ?? err);
}

async function lookupId(file: string, name: string): Promise<number | undefined> {
  const text = await fs.readFile(file, "utf8").catch(() => "");
  for (const line of text.split("\n")) {
    const [entry, , id] = line.split(":");
    if (entry === name && id !== undefined) return Number(id);
  }
  return undefined;
}

/** True while pid runs (a zombie left for a non-reaping pid 1 counts as gone). */
function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

/** True when pid is one of this instance's daemons (guards against a recycled pid). */
async function pidBelongsTo(pid: number, dir: string): Promise<boolean> {
  const cmdline = await fs.readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
  return cmdline.split("\0").some((arg) => arg.startsWith(dir + "/") || arg === dir);
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export class FrrInstance {
  readonly dir: string;
  readonly netns: string | undefined;
  private readonly daemons: FrrDaemon[];
  private readonly sbinDir: string;
  private readonly pids = new Map<FrrDaemon, number>();

  private constructor(opts: FrrInstanceOptions) {
    this.dir = path.resolve(opts.dir);
    this.netns = opts.netns;
    const wanted = new Set<FrrDaemon>(["zebra", ...(opts.daemons ?? START_ORDER)]);
    this.daemons = START_ORDER.filter((d) => wanted.has(d));
    this.sbinDir = opts.sbinDir ?? FRR_SBIN_DIR;
  }

  /** Config directory (frr.conf, vtysh.conf): pass it to FrrApplier as confDir. */
  get confDir(): string {
    return this.dir;
  }

  /** Directory holding the daemons' vty sockets (vtysh / frr-reload.py --vty_socket). */
  get vtySocketDir(): string {
    return this.dir;
  }

  get zservPath(): string {
    return path.join(this.dir, "zserv.api");
  }

  pidFile(daemon: FrrDaemon): string {
    return path.join(this.dir, `${daemon}.pid`);
  }

  logFile(daemon: FrrDaemon): string {
    return path.join(this.dir, `${daemon}.log`);
  }

  /** Pids of the running daemons, by daemon. */
  get processIds(): ReadonlyMap<FrrDaemon, number> {
    return this.pids;
  }

  /**
   * Starts the daemons; if `dir/frr.conf` exists it is loaded (an instance restarted on an
   * existing directory comes back with its last config). Daemons left behind in this directory by
   * a crashed run are stopped first. On failure, whatever was started is stopped again.
   */
  static async start(opts: FrrInstanceOptions): Promise<FrrInstance> {
    const inst = new FrrInstance(opts);
    const user = opts.user ?? "frr";
    const uid = await lookupId("/etc/passwd", user);
    const gid = await lookupId("/etc/group", user);
    if (uid === undefined || gid === undefined) {
      throw new FrrError(`FRR user/group "${user}" not found: is the frr package installed?`);
    }
    await fs.access(path.join(inst.sbinDir, "zebra")).catch(() => {
      throw new FrrError(`FRR daemons not found in ${inst.sbinDir}: is the frr package installed?`);
    });

    await fs.mkdir(inst.dir, { recursive: true, mode: 0o755 });
    await fs.chmod(inst.dir, 0o755);
    await fs.chown(inst.dir, uid, gid);
    await inst.stopStale();
    await fs.writeFile(path.join(inst.dir, "vtysh.conf"), "service integrated-vtysh-config\n", {
      mode: 0o644,
    });
    const emptyConf = path.join(inst.dir, "daemon-empty.conf");
    await fs.writeFile(emptyConf, "", { mode: 0o644 });

    try {
      for (const daemon of inst.daemons) await inst.startDaemon(daemon, emptyConf);
      const conf = path.join(inst.dir, "frr.conf");
      if (
        await fs
          .stat(conf)
          .then((s) => s.size > 0)
          .catch(() => false)
      ) {
        await inst.vtyshRaw(["-b"]).catch((err: unknown) => {
          throw new FrrError(`loading ${conf} failed`, failureOutput(err));
        });
      }
    } catch (err) {
      await inst.stop();
      throw err;
    }
    return inst;
  }

  private async startDaemon(daemon: FrrDaemon, emptyConf: string): Promise<void> {
    const args = [
      "-d",
      "-i",
      this.pidFile(daemon),
      "-z",
      this.zservPath,
      "--vty_socket",
      this.dir,
      "-f",
      emptyConf,
      "-P",
      "0", // no TCP vty: vtysh talks over the unix sockets in `dir`
      "--log",
      `file:${this.logFile(daemon)}`,
    ];
    if (daemon === "zebra") args.push("-s", "90000000"); // netlink buffer, as Debian's defaults
    const bin = path.join(this.sbinDir, daemon);
    const [cmd, cmdArgs] = this.netns
      ? ["ip", ["netns", "exec", this.netns, bin, ...args]]
      : [bin, args];
    await run(cmd, cmdArgs, { timeout: 15_000 }).catch((err: unknown) => {
      throw new FrrError(`starting ${daemon} failed`, failureOutput(err));
    });
    // `-d` returns once the daemon is up and has written its pid file.
    const pid = Number((await fs.readFile(this.pidFile(daemon), "utf8")).trim());
    if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid))
      throw new FrrError(`${daemon} did not stay up; see ${this.logFile(daemon)}`);
    this.pids.set(daemon, pid);
  }

  /** Stops daemons a previous run left in this directory (only those whose command line names it). */
  private async stopStale(): Promise<void> {
    for (const daemon of START_ORDER) {
      const pid = Number((await fs.readFile(this.pidFile(daemon), "utf8").catch(() => "")).trim());
      if (Number.isInteger(pid) && pid > 0 && isAlive(pid) && (await pidBelongsTo(pid, this.dir))) {
        await stopPid(pid);
      }
    }
  }

  private vtyshRaw(args: string[]): Promise<{ stdout: string; stderr: string }> {
    return run(VTYSH, ["--config_dir", this.dir, "--vty_socket", this.dir, ...args], {
      timeout: 30_000,
      maxBuffer: 64 * 1024 * 1024,
    });
  }

  /** Runs vtysh commands against this instance and returns their output. */
  async vtysh(...commands: string[]): Promise<string> {
    try {
      const { stdout } = await this.vtyshRaw(commands.flatMap((c) => ["-c", c]));
      return stdout;
    } catch (err) {
      throw new FrrError(`vtysh ${commands.join(" / ")} failed`, failureOutput(err));
    }
  }

  /** Runs one `show ... json` command and parses its output. */
  async vtyshJson<T = unknown>(command: string): Promise<T> {
    const out = await this.vtysh(command);
    try {
      return JSON.parse(out) as T;
    } catch {
      throw new FrrError(`vtysh "${command}" did not return JSON`, out);
    }
  }

  /** Stops the daemons this instance started (bgpd first), by pid; safe to call twice. */
  async stop(): Promise<void> {
    for (const daemon of [...START_ORDER].reverse()) {
      const pid = this.pids.get(daemon);
      if (pid === undefined) continue;
      if (await pidBelongsTo(pid, this.dir)) await stopPid(pid);
      this.pids.delete(daemon);
    }
  }
}

/** SIGTERM, wait up to 5 s, then SIGKILL. */
async function stopPid(pid: number): Promise<void> {
  const signal = (sig: NodeJS.Signals): void => {
    try {
      process.kill(pid, sig);
    } catch {
      // already gone
    }
  };
  signal("SIGTERM");
  for (let waited = 0; waited < 5_000 && isAlive(pid); waited += 50) await sleep(50);
  if (isAlive(pid)) {
    signal("SIGKILL");
    for (let waited = 0; waited < 2_000 && isAlive(pid); waited += 50) await sleep(50);
  }
}
