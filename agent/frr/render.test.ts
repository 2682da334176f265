import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { GOLDEN_CASES } from "./golden/cases";
import { FrrConfigError, renderFrrConfig, type FrrConfigInput } from "./render";

const goldenDir = path.join(import.meta.dirname, "golden");
const golden = (name: string): string => readFileSync(path.join(goldenDir, `${name}.conf`), "utf8");

const base: FrrConfigInput = {
  hostname: "lb-a1",
  routerId: "198.18.0.11",
  localAsn: 65001,
  neighbors: [{ address: "198.18.0.1", remoteAsn: 65000 }],
  vips: ["198.19.0.10"],
};

function issuesOf(input: FrrConfigInput): string[] {
  try {
    renderFrrConfig(input);
  } catch (err) {
    expect(err).toBeInstanceOf(FrrConfigError);
    return (err as FrrConfigError).issues;
  }
  throw new Error("expected renderFrrConfig to reject the input");
}

describe("renderFrrConfig golden files", () => {
  for (const name of Object.keys(GOLDEN_CASES)) {
    it(`renders ${name}.conf`, () => {
      expect(renderFrrConfig(GOLDEN_CASES[name]!)).toBe(golden(name));
    });
  }

  it("covers v4 only, v6 only, dual stack, no VIPs and several neighbors", () => {
    const v4 = golden("v4-only");
    expect(v4).toMatch(
      /^ip route 198\.19\.0\.3\/32 blackhole tag 4242\nip route 198\.19\.0\.20\/32 blackhole tag 4242\nip route 198\.19\.0\.100\/32 blackhole tag 4242$/m,
    );
    expect(v4).not.toMatch(/ipv6 route|address-family ipv6/);
    expect(v4.match(/network 198\.19\.0\.3\/32/g)).toHaveLength(1);

    const v6 = golden("v6-only");
    expect(v6).toMatch(/^ipv6 route 2001:db8:ff::3\/128 blackhole tag 4242$/m);
    expect(v6).toMatch(/^ {2}network 2001:db8:ff::20\/128$/m);
    expect(v6).not.toMatch(/address-family ipv4/);

    const dual = golden("dual-stack");
    expect(dual).toMatch(
      /address-family ipv4 unicast\n {2}network 198\.19\.0\.9\/32\n {2}network 198\.19\.0\.10\/32\n {2}neighbor 198\.18\.1\.1 activate/,
    );
    expect(dual).toMatch(
      /address-family ipv6 unicast\n {2}network 2001:db8:ff::9\/128\n {2}network 2001:db8:ff::10\/128\n {2}neighbor 2001:db8:1:1::1 activate/,
    );

    const none = golden("no-vips");
    expect(none).not.toMatch(/blackhole|network /);
    expect(none).toMatch(/neighbor 198\.18\.2\.1 activate/);

    const several = golden("several-neighbors");
    expect(several.match(/remote-as/g)).toHaveLength(4);
    expect(several).toMatch(/neighbor 198\.18\.3\.2 password t0p-s3cret/);
    expect(several).toMatch(/address-family ipv6 unicast\n {2}neighbor 198\.18\.2\.2 activate/);
    expect(several).toMatch(/timers bgp 1 3/);
    expect(several).toMatch(/maximum-paths 8/);

    const redistributed = golden("redistribute-static");
    expect(redistributed).not.toMatch(/network /);
    expect(redistributed.match(/^ {2}redistribute static route-map TENBIN-VIPS$/gm)).toHaveLength(
      2,
    );
    expect(redistributed).toMatch(/^route-map TENBIN-VIPS permit 10\n match tag 4242$/m);
    expect(golden("v4-only")).not.toMatch(/redistribute|TENBIN-VIPS/);

    const isolated = golden("isolated-node");
    expect(isolated).toMatch(/^route-map TENBIN-IMPORT deny 10$/m);
    expect(isolated).toMatch(/^no ip forwarding\nno ipv6 forwarding$/m);
  });

  it("carries the settings every node needs", () => {
    for (const name of Object.keys(GOLDEN_CASES)) {
      const conf = golden(name);
      expect(conf).toMatch(/^ coalesce-time 50$/m);
      expect(conf).toMatch(/^no zebra nexthop kernel enable$/m);
      expect(conf).toMatch(/^ no bgp default ipv4-unicast$/m);
      expect(conf).toMatch(/^route-map TENBIN-EXPORT permit 10\n match as-path TENBIN-LOCAL$/m);
      // Every activated neighbor has both policies (ebgp-requires-policy is satisfied).
      const activated = conf.match(/neighbor \S+ activate/g) ?? [];
      expect(conf.match(/route-map TENBIN-IMPORT in/g) ?? []).toHaveLength(activated.length);
      expect(conf.match(/route-map TENBIN-EXPORT out/g) ?? []).toHaveLength(activated.length);
    }
  });

  it("is deterministic whatever the order of neighbors and VIPs", () => {
    const input = GOLDEN_CASES["dual-stack"]!;
    const reversed = {
      ...input,
      neighbors: [...input.neighbors].reverse(),
      vips: [...input.vips].reverse(),
    };
    expect(renderFrrConfig(reversed)).toBe(renderFrrConfig(input));
  });
});

