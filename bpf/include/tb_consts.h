/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Tenbin data plane limits. The only place sizes live: the ABI structs and the agent's
 * codecs (agent/datapath/abi.ts) follow these values; a test compares them.
 * Changing a value that shapes a map's key or value is a layout change: rename the map.
 */
#ifndef TB_CONSTS_H
#define TB_CONSTS_H

/* Maglev table size (prime). Override at build time: make -C bpf TB_MAGLEV_SIZE=65537 */
#ifndef TB_MAGLEV_SIZE
#define TB_MAGLEV_SIZE 13313
#endif

/* Table entry meaning "no backend has weight > 0": the packet is dropped and counted. */
#define TB_NO_BACKEND 0xffffffffu

/* Default map capacities; the agent may override max_entries at load time. */
#define TB_MAX_LISTENERS 4096        /* listener ids are 0 .. TB_MAX_LISTENERS-1 */
#define TB_MAX_BACKENDS 65536        /* backend ids are 0 .. TB_MAX_BACKENDS-1 */
#define TB_MAX_VIPS 8192             /* distinct VIP addresses per family */
#define TB_MAX_CIDRS 65536           /* allowed-source prefixes per family, all listeners */
#define TB_CONN4_PER_CPU (1u << 20)  /* IPv4 flows each CPU's LRU share can hold */
#define TB_CONN6_PER_CPU (1u << 18)  /* IPv6 flows each CPU's LRU share can hold */
#define TB_MAX_RANGES_PER_VIP 8      /* port-range listeners per VIP address (all protocols) */

/* VIP pre-filter: one bit per hash bucket of destination addresses, so that non-VIP traffic
 * (most of what a node sees) is passed after one array read instead of hash lookups. */
#define TB_VIP_FILTER_BITS_LOG2 16
#define TB_VIP_FILTER_WORDS ((1u << TB_VIP_FILTER_BITS_LOG2) / 64)

/* Outer header defaults. */
#define TB_OUTER_TTL 64
#define TB_HASH_SEED 0x7e4b1a2dU

#endif
