/** Reading the HTTP status line of a probe's answer, shared by every transport. */
import type { CompiledCheck } from "./spec";

/** Longest status line we wait for; anything longer is not HTTP. */
export const MAX_STATUS_LINE = 1024;

/** Parses "HTTP/1.x NNN …"; returns the code, -1 when malformed, 0 when more bytes are needed. */
export function statusCode(bytes: Uint8Array): number {
  if (bytes.length < 13 && bytes.indexOf(10) === -1) return 0;
  // "HTTP/1.1 200 " : the code sits at bytes 9..11.
  if (
    bytes[0] !== 0x48 ||
    bytes[1] !== 0x54 ||
    bytes[2] !== 0x54 ||
    bytes[3] !== 0x50 ||
    bytes[4] !== 0x2f ||
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

/** Printable excerpt of what the server sent, for a failure reason. */
export function excerpt(bytes: Uint8Array): string {
  return Buffer.from(bytes.subarray(0, 40))
    .toString("latin1")
    .replace(/[^\x20-\x7e]/g, "?");
}

export interface StatusVerdict {
  /** false: wait for more bytes (`bytes` holds an incomplete status line). */
  complete: boolean;
  ok: boolean;
  reason: string;
}

const INCOMPLETE: StatusVerdict = { complete: false, ok: false, reason: "" };

/** Judges the bytes received so far against the check's expected codes. */
export function judgeStatus(check: CompiledCheck, bytes: Uint8Array): StatusVerdict {
  const code = statusCode(bytes);
  if (code === 0) {
    if (bytes.length <= MAX_STATUS_LINE) return INCOMPLETE;
    return { complete: true, ok: false, reason: `malformed status line "${excerpt(bytes)}"` };
  }
  if (code < 0)
    return { complete: true, ok: false, reason: `malformed status line "${excerpt(bytes)}"` };
  const expected = check.expected!;
  return expected.matches(code)
    ? { complete: true, ok: true, reason: `HTTP ${code}` }
    : { complete: true, ok: false, reason: `HTTP ${code} (expected ${expected.text})` };
}
