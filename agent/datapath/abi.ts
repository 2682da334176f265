// Codecs mirroring bpf/include/tb_abi.h and tb_consts.h. LAYOUTS is the single description of
// every struct's size and field offsets; abi.test.ts compiles a C program against the headers
// and compares. Byte order: addresses and ports big-endian (network), everything else
// little-endian (host; Tenbin runs on little-endian machines only).
import net from "node:net";

export const TB_MAGLEV_SIZE = 13313;
export const TB_NO_BACKEND = 0xffffffff;
export const TB_MAX_LISTENERS = 4096;
export const TB_MAX_BACKENDS = 65536;
export const TB_MAX_VIPS = 8192;
export const TB_MAX_CIDRS = 65536;
export const TB_CONN4_PER_CPU = 1 << 20;
export const TB_CONN6_PER_CPU = 1 << 18;
export const TB_MAX_RANGES_PER_VIP = 8;
export const TB_VIP_FILTER_BITS_LOG2 = 16;
export const TB_VIP_FILTER_WORDS = (1 << TB_VIP_FILTER_BITS_LOG2) / 64;
export const TB_OUTER_TTL = 64;
export const TB_HASH_SEED = 0x7e4b1a2d;

export const LISTENER_F_ACTIVE = 0x1;
export const LISTENER_F_SRC_AFFINITY = 0x2;
export const LISTENER_F_CIDR_FILTER = 0x4;
export const FAMILY_NONE = 0;
export const FAMILY_V4 = 4;
export const FAMILY_V6 = 6;
export const CFG_F_USE_FIB = 0x1;
export const CFG_F_FALLBACK = 0x2;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;

/** enum tb_global_counter, in order (tb_stats_glb_v2). */
export const GLOBAL_COUNTERS = [
  "pass",
  "tx",
  "cacheHit",
  "fibFallback",
  "fibCached",
  "redirect",
  "cacheMiss",
  "fibOk",
  "drop",
  "floodEnter",
  "floodStateless",
  "malformed",
  "dropUnclassifiable",
] as const;
/** The same counters in the order of the pinned map of the previous layout (tb_stats_glb). */
export const GLOBAL_COUNTERS_V1: readonly GlobalCounter[] = [
  "pass",
  "drop",
  "tx",
  "redirect",
  "cacheHit",
  "cacheMiss",
  "floodEnter",
  "floodStateless",
  "fibOk",
  "fibFallback",
  "malformed",
  "dropUnclassifiable",
  "fibCached",
];
export type GlobalCounter = (typeof GLOBAL_COUNTERS)[number];
export const TB_G_COUNTERS = 16;

export const LISTENER_COUNTERS = [
  "packets",
  "bytes",
  "newFlows",
  "dropDenied",
  "dropNoBackend",
  "dropEncap",
  "dropNoRoute",
] as const;
export type ListenerCounter = (typeof LISTENER_COUNTERS)[number];

/** Struct sizes and field offsets, checked against the C header by abi.test.ts. */
export const LAYOUTS = {
  tb_listen_key4: { size: 8, fields: { vip: 0, port: 4, proto: 6 } },
  tb_listen_key6: { size: 20, fields: { vip: 0, port: 16, proto: 18 } },
  tb_port_range: { size: 12, fields: { first: 0, last: 2, proto: 4, listener_id: 8 } },
  tb_vip: { size: 8 + 12 * TB_MAX_RANGES_PER_VIP, fields: { n_ranges: 0, ranges: 8 } },
  tb_vip_filter: { size: 8 * TB_VIP_FILTER_WORDS, fields: { bits: 0 } },
  tb_listener: { size: 8, fields: { flags: 0, gen: 2, table_sel: 4 } },
  tb_cidr_key4: { size: 12, fields: { prefixlen: 0, listener_id: 4, addr: 8 } },
  tb_cidr_key6: { size: 24, fields: { prefixlen: 0, listener_id: 4, addr: 8 } },
  tb_maglev_table: { size: 4 * TB_MAGLEV_SIZE, fields: { backend: 0 } },
  tb_backend: { size: 20, fields: { addr: 0, family: 16 } },
  tb_flow4: { size: 16, fields: { src: 0, dst: 4, sport: 8, dport: 10, proto: 12 } },
  tb_flow6: { size: 40, fields: { src: 0, dst: 16, sport: 32, dport: 34, proto: 36 } },
  tb_conn: { size: 8, fields: { backend_id: 0, listener_id: 4, gen: 6 } },
  tb_config: {
    size: 64,
    fields: {
      node_v4: 0,
      node_v6: 4,
      flags: 20,
      fallback_ifindex: 24,
      fallback_dmac: 28,
      fallback_smac: 34,
      flood_window_ns: 40,
      flood_cooldown_ns: 48,
      flood_threshold: 56,
      nh_ttl_ms: 60,
      nh_gen: 62,
    },
  },
  tb_nexthop: {
    size: 48,
    fields: {
      addr: 0,
      mac: 16,
      ifindex: 28,
      ingress_ifindex: 32,
      cfg_gen: 36,
      expires_ns: 40,
    },
  },
  tb_flood_state: {
    size: 24,
    fields: { window_start_ns: 0, flood_until_ns: 8, window_count: 16, in_flood: 20 },
  },
  tb_listener_stats: {
    size: 64,
    fields: {
      packets: 0,
      bytes: 8,
      new_flows: 16,
      drop_denied: 24,
      drop_no_backend: 32,
      drop_encap: 40,
      drop_no_route: 48,
    },
  },
  tb_backend_stats: { size: 16, fields: { packets: 0, bytes: 8 } },
  tb_global_stats: { size: 8 * TB_G_COUNTERS, fields: { c: 0 } },
} as const;

