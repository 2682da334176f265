/**
 * ICMP echo probes through Debian's `fping`: Node has no ICMP socket API, and one fping
 * process pings thousands of addresses in milliseconds. Requests made during one turn of the
 * event loop are batched into one fping run per distinct timeout.
 */
import { spawn, type ChildProcess } from "node:child_process";
import type { ProbeDone, RunningProbe } from "./socket-probe";

class PingRequest implements RunningProbe {
  finished = false;
  constructor(
    readonly address: string,
    readonly done: ProbeDone,
  ) {}
  abort(): void {
    this.finished = true;
  }
  settle(ok: boolean, reason: string): void {
    if (this.finished) return;
    this.finished = true;
    this.done(ok, reason);
  }
}

// "127.0.0.1 : 0.04" (reply time in ms) or "198.18.0.2 : -" (no reply); IPv6 names have colons
// but no spaces, so the separator is the first " : ".
const SUMMARY_LINE = /^(\S+)\s+:\s+(\S+)/;

export class FpingPinger {
  /** Requests waiting for the next run, by timeout, then by address. */
  private pending = new Map<number, Map<string, PingRequest[]>>();
  private flushScheduled = false;
  private readonly running = new Set<ChildProcess>();
  private closed = false;
  /** fping processes started so far. */
  runs = 0;

  /** `command` is the fping executable followed by any leading arguments. */
  constructor(private readonly command: readonly string[] = ["fping"]) {}

  ping(address: string, timeoutMs: number, done: ProbeDone): RunningProbe {
    const request = new PingRequest(address, done);
    let byAddress = this.pending.get(timeoutMs);
    if (byAddress === undefined) this.pending.set(timeoutMs, (byAddress = new Map()));
    const waiting = byAddress.get(address);
    if (waiting === undefined) byAddress.set(address, [request]);
    else waiting.push(request);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
    return request;
  }

  private flush(): void {
    this.flushScheduled = false;
    const batches = this.pending;
    this.pending = new Map();
    for (const [timeoutMs, byAddress] of batches) this.run(timeoutMs, byAddress);
  }

  private run(timeoutMs: number, byAddress: Map<string, PingRequest[]>): void {
    const settleAll = (reason: string): void => {
      for (const requests of byAddress.values())
        for (const request of requests) request.settle(false, reason);
    };
    if (this.closed) return;
    const [executable, ...leading] = this.command;
    // -C 1: one echo per address and a summary line each; -q: only the summary; -r 0: no retries;
    // -i 0: no pause between addresses (root only); addresses come on stdin, so no ARG_MAX limit.
    const child = spawn(
      executable!,
      [...leading, "-C", "1", "-q", "-r", "0", "-i", "0", "-t", String(timeoutMs)],
      {
        stdio: ["pipe", "ignore", "pipe"],
      },
    );
    this.running.add(child);
    this.runs++;
    let output = "";
    child.stderr!.setEncoding("utf8");
    child.stderr!.on("data", (text: string) => {
      output += text;
    });
    child.on("error", (error: NodeJS.ErrnoException) => {
      this.running.delete(child);
      settleAll(`fping ${error.code ?? error.message}`);
    });
    child.on("close", (exitCode) => {
      this.running.delete(child);
      for (const line of output.split("\n")) {
        const match = SUMMARY_LINE.exec(line);
        if (match === null) continue;
        const requests = byAddress.get(match[1]!);
        if (requests === undefined) continue;
        byAddress.delete(match[1]!);
        const replyMs = Number(match[2]);
        const ok = Number.isFinite(replyMs);
        for (const request of requests)
          request.settle(ok, ok ? `echo reply in ${replyMs} ms` : "no echo reply");
      }
      // Addresses fping did not report on (bad address, fping failure): say why.
      const firstError = output
        .split("\n")
        .find((line) => line.trim() !== "" && !SUMMARY_LINE.test(line));
      settleAll(
        `fping exit ${exitCode ?? "signal"}${firstError ? `: ${firstError.trim().slice(0, 120)}` : ""}`,
      );
    });
    child.stdin!.on("error", () => {
      // fping died before reading its input; the close handler reports the failure.
    });
    child.stdin!.end([...byAddress.keys()].join("\n") + "\n");
  }

  /** Stops running fping processes; their requests are never reported. */
  async close(): Promise<void> {
    this.closed = true;
    this.pending.clear();
    const exits = [...this.running].map(
      (child) =>
        new Promise<void>((resolve) => {
          child.once("close", () => resolve());
          child.kill("SIGTERM");
        }),
    );
    await Promise.all(exits);
  }
}
