/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Flow hash: MurmurHash3 (x86_32) over 32-bit words loaded from the packet in host byte
 * order, seeded with TB_HASH_SEED. Every node runs the same code, so a flow that ECMP moves
 * to another node picks the same backend there. agent/datapath/flow-hash.ts mirrors it.
 * The table slot is the high part of hash * M (multiply-shift), which needs no division and
 * gives the verifier a provable bound.
 */
#ifndef TB_HASH_H
#define TB_HASH_H

#include <linux/types.h>
#include "tb_consts.h"

static __always_inline __u32 tb_rotl32(__u32 x, int r)
{
	return (x << r) | (x >> (32 - r));
}

static __always_inline __u32 tb_mix(__u32 h, __u32 k)
{
	k *= 0xcc9e2d51U;
	k = tb_rotl32(k, 15);
	k *= 0x1b873593U;
	h ^= k;
	h = tb_rotl32(h, 13);
	return h * 5 + 0xe6546b64U;
}

static __always_inline __u32 tb_fmix(__u32 h, __u32 len)
{
	h ^= len;
	h ^= h >> 16;
	h *= 0x85ebca6bU;
	h ^= h >> 13;
	h *= 0xc2b2ae35U;
	h ^= h >> 16;
	return h;
}

static __always_inline __u32 tb_slot(__u32 hash)
{
	__u32 slot = (__u32)(((__u64)hash * TB_MAGLEV_SIZE) >> 32);

	/* Keep clang from folding the shift into the array scaling, which hides the bound. */
	asm volatile("" : "+r"(slot));
	return slot;
}

/* Bit of the VIP pre-filter for an address: Fibonacci hashing of the address's words as
 * loaded (IPv4: one word; IPv6: the four words xor-folded). */
static __always_inline __u32 tb_vip_filter_bit(__u32 folded)
{
	return (folded * 0x9e3779b1U) >> (32 - TB_VIP_FILTER_BITS_LOG2);
}

#endif