// ---- addresses ---------------------------------------------------------------------------

export type Family = 4 | 6;

/** 16 bytes; IPv4 in the first 4 (the ABI's convention for tb_backend.addr). */
export function addrBytes(address: string): { family: Family; bytes: Buffer } {
  const family = net.isIP(address);
  if (family === 4) {
    const b = Buffer.alloc(16);
    address.split(".").forEach((o, i) => (b[i] = Number(o)));
    return { family: 4, bytes: b };
  }
  if (family === 6) return { family: 6, bytes: ipv6Bytes(address) };
  throw new Error(`not an IP address: ${address}`);
}

function ipv6Bytes(address: string): Buffer {
  let text = address;
  const out = Buffer.alloc(16);
  // embedded IPv4 tail (::ffff:1.2.3.4)
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4?.[1]) {
    const o = v4[1].split(".").map(Number);
    text =
      text.slice(0, -v4[1].length) +
      `${((o[0]! << 8) | o[1]!).toString(16)}:${((o[2]! << 8) | o[3]!).toString(16)}`;
  }
  const [head, tail] = text.includes("::") ? text.split("::") : [text, undefined];
  const h = head ? head.split(":") : [];
  const t = tail !== undefined && tail !== "" ? tail.split(":") : [];
  const groups =
    tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill("0"), ...t];
  if (groups.length !== 8) throw new Error(`not an IPv6 address: ${address}`);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

export function formatAddr(family: Family, bytes: Buffer): string {
  if (family === 4) return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(i).toString(16));
  // compress the longest run of zero groups
  let best = -1,
    bestLen = 0;
  for (let i = 0; i < 8;) {
    if (groups[i] !== "0") {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === "0") j++;
    if (j - i > bestLen && j - i > 1) [best, bestLen] = [i, j - i];
    i = j;
  }
  if (best < 0) return groups.join(":");
  return `${groups.slice(0, best).join(":")}::${groups.slice(best + bestLen).join(":")}`;
}

export function parseCidr(cidr: string): { family: Family; bytes: Buffer; prefix: number } {
  const [addr, len] = cidr.split("/");
  const { family, bytes } = addrBytes(addr ?? "");
  const max = family === 4 ? 32 : 128;
  const prefix = len === undefined ? max : Number(len);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > max) throw new Error(`bad CIDR ${cidr}`);
  return { family, bytes, prefix };
}

// ---- keys and values ---------------------------------------------------------------------

export function listenKey4(vip: Buffer, port: number, proto: number): Buffer {
  const b = Buffer.alloc(8);
  vip.copy(b, 0, 0, 4);
  b.writeUInt16BE(port, 4);
  b[6] = proto;
  return b;
}

export function listenKey6(vip: Buffer, port: number, proto: number): Buffer {
  const b = Buffer.alloc(20);
  vip.copy(b, 0, 0, 16);
  b.writeUInt16BE(port, 16);
  b[18] = proto;
  return b;
}

export function decodeListenKey(
  family: Family,
  b: Buffer,
): { vip: Buffer; port: number; proto: number } {
  if (family === 4) {
    const vip = Buffer.alloc(16);
    b.copy(vip, 0, 0, 4);
    return { vip, port: b.readUInt16BE(4), proto: b[6]! };
  }
  return { vip: Buffer.from(b.subarray(0, 16)), port: b.readUInt16BE(16), proto: b[18]! };
}

export interface PortRange {
  first: number;
  last: number;
  proto: number;
  listenerId: number;
}

