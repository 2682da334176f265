/**
 * TCP and HTTP probes straight on libuv TCP handles (Node's `tcp_wrap` binding, the layer under
 * net.Socket). A probe needs no stream machinery: connect, write one prebuilt request, read the
 * first bytes, reset. Skipping net.Socket's streams halves the user-space CPU of a probe, which
 * matters at 14,000 probes a second.
 *
 * The binding is internal to Node. `loadNativeTransport()` checks its shape and returns null when
 * it is missing or different, and the engine then falls back to net.Socket (socket-probe.ts),
 * which behaves identically (the tests run every behaviour on both).
 */
import { getSystemErrorName } from "node:util";
import { judgeStatus } from "./http-status";
import type { ProbeDone, RunningProbe } from "./socket-probe";
import type { CompiledCheck } from "./spec";

interface TcpHandle {
  connect(request: ConnectRequest, address: string, port: number): number;
  connect6(request: ConnectRequest, address: string, port: number): number;
  readStart(): number;
  writeBuffer(request: WriteRequest, data: Uint8Array): number;
  reset(): number;
  close(): void;
  onread: (this: TcpHandle, buffer: ArrayBuffer | undefined) => void;
  probe: NativeProbe | undefined;
}
interface ConnectRequest {
  oncomplete: (status: number, handle: TcpHandle) => void;
  address: string;
  port: number;
  localAddress: string;
  localPort: number;
}
interface WriteRequest {
  handle: TcpHandle;
  oncomplete: (status: number, handle: TcpHandle) => void;
  async: boolean;
}
interface Bindings {
  TCP: new (type: number) => TcpHandle;
  TCPConnectWrap: new () => ConnectRequest;
  WriteWrap: new () => WriteRequest;
  socketType: number;
  streamState: Int32Array;
  kReadBytesOrError: number;
  kArrayBufferOffset: number;
}

const UV_EOF = -4095;

let bindings: Bindings | null | undefined;

function load(): Bindings | null {
  try {
    const binding = (process as unknown as { binding(name: string): Record<string, unknown> })
      .binding;
    const tcp = binding("tcp_wrap") as {
      TCP?: Bindings["TCP"];
      TCPConnectWrap?: Bindings["TCPConnectWrap"];
      constants?: { SOCKET?: number };
    };
    const stream = binding("stream_wrap") as {
      WriteWrap?: Bindings["WriteWrap"];
      streamBaseState?: Int32Array;
      kReadBytesOrError?: number;
      kArrayBufferOffset?: number;
    };
    const proto = tcp.TCP?.prototype as Partial<TcpHandle> | undefined;
    if (
      typeof tcp.TCP !== "function" ||
      typeof tcp.TCPConnectWrap !== "function" ||
      typeof tcp.constants?.SOCKET !== "number" ||
      typeof stream.WriteWrap !== "function" ||
      !(stream.streamBaseState instanceof Int32Array) ||
      typeof stream.kReadBytesOrError !== "number" ||
      typeof stream.kArrayBufferOffset !== "number" ||
      typeof proto?.connect !== "function" ||
      typeof proto.connect6 !== "function" ||
      typeof proto.reset !== "function" ||
      typeof proto.readStart !== "function" ||
      typeof proto.writeBuffer !== "function"
    ) {
      return null;
    }
    return {
      TCP: tcp.TCP,
      TCPConnectWrap: tcp.TCPConnectWrap,
      WriteWrap: stream.WriteWrap,
      socketType: tcp.constants.SOCKET,
      streamState: stream.streamBaseState,
      kReadBytesOrError: stream.kReadBytesOrError,
      kArrayBufferOffset: stream.kArrayBufferOffset,
    };
  } catch {
    return null;
  }
}

function errorName(status: number): string {
  try {
    return getSystemErrorName(status);
  } catch {
    return `error ${status}`;
  }
}

class NativeProbe implements RunningProbe {
  finished = false;
  connected = false;
  head: Buffer | undefined = undefined;

  constructor(
    readonly handle: TcpHandle,
    readonly check: CompiledCheck,
    readonly done: ProbeDone,
  ) {}

  abort(): void {
    if (this.finished) return;
    this.finished = true;
    this.release();
  }

  finish(ok: boolean, reason: string): void {
    if (this.finished) return;
    this.finished = true;
    this.release();
    this.done(ok, reason);
  }

  private release(): void {
    const handle = this.handle;
    handle.probe = undefined;
    // Reset (SO_LINGER 0) an established connection: no TIME_WAIT left behind per probe.
    if (!this.connected || handle.reset() !== 0) handle.close();
  }
}

function noop(): void {}

function afterConnect(status: number, handle: TcpHandle): void {
  const probe = handle.probe;
  if (probe === undefined || probe.finished) return;
  if (status < 0) {
    probe.finish(false, `connect ${errorName(status)}`);
    return;
  }
  probe.connected = true;
  if (probe.check.type === "TCP") {
    probe.finish(true, "connected");
    return;
  }
  const b = bindings!;
  const write = new b.WriteWrap();
  write.handle = handle;
  write.oncomplete = noop;
  write.async = false;
  const writeStatus = handle.writeBuffer(write, probe.check.request!);
  if (writeStatus !== 0) {
    probe.finish(false, `write ${errorName(writeStatus)}`);
    return;
  }
  const readStatus = handle.readStart();
  if (readStatus !== 0) probe.finish(false, `read ${errorName(readStatus)}`);
}

function onRead(this: TcpHandle, buffer: ArrayBuffer | undefined): void {
  const probe = this.probe;
  if (probe === undefined || probe.finished) return;
  const b = bindings!;
  const nread = b.streamState[b.kReadBytesOrError]!;
  if (nread === 0) return;
  if (nread < 0) {
    probe.finish(
      false,
      nread === UV_EOF ? "connection closed before status line" : `read ${errorName(nread)}`,
    );
    return;
  }
  const chunk = Buffer.from(buffer!, b.streamState[b.kArrayBufferOffset]!, nread);
  const bytes = probe.head === undefined ? chunk : Buffer.concat([probe.head, chunk]);
  const verdict = judgeStatus(probe.check, bytes);
  if (verdict.complete) probe.finish(verdict.ok, verdict.reason);
  else probe.head = Buffer.from(bytes); // copy: the read buffer is not ours to keep
}

/** Returns the native starter, or null when this Node has no usable tcp_wrap binding. */
export function loadNativeTransport():
  ((check: CompiledCheck, done: ProbeDone) => RunningProbe) | null {
  if (bindings === undefined) bindings = load();
  return bindings === null ? null : startNativeProbe;
}

/** Starts a TCP or HTTP probe on a bare TCP handle. */
function startNativeProbe(check: CompiledCheck, done: ProbeDone): RunningProbe {
  const b = bindings!;
  const handle = new b.TCP(b.socketType);
  const probe = new NativeProbe(handle, check, done);
  handle.probe = probe;
  handle.onread = onRead;
  const request = new b.TCPConnectWrap();
  request.oncomplete = afterConnect;
  request.address = check.address;
  request.port = check.port;
  request.localAddress = "";
  request.localPort = 0;
  const status =
    check.family === 6
      ? handle.connect6(request, check.address, check.port)
      : handle.connect(request, check.address, check.port);
  if (status !== 0) {
    // Report asynchronously like every other outcome.
    process.nextTick(() => probe.finish(false, `connect ${errorName(status)}`));
  }
  return probe;
}
