// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Tenbin XDP load balancer: classify (VIP, protocol, port) -> listener, check the allowed
 * sources, pick a backend (connection cache, else the listener's active Maglev table),
 * encapsulate (IPIP / IPv6-in-IPv6, any family mix) and send towards the backend, which
 * answers the client directly (DSR). Everything that is not a listener's traffic is passed
 * to the kernel untouched. Policy details: bpf/README.md.
 *
 * Cost model (bench/xdp.ts): per packet, every cache line and page touched (code or data) costs
 * far more than the instructions. So the IPv4 path is inline and straight; IPv6, port ranges,
 * FIB and the flood guard are out of line (subprograms); a cached flow is found by one lookup
 * that also names its listener; the outer header is built in registers and written once.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "tb_abi.h"
#include "tb_hash.h"

#ifndef AF_INET
#define AF_INET 2
#endif
#ifndef AF_INET6
#define AF_INET6 10
#endif
#define TB_ETH_P_8021Q 0x8100
#define TB_IP_DF 0x4000
#define TB_IP_FRAG_MASK 0x3fff /* MF | fragment offset */
#define TB_NO_LISTENER 0xffffffffu
#define tb_likely(x) __builtin_expect(!!(x), 1)
#define tb_unlikely(x) __builtin_expect(!!(x), 0)

struct tb_vlan_hdr {
	__be16 tci;
	__be16 proto;
};

/* ---- maps ------------------------------------------------------------------------- */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, TB_MAX_LISTENERS);
	__type(key, struct tb_listen_key4);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tb_listen4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, TB_MAX_LISTENERS);
	__type(key, struct tb_listen_key6);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tb_listen6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, TB_MAX_VIPS);
	__type(key, __be32);
	__type(value, struct tb_vip);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tb_vip4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, TB_MAX_VIPS);
	__type(key, __u8[16]);
	__type(value, struct tb_vip);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tb_vip6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tb_vip_filter);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tb_vip_filter SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, TB_MAX_LISTENERS);
	__type(key, __u32);
	__type(value, struct tb_listener);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tb_listeners_v2 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, TB_MAX_CIDRS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct tb_cidr_key4);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tb_cidr4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, TB_MAX_CIDRS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct tb_cidr_key6);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tb_cidr6 SEC(".maps");

/* Memory-mappable: the agent writes tables straight into the inactive buffer. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2 * TB_MAX_LISTENERS);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct tb_maglev_table);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tb_maglev SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, TB_MAX_BACKENDS);
	__type(key, __u32);
	__type(value, struct tb_backend);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tb_backends SEC(".maps");

/* max_entries is set by the loader to per-CPU capacity x possible CPUs (NO_COMMON_LRU
 * gives each CPU its own share of the entries). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, TB_CONN4_PER_CPU);
	__uint(map_flags, BPF_F_NO_COMMON_LRU);
	__type(key, struct tb_flow4);
	__type(value, struct tb_conn);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tb_conn4_v2 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, TB_CONN6_PER_CPU);
	__uint(map_flags, BPF_F_NO_COMMON_LRU);
	__type(key, struct tb_flow6);
	__type(value, struct tb_conn);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tb_conn6_v2 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tb_config);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tb_config SEC(".maps");

/* The program's copy of tb_config: a global in an internal map of its own (".data.tb_config";
 * libbpf makes it memory-mappable, so the value is page-aligned: one cache line), addressed
 * directly: no lookup and no NULL check per packet. The agent writes tb_config (pinned: what
 * a restart restores from), then this copy; a newly loaded program's copy is filled from
 * tb_config before it is attached. */