export function encodeVip(ranges: readonly PortRange[]): Buffer {
  if (ranges.length > TB_MAX_RANGES_PER_VIP) {
    throw new Error(`at most ${TB_MAX_RANGES_PER_VIP} port-range listeners per VIP`);
  }
  const b = Buffer.alloc(LAYOUTS.tb_vip.size);
  b.writeUInt32LE(ranges.length, 0);
  ranges.forEach((r, i) => {
    const o = 8 + i * 12;
    b.writeUInt16LE(r.first, o);
    b.writeUInt16LE(r.last, o + 2);
    b[o + 4] = r.proto;
    b.writeUInt32LE(r.listenerId, o + 8);
  });
  return b;
}

export function decodeVip(b: Buffer): PortRange[] {
  const n = Math.min(b.readUInt32LE(0), TB_MAX_RANGES_PER_VIP);
  const out: PortRange[] = [];
  for (let i = 0; i < n; i++) {
    const o = 8 + i * 12;
    out.push({
      first: b.readUInt16LE(o),
      last: b.readUInt16LE(o + 2),
      proto: b[o + 4]!,
      listenerId: b.readUInt32LE(o + 8),
    });
  }
  return out;
}

export function vipKey(family: Family, addr: Buffer): Buffer {
  return Buffer.from(addr.subarray(0, family === 4 ? 4 : 16));
}

/** The VIP pre-filter bit of an address (tb_vip_filter_bit in tb_hash.h). */
export function vipFilterBit(family: Family, addr: Buffer): number {
  let folded = addr.readUInt32LE(0);
  if (family === 6)
    folded = (folded ^ addr.readUInt32LE(4) ^ addr.readUInt32LE(8) ^ addr.readUInt32LE(12)) >>> 0;
  return Math.imul(folded, 0x9e3779b1) >>> (32 - TB_VIP_FILTER_BITS_LOG2);
}

/** The whole pre-filter for a set of VIP addresses. */
export function encodeVipFilter(vips: ReadonlyArray<{ family: Family; addr: Buffer }>): Buffer {
  const b = Buffer.alloc(8 * TB_VIP_FILTER_WORDS);
  for (const v of vips) {
    const bit = vipFilterBit(v.family, v.addr);
    b[bit >> 3] = b[bit >> 3]! | (1 << (bit & 7)); // little-endian u64 words: bit i is in byte i/8
  }
  return b;
}

/**
 * tb_listener (tb_listeners_v2): `gen` (u16) tells a listener from earlier holders of the same
 * id; `tableSel` (0/1) is the active Maglev buffer.
 */
export function encodeListener(flags: number, gen: number, tableSel: number): Buffer {
  if (flags >>> 16) throw new Error(`listener flags ${flags} do not fit 16 bits`);
  const b = Buffer.alloc(8);
  b.writeUInt16LE(flags, 0);
  b.writeUInt16LE(gen & 0xffff, 2);
  b.writeUInt32LE(tableSel & 1, 4);
  return b;
}

export function decodeListener(
  b: Buffer,
  offset = 0,
): { flags: number; gen: number; tableSel: number } {
  return {
    flags: b.readUInt16LE(offset),
    gen: b.readUInt16LE(offset + 2),
    tableSel: b.readUInt32LE(offset + 4) & 1,
  };
}

/** The previous layout (tb_listeners: u32 flags, u16 gen, u16 pad), for the upgrade. */
export function decodeListenerV1(b: Buffer, offset = 0): { flags: number; gen: number } {
  return { flags: b.readUInt32LE(offset), gen: b.readUInt16LE(offset + 4) };
}

/** tb_conn: a cached flow's backend, and the listener (id, gen) that chose it. */
export function encodeConn(backendId: number, listenerId: number, gen: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt32LE(backendId >>> 0, 0);
  b.writeUInt16LE(listenerId, 4);
  b.writeUInt16LE(gen & 0xffff, 6);
  return b;
}

export function decodeConn(b: Buffer): { backendId: number; listenerId: number; gen: number } {
  return { backendId: b.readUInt32LE(0), listenerId: b.readUInt16LE(4), gen: b.readUInt16LE(6) };
}

export function cidrKey(family: Family, listenerId: number, addr: Buffer, prefix: number): Buffer {
  const b = Buffer.alloc(family === 4 ? 12 : 24);
  b.writeUInt32LE(32 + prefix, 0);
  b.writeUInt32BE(listenerId, 4);
  addr.copy(b, 8, 0, family === 4 ? 4 : 16);
  return b;
}

