// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Tenbin XDP load balancer: classify (VIP, protocol, port) -> listener, check the allowed
 * sources, pick a backend (connection cache, else the listener's active Maglev table),
 * encapsulate (IPIP / IPv6-in-IPv6, any family mix) and send towards the backend, which
 * answers the client directly (DSR). Everything that is not a listener's traffic is passed
 * to the kernel untouched. Policy details: bpf/README.md.
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
} tb_listeners SEC(".maps");

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
	__uint(max_entries, TB_MAX_LISTENERS);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tb_table_sel SEC(".maps");

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
} tb_conn4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, TB_CONN6_PER_CPU);
	__uint(map_flags, BPF_F_NO_COMMON_LRU);
	__type(key, struct tb_flow6);
	__type(value, struct tb_conn);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tb_conn6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tb_config);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tb_config SEC(".maps");

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
} tb_stats_glb SEC(".maps");

/* ---- per-packet state ------------------------------------------------------------- */

struct tb_pkt {
	__u32 listener_id;
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

static __always_inline __u32 tb_find_range(const struct tb_vip *v, __u8 proto, __u16 port)
{
	__u32 n = v->n_ranges;
#pragma unroll
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
static __always_inline int tb_flood_stateless(const struct tb_config *cfg,
					      struct tb_global_stats *g)
{
	__u32 zero = 0;
	struct tb_flood_state *fs;
	__u64 now;

	if (!cfg->flood_threshold)
		return 0;
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

/* Resolve the next hop before touching the packet. Fills MACs; returns the action or -1. */
static __always_inline int tb_next_hop(struct xdp_md *ctx, const struct tb_config *cfg,
				       const struct tb_pkt *p, const struct tb_backend *be,
				       __u8 dmac[6], __u8 smac[6], __u32 *ifindex,
				       struct tb_global_stats *g)
{
	/* Tagged frames leave the way they came (XDP_TX with the same tag): the FIB would
	 * name the VLAN device, which XDP cannot transmit on. */
	if (!p->has_vlan && (cfg->flags & TB_CFG_F_USE_FIB)) {
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
		if (bpf_fib_lookup(ctx, &fib, sizeof(fib), 0) == BPF_FIB_LKUP_RET_SUCCESS) {
			__builtin_memcpy(dmac, fib.dmac, 6);
			__builtin_memcpy(smac, fib.smac, 6);
			*ifindex = fib.ifindex;
			g->c[TB_G_FIB_OK]++;
			return 0;
		}
	}
	if (cfg->flags & TB_CFG_F_FALLBACK) {
		__builtin_memcpy(dmac, cfg->fallback_dmac, 6);
		__builtin_memcpy(smac, cfg->fallback_smac, 6);
		*ifindex = cfg->fallback_ifindex;
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

static __always_inline __u16 tb_csum_ipv4(const struct iphdr *ip)
{
	const __u16 *w = (const __u16 *)ip;
	__u32 sum = 0;

#pragma unroll
	for (int i = 0; i < (int)(sizeof(*ip) / 2); i++)
		sum += w[i];
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

/* Prepend Ethernet (+ the original VLAN tag) and the outer IP header. */
static __always_inline int tb_encap(struct xdp_md *ctx, const struct tb_config *cfg,
				    const struct tb_pkt *p, const struct tb_backend *be,
				    const __u8 dmac[6], const __u8 smac[6])
{
	int outer_len = be->family == TB_FAMILY_V4 ? sizeof(struct iphdr) : sizeof(struct ipv6hdr);
	__u8 inner_proto = p->family == TB_FAMILY_V4 ? IPPROTO_IPIP : IPPROTO_IPV6;
	__be16 outer_eth = be->family == TB_FAMILY_V4 ? bpf_htons(ETH_P_IP) : bpf_htons(ETH_P_IPV6);
	void *data, *data_end, *l3;
	struct ethhdr *eth;

	if (bpf_xdp_adjust_head(ctx, -outer_len))
		return -1;
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	eth = data;
	if ((void *)(eth + 1) > data_end)
		return -1;
	__builtin_memcpy(eth->h_dest, dmac, 6);
	__builtin_memcpy(eth->h_source, smac, 6);
	l3 = eth + 1;
	if (p->has_vlan) {
		struct tb_vlan_hdr *vh = l3;

		if ((void *)(vh + 1) > data_end)
			return -1;
		eth->h_proto = bpf_htons(TB_ETH_P_8021Q);
		vh->tci = p->vlan_tci;
		vh->proto = outer_eth;
		l3 = vh + 1;
	} else {
		eth->h_proto = outer_eth;
	}

	if (be->family == TB_FAMILY_V4) {
		struct iphdr *ip = l3;

		if ((void *)(ip + 1) > data_end)
			return -1;
		ip->version = 4;
		ip->ihl = 5;
		ip->tos = p->tos;
		ip->tot_len = bpf_htons(p->inner_len + sizeof(*ip));
		ip->id = 0;
		ip->frag_off = p->df ? bpf_htons(TB_IP_DF) : 0;
		ip->ttl = TB_OUTER_TTL;
		ip->protocol = inner_proto;
		ip->check = 0;
		ip->saddr = cfg->node_v4;
		ip->daddr = *(const __be32 *)be->addr;
		ip->check = tb_csum_ipv4(ip);
	} else {
		struct ipv6hdr *ip6 = l3;
		__u32 first_word;

		if ((void *)(ip6 + 1) > data_end)
			return -1;
		/* version 6 | traffic class = inner TOS | flow label = flow hash (ECMP entropy) */
		first_word = (6u << 28) | ((__u32)p->tos << 20) | (p->hash & 0xfffff);
		*(__be32 *)ip6 = bpf_htonl(first_word);
		ip6->payload_len = bpf_htons(p->inner_len);
		ip6->nexthdr = inner_proto;
		ip6->hop_limit = TB_OUTER_TTL;
		__builtin_memcpy(&ip6->saddr, cfg->node_v6, 16);
		__builtin_memcpy(&ip6->daddr, be->addr, 16);
	}
	return 0;
}

static __always_inline int tb_is_zero16(const __u8 a[16])
{
	const __u64 *w = (const __u64 *)a;

	return (w[0] | w[1]) == 0;
}

/*
 * The listener's part: allowed sources, cache, table, encapsulation, next hop.
 * flow4/flow6: exactly one is non-NULL, the flow key for the cache.
 */
static __always_inline int tb_forward(struct xdp_md *ctx, struct tb_pkt *p,
				      struct tb_global_stats *g, struct tb_flow4 *flow4,
				      struct tb_flow6 *flow6)
{
	__u32 id = p->listener_id, zero = 0, backend_id, tidx, *sel;
	struct tb_listener_stats *ls;
	struct tb_listener *l;
	struct tb_config *cfg;
	struct tb_backend *be = NULL;
	struct tb_conn *conn = NULL;
	struct tb_maglev_table *table;
	__u8 dmac[6], smac[6];
	__u32 ifindex = 0;
	int stateless, hashed = 0;

	l = bpf_map_lookup_elem(&tb_listeners, &id);
	ls = bpf_map_lookup_elem(&tb_stats_lsn, &id);
	cfg = bpf_map_lookup_elem(&tb_config, &zero);
	if (!l || !ls || !cfg || !(l->flags & TB_LISTENER_F_ACTIVE))
		return XDP_PASS;
	ls->packets++;
	ls->bytes += p->frame_len;

	if (l->flags & TB_LISTENER_F_CIDR_FILTER) {
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

	/* A SYN starts a new connection: always hash it afresh, so that it follows the current
	 * table even if an old connection with the same 5-tuple is still cached. */
	if (!p->is_syn) {
		conn = flow4 ? bpf_map_lookup_elem(&tb_conn4, flow4) :
			       bpf_map_lookup_elem(&tb_conn6, flow6);
		if (conn) {
			backend_id = conn->backend_id;
			be = bpf_map_lookup_elem(&tb_backends, &backend_id);
			if (be && be->family != TB_FAMILY_NONE) {
				g->c[TB_G_CACHE_HIT]++;
				goto send;
			}
			be = NULL; /* backend gone: hash again */
		}
	}

	g->c[TB_G_CACHE_MISS]++;
	ls->new_flows++;
	p->hash = flow4 ? tb_hash4(flow4, l->flags & TB_LISTENER_F_SRC_AFFINITY) :
			  tb_hash6(flow6, l->flags & TB_LISTENER_F_SRC_AFFINITY);
	hashed = 1;
	sel = bpf_map_lookup_elem(&tb_table_sel, &id);
	if (!sel)
		return XDP_PASS;
	tidx = id * 2 + (*sel & 1);
	table = bpf_map_lookup_elem(&tb_maglev, &tidx);
	if (!table)
		return XDP_PASS;
	backend_id = table->backend[tb_slot(p->hash)];
	if (backend_id == TB_NO_BACKEND)
		goto no_backend;
	be = bpf_map_lookup_elem(&tb_backends, &backend_id);
	if (!be || be->family == TB_FAMILY_NONE)
		goto no_backend;

	stateless = tb_flood_stateless(cfg, g);
	if (stateless) {
		g->c[TB_G_FLOOD_STATELESS]++;
	} else {
		struct tb_conn c = { .backend_id = backend_id };

		/* A SYN whose tuple is already cached with this backend (a retransmission, or a
		 * port reused towards the same backend) needs no write: inserts are the costliest
		 * step on the new-flow path. */
		if (p->is_syn)
			conn = flow4 ? bpf_map_lookup_elem(&tb_conn4, flow4) :
				       bpf_map_lookup_elem(&tb_conn6, flow6);
		if (!conn || conn->backend_id != backend_id) {
			if (flow4)
				bpf_map_update_elem(&tb_conn4, flow4, &c, BPF_ANY);
			else
				bpf_map_update_elem(&tb_conn6, flow6, &c, BPF_ANY);
		}
	}

send:
	if (be->family == TB_FAMILY_V6 && !hashed) /* the outer flow label carries the hash */
		p->hash = flow4 ? tb_hash4(flow4, l->flags & TB_LISTENER_F_SRC_AFFINITY) :
				  tb_hash6(flow6, l->flags & TB_LISTENER_F_SRC_AFFINITY);
	if (be->family == TB_FAMILY_V4 ? cfg->node_v4 == 0 : tb_is_zero16(cfg->node_v6)) {
		ls->drop_encap++;
		return XDP_DROP;
	}
	if (tb_next_hop(ctx, cfg, p, be, dmac, smac, &ifindex, g)) {
		ls->drop_no_route++;
		return XDP_DROP;
	}
	{
		struct tb_backend_stats *bs = bpf_map_lookup_elem(&tb_stats_be, &backend_id);

		if (tb_encap(ctx, cfg, p, be, dmac, smac)) {
			ls->drop_encap++;
			return XDP_DROP;
		}
		if (bs) {
			bs->packets++;
			bs->bytes += p->frame_len;
		}
	}
	if (ifindex == 0 || ifindex == ctx->ingress_ifindex)
		return XDP_TX;
	return bpf_redirect(ifindex, 0);

no_backend:
	ls->drop_no_backend++;
	return XDP_DROP;
}

static __always_inline int tb_handle_v4(struct xdp_md *ctx, struct tb_pkt *p, void *l3,
					struct tb_global_stats *g)
{
	void *data_end = (void *)(long)ctx->data_end;
	struct iphdr *ip = l3;
	struct tb_listen_key4 lk = {};
	struct tb_flow4 flow = {};
	__u32 ihl, tot_len, avail, *lid, id;
	__u8 *l4;
	__u16 dport_host;

	if ((void *)(ip + 1) > data_end)
		goto malformed;
	if (ip->version != 4 || ip->ihl < 5)
		goto malformed;
	if (!tb_maybe_vip(ip->daddr))
		return XDP_PASS;
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

	lk.vip = ip->daddr;
	lk.port = *(__be16 *)(l4 + 2);
	lk.proto = ip->protocol;
	lid = bpf_map_lookup_elem(&tb_listen4, &lk);
	if (lid) {
		id = *lid;
	} else {
		struct tb_vip *v = bpf_map_lookup_elem(&tb_vip4, &ip->daddr);

		if (!v)
			return XDP_PASS;
		dport_host = bpf_ntohs(lk.port);
		id = tb_find_range(v, lk.proto, dport_host);
		if (id == TB_NO_LISTENER)
			return XDP_PASS;
	}

	p->listener_id = id;
	p->family = TB_FAMILY_V4;
	p->inner_len = tot_len;
	p->tos = ip->tos;
	p->df = !!(ip->frag_off & bpf_htons(TB_IP_DF));

	flow.src = ip->saddr;
	flow.dst = ip->daddr;
	flow.sport = *(__be16 *)l4;
	flow.dport = lk.port;
	flow.proto = lk.proto;
	return tb_forward(ctx, p, g, &flow, NULL);

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

static __always_inline int tb_handle_v6(struct xdp_md *ctx, struct tb_pkt *p, void *l3,
					struct tb_global_stats *g)
{
	void *data_end = (void *)(long)ctx->data_end;
	struct ipv6hdr *ip6 = l3;
	struct tb_listen_key6 lk = {};
	struct tb_flow6 flow = {};
	__u32 tot_len, avail, *lid, id;
	__u8 *l4;

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

	__builtin_memcpy(lk.vip, &ip6->daddr, 16);
	lk.port = *(__be16 *)(l4 + 2);
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

	p->listener_id = id;
	p->family = TB_FAMILY_V6;
	p->inner_len = tot_len;
	p->tos = (ip6->priority << 4) | (ip6->flow_lbl[0] >> 4);
	p->df = 1; /* IPv6 is never fragmented on the way */

	__builtin_memcpy(flow.src, &ip6->saddr, 16);
	__builtin_memcpy(flow.dst, &ip6->daddr, 16);
	flow.sport = *(__be16 *)l4;
	flow.dport = lk.port;
	flow.proto = lk.proto;
	return tb_forward(ctx, p, g, NULL, &flow);

malformed:
	g->c[TB_G_MALFORMED]++;
	return XDP_PASS;
}

SEC("xdp")
int tb_lb(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct tb_global_stats *g;
	struct tb_pkt p = {};
	__u32 zero = 0;
	__be16 proto;
	void *l3;

	g = bpf_map_lookup_elem(&tb_stats_glb, &zero);
	if (!g)
		return XDP_PASS;
	if ((void *)(eth + 1) > data_end) {
		g->c[TB_G_MALFORMED]++;
		return tb_verdict(g, XDP_PASS);
	}
	p.frame_len = data_end - data;
	proto = eth->h_proto;
	l3 = eth + 1;
	if (proto == bpf_htons(TB_ETH_P_8021Q)) {
		struct tb_vlan_hdr *vh = l3;

		if ((void *)(vh + 1) > data_end) {
			g->c[TB_G_MALFORMED]++;
			return tb_verdict(g, XDP_PASS);
		}
		p.has_vlan = 1;
		p.vlan_tci = vh->tci;
		proto = vh->proto;
		l3 = vh + 1;
	}
	if (proto == bpf_htons(ETH_P_IP))
		return tb_verdict(g, tb_handle_v4(ctx, &p, l3, g));
	if (proto == bpf_htons(ETH_P_IPV6))
		return tb_verdict(g, tb_handle_v6(ctx, &p, l3, g));
	return tb_verdict(g, XDP_PASS);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
