// Frame builder and parser for tests and benchmarks: Ethernet (+802.1Q), IPv4/IPv6, TCP/UDP
// with valid checksums, and an independent model of tb_lb's encapsulation, so fixtures can
// state the exact bytes they expect.
import { addrBytes, macBytes, type Family } from "./abi";

export const ETH_P_IP = 0x0800;
export const ETH_P_IPV6 = 0x86dd;
export const ETH_P_8021Q = 0x8100;
export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_PSH = 0x08;
export const TCP_ACK = 0x10;

export interface PacketSpec {
  src: string;
  dst: string;
  /** 6 = TCP, 17 = UDP, anything else: raw payload after the IP header. */
  proto: number;
  sport?: number;
  dport?: number;
  tcpFlags?: number;
  payload?: Buffer;
  vlan?: number; // TCI; present = one 802.1Q tag
  tos?: number;
  df?: boolean;
  ttl?: number;
  ipId?: number;
  ipOptions?: Buffer; // IPv4 only, multiple of 4 bytes
  fragOffset?: number; // IPv4, in 8-byte units
  moreFragments?: boolean;
  srcMac?: string;
  dstMac?: string;
}

export const CLIENT_MAC = "02:00:00:00:00:01";
export const NODE_MAC = "02:00:00:00:00:02";

