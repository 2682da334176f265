/**
 * Validation of health targets and their compilation into what a probe needs at run time
 * (the request bytes are built once per target, not once per probe).
 */
import { isIP } from "node:net";
import { parseExpectedCodes, type ExpectedCodes } from "./expected-codes";
import type { HealthTarget, MonitorType } from "./types";

export interface CompiledCheck {
  type: MonitorType;
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
  /** Everything that defines what is probed; equal identity means the old verdict still applies. */
  identity: string;
  /** Everything else (schedule and thresholds). */
  timing: string;
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
  if (typeof target.key !== "string" || target.key === "") throw new Error("key must be a non-empty string");
  if (isIP(target.address) === 0) throw new Error(`address "${target.address}" is not an IPv4 or IPv6 literal`);
  if (monitor === undefined || monitor === null) throw new Error("monitor is missing");
  const type = monitor.type;
  if (type !== "TCP" && type !== "HTTP" && type !== "HTTPS" && type !== "ICMP") {
    throw new Error(`monitor type "${String(type)}" is not one of TCP, HTTP, HTTPS, ICMP`);
  }
  if (type !== "ICMP" && !isInt(target.port, 1, 65535)) throw new Error(`port ${target.port} is not in 1-65535`);
  if (!isInt(monitor.intervalMs, MIN_INTERVAL_MS, MAX_INTERVAL_MS)) {
    throw new Error(`intervalMs ${monitor.intervalMs} is not an integer in ${MIN_INTERVAL_MS}-${MAX_INTERVAL_MS}`);
  }
  if (!isInt(monitor.timeoutMs, 1, monitor.intervalMs - 1)) {
    throw new Error(`timeoutMs ${monitor.timeoutMs} must be an integer >= 1 and below intervalMs ${monitor.intervalMs}`);
  }
  if (!isInt(monitor.rise, 1, MAX_RISE_FALL)) throw new Error(`rise ${monitor.rise} is not in 1-${MAX_RISE_FALL}`);
  if (!isInt(monitor.fall, 1, MAX_RISE_FALL)) throw new Error(`fall ${monitor.fall} is not in 1-${MAX_RISE_FALL}`);

  const check: CompiledCheck = {
    type,
    address: target.address,
    family: isIP(target.address) === 6 ? 6 : 4,
    port: type === "ICMP" ? 0 : target.port,
    intervalMs: monitor.intervalMs,
    timeoutMs: monitor.timeoutMs,
    rise: monitor.rise,
    fall: monitor.fall,
    identity: "",
    timing: `${monitor.intervalMs}/${monitor.timeoutMs}/${monitor.rise}/${monitor.fall}`,
  };

  if (type === "HTTP" || type === "HTTPS") {
    const http = monitor.http;
    if (http === undefined) throw new Error(`${type} monitor needs http settings (method, path, expectedCodes)`);
    if (http.method !== "GET" && http.method !== "HEAD" && http.method !== "OPTIONS") {
      throw new Error(`http method "${String(http.method)}" is not one of GET, HEAD, OPTIONS`);
    }
    if (typeof http.path !== "string" || !http.path.startsWith("/") || !HEADER_SAFE.test(http.path)) {
      throw new Error(`http path "${String(http.path)}" must start with "/" and hold no spaces or control characters`);
    }
    if (http.host !== undefined && (typeof http.host !== "string" || !HEADER_SAFE.test(http.host))) {
      throw new Error(`http host "${String(http.host)}" must be non-empty with no spaces or control characters`);
    }
    check.expected = parseExpectedCodes(http.expectedCodes);
    check.request = Buffer.from(
      `${http.method} ${http.path} HTTP/1.1\r\nHost: ${hostHeader(target)}\r\n` +
        `User-Agent: tenbin-health\r\nAccept: */*\r\nConnection: close\r\n\r\n`,
      "latin1",
    );
  }
  if (type === "HTTPS") {
    const tls = monitor.tls ?? {};
    if (tls.sni !== undefined && (typeof tls.sni !== "string" || isIP(tls.sni) !== 0 || !HEADER_SAFE.test(tls.sni))) {
      throw new Error(`tls sni "${String(tls.sni)}" must be a host name (not an IP literal)`);
    }
    if (tls.ca !== undefined && (typeof tls.ca !== "string" || !tls.ca.includes("-----BEGIN CERTIFICATE-----"))) {
      throw new Error("tls ca must be a PEM bundle of certificates");
    }
    check.tls = { servername: tls.sni, verify: tls.verify === true, ca: tls.ca };
  }
  check.identity = JSON.stringify([
    type,
    check.address,
    check.port,
    type === "HTTP" || type === "HTTPS" ? [check.request?.toString("latin1"), check.expected?.text] : null,
    check.tls ?? null,
  ]);
  return check;
}
