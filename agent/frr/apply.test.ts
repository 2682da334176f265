// vipDelta: which config changes may skip frr-reload.py, and the vty commands that replace it.
import { describe, expect, it } from "vitest";
import os from "node:os";
import path from "node:path";
import { FrrApplier, vipDelta } from "./apply";
import { GOLDEN_CASES } from "./golden/cases";
import { renderFrrConfig, type FrrConfigInput } from "./render";

const dual = GOLDEN_CASES["dual-stack"]!;
const redistributed = GOLDEN_CASES["redistribute-static"]!;
const render = (input: FrrConfigInput, vips: string[]): string =>
  renderFrrConfig({ ...input, vips });

describe("vipDelta", () => {
  it("turns added and removed VIPs into statics and `network` lines inside their address family", () => {
    const from = render(dual, ["198.19.0.9", "2001:db8:ff::9"]);
    const to = render(dual, ["198.19.0.10", "2001:db8:ff::9", "2001:db8:ff::10"]);
    const asn = `router bgp ${dual.localAsn}`;
    const enter = [asn];
    expect(vipDelta(from, to)).toEqual([
      // network removals, then the statics (removals first), then network additions
      {
        daemon: "bgpd",
        commands: [
          "configure terminal",
          ...enter,
          "address-family ipv4 unicast",
          "no network 198.19.0.9/32",
          "exit-address-family",
          "exit",
          "end",
        ],
      },
      {
        daemon: "staticd",
        commands: [
          "configure terminal",
          "no ip route 198.19.0.9/32 blackhole tag 4242",
          "ip route 198.19.0.10/32 blackhole tag 4242",
          "ipv6 route 2001:db8:ff::10/128 blackhole tag 4242",
          "end",
        ],
      },
      {
        daemon: "bgpd",
        commands: [
          "configure terminal",
          ...[
            asn,
            "address-family ipv4 unicast",
            "network 198.19.0.10/32",
            "exit-address-family",
            "exit",
          ],
          ...[
            asn,
            "address-family ipv6 unicast",
            "network 2001:db8:ff::10/128",
            "exit-address-family",
            "exit",
          ],
          "end",
        ],
      },
    ]);
  });

  it("needs only the statics when VIPs are redistributed, also from and to no VIP at all", () => {
    expect(vipDelta(render(redistributed, []), render(redistributed, ["198.19.0.50"]))).toEqual([
      {
        daemon: "staticd",
        commands: ["configure terminal", "ip route 198.19.0.50/32 blackhole tag 4242", "end"],
      },
    ]);
    expect(
      vipDelta(
        render(redistributed, ["198.19.0.50", "2001:db8:ff::51"]),
        render(redistributed, []),
      ),
    ).toEqual([
      {
        daemon: "staticd",
        commands: [
          "configure terminal",
          "no ip route 198.19.0.50/32 blackhole tag 4242",
          "no ipv6 route 2001:db8:ff::51/128 blackhole tag 4242",
          "end",
        ],
      },
    ]);
    expect(vipDelta(render(dual, ["198.19.0.9"]), render(dual, ["198.19.0.9"]))).toEqual([]);
  });

  it("refuses (null: reload in full) any change outside the VIP lines", () => {
    const base = render(dual, ["198.19.0.9"]);
    expect(
      vipDelta(
        base,
        renderFrrConfig({ ...dual, vips: ["198.19.0.9"], holdSeconds: 30, keepaliveSeconds: 10 }),
      ),
    ).toBeNull();
    expect(
      vipDelta(
        base,
        renderFrrConfig({ ...dual, vips: ["198.19.0.9"], advertiseVia: "redistribute-static" }),
      ),
    ).toBeNull();
    expect(
      vipDelta(base, render({ ...dual, neighbors: dual.neighbors.slice(1) }, ["198.19.0.9"])),
    ).toBeNull();
    // An IPv6 VIP on a node without IPv6 neighbors opens a new address-family block.
    const v4Only = GOLDEN_CASES["v4-only"]!;
    expect(
      vipDelta(render(v4Only, ["198.19.0.3"]), render(v4Only, ["198.19.0.3", "2001:db8:ff::3"])),
    ).toBeNull();
    // A static that is not a VIP's (another tag) is never touched by a batch.
    expect(vipDelta(base, base.replace("tag 4242", "tag 4243"))).toBeNull();
  });
});

describe("FrrApplier debounce", () => {
  it("starts a lone change at once, and collapses the changes that follow it within the window", async () => {
    // A config directory that does not exist: every apply fails at its first step (writing the
    // temp file), so the timings are the applier's own scheduling.
    const applier = new FrrApplier({
      confDir: path.join(os.tmpdir(), "tb-frr-apply-missing", "conf"),
      debounceMs: 400,
    });
    const config = render(dual, ["198.19.0.9"]);
    const t0 = performance.now();
    await expect(applier.apply(config)).rejects.toThrow(/ENOENT/);
    expect(performance.now() - t0).toBeLessThan(400);

    const t1 = performance.now();
    const burst = [applier.apply(config), applier.apply(render(dual, ["198.19.0.10"]))];
    const errors = await Promise.all(burst.map((p) => p.catch((e: unknown) => e)));
    expect(performance.now() - t1).toBeGreaterThanOrEqual(350);
    expect(errors[0]).toBeInstanceOf(Error);
    expect(errors[1]).toBe(errors[0]); // one apply for the whole burst
  });
});