struct tb_config tb_cfg SEC(".data.tb_config");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TB_MAX_BACKENDS);
	__type(key, __u32);
	__type(value, struct tb_nexthop);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tb_nexthop SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tb_flood_state);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tb_flood SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TB_MAX_LISTENERS);
	__type(key, __u32);
	__type(value, struct tb_listener_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tb_stats_lsn SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TB_MAX_BACKENDS);
	__type(key, __u32);
	__type(value, struct tb_backend_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tb_stats_be SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tb_global_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tb_stats_glb_v2 SEC(".maps");

/* ---- per-packet state ------------------------------------------------------------- */

struct tb_pkt {
	__u32 backend_id; /* once chosen */
	__u32 frame_len;  /* bytes as received, for counters */
	__u32 inner_len;  /* the IP packet's own length (excludes Ethernet padding) */
	__u32 hash;
	__be16 vlan_tci;
	__u8 has_vlan;
	__u8 family; /* inner: TB_FAMILY_V4 / V6 */
	__u8 tos;
	__u8 df;
	__u8 is_syn;
	__u8 pad;
};

static __always_inline int tb_verdict(struct tb_global_stats *g, int action)
{
	switch (action) {
	case XDP_PASS:
		g->c[TB_G_PASS]++;
		break;
	case XDP_TX:
		g->c[TB_G_TX]++;
		break;
	case XDP_REDIRECT:
		g->c[TB_G_REDIRECT]++;
		break;
	default:
		g->c[TB_G_DROP]++;
		action = XDP_DROP;
	}
	return action;
}

/* 0 when `folded` (a destination address's words, xor-folded) is certainly not a VIP. */
static __always_inline int tb_maybe_vip(__u32 folded)
{
	__u32 zero = 0, bit, word;
	struct tb_vip_filter *f = bpf_map_lookup_elem(&tb_vip_filter, &zero);

	if (!f)
		return 1;
	bit = tb_vip_filter_bit(folded);
	word = bit >> 6;
	asm volatile("" : "+r"(word)); /* keep the bound visible to the verifier */
	return (f->bits[word] >> (bit & 63)) & 1;
}

/* Port-range listeners of a VIP (rare: out of line). */
static __noinline __u32 tb_find_range(const struct tb_vip *v, __u32 proto, __u32 port)
{
	__u32 n = v->n_ranges;

	for (int i = 0; i < TB_MAX_RANGES_PER_VIP; i++) {
		const struct tb_port_range *r = &v->ranges[i];
		if (i >= n)
			break;
		if (r->proto == proto && port >= r->first && port <= r->last)
			return r->listener_id;
	}
	return TB_NO_LISTENER;
}

/* SYN-flood guard: returns 1 when this CPU is in stateless mode (do not insert flows). */
static __noinline int tb_flood_stateless(const struct tb_config *cfg, struct tb_global_stats *g)
{
	__u32 zero = 0;
	struct tb_flood_state *fs;
	__u64 now;

	fs = bpf_map_lookup_elem(&tb_flood, &zero);
	if (!fs)
		return 0;
	now = bpf_ktime_get_coarse_ns(); /* tick resolution is plenty, and far cheaper */
	if (now - fs->window_start_ns >= cfg->flood_window_ns) {
		fs->window_start_ns = now;
		fs->window_count = 0;
	}
	fs->window_count++;
	if (fs->window_count > cfg->flood_threshold) {
		/* Over the limit: (re)arm the cool-down; entering is counted once. */
		if (!fs->in_flood) {
			fs->in_flood = 1;
			g->c[TB_G_FLOOD_ENTER]++;
		}
		fs->flood_until_ns = now + cfg->flood_cooldown_ns;
	} else if (fs->in_flood && now >= fs->flood_until_ns) {
		fs->in_flood = 0;
	}
	return fs->in_flood;
}

/* The next hop: Ethernet addresses as the header holds them (destination, source) and the
 * egress device (0 = back out of the ingress device). */
struct tb_hop {
	__u32 mac[3];
	__u32 ifindex;
};

static __always_inline int tb_same16(const __u8 a[16], const __u8 b[16])
{
	const __u64 *x = (const __u64 *)a, *y = (const __u64 *)b;

	return ((x[0] ^ y[0]) | (x[1] ^ y[1])) == 0;
}

/* Asks the FIB; stores the answer in `nh` (if any) until now + nh_ttl_ms. */
static __always_inline int tb_fib_ask(struct xdp_md *ctx, const struct tb_config *cfg,
				      const struct tb_backend *be, const struct tb_pkt *p,
				      struct tb_hop *hop, struct tb_nexthop *nh, __u64 now)
{
	struct bpf_fib_lookup fib = {};

	fib.ifindex = ctx->ingress_ifindex;
	fib.tot_len = p->inner_len;
	if (be->family == TB_FAMILY_V4) {
		fib.family = AF_INET;
		fib.tos = p->tos;
		fib.ipv4_src = cfg->node_v4;
		fib.ipv4_dst = *(const __be32 *)be->addr;
		fib.tot_len += sizeof(struct iphdr);
	} else {
		fib.family = AF_INET6;
		__builtin_memcpy(fib.ipv6_src, cfg->node_v6, 16);
		__builtin_memcpy(fib.ipv6_dst, be->addr, 16);
		fib.tot_len += sizeof(struct ipv6hdr);
	}
	if (bpf_fib_lookup(ctx, &fib, sizeof(fib), 0) != BPF_FIB_LKUP_RET_SUCCESS)
		return -1;
	__builtin_memcpy(hop->mac, fib.dmac, 6);
	__builtin_memcpy((__u8 *)hop->mac + 6, fib.smac, 6);
	hop->ifindex = fib.ifindex;
	if (nh) {
		__builtin_memcpy(nh->addr, be->addr, 16);
		nh->mac[0] = hop->mac[0];
		nh->mac[1] = hop->mac[1];
		nh->mac[2] = hop->mac[2];
		nh->ifindex = hop->ifindex;
		nh->ingress_ifindex = ctx->ingress_ifindex;
		nh->cfg_gen = cfg->nh_gen;
		nh->expires_ns = now + cfg->nh_ttl_ms * 1000000ull;
	}
	return 0;
}

/*
 * Next hop from the kernel FIB: fills the MACs and egress ifindex; 1 when the answer came from
 * tb_nexthop (this CPU's copy of an answer younger than nh_ttl_ms), 0 when asked now, -1 when
 * the FIB has none. Rule: a route or neighbour change reaches a backend's packets within
 * nh_ttl_ms, at once after the agent bumps nh_gen.
 */
static __noinline int tb_fib(struct xdp_md *ctx, const struct tb_config *cfg,
			     const struct tb_backend *be, const struct tb_pkt *p, struct tb_hop *hop)
{
	struct tb_nexthop *nh = NULL;
	__u32 id = p->backend_id;
	__u64 now = 0;

	if (cfg->nh_ttl_ms) {
		nh = bpf_map_lookup_elem(&tb_nexthop, &id);
		now = bpf_ktime_get_coarse_ns();
		if (nh && now < nh->expires_ns && nh->cfg_gen == cfg->nh_gen &&
		    nh->ingress_ifindex == ctx->ingress_ifindex && tb_same16(nh->addr, be->addr)) {
			hop->mac[0] = nh->mac[0];
			hop->mac[1] = nh->mac[1];
			hop->mac[2] = nh->mac[2];
			hop->ifindex = nh->ifindex;
			return 1;
		}
	}
	return tb_fib_ask(ctx, cfg, be, p, hop, nh, now);
}

/* Resolve the next hop before touching the packet. Fills MACs; returns 0 or -1 (no route). */
static __always_inline int tb_next_hop(struct xdp_md *ctx, const struct tb_config *cfg,
				       const struct tb_pkt *p, const struct tb_backend *be,
				       struct tb_hop *hop, struct tb_global_stats *g)
{
	/* Tagged frames leave the way they came (XDP_TX with the same tag): the FIB would
	 * name the VLAN device, which XDP cannot transmit on. */
	if ((cfg->flags & TB_CFG_F_USE_FIB) && !p->has_vlan) {
		int r = tb_fib(ctx, cfg, be, p, hop);

		if (r >= 0) {
			g->c[r ? TB_G_FIB_CACHED : TB_G_FIB_OK]++;
			return 0;
		}
	}
	if (tb_likely(cfg->flags & TB_CFG_F_FALLBACK)) {
		/* fallback_dmac and fallback_smac lie in header order at a 4-byte boundary */
		const __u32 *m = (const __u32 *)cfg->fallback_dmac;

		hop->mac[0] = m[0];
		hop->mac[1] = m[1];
		hop->mac[2] = m[2];
		hop->ifindex = cfg->fallback_ifindex;
		g->c[TB_G_FIB_FALLBACK]++;
		return 0;
	}
	return -1;
}

/* Flow hash over the cache key's fields (ports as one word, as they lie in the packet). */
static __always_inline __u32 tb_hash4(const struct tb_flow4 *f, int src_only)
{
	__u32 h = tb_mix(TB_HASH_SEED, f->src);

	if (src_only)
		return tb_fmix(h, 4);
	h = tb_mix(h, f->dst);
	h = tb_mix(h, *(const __u32 *)&f->sport);
	h = tb_mix(h, f->proto);
	return tb_fmix(h, 16);
}

static __always_inline __u32 tb_hash6(const struct tb_flow6 *f, int src_only)
{
	const __u32 *s = (const __u32 *)f->src, *d = (const __u32 *)f->dst;
	__u32 h = TB_HASH_SEED;

	h = tb_mix(h, s[0]);
	h = tb_mix(h, s[1]);
	h = tb_mix(h, s[2]);
	h = tb_mix(h, s[3]);
	if (src_only)
		return tb_fmix(h, 16);
	h = tb_mix(h, d[0]);
	h = tb_mix(h, d[1]);
	h = tb_mix(h, d[2]);
	h = tb_mix(h, d[3]);
	h = tb_mix(h, *(const __u32 *)&f->sport);
	h = tb_mix(h, f->proto);
	return tb_fmix(h, 40);
}

/* Internet checksum of an IPv4 header given as its five 32-bit words (as they lie in memory,
 * checksum field zero): computed in registers, never read back from the packet. */
static __always_inline __u16 tb_csum5(__u32 w0, __u32 w1, __u32 w2, __u32 w3, __u32 w4)
{
	__u64 s = (__u64)w0 + w1 + w2 + w3 + w4;

	s = (s & 0xffffffff) + (s >> 32);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (__u16)~s;
}

/* Prepend Ethernet (+ the original VLAN tag) and the outer IP header; every field is
 * computed first and written with word stores. */
static __always_inline int tb_encap(struct xdp_md *ctx, const struct tb_config *cfg,
				    const struct tb_pkt *p, const struct tb_backend *be,
				    const struct tb_hop *hop)
{
	int v4 = be->family == TB_FAMILY_V4;
	int outer_len = v4 ? sizeof(struct iphdr) : sizeof(struct ipv6hdr);
	__u8 inner_proto = p->family == TB_FAMILY_V4 ? IPPROTO_IPIP : IPPROTO_IPV6;
	__be16 outer_eth = v4 ? bpf_htons(ETH_P_IP) : bpf_htons(ETH_P_IPV6);
	void *data, *data_end;
	__u8 *l3;

	if (bpf_xdp_adjust_head(ctx, -outer_len))
		return -1;
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	/* the new headers lie in what was the old Ethernet header and the room before it */
	if (data + ETH_HLEN + sizeof(struct tb_vlan_hdr) + sizeof(struct ipv6hdr) > data_end)
		return -1;
	((__u32 *)data)[0] = hop->mac[0];
	((__u32 *)data)[1] = hop->mac[1];
	((__u32 *)data)[2] = hop->mac[2];
	l3 = data + ETH_HLEN;
	if (p->has_vlan) {
		*(__be16 *)(data + 12) = bpf_htons(TB_ETH_P_8021Q);
		*(__be16 *)(data + 14) = p->vlan_tci;
		*(__be16 *)(data + 16) = outer_eth;
		l3 += sizeof(struct tb_vlan_hdr);
	} else {
		*(__be16 *)(data + 12) = outer_eth;
	}

	if (v4) {
		/* version/IHL, TOS, total length | ID 0, flags | TTL, protocol, checksum | src | dst */
		__u32 w0 = 0x45 | ((__u32)p->tos << 8) |
			   ((__u32)bpf_htons(p->inner_len + sizeof(struct iphdr)) << 16);
		__u32 w1 = p->df ? (__u32)bpf_htons(TB_IP_DF) << 16 : 0;
		__u32 w2 = TB_OUTER_TTL | ((__u32)inner_proto << 8);
		__u32 w3 = cfg->node_v4;
		__u32 w4 = *(const __u32 *)be->addr;

		w2 |= (__u32)tb_csum5(w0, w1, w2, w3, w4) << 16;
		((__u32 *)l3)[0] = w0;
		((__u32 *)l3)[1] = w1;
		((__u32 *)l3)[2] = w2;
		((__u32 *)l3)[3] = w3;
		((__u32 *)l3)[4] = w4;
	} else {
		const __u32 *src = (const __u32 *)cfg->node_v6, *dst = (const __u32 *)be->addr;
		/* version 6 | traffic class = inner TOS | flow label = flow hash (ECMP entropy) */
		__u32 first_word = (6u << 28) | ((__u32)p->tos << 20) | (p->hash & 0xfffff);

		((__u32 *)l3)[0] = bpf_htonl(first_word);
		((__u32 *)l3)[1] = bpf_htons(p->inner_len) | ((__u32)inner_proto << 16) |
				   ((__u32)TB_OUTER_TTL << 24);
		((__u32 *)l3)[2] = src[0];
		((__u32 *)l3)[3] = src[1];
		((__u32 *)l3)[4] = src[2];
		((__u32 *)l3)[5] = src[3];
		((__u32 *)l3)[6] = dst[0];
		((__u32 *)l3)[7] = dst[1];
		((__u32 *)l3)[8] = dst[2];
		((__u32 *)l3)[9] = dst[3];
	}
	return 0;
}

static __always_inline int tb_is_zero16(const __u8 a[16])
{
	const __u64 *w = (const __u64 *)a;

	return (w[0] | w[1]) == 0;
}

/* The cache entry of a flow, if it is still valid for its listener: fills *id and *l. */
static __always_inline struct tb_conn *tb_cached(struct tb_conn *conn, __u32 *id,
						 struct tb_listener **l)
{
	__u32 lid;
	struct tb_listener *rec;

	if (!conn)
		return NULL;
	lid = conn->listener_id;
	rec = bpf_map_lookup_elem(&tb_listeners_v2, &lid);
	if (!rec || !(rec->flags & TB_LISTENER_F_ACTIVE) || rec->gen != conn->gen)
		return NULL; /* the listener is gone, or its id went to another listener since */
	*id = lid;
	*l = rec;
	return conn;
}

/*
 * The listener's part: allowed sources, cache, table, encapsulation, next hop.
 * flow4/flow6: exactly one is non-NULL, the flow key for the cache.
 * l: the listener's record (active). hit: its valid cache entry, or NULL (hash the flow).
 * cur: whatever the cache held for this flow (NULL if not looked up or absent).
 */
static __always_inline int tb_forward(struct xdp_md *ctx, struct tb_pkt *p,
				      struct tb_global_stats *g, struct tb_flow4 *flow4,
				      struct tb_flow6 *flow6, __u32 id, struct tb_listener *l,
				      struct tb_conn *hit, struct tb_conn *cur)
{
	__u32 backend_id, tidx;
	struct tb_listener_stats *ls;
	struct tb_config *cfg;
	struct tb_backend *be = NULL;
	struct tb_maglev_table *table;
	struct tb_hop hop;
	int hashed = 0;

	ls = bpf_map_lookup_elem(&tb_stats_lsn, &id);
	cfg = &tb_cfg;
	if (!ls)
		return XDP_PASS;
	ls->packets++;
	ls->bytes += p->frame_len;

	if (tb_unlikely(l->flags & TB_LISTENER_F_CIDR_FILTER)) {
		void *allowed;

		if (flow4) {
			struct tb_cidr_key4 k = {
				.prefixlen = 64, .listener_id = bpf_htonl(id), .addr = flow4->src };
			allowed = bpf_map_lookup_elem(&tb_cidr4, &k);
		} else {
			struct tb_cidr_key6 k = { .prefixlen = 160, .listener_id = bpf_htonl(id) };
			__builtin_memcpy(k.addr, flow6->src, 16);
			allowed = bpf_map_lookup_elem(&tb_cidr6, &k);
		}
		if (!allowed) {
			ls->drop_denied++;
			return XDP_DROP;
		}
	}

	if (tb_likely(hit != NULL)) {
		backend_id = hit->backend_id;
		be = bpf_map_lookup_elem(&tb_backends, &backend_id);
		if (tb_likely(be && be->family != TB_FAMILY_NONE)) {
			g->c[TB_G_CACHE_HIT]++;
			goto send;
		}
		be = NULL; /* backend gone: hash again */
	}

	g->c[TB_G_CACHE_MISS]++;
	ls->new_flows++;
	p->hash = flow4 ? tb_hash4(flow4, l->flags & TB_LISTENER_F_SRC_AFFINITY) :
			  tb_hash6(flow6, l->flags & TB_LISTENER_F_SRC_AFFINITY);
	hashed = 1;
	tidx = id * 2 + (l->table_sel & 1);
	table = bpf_map_lookup_elem(&tb_maglev, &tidx);
	if (!table)
		return XDP_PASS;
	backend_id = table->backend[tb_slot(p->hash)];
	if (backend_id == TB_NO_BACKEND)
		goto no_backend;
	be = bpf_map_lookup_elem(&tb_backends, &backend_id);
	if (!be || be->family == TB_FAMILY_NONE)
		goto no_backend;

	if (cfg->flood_threshold && tb_flood_stateless(cfg, g)) {
		g->c[TB_G_FLOOD_STATELESS]++;
	} else {
		struct tb_conn c = { .backend_id = backend_id, .listener_id = id, .gen = l->gen };

		/* A SYN whose tuple is already cached as this choice (a retransmission, or a port
		 * reused towards the same backend) needs no write: inserts are the costliest step
		 * on the new-flow path. */
		if (p->is_syn)
			cur = flow4 ? bpf_map_lookup_elem(&tb_conn4_v2, flow4) :
				      bpf_map_lookup_elem(&tb_conn6_v2, flow6);
		if (!cur || cur->backend_id != backend_id || cur->listener_id != id ||
		    cur->gen != c.gen) {
			if (flow4)
				bpf_map_update_elem(&tb_conn4_v2, flow4, &c, BPF_ANY);
			else
				bpf_map_update_elem(&tb_conn6_v2, flow6, &c, BPF_ANY);
		}
	}

send:
	p->backend_id = backend_id;
	if (be->family == TB_FAMILY_V6 && !hashed) /* the outer flow label carries the hash */
		p->hash = flow4 ? tb_hash4(flow4, l->flags & TB_LISTENER_F_SRC_AFFINITY) :
				  tb_hash6(flow6, l->flags & TB_LISTENER_F_SRC_AFFINITY);
	if (be->family == TB_FAMILY_V4 ? cfg->node_v4 == 0 : tb_is_zero16(cfg->node_v6)) {
		ls->drop_encap++;
		return XDP_DROP;
	}
	if (tb_next_hop(ctx, cfg, p, be, &hop, g)) {
		ls->drop_no_route++;
		return XDP_DROP;
	}
	{
		struct tb_backend_stats *bs = bpf_map_lookup_elem(&tb_stats_be, &backend_id);

		if (tb_encap(ctx, cfg, p, be, &hop)) {
			ls->drop_encap++;
			return XDP_DROP;
		}
		if (bs) {
			bs->packets++;
			bs->bytes += p->frame_len;
		}
	}
	if (hop.ifindex == 0 || hop.ifindex == ctx->ingress_ifindex)
		return XDP_TX;
	return bpf_redirect(hop.ifindex, 0);

no_backend:
	ls->drop_no_backend++;
	return XDP_DROP;
}

/* IPv4 to a possible VIP (header checked, pre-filter passed by the caller). */
static __always_inline int tb_handle_v4(struct xdp_md *ctx, struct tb_pkt *p, struct iphdr *ip,
					struct tb_global_stats *g)
{
	void *data_end = (void *)(long)ctx->data_end;
	struct tb_listen_key4 lk = {};
	struct tb_flow4 flow = {};
	struct tb_listener *l = NULL;
	struct tb_conn *cur = NULL, *hit = NULL;
	__u32 ihl, tot_len, avail, *lid, id = 0;
	__u8 *l4;

	if (ip->frag_off & bpf_htons(TB_IP_FRAG_MASK)) {
		/* Fragments carry no (reliable) ports: never classifiable into a listener. */
		if (bpf_map_lookup_elem(&tb_vip4, &ip->daddr)) {
			g->c[TB_G_DROP_UNCLASSIFIABLE]++;
			return XDP_DROP;
		}
		return XDP_PASS;
	}
	if (ip->protocol != IPPROTO_TCP && ip->protocol != IPPROTO_UDP)
		return XDP_PASS; /* ICMP and other protocols: the kernel's business */

	ihl = ip->ihl * 4; /* IPv4 options are carried along inside the inner packet */
	tot_len = bpf_ntohs(ip->tot_len);
	avail = data_end - (void *)ip;
	l4 = (__u8 *)ip + ihl;
	if (ip->protocol == IPPROTO_TCP) {
		struct tcphdr *th = (void *)l4;

		if ((void *)(th + 1) > data_end || tot_len < ihl + sizeof(*th))
			goto malformed;
		p->is_syn = th->syn && !th->ack;
	} else {
		if ((void *)(l4 + sizeof(struct udphdr)) > data_end ||
		    tot_len < ihl + sizeof(struct udphdr))
			goto malformed;
	}
	if (tot_len > avail)
		goto malformed;

	p->family = TB_FAMILY_V4;
	p->inner_len = tot_len;
	p->tos = ip->tos;
	p->df = !!(ip->frag_off & bpf_htons(TB_IP_DF));

	flow.src = ip->saddr;
	flow.dst = ip->daddr;
	*(__u32 *)&flow.sport = *(__u32 *)l4; /* both ports */
	flow.proto = ip->protocol;

	/* A SYN starts a new connection: always hashed afresh, so that it follows the current
	 * table even if an old connection with the same 5-tuple is still cached. Any other
	 * packet tries the cache first: a hit names the listener, no listener lookup. */
	if (!p->is_syn) {
		cur = bpf_map_lookup_elem(&tb_conn4_v2, &flow);
		hit = tb_cached(cur, &id, &l);
		if (tb_likely(hit != NULL))
			goto forward;
	}

	lk.vip = ip->daddr;
	lk.port = flow.dport;
	lk.proto = ip->protocol;
	lid = bpf_map_lookup_elem(&tb_listen4, &lk);
	if (lid) {
		id = *lid;
	} else {
		struct tb_vip *v = bpf_map_lookup_elem(&tb_vip4, &ip->daddr);

		if (!v)
			return XDP_PASS;
		id = tb_find_range(v, lk.proto, bpf_ntohs(lk.port));
		if (id == TB_NO_LISTENER)
			return XDP_PASS;
	}
	l = bpf_map_lookup_elem(&tb_listeners_v2, &id);
	if (!l || !(l->flags & TB_LISTENER_F_ACTIVE))
		return XDP_PASS;
forward: /* one call site: tb_forward is inlined once */
	return tb_forward(ctx, p, g, &flow, NULL, id, l, hit, cur);

malformed:
	g->c[TB_G_MALFORMED]++;
	return XDP_PASS;
}

static __always_inline int tb_is_ext_header(__u8 nexthdr)
{
	return nexthdr == 0 /* hop-by-hop */ || nexthdr == 43 /* routing */ ||
	       nexthdr == 44 /* fragment */ || nexthdr == 60 /* destination options */ ||
	       nexthdr == 51 /* AH */ || nexthdr == 135 /* mobility */;
}

/* IPv6 (out of line: keeps the IPv4 path compact). l3_off: the IPv6 header's offset. */
static __noinline int tb_handle_v6(struct xdp_md *ctx, struct tb_pkt *p, __u32 l3_off,
				   struct tb_global_stats *g)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ipv6hdr *ip6;
	struct tb_listen_key6 lk = {};
	struct tb_flow6 flow = {};
	struct tb_listener *l = NULL;
	struct tb_conn *cur = NULL, *hit = NULL;
	__u32 tot_len, avail, *lid, id = 0;
	__u8 *l4;

	if (l3_off > ETH_HLEN + sizeof(struct tb_vlan_hdr))
		goto malformed;
	ip6 = data + l3_off;
	if ((void *)(ip6 + 1) > data_end)
		goto malformed;
	if (ip6->version != 6)
		goto malformed;
	{
		const __u32 *d = (const __u32 *)&ip6->daddr;

		if (!tb_maybe_vip(d[0] ^ d[1] ^ d[2] ^ d[3]))
			return XDP_PASS;
	}
	if (ip6->nexthdr != IPPROTO_TCP && ip6->nexthdr != IPPROTO_UDP) {
		if (tb_is_ext_header(ip6->nexthdr) && bpf_map_lookup_elem(&tb_vip6, &ip6->daddr)) {
			g->c[TB_G_DROP_UNCLASSIFIABLE]++;
			return XDP_DROP;
		}
		return XDP_PASS;
	}
	tot_len = sizeof(*ip6) + bpf_ntohs(ip6->payload_len);
	avail = data_end - (void *)ip6;
	l4 = (__u8 *)(ip6 + 1);
	if (ip6->nexthdr == IPPROTO_TCP) {
		struct tcphdr *th = (void *)l4;

		if ((void *)(th + 1) > data_end || tot_len < sizeof(*ip6) + sizeof(*th))
			goto malformed;
		p->is_syn = th->syn && !th->ack;
	} else {
		if ((void *)(l4 + sizeof(struct udphdr)) > data_end ||
		    tot_len < sizeof(*ip6) + sizeof(struct udphdr))
			goto malformed;
	}
	if (tot_len > avail)
		goto malformed;

	p->family = TB_FAMILY_V6;
	p->inner_len = tot_len;
	p->tos = (ip6->priority << 4) | (ip6->flow_lbl[0] >> 4);
	p->df = 1; /* IPv6 is never fragmented on the way */

	__builtin_memcpy(flow.src, &ip6->saddr, 16);
	__builtin_memcpy(flow.dst, &ip6->daddr, 16);
	flow.sport = *(__be16 *)l4;
	flow.dport = *(__be16 *)(l4 + 2);
	flow.proto = ip6->nexthdr;

	if (!p->is_syn) {
		cur = bpf_map_lookup_elem(&tb_conn6_v2, &flow);
		hit = tb_cached(cur, &id, &l);
		if (hit)
			goto forward;
	}

	__builtin_memcpy(lk.vip, &ip6->daddr, 16);
	lk.port = flow.dport;
	lk.proto = ip6->nexthdr;
	lid = bpf_map_lookup_elem(&tb_listen6, &lk);
	if (lid) {
		id = *lid;
	} else {
		struct tb_vip *v = bpf_map_lookup_elem(&tb_vip6, &ip6->daddr);

		if (!v)
			return XDP_PASS;
		id = tb_find_range(v, lk.proto, bpf_ntohs(lk.port));
		if (id == TB_NO_LISTENER)
			return XDP_PASS;
	}
	l = bpf_map_lookup_elem(&tb_listeners_v2, &id);
	if (!l || !(l->flags & TB_LISTENER_F_ACTIVE))
		return XDP_PASS;
forward:
	return tb_forward(ctx, p, g, NULL, &flow, id, l, hit, cur);

malformed:
	g->c[TB_G_MALFORMED]++;
	return XDP_PASS;
}

