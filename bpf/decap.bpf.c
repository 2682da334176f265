// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Backend-side decapsulation for hosts without an ipip/ip6tnl device: strips the outer IPv4
 * (protocol 4 or 41) or IPv6 (next header 4 or 41) header that tb_lb added and passes the
 * inner packet to the kernel, which delivers it to the VIP bound on lo. The Ethernet header
 * (and a VLAN tag) is kept; only its EtherType changes to the inner family.
 * Anything else passes untouched. Outer IPv4 headers with options or fragmentation are not
 * ours (tb_lb never sends them) and pass untouched as well.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "tb_consts.h"

#define TB_ETH_P_8021Q 0x8100

struct tb_vlan_hdr {
	__be16 tci;
	__be16 proto;
};

enum tb_decap_counter {
	TB_D_DECAP_V4 = 0, /* outer IPv4 removed */
	TB_D_DECAP_V6,     /* outer IPv6 removed */
	TB_D_PASS,         /* not encapsulated: untouched */
	TB_D_COUNTERS = 4
};

struct tb_decap_stats {
	__u64 c[TB_D_COUNTERS];
};
_Static_assert(sizeof(struct tb_decap_stats) == 32, "tb_decap_stats");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tb_decap_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tb_decap_stats SEC(".maps");

/* Strip `outer_len` bytes after the L2 header (14 or 18 bytes long). */
static __always_inline int tb_strip(struct xdp_md *ctx, int l2_len, int outer_len,
				    __be16 inner_eth)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u8 l2[18];

	if (data + 18 > data_end)
		return -1;
	__builtin_memcpy(l2, data, 18);
	if (l2_len == 14)
		*(__be16 *)&l2[12] = inner_eth;
	else
		*(__be16 *)&l2[16] = inner_eth;
	if (bpf_xdp_adjust_head(ctx, outer_len))
		return -1;
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	if (data + 18 > data_end)
		return -1;
	if (l2_len == 14)
		__builtin_memcpy(data, l2, 14);
	else
		__builtin_memcpy(data, l2, 18);
	return 0;
}

static __always_inline __be16 tb_inner_eth(__u8 proto)
{
	return proto == IPPROTO_IPIP ? bpf_htons(ETH_P_IP) : bpf_htons(ETH_P_IPV6);
}

SEC("xdp")
int tb_decap(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct tb_decap_stats *st;
	__u32 zero = 0;
	int l2_len = sizeof(*eth);
	__be16 proto;
	void *l3;

	st = bpf_map_lookup_elem(&tb_decap_stats, &zero);
	if (!st)
		return XDP_PASS;
	if ((void *)(eth + 1) > data_end)
		goto pass;
	proto = eth->h_proto;
	l3 = eth + 1;
	if (proto == bpf_htons(TB_ETH_P_8021Q)) {
		struct tb_vlan_hdr *vh = l3;

		if ((void *)(vh + 1) > data_end)
			goto pass;
		proto = vh->proto;
		l3 = vh + 1;
		l2_len += sizeof(*vh);
	}

	if (proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = l3;

		if ((void *)(ip + 1) > data_end || ip->version != 4 || ip->ihl != 5)
			goto pass;
		if (ip->protocol != IPPROTO_IPIP && ip->protocol != IPPROTO_IPV6)
			goto pass;
		if (ip->frag_off & bpf_htons(0x3fff))
			goto pass;
		if (tb_strip(ctx, l2_len, sizeof(*ip), tb_inner_eth(ip->protocol)))
			goto pass;
		st->c[TB_D_DECAP_V4]++;
		return XDP_PASS;
	}
	if (proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = l3;

		if ((void *)(ip6 + 1) > data_end || ip6->version != 6)
			goto pass;
		if (ip6->nexthdr != IPPROTO_IPIP && ip6->nexthdr != IPPROTO_IPV6)
			goto pass;
		if (tb_strip(ctx, l2_len, sizeof(*ip6), tb_inner_eth(ip6->nexthdr)))
			goto pass;
		st->c[TB_D_DECAP_V6]++;
		return XDP_PASS;
	}
pass:
	st->c[TB_D_PASS]++;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