export function decodeCidrKey(
  family: Family,
  b: Buffer,
): { listenerId: number; addr: Buffer; prefix: number } {
  const addr = Buffer.alloc(16);
  b.copy(addr, 0, 8, family === 4 ? 12 : 24);
  return { listenerId: b.readUInt32BE(4), addr, prefix: b.readUInt32LE(0) - 32 };
}

export function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0, 0);
  return b;
}

export function encodeBackend(family: Family | 0, addr: Buffer): Buffer {
  const b = Buffer.alloc(20);
  addr.copy(b, 0, 0, 16);
  b[16] = family;
  return b;
}

export interface FlowKey {
  family: Family;
  src: Buffer; // 16 bytes (IPv4 in the first 4)
  dst: Buffer;
  sport: number;
  dport: number;
  proto: number;
}

export function flowKey(f: FlowKey): Buffer {
  if (f.family === 4) {
    const b = Buffer.alloc(16);
    f.src.copy(b, 0, 0, 4);
    f.dst.copy(b, 4, 0, 4);
    b.writeUInt16BE(f.sport, 8);
    b.writeUInt16BE(f.dport, 10);
    b[12] = f.proto;
    return b;
  }
  const b = Buffer.alloc(40);
  f.src.copy(b, 0, 0, 16);
  f.dst.copy(b, 16, 0, 16);
  b.writeUInt16BE(f.sport, 32);
  b.writeUInt16BE(f.dport, 34);
  b[36] = f.proto;
  return b;
}

export interface NodeConfig {
  nodeV4?: string;
  nodeV6?: string;
  useFib: boolean;
  fallback?: { ifindex: number; dstMac: string; srcMac: string };
  flood?: { threshold: number; windowNs: bigint; cooldownNs: bigint };
  /** How long a FIB answer is reused (tb_nexthop); 0 = ask the FIB for every packet. */
  nextHopTtlMs?: number;
  /** tb_config.nh_gen: a new value drops every cached FIB answer at once. */
  nextHopGen?: number;
}

export function macBytes(mac: string): Buffer {
  const parts = mac.split(/[:-]/);
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-fA-F]{1,2}$/.test(p))) {
    throw new Error(`bad MAC address ${mac}`);
  }
  return Buffer.from(parts.map((p) => parseInt(p, 16)));
}

export function encodeConfig(c: NodeConfig): Buffer {
  const b = Buffer.alloc(64);
  if (c.nodeV4) {
    const a = addrBytes(c.nodeV4);
    if (a.family !== 4) throw new Error(`nodeV4 ${c.nodeV4} is not IPv4`);
    a.bytes.copy(b, 0, 0, 4);
  }
  if (c.nodeV6) {
    const a = addrBytes(c.nodeV6);
    if (a.family !== 6) throw new Error(`nodeV6 ${c.nodeV6} is not IPv6`);
    a.bytes.copy(b, 4, 0, 16);
  }
  let flags = c.useFib ? CFG_F_USE_FIB : 0;
  if (c.fallback) {
    flags |= CFG_F_FALLBACK;
    b.writeUInt32LE(c.fallback.ifindex, 24);
    macBytes(c.fallback.dstMac).copy(b, 28);
    macBytes(c.fallback.srcMac).copy(b, 34);
  }
  b.writeUInt32LE(flags, 20);
  if (c.flood) {
    b.writeBigUInt64LE(c.flood.windowNs, 40);
    b.writeBigUInt64LE(c.flood.cooldownNs, 48);
    b.writeUInt32LE(c.flood.threshold, 56);
  }
  const ttl = c.nextHopTtlMs ?? 0;
  if (!Number.isInteger(ttl) || ttl < 0 || ttl > 0xffff) {
    throw new Error(`nextHopTtlMs must be an integer 0..65535, not ${ttl}`);
  }
  b.writeUInt16LE(ttl, 60);
  b.writeUInt16LE((c.nextHopGen ?? 0) & 0xffff, 62);
  return b;
}

/** Per-CPU array values are laid out as round_up(value_size, 8) bytes per possible CPU. */
export function perCpuStride(valueSize: number, cpus: number): number {
  return Math.ceil(valueSize / 8) * 8 * cpus;
}

/** Sums `count` u64 counters at `offset` over all CPUs of one per-CPU element. */
export function sumPerCpu(
  values: Buffer,
  elemOffset: number,
  valueSize: number,
  cpus: number,
  count: number,
): bigint[] {
  const sums = Array<bigint>(count).fill(0n);
  const step = Math.ceil(valueSize / 8) * 8;
  for (let c = 0; c < cpus; c++) {
    const base = elemOffset + c * step;
    for (let i = 0; i < count; i++) sums[i] = sums[i]! + values.readBigUInt64LE(base + i * 8);
  }
  return sums;
}
