/**
 * Validation of health targets and their compilation into what a probe needs at run time
 * (the request bytes are built once per target, not once per probe).
 */
import { isIP } from "node:net";
import { parseExpectedCodes, type ExpectedCodes } from "./expected-codes";
import type { HealthTarget, HttpCheckSpec, MonitorType, TlsCheckSpec } from "./types";

export interface CompiledCheck {
  type: MonitorType;
  /** The HTTP and TLS settings as given (compared on the next setTargets). */
  http: HttpCheckSpec | undefined;
  tlsSpec: TlsCheckSpec | undefined;
  address: string;
  family: 4 | 6;
  port: number;
  intervalMs: number;
  timeoutMs: number;
  rise: number;
  fall: number;
  /** HTTP/HTTPS: the whole request, ready to write. */
  request?: Buffer;
  /** HTTP/HTTPS: status codes that count as healthy. */
  expected?: ExpectedCodes;
  /** HTTPS only. */
  tls?: { servername?: string; verify: boolean; ca?: string };
}

/** How a desired target differs from the running one. */
export type Change = "none" | "timing" | "probe";

/**
 * Compares field by field, without allocating: at 140,000 targets a full resync that changes
 * nothing must be cheap. "probe": what is probed changed (the old verdict may not apply);
 * "timing": only interval, timeout, rise or fall.
 */
export function compareTarget(check: CompiledCheck, target: HealthTarget): Change {
  const monitor = target.monitor;
  if (typeof monitor !== "object" || monitor === null) return "probe";
  if (
    monitor.type !== check.type ||
    target.address !== check.address ||
    (check.type !== "ICMP" && target.port !== check.port) ||
    ((check.type === "HTTP" || check.type === "HTTPS") && !sameHttp(check.http, monitor.http)) ||
    (check.type === "HTTPS" && !sameTls(check.tlsSpec, monitor.tls))
  ) {
    return "probe";
  }
  if (
    monitor.intervalMs !== check.intervalMs ||
    monitor.timeoutMs !== check.timeoutMs ||
    monitor.rise !== check.rise ||
    monitor.fall !== check.fall
  ) {
    return "timing";
  }
  return "none";
}

function sameHttp(a: HttpCheckSpec | undefined, b: HttpCheckSpec | undefined): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined) return false;
  return (
    a.method === b.method &&
    a.path === b.path &&
    a.host === b.host &&
    a.expectedCodes === b.expectedCodes
  );
}

function sameTls(a: TlsCheckSpec | undefined, b: TlsCheckSpec | undefined): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined) return false;
  return a.sni === b.sni && a.verify === b.verify && a.ca === b.ca;
}

// Many targets share a monitor: parse each expression and build each request once.
const expectedCodesCache = new Map<string, ExpectedCodes>();
const requestCache = new Map<string, Buffer>();
const CACHE_LIMIT = 10_000;

function cachedExpectedCodes(expression: string): ExpectedCodes {
  let codes = expectedCodesCache.get(expression);
  if (codes === undefined) {
    codes = parseExpectedCodes(expression);
    if (expectedCodesCache.size >= CACHE_LIMIT) expectedCodesCache.clear();
    expectedCodesCache.set(expression, codes);
  }
  return codes;
}

function cachedRequest(text: string): Buffer {
  let request = requestCache.get(text);
  if (request === undefined) {
    request = Buffer.from(text, "latin1");
    if (requestCache.size >= CACHE_LIMIT) requestCache.clear();
    requestCache.set(text, request);
  }
  return request;
}

const MIN_INTERVAL_MS = 10;
const MAX_INTERVAL_MS = 3_600_000;
const MAX_RISE_FALL = 100;
// A token of visible ASCII without spaces: keeps a path or host from smuggling headers.
const HEADER_SAFE = /^[\x21-\x7e]+$/;

function defaultPort(type: MonitorType): number {
  return type === "HTTPS" ? 443 : 80;
}

/** The Host header value: brackets around IPv6 literals, the port unless it is the default. */
function hostHeader(target: HealthTarget): string {
  const http = target.monitor.http;
  if (http?.host !== undefined) return http.host;
  const host = isIP(target.address) === 6 ? `[${target.address}]` : target.address;
  return target.port === defaultPort(target.monitor.type) ? host : `${host}:${target.port}`;
}

function isInt(value: unknown, min: number, max: number): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= min && value <= max;
}

