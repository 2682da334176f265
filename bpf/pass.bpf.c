// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* A pass-through XDP program: the baseline the benchmark subtracts, and the program a veth
 * peer needs so that XDP_TX/XDP_REDIRECT into the veth delivers frames. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int tb_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
