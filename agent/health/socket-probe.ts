/**
 * TCP, HTTP and HTTPS probes on Node sockets (net.Socket / tls.connect). No node:http and no
 * undici: a probe writes one prebuilt request and reads only the status line (STACK.md:
 * node:http costs 2x, undici 3.7x, and both show false timeouts under bursts).
 *
 * Connections end with a reset (SO_LINGER 0), as HAProxy's checks do: the prober keeps no
 * TIME_WAIT socket per probe, so thousands of probes a second to one backend port cannot run
 * out of source ports.
 *
 * The event handlers are shared module-level functions (`this` is the socket) and the probe's
 * state hangs off the socket, so a probe allocates no closures.
 */
import { Socket } from "node:net";
import { connect as tlsConnect, type SecureContext } from "node:tls";
import { judgeStatus } from "./http-status";
import type { CompiledCheck } from "./spec";

/** Called exactly once per probe unless the probe was aborted first. */
export type ProbeDone = (ok: boolean, reason: string) => void;

export interface RunningProbe {
  /** Stops the probe without reporting (timeouts and removals are reported by the engine). */
  abort(): void;
}

const PROBE = Symbol("tenbin.probe");

class SocketProbe implements RunningProbe {
  finished = false;
  /** TCP handshake completed (errors before it are "connect …"). */
  connected = false;
  /** TLS handshake completed (HTTPS errors between connect and this are "tls …"). */
  secured = false;
  /** Bytes of the status line received so far, when it arrived in pieces. */
  head: Buffer | undefined = undefined;

  constructor(
    readonly socket: Socket,
    readonly check: CompiledCheck,
    readonly done: ProbeDone,
  ) {}

  abort(): void {
    if (this.finished) return;
    this.finished = true;
    close(this);
  }

  finish(ok: boolean, reason: string): void {
    if (this.finished) return;
    this.finished = true;
    close(this);
    this.done(ok, reason);
  }
}

type ProbeSocket = Socket & { [PROBE]: SocketProbe };

function close(probe: SocketProbe): void {
  const socket = probe.socket;
  // A reset needs an open connection; TLS sockets wrap theirs, so they close normally.
  if (probe.connected && probe.check.type !== "HTTPS" && !socket.destroyed)
    socket.resetAndDestroy();
  else socket.destroy();
}

function onTcpConnect(this: ProbeSocket): void {
  const probe = this[PROBE];
  probe.connected = true;
  probe.finish(true, "connected");
}

function onHttpConnect(this: ProbeSocket): void {
  const probe = this[PROBE];
  probe.connected = true;
  this.write(probe.check.request!);
}

function onTlsTcpConnect(this: ProbeSocket): void {
  this[PROBE].connected = true;
}

function onSecureConnect(this: ProbeSocket): void {
  const probe = this[PROBE];
  probe.connected = true;
  probe.secured = true;
  this.write(probe.check.request!);
}

function onError(this: ProbeSocket, error: NodeJS.ErrnoException): void {
  const probe = this[PROBE];
  const code = error.code ?? error.message;
  let phase: string;
  if (!probe.connected) phase = "connect";
  else if (probe.check.type === "HTTPS" && !probe.secured) phase = "tls";
  else phase = "read";
  probe.finish(false, `${phase} ${code}`);
}

function onEnd(this: ProbeSocket): void {
  const probe = this[PROBE];
  probe.finish(
    false,
    probe.check.type === "TCP" ? "connection closed" : "connection closed before status line",
  );
}

function onClose(this: ProbeSocket): void {
  // Only reached without a prior end/error when the socket was closed under us.
  this[PROBE].finish(false, "connection closed");
}

function onData(this: ProbeSocket, chunk: Buffer): void {
  const probe = this[PROBE];
  if (probe.finished) return;
  const bytes = probe.head === undefined ? chunk : Buffer.concat([probe.head, chunk]);
  const verdict = judgeStatus(probe.check, bytes);
  if (verdict.complete) probe.finish(verdict.ok, verdict.reason);
  else probe.head = bytes;
}

function attach(socket: Socket, check: CompiledCheck, done: ProbeDone): SocketProbe {
  const probe = new SocketProbe(socket, check, done);
  (socket as ProbeSocket)[PROBE] = probe;
  socket.on("error", onError);
  socket.on("end", onEnd);
  socket.on("close", onClose);
  return probe;
}

/** Starts a TCP or HTTP probe on a net.Socket. */
export function startNetProbe(check: CompiledCheck, done: ProbeDone): RunningProbe {
  const socket = new Socket();
  const probe = attach(socket, check, done);
  socket.setNoDelay(true);
  if (check.type === "TCP") {
    socket.on("connect", onTcpConnect);
  } else {
    socket.on("connect", onHttpConnect);
    socket.on("data", onData);
  }
  socket.connect(check.port, check.address);
  return probe;
}

/** Starts an HTTPS probe with a SecureContext shared by every target of the same trust settings. */
export function startTlsProbe(
  check: CompiledCheck,
  secureContext: SecureContext,
  done: ProbeDone,
): RunningProbe {
  const tls = check.tls!;
  const socket = tlsConnect({
    host: check.address,
    port: check.port,
    servername: tls.servername,
    secureContext,
    rejectUnauthorized: tls.verify,
  });
  const probe = attach(socket, check, done);
  socket.setNoDelay(true);
  socket.on("connect", onTlsTcpConnect);
  socket.on("secureConnect", onSecureConnect);
  socket.on("data", onData);
  return probe;
}
