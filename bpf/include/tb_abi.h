/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Tenbin data plane ABI: every map key and value shared by lb.bpf.c and the agent.
 * Rules: fixed-width fields only, explicit padding, natural alignment, no implicit holes,
 * a _Static_assert on every size. Addresses and ports are in network byte order unless a
 * field says "host order". A layout change gets a new map name (see bpf/README.md).
 */
#ifndef TB_ABI_H
#define TB_ABI_H

#include <linux/types.h>
#include "tb_consts.h"

/* ---- listener lookup ------------------------------------------------------------ */

/* tb_listen4: exact (VIP, port, protocol) -> listener id (__u32). */
struct tb_listen_key4 {
	__be32 vip;
	__be16 port;
	__u8 proto; /* IPPROTO_TCP or IPPROTO_UDP */
	__u8 pad;
};
_Static_assert(sizeof(struct tb_listen_key4) == 8, "tb_listen_key4");

/* tb_listen6: same for IPv6 VIPs. */
struct tb_listen_key6 {
	__u8 vip[16];
	__be16 port;
	__u8 proto;
	__u8 pad;
};
_Static_assert(sizeof(struct tb_listen_key6) == 20, "tb_listen_key6");

/* A port-range listener: consulted only when no exact-port listener matched. */
struct tb_port_range {
	__u16 first; /* host order, inclusive */
	__u16 last;  /* host order, inclusive */
	__u8 proto;
	__u8 pad[3];
	__u32 listener_id;
};
_Static_assert(sizeof(struct tb_port_range) == 12, "tb_port_range");

/* tb_vip4 (key __be32) / tb_vip6 (key __u8[16]): every VIP address that has a listener. */
struct tb_vip {
	__u32 n_ranges; /* used entries of ranges[] */
	__u32 pad;
	struct tb_port_range ranges[TB_MAX_RANGES_PER_VIP];
};
_Static_assert(sizeof(struct tb_vip) == 8 + 12 * TB_MAX_RANGES_PER_VIP, "tb_vip");

/* tb_vip_filter: ARRAY with one element. Bit tb_vip_filter_bit(addr) is set for every VIP
 * address (both families); a clear bit means "not a VIP". False positives only cost the
 * exact lookups. */
struct tb_vip_filter {
	__u64 bits[TB_VIP_FILTER_WORDS];
};
_Static_assert(sizeof(struct tb_vip_filter) == TB_VIP_FILTER_WORDS * 8, "tb_vip_filter");

/* tb_listeners_v2: ARRAY indexed by listener id. `gen` changes each time the id is given to a
 * new listener, so a cached flow (struct tb_conn) of an earlier listener with the same id
 * is recognised as stale. `table_sel` names the active Maglev buffer (0 or 1): kept here, not
 * in a map of its own, so a new flow reads it from the line it reads `flags` from.
 * v2: tb_listeners had { __u32 flags; __u16 gen; __u16 pad } and the selector in tb_table_sel. */
#define TB_LISTENER_F_ACTIVE 0x1       /* slot in use */
#define TB_LISTENER_F_SRC_AFFINITY 0x2 /* hash the source address only */
#define TB_LISTENER_F_CIDR_FILTER 0x4  /* only sources in tb_cidr4/6 for this id are allowed */
struct tb_listener {
	__u16 flags;
	__u16 gen;
	__u32 table_sel; /* user space writes the inactive buffer, then flips this */
};
_Static_assert(sizeof(struct tb_listener) == 8, "tb_listener");

/* tb_cidr4 / tb_cidr6: LPM tries; prefixlen counts the 32 listener-id bits too. */
struct tb_cidr_key4 {
	__u32 prefixlen; /* 32 + source prefix length */
	__be32 listener_id;
	__be32 addr;
};
_Static_assert(sizeof(struct tb_cidr_key4) == 12, "tb_cidr_key4");

struct tb_cidr_key6 {
	__u32 prefixlen; /* 32 + source prefix length */
	__be32 listener_id;
	__u8 addr[16];
};
_Static_assert(sizeof(struct tb_cidr_key6) == 24, "tb_cidr_key6");

/* ---- Maglev ----------------------------------------------------------------------- */

/* tb_maglev: ARRAY of 2 * max listeners; listener L owns elements 2L and 2L+1;
 * tb_listener.table_sel says which of the two is active. */
struct tb_maglev_table {
	__u32 backend[TB_MAGLEV_SIZE]; /* backend id, or TB_NO_BACKEND */
};
_Static_assert(sizeof(struct tb_maglev_table) == 4 * TB_MAGLEV_SIZE, "tb_maglev_table");

/* tb_backends: ARRAY indexed by backend id. */
#define TB_FAMILY_NONE 0
#define TB_FAMILY_V4 4
#define TB_FAMILY_V6 6
struct tb_backend {
	__u8 addr[16]; /* IPv4 in the first 4 bytes */
	__u8 family;   /* TB_FAMILY_*; NONE = unused id */
	__u8 pad[3];
};
_Static_assert(sizeof(struct tb_backend) == 20, "tb_backend");

/* ---- connection cache ------------------------------------------------------------- */

/* tb_conn4_v2 / tb_conn6_v2: LRU_HASH (BPF_F_NO_COMMON_LRU), flow -> struct tb_conn. */
struct tb_flow4 {
	__be32 src;
	__be32 dst;
	__be16 sport;
	__be16 dport;
	__u8 proto;
	__u8 pad[3];
};
_Static_assert(sizeof(struct tb_flow4) == 16, "tb_flow4");

struct tb_flow6 {
	__u8 src[16];
	__u8 dst[16];
	__be16 sport;
	__be16 dport;
	__u8 proto;
	__u8 pad[3];
};
_Static_assert(sizeof(struct tb_flow6) == 40, "tb_flow6");