SEC("xdp")
int tb_lb(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	void *l3 = data + ETH_HLEN;
	struct tb_global_stats *g;
	struct tb_pkt p = {};
	struct iphdr *ip;
	__u32 zero = 0;
	int action = XDP_PASS;
	__be16 proto;

	g = bpf_map_lookup_elem(&tb_stats_glb_v2, &zero);
	if (!g)
		return XDP_PASS;
	if (l3 > data_end)
		goto malformed;
	proto = *(__be16 *)(data + 12);
	if (proto == bpf_htons(TB_ETH_P_8021Q)) {
		struct tb_vlan_hdr *vh = l3;

		if ((void *)(vh + 1) > data_end)
			goto malformed;
		p.has_vlan = 1;
		p.vlan_tci = vh->tci;
		proto = vh->proto;
		l3 = vh + 1;
	}
	if (tb_likely(proto == bpf_htons(ETH_P_IP))) {
		ip = l3;
		if ((void *)(ip + 1) > data_end || ip->version != 4 || ip->ihl < 5)
			goto malformed;
		/* Most of a node's traffic ends here: one bit of the pre-filter, nothing else. */
		if (tb_likely(!tb_maybe_vip(ip->daddr)))
			goto pass;
		p.frame_len = data_end - data;
		action = tb_handle_v4(ctx, &p, ip, g);
	} else if (proto == bpf_htons(ETH_P_IPV6)) {
		p.frame_len = data_end - data;
		action = tb_handle_v6(ctx, &p, l3 - data, g);
	}
	return tb_verdict(g, action);

malformed:
	g->c[TB_G_MALFORMED]++;
pass:
	g->c[TB_G_PASS]++;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
