// A client of an FRR daemon's vty unix socket (`<dir>/<daemon>.vty`) speaking the protocol
// vtysh uses: each command is sent NUL-terminated; the daemon answers with its output followed
// by three NUL bytes and one status byte (0 = success). Talking to the socket directly costs
// ~1 ms per command, where a `vtysh -c …` process costs ~0.1 s idle and far more on a busy
// machine (it parses every daemon's command tree at start).
//
// A unix-socket session starts in the view node: `enable` first, then `configure terminal`
// before configuration commands. Config changes are live once a command returns (FRR's classic
// CLI mode: no commit step). The daemon executes the NUL-separated commands of its input in
// order and answers each, so a batch is written at once (one round trip, not one per command:
// on a busy CPU each round trip waits for both processes to be scheduled).
import net from "node:net";
import path from "node:path";
import { FrrError } from "./instance";

export type VtyDaemon = "zebra" | "staticd" | "bgpd";

export class VtySession {
  private buffer = Buffer.alloc(0);
  private readonly waiters: {
    resolve: (r: { output: string; status: number }) => void;
    reject: (e: Error) => void;
  }[] = [];
  private failure: Error | null = null;

  private constructor(
    readonly daemon: string,
    private readonly socket: net.Socket,
  ) {
    socket.on("data", (chunk) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.deliver();
    });
    const fail = (e: Error): void => {
      this.failure ??= e;
      for (const w of this.waiters.splice(0)) w.reject(this.failure);
    };
    socket.on("error", (e) => fail(new FrrError(`${daemon} vty: ${e.message}`)));
    socket.on("close", () => fail(new FrrError(`${daemon} closed its vty connection`)));
  }

  /** Connects to `<socketDir>/<daemon>.vty` and enters the enable node. */
  static async open(socketDir: string, daemon: VtyDaemon, timeoutMs = 10_000): Promise<VtySession> {
    const file = path.join(socketDir, `${daemon}.vty`);
    const socket = net.createConnection(file);
    socket.setTimeout(timeoutMs, () =>
      socket.destroy(new Error(`no answer within ${timeoutMs} ms`)),
    );
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", (e) =>
        reject(new FrrError(`cannot reach ${daemon} at ${file} (is FRR running?): ${e.message}`)),
      );
    });
    const session = new VtySession(daemon, socket);
    await session.run("enable");
    return session;
  }

  /** Sends one command; resolves with its output, rejects when the daemon refuses it. */
  async run(command: string): Promise<string> {
    const [reply] = await this.send([command]);
    return reply!;
  }

  /**
   * Sends commands in one write. The daemon runs every one of them, even after one is refused:
   * the caller must treat a rejection as "state unknown" (FrrApplier then reloads in full).
   * Rejects with the first refused command's message.
   */
  async runAll(commands: readonly string[]): Promise<void> {
    await this.send(commands);
  }

  private async send(commands: readonly string[]): Promise<string[]> {
    if (this.failure) throw this.failure;
    const replies = commands.map(
      () =>
        new Promise<{ output: string; status: number }>((resolve, reject) =>
          this.waiters.push({ resolve, reject }),
        ),
    );
    this.socket.write(commands.map((c) => `${c}\0`).join(""));
    this.deliver();
    const results = await Promise.all(replies);
    const refused = results.findIndex((r) => r.status !== 0);
    if (refused >= 0)
      throw new FrrError(
        `${this.daemon} refused "${commands[refused]}" (status ${results[refused]!.status})`,
        results[refused]!.output,
      );
    return results.map((r) => r.output);
  }

  close(): void {
    this.socket.destroy();
  }

  private deliver(): void {
    for (;;) {
      if (this.waiters.length === 0) return;
      const end = this.buffer.indexOf(Buffer.from([0, 0, 0]));
      if (end < 0 || end + 3 >= this.buffer.length) return;
      const output = this.buffer.subarray(0, end).toString("utf8");
      const status = this.buffer[end + 3]!;
      this.buffer = this.buffer.subarray(end + 4);
      this.waiters.shift()!.resolve({ output, status });
    }
  }
}
