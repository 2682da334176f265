// encap (tb_lb) -> decap (tb_decap) gives back the client's original IP packet, for every
// family combination and with an 802.1Q tag; anything not encapsulated passes untouched.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type TestRunner } from "./bpf-object";
import { Datapath } from "./datapath";
import { Decap } from "./decap";
import { xdpActionName } from "./libbpf";
import {
  ETH_P_IP,
  ETH_P_IPV6,
  NODE_MAC,
  TCP_SYN,
  buildPacket,
  l3Offset,
  type PacketSpec,
} from "./packet";
import { NOT_ROOT_REASON, isRoot, mountPrivateBpffs, type PrivateBpffs } from "./test-support";

const GW_MAC = "02:00:00:00:00:fe";

describe.skipIf(!isRoot)(`encap -> decap${isRoot ? "" : ` (skipped: ${NOT_ROOT_REASON})`}`, () => {
  let bpffs: PrivateBpffs;
  let dp: Datapath;
  let decap: Decap;
  let lb: TestRunner;
  let de: TestRunner;

  beforeAll(() => {
    bpffs = mountPrivateBpffs("decaptest");
    dp = Datapath.open({
      pinDir: `${bpffs.dir}/lb`,
      maxListeners: 16,
      maxBackends: 16,
      conn4PerCpu: 1024,
      conn6PerCpu: 1024,
    });
    decap = Decap.open(`${bpffs.dir}/decap`);
    dp.configure({
      nodeV4: "198.18.0.1",
      nodeV6: "2001:db8:0:1::1",
      fallback: { ifindex: 0, dstMac: GW_MAC, srcMac: NODE_MAC },
    });
    const listeners = [
      { vip: "198.19.1.1", backend: { id: 1, address: "198.18.2.1" } },
      { vip: "198.19.1.2", backend: { id: 2, address: "2001:db8:2::2" } },
      { vip: "2001:db8:19::1", backend: { id: 3, address: "2001:db8:2::3" } },
      { vip: "2001:db8:19::2", backend: { id: 4, address: "198.18.2.4" } },
    ];
    const tables = new Map<number, Uint32Array>();
    for (const l of listeners) {
      for (const protocol of ["tcp", "udp"] as const) {
        const id = dp.upsertListener({ vip: l.vip, protocol, port: 80, backends: [l.backend] });
        tables.set(id, new Uint32Array(dp.tableSize).fill(l.backend.id));
      }
    }
    dp.writeTables(tables);
    lb = dp.testRunner();
    de = decap.testRunner();
  });

  afterAll(() => {
    dp?.close();
    decap?.close();
    bpffs?.cleanup();
  });

  const cases: Array<[string, PacketSpec]> = [
    [
      "IPv4 in IPv4",
      {
        src: "198.18.100.1",
        dst: "198.19.1.1",
        proto: 6,
        sport: 1000,
        dport: 80,
        tcpFlags: TCP_SYN,
        df: true,
        tos: 0x10,
      },
    ],
    [
      "IPv4 in IPv4, tagged",
      {
        src: "198.18.100.1",
        dst: "198.19.1.1",
        proto: 17,
        sport: 1001,
        dport: 80,
        vlan: 42,
        payload: Buffer.alloc(64, 3),
      },
    ],
    [
      "IPv4 in IPv6",
      {
        src: "198.18.100.1",
        dst: "198.19.1.2",
        proto: 6,
        sport: 1002,
        dport: 80,
        payload: Buffer.from("hello"),
      },
    ],
    [
      "IPv6 in IPv6",
      {
        src: "2001:db8:100::1",
        dst: "2001:db8:19::1",
        proto: 6,
        sport: 1003,
        dport: 80,
        payload: Buffer.alloc(1200, 9),
      },
    ],
    [
      "IPv6 in IPv6, tagged",
      {
        src: "2001:db8:100::1",
        dst: "2001:db8:19::1",
        proto: 17,
        sport: 1004,
        dport: 80,
        vlan: 4000,
      },
    ],
    [
      "IPv6 in IPv4",
      {
        src: "2001:db8:100::1",
        dst: "2001:db8:19::2",
        proto: 17,
        sport: 1005,
        dport: 80,
        payload: Buffer.alloc(10, 1),
      },
    ],
  ];

  it.each(cases)("%s", (_name, spec) => {
    const original = buildPacket(spec);
    const encapped = lb.run(original);
    expect(xdpActionName(encapped.action)).toBe("TX");
    expect(encapped.data.length).toBeGreaterThan(original.length);
    const decapped = de.run(encapped.data);
    expect(xdpActionName(decapped.action)).toBe("PASS");
    const l3 = l3Offset(original);
    expect(l3Offset(decapped.data)).toBe(l3);
    // the IP packet is the client's, byte for byte
    expect(decapped.data.subarray(l3).toString("hex")).toBe(original.subarray(l3).toString("hex"));
    // EtherType names the inner family; the tag (if any) survives
    expect(decapped.data.readUInt16BE(l3 - 2)).toBe(spec.src.includes(":") ? ETH_P_IPV6 : ETH_P_IP);
    if (spec.vlan !== undefined) expect(decapped.data.readUInt16BE(14)).toBe(spec.vlan);
    // L2 addresses are those the frame arrived with
    expect(decapped.data.subarray(0, 12).equals(encapped.data.subarray(0, 12))).toBe(true);
  });

  it("passes plain traffic untouched and counts", () => {
    const before = decap.readStats();
    const plain = [
      buildPacket({ src: "198.18.100.1", dst: "198.19.1.1", proto: 6, sport: 1, dport: 80 }),
      buildPacket({
        src: "2001:db8:100::1",
        dst: "2001:db8:19::1",
        proto: 17,
        sport: 1,
        dport: 80,
      }),
    ];
    for (const f of plain) {
      const r = de.run(f);
      expect(xdpActionName(r.action)).toBe("PASS");
      expect(r.data.equals(f)).toBe(true);
    }
    const after = decap.readStats();
    expect(after.passed - before.passed).toBe(2n);
    expect(after.decapV4 - before.decapV4).toBe(0n);
    // a fragmented outer header is not ours: untouched
    const frag = buildPacket({
      src: "198.18.100.1",
      dst: "198.19.1.1",
      proto: 4,
      moreFragments: true,
      payload: Buffer.alloc(40),
    });
    expect(de.run(frag).data.equals(frag)).toBe(true);
  });

  it("counts decapsulations per outer family", () => {
    const before = decap.readStats();
    for (const [, spec] of cases) de.run(lb.run(buildPacket(spec)).data);
    const after = decap.readStats();
    expect(after.decapV4 - before.decapV4).toBe(3n);
    expect(after.decapV6 - before.decapV6).toBe(3n);
  });
});