/* A cached flow names its listener too, so that a hit needs no listener lookup; it is
 * valid while tb_listeners_v2[listener_id] is active with the same gen. */
struct tb_conn {
	__u32 backend_id;
	__u16 listener_id;
	__u16 gen; /* tb_listener.gen when the flow was cached */
};
_Static_assert(sizeof(struct tb_conn) == 8, "tb_conn");
_Static_assert(TB_MAX_LISTENERS <= 65536, "listener ids must fit tb_conn.listener_id");

/* ---- node configuration ----------------------------------------------------------- */

#define TB_CFG_F_USE_FIB 0x1  /* next hop from bpf_fib_lookup, fallback on failure */
#define TB_CFG_F_FALLBACK 0x2 /* fallback next hop below is valid */

/* tb_config: ARRAY with one element. */
struct tb_config {
	__be32 node_v4;    /* outer source for IPv4 outer headers; 0 = none */
	__u8 node_v6[16];  /* outer source for IPv6 outer headers; :: = none */
	__u32 flags;       /* TB_CFG_F_* */
	__u32 fallback_ifindex; /* 0 or the ingress ifindex: XDP_TX; else XDP_REDIRECT */
	__u8 fallback_dmac[6];
	__u8 fallback_smac[6];
	__u64 flood_window_ns;   /* SYN-flood guard window */
	__u64 flood_cooldown_ns; /* stay stateless this long after the last window over the limit */
	__u32 flood_threshold;   /* new flows per CPU per window; 0 = guard off */
	__u16 nh_ttl_ms; /* reuse a FIB answer (tb_nexthop) this long; 0 = ask the FIB every packet */
	__u16 nh_gen;    /* bumped by the agent to drop every cached FIB answer at once */
};
_Static_assert(sizeof(struct tb_config) == 64, "tb_config");

/* tb_nexthop: PERCPU_ARRAY by backend id, written only by the program: the last FIB answer
 * for the backend, valid for packets from `ingress_ifindex` while `addr` is still the
 * backend's address, `cfg_gen` is tb_config.nh_gen and the coarse clock is before
 * `expires_ns`. */
struct tb_nexthop {
	__u8 addr[16];
	__u32 mac[3]; /* destination then source MAC, as the Ethernet header holds them */
	__u32 ifindex;
	__u32 ingress_ifindex;
	__u16 cfg_gen;
	__u16 pad;
	__u64 expires_ns;
};
_Static_assert(sizeof(struct tb_nexthop) == 48, "tb_nexthop");

/* tb_flood: PERCPU_ARRAY with one element, written only by the program. */
struct tb_flood_state {
	__u64 window_start_ns;
	__u64 flood_until_ns;
	__u32 window_count;
	__u32 in_flood;
};
_Static_assert(sizeof(struct tb_flood_state) == 24, "tb_flood_state");

/* ---- counters (all PERCPU_ARRAY; user space sums the CPUs) ------------------------ */

/* tb_stats_lsn: per listener id. */
struct tb_listener_stats {
	__u64 packets; /* packets that matched the listener */
	__u64 bytes;   /* their frame bytes as received */
	__u64 new_flows;       /* flows hashed through the Maglev table */
	__u64 drop_denied;     /* source not in the allowed CIDRs */
	__u64 drop_no_backend; /* table entry TB_NO_BACKEND or an unused backend id */
	__u64 drop_encap;      /* no node address for the outer family, or no room to grow */
	__u64 drop_no_route;   /* FIB failed and no fallback next hop */
	__u64 pad;
};
_Static_assert(sizeof(struct tb_listener_stats) == 64, "tb_listener_stats");

/* tb_stats_be: per backend id. */
struct tb_backend_stats {
	__u64 packets;
	__u64 bytes;
};
_Static_assert(sizeof(struct tb_backend_stats) == 16, "tb_backend_stats");

/* tb_stats_glb_v2: one element, counters indexed by enum tb_global_counter. The counters a
 * forwarded or passed packet bumps come first, adjacent, so that the common paths touch one
 * cache line of it (the per-CPU value is only 8-byte aligned). v2: this order (tb_stats_glb
 * had TB_G_PASS, DROP, TX, REDIRECT, CACHE_HIT, CACHE_MISS, FLOOD_ENTER, FLOOD_STATELESS,
 * FIB_OK, FIB_FALLBACK, MALFORMED, DROP_UNCLASSIFIABLE, FIB_CACHED). */
enum tb_global_counter {
	TB_G_PASS = 0,
	TB_G_TX,
	TB_G_CACHE_HIT,
	TB_G_FIB_FALLBACK,  /* next hop from the configured fallback */
	TB_G_FIB_CACHED,    /* next hop from tb_nexthop (a FIB answer younger than nh_ttl_ms) */
	TB_G_REDIRECT,
	TB_G_CACHE_MISS,    /* new flow hashed through the table (SYN or lookup miss) */
	TB_G_FIB_OK,        /* next hop from bpf_fib_lookup (asked now) */
	TB_G_DROP,
	TB_G_FLOOD_ENTER,   /* times a CPU entered flood (stateless) mode */
	TB_G_FLOOD_STATELESS, /* new flows not inserted into the cache because of flood mode */
	TB_G_MALFORMED,     /* truncated / inconsistent headers (passed) */
	TB_G_DROP_UNCLASSIFIABLE, /* fragment / IPv6 extension header addressed to a VIP */
	TB_G_COUNTERS_USED,
	TB_G_COUNTERS = 16
};
struct tb_global_stats {
	__u64 c[TB_G_COUNTERS];
};
_Static_assert(sizeof(struct tb_global_stats) == 128, "tb_global_stats");

#endif
