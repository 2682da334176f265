// Mirror of bpf/include/tb_hash.h: MurmurHash3 (x86_32) over the cache key's 32-bit words
// read in host (little-endian) order, and the multiply-shift table slot. Used by tests and
// tools to predict which table slot a flow lands on.
import { TB_HASH_SEED, TB_MAGLEV_SIZE, flowKey, type FlowKey } from "./abi";

const rotl = (x: number, r: number) => ((x << r) | (x >>> (32 - r))) >>> 0;

function mix(h: number, k: number): number {
  k = Math.imul(k, 0xcc9e2d51);
  k = rotl(k, 15);
  k = Math.imul(k, 0x1b873593);
  h = (h ^ k) >>> 0;
  h = rotl(h, 13);
  return (Math.imul(h, 5) + 0xe6546b64) >>> 0;
}

function fmix(h: number, len: number): number {
  h = (h ^ len) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  return h >>> 0;
}

/** The flow hash tb_lb computes; `sourceOnly` for source-IP affinity listeners. */
export function flowHash(flow: FlowKey, sourceOnly: boolean): number {
  const k = flowKey(flow);
  const w = (off: number) => k.readUInt32LE(off);
  let h = TB_HASH_SEED;
  if (flow.family === 4) {
    h = mix(h, w(0));
    if (sourceOnly) return fmix(h, 4);
    h = mix(mix(mix(h, w(4)), w(8)), flow.proto);
    return fmix(h, 16);
  }
  for (let i = 0; i < 16; i += 4) h = mix(h, w(i));
  if (sourceOnly) return fmix(h, 16);
  for (let i = 16; i < 32; i += 4) h = mix(h, w(i));
  h = mix(mix(h, w(32)), flow.proto);
  return fmix(h, 40);
}

/** Table slot for a hash: floor(hash * size / 2^32) (exact in doubles for size < 2^21). */
export function tableSlot(hash: number, size = TB_MAGLEV_SIZE): number {
  return Math.floor((hash * size) / 4294967296);
}