/** Internet checksum over `buf` (plus an initial partial sum). */
export function inetChecksum(buf: Buffer, initial = 0): number {
  let sum = initial;
  for (let i = 0; i + 1 < buf.length; i += 2) sum += buf.readUInt16BE(i);
  if (buf.length & 1) sum += buf[buf.length - 1]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

function pseudoHeaderSum(
  family: Family,
  src: Buffer,
  dst: Buffer,
  proto: number,
  len: number,
): number {
  let sum = 0;
  const n = family === 4 ? 4 : 16;
  for (let i = 0; i < n; i += 2) sum += src.readUInt16BE(i) + dst.readUInt16BE(i);
  return sum + proto + (family === 4 ? len : (len >>> 16) + (len & 0xffff));
}

function l2(spec: { vlan?: number; srcMac?: string; dstMac?: string }, ethertype: number): Buffer {
  const tagged = spec.vlan !== undefined;
  const b = Buffer.alloc(tagged ? 18 : 14);
  macBytes(spec.dstMac ?? NODE_MAC).copy(b, 0);
  macBytes(spec.srcMac ?? CLIENT_MAC).copy(b, 6);
  if (tagged) {
    b.writeUInt16BE(ETH_P_8021Q, 12);
    b.writeUInt16BE(spec.vlan!, 14);
    b.writeUInt16BE(ethertype, 16);
  } else {
    b.writeUInt16BE(ethertype, 12);
  }
  return b;
}

/** The IP packet (no Ethernet) for a spec. */
export function buildIpPacket(spec: PacketSpec): Buffer {
  const s = addrBytes(spec.src);
  const d = addrBytes(spec.dst);
  if (s.family !== d.family) throw new Error("source and destination families differ");
  const family = s.family;
  const payload = spec.payload ?? Buffer.alloc(0);
  let l4: Buffer;
  if (spec.proto === 6) {
    l4 = Buffer.alloc(20 + payload.length);
    l4.writeUInt16BE(spec.sport ?? 0, 0);
    l4.writeUInt16BE(spec.dport ?? 0, 2);
    l4.writeUInt32BE(1000, 4); // seq
    l4.writeUInt32BE((spec.tcpFlags ?? TCP_ACK) & TCP_ACK ? 2000 : 0, 8);
    l4[12] = 5 << 4;
    l4[13] = spec.tcpFlags ?? TCP_ACK;
    l4.writeUInt16BE(65535, 14);
    payload.copy(l4, 20);
  } else if (spec.proto === 17) {
    l4 = Buffer.alloc(8 + payload.length);
    l4.writeUInt16BE(spec.sport ?? 0, 0);
    l4.writeUInt16BE(spec.dport ?? 0, 2);
    l4.writeUInt16BE(l4.length, 4);
    payload.copy(l4, 8);
  } else {
    l4 = Buffer.from(payload);
  }
  if (spec.proto === 6 || spec.proto === 17) {
    const csumOff = spec.proto === 6 ? 16 : 6;
    let c = inetChecksum(l4, pseudoHeaderSum(family, s.bytes, d.bytes, spec.proto, l4.length));
    if (spec.proto === 17 && c === 0) c = 0xffff;
    l4.writeUInt16BE(c, csumOff);
  }
  if (family === 4) {
    const opts = spec.ipOptions ?? Buffer.alloc(0);
    if (opts.length % 4 || opts.length > 40)
      throw new Error("IPv4 options must be 4-byte words, <= 40");
    const ip = Buffer.alloc(20 + opts.length);
    ip[0] = 0x40 | ((20 + opts.length) >> 2);
    ip[1] = spec.tos ?? 0;
    ip.writeUInt16BE(ip.length + l4.length, 2);
    ip.writeUInt16BE(spec.ipId ?? 0x1234, 4);
    const frag =
      (spec.df ? 0x4000 : 0) | (spec.moreFragments ? 0x2000 : 0) | (spec.fragOffset ?? 0);
    ip.writeUInt16BE(frag, 6);
    ip[8] = spec.ttl ?? 64;
    ip[9] = spec.proto;
    s.bytes.copy(ip, 12, 0, 4);
    d.bytes.copy(ip, 16, 0, 4);
    opts.copy(ip, 20);
    ip.writeUInt16BE(inetChecksum(ip), 10);
    return Buffer.concat([ip, l4]);
  }
  const ip = Buffer.alloc(40);
  ip.writeUInt32BE((6 << 28) | ((spec.tos ?? 0) << 20) | 0x12345, 0);
  ip.writeUInt16BE(l4.length, 4);
  ip[6] = spec.proto;
  ip[7] = spec.ttl ?? 64;
  s.bytes.copy(ip, 8);
  d.bytes.copy(ip, 24);
  return Buffer.concat([ip, l4]);
}

/** A whole frame: Ethernet (+ tag) + IP packet. */
export function buildPacket(spec: PacketSpec): Buffer {
  const ip = buildIpPacket(spec);
  const family = (ip[0]! >> 4) as Family;
  return Buffer.concat([l2(spec, family === 4 ? ETH_P_IP : ETH_P_IPV6), ip]);
}

export interface EncapSpec {
  outerSrc: string;
  outerDst: string;
  dstMac: string;
  srcMac: string;
  /** Flow label of an IPv6 outer header (tb_lb uses the low 20 bits of the flow hash). */
  flowLabel?: number;
}

/** What tb_lb should emit for `frame`: independent model of its encapsulation. */
export function expectedEncap(frame: Buffer, e: EncapSpec): Buffer {
  const tagged = frame.readUInt16BE(12) === ETH_P_8021Q;
  const l3 = tagged ? 18 : 14;
  const inner = frame.subarray(l3);
  const innerFamily = (inner[0]! >> 4) as Family;
  const innerLen = innerFamily === 4 ? inner.readUInt16BE(2) : 40 + inner.readUInt16BE(4);
  const tos = innerFamily === 4 ? inner[1]! : (inner.readUInt32BE(0) >>> 20) & 0xff;
  const df = innerFamily === 4 ? (inner.readUInt16BE(6) & 0x4000) !== 0 : true;
  const innerProto = innerFamily === 4 ? 4 : 41;
  const src = addrBytes(e.outerSrc);
  const dst = addrBytes(e.outerDst);
  let outer: Buffer;
  if (dst.family === 4) {
    outer = Buffer.alloc(20);
    outer[0] = 0x45;
    outer[1] = tos;
    outer.writeUInt16BE(innerLen + 20, 2);
    outer.writeUInt16BE(df ? 0x4000 : 0, 6);
    outer[8] = 64;
    outer[9] = innerProto;
    src.bytes.copy(outer, 12, 0, 4);
    dst.bytes.copy(outer, 16, 0, 4);
    outer.writeUInt16BE(inetChecksum(outer), 10);
  } else {
    outer = Buffer.alloc(40);
    outer.writeUInt32BE(((6 << 28) | (tos << 20) | ((e.flowLabel ?? 0) & 0xfffff)) >>> 0, 0);
    outer.writeUInt16BE(innerLen, 4);
    outer[6] = innerProto;
    outer[7] = 64;
    src.bytes.copy(outer, 8);
    dst.bytes.copy(outer, 24);
  }
  const eth = l2(
    { dstMac: e.dstMac, srcMac: e.srcMac, vlan: tagged ? frame.readUInt16BE(14) : undefined },
    dst.family === 4 ? ETH_P_IP : ETH_P_IPV6,
  );
  return Buffer.concat([eth, outer, frame.subarray(l3)]);
}

/** Offset of the L3 header of a frame (after an optional 802.1Q tag). */
export function l3Offset(frame: Buffer): number {
  return frame.readUInt16BE(12) === ETH_P_8021Q ? 18 : 14;
}