describe("renderFrrConfig input errors", () => {
  it("rejects an unknown advertising mode", () => {
    expect(issuesOf({ ...base, advertiseVia: "magic" as "network" })).toEqual([
      'advertiseVia must be "network" or "redistribute-static", got magic',
    ]);
  });

  it("rejects bad ASNs", () => {
    for (const asn of [0, -1, 1.5, 4294967295, 2 ** 40, Number.NaN]) {
      expect(issuesOf({ ...base, localAsn: asn }).join()).toMatch(
        /local ASN must be an integer ASN from 1 to 4294967294/,
      );
    }
    expect(issuesOf({ ...base, localAsn: 23456 }).join()).toMatch(/AS_TRANS/);
    expect(
      issuesOf({ ...base, neighbors: [{ address: "198.18.0.1", remoteAsn: 0 }] }).join(),
    ).toMatch(/neighbor 1 \(198\.18\.0\.1\) remote ASN must be/);
  });

  it("rejects VIPs that are not host prefixes", () => {
    expect(issuesOf({ ...base, vips: ["198.19.0.0/24"] })).toEqual([
      'VIP "198.19.0.0/24" must be a /32 host prefix, not /24',
    ]);
    expect(issuesOf({ ...base, vips: ["2001:db8::/64"] })).toEqual([
      'VIP "2001:db8::/64" must be a /128 host prefix, not /64',
    ]);
    for (const bad of [
      "198.19.0.256",
      "vip-1",
      "",
      "198.19.0.1/32/1",
      "1.2.3",
      "::ffff:198.19.0.1",
    ]) {
      expect(issuesOf({ ...base, vips: [bad] })).toEqual([
        `VIP "${bad}" is not an IPv4 or IPv6 address or host prefix`,
      ]);
    }
  });

  it("rejects bad router ids, neighbors, names and timers, listing every problem at once", () => {
    const issues = issuesOf({
      hostname: "lb a1",
      routerId: "2001:db8::1",
      localAsn: 65001,
      neighbors: [
        { address: "198.18.0.300", remoteAsn: 65000 },
        { address: "198.18.0.1", remoteAsn: 65000, description: "x\nrouter bgp 1" },
        { address: "198.18.0.2", remoteAsn: 65000, password: "has space" },
        { address: "198.18.0.2", remoteAsn: 65000 },
      ],
      vips: ["198.19.0.10/31"],
      keepaliveSeconds: 5,
      holdSeconds: 9,
    });
    expect(issues).toEqual([
      "hostname \"lb a1\" must be a DNS-style name (letters, digits, '-', '.')",
      'router id "2001:db8::1" must be an IPv4 address in dotted-quad form',
      "hold time 9 s must be at least 3 x keepalive (5 s)",
      'neighbor 1: address "198.18.0.300" is not an IPv4 or IPv6 address',
      "neighbor 2: description must be 1-80 printable characters with single spaces",
      "neighbor 3: password must be 1-80 printable characters without spaces",
      "neighbor 4: duplicate neighbor 198.18.0.2",
      'VIP "198.19.0.10/31" must be a /32 host prefix, not /31',
    ]);
    expect(() => renderFrrConfig({ ...base, routerId: "1.2.3" })).toThrow(
      /invalid FRR config input: router id "1\.2\.3"/,
    );
  });
});

// FRR's own parser accepts every golden file (vtysh -C parses without daemons).
describe.skipIf(process.getuid?.() !== 0)(
  "golden files parse in FRR (vtysh -C; needs root and the frr package)",
  () => {
    it("accepts every golden file", () => {
      const dir = mkdtempSync(path.join(os.tmpdir(), "tb-frr-golden-"));
      try {
        writeFileSync(path.join(dir, "vtysh.conf"), "service integrated-vtysh-config\n");
        for (const name of Object.keys(GOLDEN_CASES)) {
          execFileSync(
            "vtysh",
            ["--config_dir", dir, "-C", "-f", path.join(goldenDir, `${name}.conf`)],
            { stdio: "pipe" },
          );
        }
        // ...and it does reject nonsense, so the check above means something.
        writeFileSync(
          path.join(dir, "bad.conf"),
          "router bgp 65001\n neighbour 198.18.0.1 remote-as 65000\n",
        );
        expect(() =>
          execFileSync("vtysh", ["--config_dir", dir, "-C", "-f", path.join(dir, "bad.conf")], {
            stdio: "pipe",
          }),
        ).toThrow();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  },
);
