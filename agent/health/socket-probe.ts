/**
 * TCP, HTTP and HTTPS probes on raw sockets. No node:http and no undici: a probe writes one
 * prebuilt request and reads only the status line (STACK.md: node:http costs 2x, undici 3.7x
 * and both show false timeouts under bursts).
 *
 * The event handlers are shared module-level functions (`this` is the socket) and the probe's
 * state hangs off the socket, so a probe allocates no closures.
 */
import { Socket } from "node:net";
import { connect as tlsConnect, type SecureContext } from "node:tls";
import type { CompiledCheck } from "./spec";

/** Called exactly once per probe unless the probe was aborted first. */
export type ProbeDone = (ok: boolean, reason: string) => void;

export interface RunningProbe {
  /** Stops the probe without reporting (timeouts and removals are reported by the engine). */
  abort(): void;
}

/** Longest status line we wait for; anything longer is not HTTP. */
const MAX_STATUS_LINE = 1024;

const PROBE = Symbol("tenbin.probe");

class ProbeState implements RunningProbe {
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
    this.socket.destroy();
  }
}

type ProbeSocket = Socket & { [PROBE]: ProbeState };

function finish(socket: ProbeSocket, ok: boolean, reason: string): void {
  const state = socket[PROBE];
  if (state.finished) return;
  state.finished = true;
  socket.destroy();
  state.done(ok, reason);
}

function onTcpConnect(this: ProbeSocket): void {
  this[PROBE].connected = true;
  finish(this, true, "connected");
}

function onHttpConnect(this: ProbeSocket): void {
  const state = this[PROBE];
  state.connected = true;
  this.write(state.check.request!);
}

function onTlsTcpConnect(this: ProbeSocket): void {
  this[PROBE].connected = true;
}

function onSecureConnect(this: ProbeSocket): void {
  const state = this[PROBE];
  state.connected = true;
  state.secured = true;
  this.write(state.check.request!);
}

function onError(this: ProbeSocket, error: NodeJS.ErrnoException): void {
  const state = this[PROBE];
  const code = error.code ?? error.message;
  let phase: string;
  if (!state.connected) phase = "connect";
  else if (state.check.type === "HTTPS" && !state.secured) phase = "tls";
  else phase = "read";
  finish(this, false, `${phase} ${code}`);
}

function onEnd(this: ProbeSocket): void {
  const state = this[PROBE];
  finish(this, false, state.check.type === "TCP" ? "connection closed" : "connection closed before status line");
}

function onClose(this: ProbeSocket): void {
  // Only reached without a prior end/error when the socket was closed under us.
  finish(this, false, "connection closed");
}

/** Printable excerpt of what the server sent, for the failure reason. */
function excerpt(bytes: Buffer): string {
  return bytes.subarray(0, 40).toString("latin1").replace(/[^\x20-\x7e]/g, "?");
}

/** Parses "HTTP/1.x NNN …"; returns the code, -1 when malformed, 0 when more bytes are needed. */
function statusCode(bytes: Buffer): number {
  const lineEnd = bytes.indexOf(10);
  if (bytes.length < 12 && lineEnd === -1) return 0;
  // "HTTP/1.1 200" : the code sits at bytes 9..11.
  if (
    bytes[0] !== 0x48 || bytes[1] !== 0x54 || bytes[2] !== 0x54 || bytes[3] !== 0x50 || bytes[4] !== 0x2f ||
    bytes[8] !== 0x20
  ) {
    return -1;
  }
  let code = 0;
  for (let i = 9; i < 12; i++) {
    const digit = (bytes[i] ?? 0) - 0x30;
    if (digit < 0 || digit > 9) return -1;
    code = code * 10 + digit;
  }
  const after = bytes[12];
  if (after !== undefined && after !== 0x20 && after !== 0x0d && after !== 0x0a) return -1;
  return code;
}

function onData(this: ProbeSocket, chunk: Buffer): void {
  const state = this[PROBE];
  if (state.finished) return;
  const bytes = state.head === undefined ? chunk : Buffer.concat([state.head, chunk]);
  const code = statusCode(bytes);
  if (code === 0) {
    if (bytes.length > MAX_STATUS_LINE) finish(this, false, `malformed status line "${excerpt(bytes)}"`);
    else state.head = bytes;
    return;
  }
  if (code < 0) {
    finish(this, false, `malformed status line "${excerpt(bytes)}"`);
    return;
  }
  const expected = state.check.expected!;
  if (expected.matches(code)) finish(this, true, `HTTP ${code}`);
  else finish(this, false, `HTTP ${code} (expected ${expected.text})`);
}

function attach(socket: Socket, check: CompiledCheck, done: ProbeDone): ProbeState {
  const state = new ProbeState(socket, check, done);
  (socket as ProbeSocket)[PROBE] = state;
  socket.on("error", onError);
  socket.on("end", onEnd);
  socket.on("close", onClose);
  return state;
}

/** Starts a TCP or HTTP probe. */
export function startPlainProbe(check: CompiledCheck, done: ProbeDone): RunningProbe {
  const socket = new Socket();
  const state = attach(socket, check, done);
  socket.setNoDelay(true);
  if (check.type === "TCP") {
    socket.on("connect", onTcpConnect);
  } else {
    socket.on("connect", onHttpConnect);
    socket.on("data", onData);
  }
  socket.connect(check.port, check.address);
  return state;
}

/** Starts an HTTPS probe with a SecureContext shared by every target of the same trust settings. */
export function startTlsProbe(check: CompiledCheck, secureContext: SecureContext, done: ProbeDone): RunningProbe {
  const tls = check.tls!;
  const socket = tlsConnect({
    host: check.address,
    port: check.port,
    servername: tls.servername,
    secureContext,
    rejectUnauthorized: tls.verify,
  });
  const state = attach(socket, check, done);
  socket.setNoDelay(true);
  socket.on("connect", onTlsTcpConnect);
  socket.on("secureConnect", onSecureConnect);
  socket.on("data", onData);
  return state;
}