/** Validates one target; returns the compiled check or throws an Error with a readable message. */
export function compileTarget(target: HealthTarget): CompiledCheck {
  const { monitor } = target;
  if (typeof target.key !== "string" || target.key === "")
    throw new Error("key must be a non-empty string");
  if (isIP(target.address) === 0)
    throw new Error(`address "${target.address}" is not an IPv4 or IPv6 literal`);
  if (monitor === undefined || monitor === null) throw new Error("monitor is missing");
  const type = monitor.type;
  if (type !== "TCP" && type !== "HTTP" && type !== "HTTPS" && type !== "ICMP") {
    throw new Error(`monitor type "${String(type)}" is not one of TCP, HTTP, HTTPS, ICMP`);
  }
  if (type !== "ICMP" && !isInt(target.port, 1, 65535))
    throw new Error(`port ${target.port} is not in 1-65535`);
  if (!isInt(monitor.intervalMs, MIN_INTERVAL_MS, MAX_INTERVAL_MS)) {
    throw new Error(
      `intervalMs ${monitor.intervalMs} is not an integer in ${MIN_INTERVAL_MS}-${MAX_INTERVAL_MS}`,
    );
  }
  if (!isInt(monitor.timeoutMs, 1, monitor.intervalMs - 1)) {
    throw new Error(
      `timeoutMs ${monitor.timeoutMs} must be an integer >= 1 and below intervalMs ${monitor.intervalMs}`,
    );
  }
  if (!isInt(monitor.rise, 1, MAX_RISE_FALL))
    throw new Error(`rise ${monitor.rise} is not in 1-${MAX_RISE_FALL}`);
  if (!isInt(monitor.fall, 1, MAX_RISE_FALL))
    throw new Error(`fall ${monitor.fall} is not in 1-${MAX_RISE_FALL}`);

  const check: CompiledCheck = {
    type,
    http: undefined,
    tlsSpec: undefined,
    address: target.address,
    family: isIP(target.address) === 6 ? 6 : 4,
    port: type === "ICMP" ? 0 : target.port,
    intervalMs: monitor.intervalMs,
    timeoutMs: monitor.timeoutMs,
    rise: monitor.rise,
    fall: monitor.fall,
  };

  if (type === "HTTP" || type === "HTTPS") {
    const http = monitor.http;
    if (http === undefined)
      throw new Error(`${type} monitor needs http settings (method, path, expectedCodes)`);
    if (http.method !== "GET" && http.method !== "HEAD" && http.method !== "OPTIONS") {
      throw new Error(`http method "${String(http.method)}" is not one of GET, HEAD, OPTIONS`);
    }
    if (
      typeof http.path !== "string" ||
      !http.path.startsWith("/") ||
      !HEADER_SAFE.test(http.path)
    ) {
      throw new Error(
        `http path "${String(http.path)}" must start with "/" and hold no spaces or control characters`,
      );
    }
    if (
      http.host !== undefined &&
      (typeof http.host !== "string" || !HEADER_SAFE.test(http.host))
    ) {
      throw new Error(
        `http host "${String(http.host)}" must be non-empty with no spaces or control characters`,
      );
    }
    if (typeof http.expectedCodes !== "string")
      throw new Error('http expectedCodes must be a string such as "200-299"');
    check.expected = cachedExpectedCodes(http.expectedCodes);
    check.request = cachedRequest(
      `${http.method} ${http.path} HTTP/1.1\r\nHost: ${hostHeader(target)}\r\n` +
        `User-Agent: tenbin-health\r\nAccept: */*\r\nConnection: close\r\n\r\n`,
    );
    check.http = {
      method: http.method,
      path: http.path,
      host: http.host,
      expectedCodes: http.expectedCodes,
    };
  }
  if (type === "HTTPS") {
    const tls = monitor.tls ?? {};
    if (
      tls.sni !== undefined &&
      (typeof tls.sni !== "string" || isIP(tls.sni) !== 0 || !HEADER_SAFE.test(tls.sni))
    ) {
      throw new Error(`tls sni "${String(tls.sni)}" must be a host name (not an IP literal)`);
    }
    if (
      tls.ca !== undefined &&
      (typeof tls.ca !== "string" || !tls.ca.includes("-----BEGIN CERTIFICATE-----"))
    ) {
      throw new Error("tls ca must be a PEM bundle of certificates");
    }
    check.tls = { servername: tls.sni, verify: tls.verify === true, ca: tls.ca };
    check.tlsSpec =
      monitor.tls === undefined ? undefined : { sni: tls.sni, verify: tls.verify, ca: tls.ca };
  }
  return check;
}
