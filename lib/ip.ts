// IP address and CIDR helpers shared by the console and the server (pure; ipaddr.js parses).
import ipaddr from "ipaddr.js";

export type Family = 4 | 6;

export interface ParsedAddress {
  family: Family;
  /** Canonical text: dotted quad, or RFC 5952 compressed IPv6. */
  text: string;
  value: bigint;
}

const bits = (f: Family) => (f === 4 ? 32 : 128);

function toBigInt(a: ipaddr.IPv4 | ipaddr.IPv6): bigint {
  return a.toByteArray().reduce((acc, b) => (acc << 8n) | BigInt(b), 0n);
}

function fromBigInt(v: bigint, family: Family): string {
  const n = bits(family) / 8;
  const bytes: number[] = [];
  for (let i = n - 1; i >= 0; i--) bytes.push(Number((v >> BigInt(i * 8)) & 0xffn));
  return ipaddr.fromByteArray(bytes).toString();
}

/** Parses a unicast address (no zone, no prefix); IPv4-mapped IPv6 is refused to keep keys unique. */
export function parseAddress(text: string): ParsedAddress | null {
  const t = text.trim();
  if (!ipaddr.isValid(t) || t.includes("%") || t.includes("/")) return null;
  let a: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    // parse() accepts odd IPv4 forms (e.g. "1", "0x1"); require the four-part dotted form.
    if (t.includes(".") && !t.includes(":")) {
      if (!ipaddr.IPv4.isValidFourPartDecimal(t)) return null;
    }
    a = ipaddr.parse(t);
  } catch {
    return null;
  }
  if (a.kind() === "ipv6" && (a as ipaddr.IPv6).isIPv4MappedAddress()) return null;
  const family: Family = a.kind() === "ipv4" ? 4 : 6;
  return { family, text: a.toString(), value: toBigInt(a) };
}

export interface ParsedCidr {
  family: Family;
  /** Canonical "network/prefix" with host bits cleared. */
  text: string;
  network: bigint;
  prefix: number;
  size: bigint;
}

export function parseCidr(text: string): ParsedCidr | null {
  const t = text.trim();
  const slash = t.indexOf("/");
  if (slash < 0) return null;
  const addr = parseAddress(t.slice(0, slash));
  const prefixText = t.slice(slash + 1);
  if (!addr || !/^\d{1,3}$/.test(prefixText)) return null;
  const prefix = Number(prefixText);
  const width = bits(addr.family);
  if (prefix > width) return null;
  const hostBits = BigInt(width - prefix);
  const network = (addr.value >> hostBits) << hostBits;
  return {
    family: addr.family,
    text: `${fromBigInt(network, addr.family)}/${prefix}`,
    network,
    prefix,
    size: 1n << hostBits,
  };
}

export function cidrContains(c: ParsedCidr, a: ParsedAddress): boolean {
  return c.family === a.family && a.value >= c.network && a.value < c.network + c.size;
}

export function cidrsOverlap(a: ParsedCidr, b: ParsedCidr): boolean {
  return a.family === b.family && a.network < b.network + b.size && b.network < a.network + a.size;
}

/**
 * Usable VIP addresses of a pool: every address, except the network and broadcast addresses of
 * IPv4 pools larger than /31 and the subnet-router anycast address of IPv6 pools.
 */
export function usableRange(c: ParsedCidr): { first: bigint; last: bigint; count: bigint } {
  let first = c.network;
  let last = c.network + c.size - 1n;
  if (c.family === 4 && c.prefix < 31) {
    first += 1n;
    last -= 1n;
  } else if (c.family === 6 && c.prefix < 127) {
    first += 1n;
  }
  return { first, last, count: last - first + 1n };
}

export const addressText = fromBigInt;
