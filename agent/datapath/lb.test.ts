// tb_lb in the kernel through BPF_PROG_TEST_RUN: table-driven fixtures (input frame, map
// seed, expected verdict, expected output bytes), then the stateful behaviours (cache vs
// table changes, affinity, counters, flood guard).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as abi from "./abi";
import { pinThreadToCpu, restoreThreadCpus, type TestRunner } from "./bpf-object";
import { Datapath, type ListenerSpec } from "./datapath";
import { flowHash, tableSlot } from "./flow-hash";
import { XdpAction, xdpActionName } from "./libbpf";
import {
  NODE_MAC,
  TCP_ACK,
  TCP_SYN,
  buildPacket,
  expectedEncap,
  inetChecksum,
  l3Offset,
  type PacketSpec,
} from "./packet";
import { NOT_ROOT_REASON, isRoot, mountPrivateBpffs, type PrivateBpffs } from "./test-support";

const NODE_V4 = "198.18.0.1";
const NODE_V6 = "2001:db8:0:1::1";
const GW_MAC = "02:00:00:00:00:fe";
const TCP = 6;
const UDP = 17;

// Backends (id -> address).
const B = {
  v4a: { id: 10, address: "198.18.2.10" },
  v4b: { id: 11, address: "198.18.2.11" },
  v4c: { id: 12, address: "198.18.2.12" },
  v4d: { id: 13, address: "198.18.2.13" },
  v6a: { id: 20, address: "2001:db8:2::10" },
  v6b: { id: 21, address: "2001:db8:2::11" },
  s1: { id: 30, address: "198.18.3.1" },
  s2: { id: 31, address: "198.18.3.2" },
};
type Backend = (typeof B)[keyof typeof B];

// Listeners and their tables: slot i -> backends[i % n], so the chosen backend proves the
// kernel's hash and slot computation match flow-hash.ts.
interface Seed {
  spec: ListenerSpec;
  backends: Backend[];
}
const SEEDS = {
  web4: {
    spec: { vip: "198.19.0.10", protocol: "tcp", port: 80 },
    backends: [B.v4a, B.v4b, B.v4c, B.v4d],
  },
  dns4: {
    spec: { vip: "198.19.0.10", protocol: "udp", port: 53, affinity: "source-ip" },
    backends: [B.v4a, B.v4b, B.v4c, B.v4d],
  },
  web6: { spec: { vip: "2001:db8:19::10", protocol: "tcp", port: 443 }, backends: [B.v6a, B.v6b] },
  range4: {
    spec: { vip: "198.19.0.20", protocol: "tcp", port: 8000, portEnd: 8099 },
    backends: [B.v4c],
  },
  cidr4: {
    spec: {
      vip: "198.19.0.30",
      protocol: "tcp",
      port: 80,
      allowedCidrs: ["198.18.100.0/24", "198.18.101.7/32"],
    },
    backends: [B.v4d],
  },
  cidr6: {
    spec: {
      vip: "2001:db8:19::30",
      protocol: "tcp",
      port: 80,
      allowedCidrs: ["2001:db8:100::/48"],
    },
    backends: [B.v6a],
  },
  mixed46: { spec: { vip: "198.19.0.40", protocol: "tcp", port: 80 }, backends: [B.v6b] },
  mixed64: { spec: { vip: "2001:db8:19::40", protocol: "udp", port: 53 }, backends: [B.v4b] },
  empty: { spec: { vip: "198.19.0.50", protocol: "tcp", port: 80 }, backends: [] },
  switch: { spec: { vip: "198.19.0.60", protocol: "tcp", port: 80 }, backends: [B.s1, B.s2] },
  switchUdp: { spec: { vip: "198.19.0.60", protocol: "udp", port: 80 }, backends: [B.s1, B.s2] },
  counted: {
    spec: { vip: "198.19.0.70", protocol: "tcp", port: 80, allowedCidrs: ["198.18.50.0/24"] },
    backends: [B.s1],
  },
} satisfies Record<string, Seed>;
type SeedName = keyof typeof SEEDS;

function roundRobinTable(backends: Backend[], size: number): Uint32Array {
  const t = new Uint32Array(size).fill(abi.TB_NO_BACKEND);
  if (backends.length) for (let i = 0; i < size; i++) t[i] = backends[i % backends.length]!.id;
  return t;
}

function constantTable(backend: Backend, size: number): Uint32Array {
  return new Uint32Array(size).fill(backend.id);
}

/** The backend the kernel must pick for a new flow of `p` on listener `seed`. */
function expectedBackend(seed: Seed, p: PacketSpec): Backend {
  const flow = flowOf(p);
  const slot = tableSlot(flowHash(flow, seed.spec.affinity === "source-ip"));
  return seed.backends[slot % seed.backends.length]!;
}

function flowOf(p: PacketSpec): abi.FlowKey {
  const s = abi.addrBytes(p.src);
  return {
    family: s.family,
    src: s.bytes,
    dst: abi.addrBytes(p.dst).bytes,
    sport: p.sport ?? 0,
    dport: p.dport ?? 0,
    proto: p.proto,
  };
}

function encapFor(frame: Buffer, p: PacketSpec, be: Backend, sourceOnly = false): Buffer {
  const v6 = abi.addrBytes(be.address).family === 6;
  return expectedEncap(frame, {
    outerSrc: v6 ? NODE_V6 : NODE_V4,
    outerDst: be.address,
    dstMac: GW_MAC,
    srcMac: NODE_MAC,
    flowLabel: v6 ? flowHash(flowOf(p), sourceOnly) & 0xfffff : undefined,
  });
}

let portSeq = 20000;
const nextPort = () => portSeq++;

describe.skipIf(!isRoot)(
  `tb_lb in the kernel${isRoot ? "" : ` (skipped: ${NOT_ROOT_REASON})`}`,
  () => {
    let bpffs: PrivateBpffs;
    let dp: Datapath;
    let run: TestRunner;
    let savedCpus: number[];
    const ids = {} as Record<SeedName, number>;

    const send = (frame: Buffer) => {
      const r = run.run(frame);
      return { action: xdpActionName(r.action), data: r.data };
    };

    beforeAll(() => {
      savedCpus = pinThreadToCpu(0); // per-CPU state (flood window, LRU share) on one CPU
      bpffs = mountPrivateBpffs("lbtest");
      dp = Datapath.open({
        pinDir: bpffs.dir,
        maxListeners: 64,
        maxBackends: 256,
        conn4PerCpu: 4096,
        conn6PerCpu: 1024,
      });
      dp.configure({
        nodeV4: NODE_V4,
        nodeV6: NODE_V6,
        useFib: false,
        fallback: { ifindex: 0, dstMac: GW_MAC, srcMac: NODE_MAC },
      });
      const tables = new Map<number, Uint32Array>();
      for (const [name, seed] of Object.entries(SEEDS) as Array<[SeedName, Seed]>) {
        ids[name] = dp.upsertListener({ ...seed.spec, backends: seed.backends });
        tables.set(ids[name], roundRobinTable(seed.backends, dp.tableSize));
      }
      dp.writeTables(tables);
      run = dp.testRunner();
    });

    afterAll(() => {
      dp?.close();
      bpffs?.cleanup();
      if (savedCpus) restoreThreadCpus(savedCpus);
    });

    // ---- fixtures ----------------------------------------------------------------------

    interface Fixture {
      name: string;
      packet: PacketSpec;
      seed?: SeedName; // forwarded through this listener (expected bytes computed from the seed)
      action: "TX" | "PASS" | "DROP";
    }

    const client4 = "198.18.100.5";
    const client6 = "2001:db8:100::5";
    const fixtures: Fixture[] = [
      {
        name: "IPv4 TCP to a VIP: IPIP to the hashed backend",
        seed: "web4",
        action: "TX",
        packet: {
          src: client4,
          dst: "198.19.0.10",
          proto: TCP,
          sport: 40001,
          dport: 80,
          payload: Buffer.from("GET / HTTP/1.1\r\n\r\n"),
        },
      },
      {
        name: "IPv4 TCP SYN",
        seed: "web4",
        action: "TX",
        packet: {
          src: "198.18.100.6",
          dst: "198.19.0.10",
          proto: TCP,
          sport: 40002,
          dport: 80,
          tcpFlags: TCP_SYN,
          df: true,
          tos: 0xb8,
        },
      },
      {
        name: "802.1Q tagged IPv4: tag kept on the way out",
        seed: "web4",
        action: "TX",
        packet: {
          src: client4,
          dst: "198.19.0.10",
          proto: TCP,
          sport: 40003,
          dport: 80,
          vlan: 0x0064,
        },
      },
      {
        name: "IPv4 with options: carried inside",
        seed: "web4",
        action: "TX",
        packet: {
          src: client4,
          dst: "198.19.0.10",
          proto: TCP,
          sport: 40004,
          dport: 80,
          ipOptions: Buffer.from([1, 1, 1, 0]),
        },
      },
      {
        name: "IPv6 TCP to a VIP: IPv6-in-IPv6",
        seed: "web6",
        action: "TX",
        packet: {
          src: client6,
          dst: "2001:db8:19::10",
          proto: TCP,
          sport: 40005,
          dport: 443,
          tos: 0x28,
          payload: Buffer.alloc(100, 7),
        },
      },
      {
        name: "IPv6 tagged",
        seed: "web6",
        action: "TX",
        packet: {
          src: client6,
          dst: "2001:db8:19::10",
          proto: TCP,
          sport: 40006,
          dport: 443,
          vlan: 0x2005,
        },
      },
      {
        name: "UDP, source-IP affinity",
        seed: "dns4",
        action: "TX",
        packet: {
          src: "198.18.77.1",
          dst: "198.19.0.10",
          proto: UDP,
          sport: 5353,
          dport: 53,
          payload: Buffer.alloc(30, 1),
        },
      },
      {
        name: "port range: first port",
        seed: "range4",
        action: "TX",
        packet: { src: client4, dst: "198.19.0.20", proto: TCP, sport: 40007, dport: 8000 },
      },
      {
        name: "port range: last port",
        seed: "range4",
        action: "TX",
        packet: { src: client4, dst: "198.19.0.20", proto: TCP, sport: 40008, dport: 8099 },
      },
      {
        name: "allowed CIDR /24",
        seed: "cidr4",
        action: "TX",
        packet: { src: "198.18.100.200", dst: "198.19.0.30", proto: TCP, sport: 40009, dport: 80 },
      },
      {
        name: "allowed CIDR /32",
        seed: "cidr4",
        action: "TX",
        packet: { src: "198.18.101.7", dst: "198.19.0.30", proto: TCP, sport: 40010, dport: 80 },
      },
      {
        name: "allowed IPv6 CIDR",
        seed: "cidr6",
        action: "TX",
        packet: {
          src: "2001:db8:100:ffff::1",
          dst: "2001:db8:19::30",
          proto: TCP,
          sport: 40011,
          dport: 80,
        },
      },
      {
        name: "IPv4 VIP, IPv6 backend: IPv4-in-IPv6",
        seed: "mixed46",
        action: "TX",
        packet: { src: client4, dst: "198.19.0.40", proto: TCP, sport: 40012, dport: 80, df: true },
      },
      {
        name: "IPv6 VIP, IPv4 backend: IPv6-in-IPv4 (DF set)",
        seed: "mixed64",
        action: "TX",
        packet: { src: client6, dst: "2001:db8:19::40", proto: UDP, sport: 40013, dport: 53 },
      },
      // passed untouched
      {
        name: "non-VIP IPv4",
        action: "PASS",
        packet: { src: client4, dst: "198.18.9.9", proto: TCP, sport: 1, dport: 80 },
      },
      {
        name: "non-VIP IPv6",
        action: "PASS",
        packet: { src: client6, dst: "2001:db8:9::9", proto: UDP, sport: 1, dport: 53 },
      },
      {
        name: "VIP, wrong port",
        action: "PASS",
        packet: { src: client4, dst: "198.19.0.10", proto: TCP, sport: 1, dport: 81 },
      },
      {
        name: "VIP, wrong protocol (UDP to a TCP listener)",
        action: "PASS",
        packet: { src: client4, dst: "198.19.0.10", proto: UDP, sport: 1, dport: 80 },
      },
      {
        name: "VIP, outside the port range",
        action: "PASS",
        packet: { src: client4, dst: "198.19.0.20", proto: TCP, sport: 1, dport: 8100 },
      },
      {
        name: "VIP, range with the wrong protocol",
        action: "PASS",
        packet: { src: client4, dst: "198.19.0.20", proto: UDP, sport: 1, dport: 8050 },
      },
      {
        name: "ICMP echo to a VIP",
        action: "PASS",
        packet: {
          src: client4,
          dst: "198.19.0.10",
          proto: 1,
          payload: Buffer.from([8, 0, 0xf7, 0xff, 0, 0, 0, 0]),
        },
      },
      {
        name: "ICMPv6 to a VIP",
        action: "PASS",
        packet: {
          src: client6,
          dst: "2001:db8:19::10",
          proto: 58,
          payload: Buffer.from([128, 0, 0, 0, 0, 0, 0, 0]),
        },
      },
      {
        name: "IPv4 fragment to a non-VIP",
        action: "PASS",
        packet: {
          src: client4,
          dst: "198.18.9.9",
          proto: UDP,
          sport: 1,
          dport: 53,
          moreFragments: true,
        },
      },
      // dropped
      {
        name: "denied source",
        action: "DROP",
        packet: { src: "198.18.102.1", dst: "198.19.0.30", proto: TCP, sport: 40014, dport: 80 },
      },
      {
        name: "denied IPv6 source",
        action: "DROP",
        packet: {
          src: "2001:db8:101::1",
          dst: "2001:db8:19::30",
          proto: TCP,
          sport: 40015,
          dport: 80,
        },
      },
      {
        name: "no backend with weight > 0",
        action: "DROP",
        packet: { src: client4, dst: "198.19.0.50", proto: TCP, sport: 40016, dport: 80 },
      },
      {
        name: "IPv4 fragment to a VIP",
        action: "DROP",
        packet: {
          src: client4,
          dst: "198.19.0.10",
          proto: TCP,
          sport: 1,
          dport: 80,
          moreFragments: true,
        },
      },
      {
        name: "IPv4 non-first fragment to a VIP",
        action: "DROP",
        packet: {
          src: client4,
          dst: "198.19.0.10",
          proto: TCP,
          fragOffset: 100,
          payload: Buffer.alloc(20),
        },
      },
      {
        name: "IPv6 with an extension header to a VIP",
        action: "DROP",
        packet: {
          src: client6,
          dst: "2001:db8:19::10",
          proto: 44,
          payload: Buffer.from([6, 0, 0, 1, 0, 0, 0, 1, 0, 80, 1, 187]),
        },
      },
    ];

    it.each(fixtures.map((f) => [f.name, f] as const))("%s", (_name, f) => {
      const frame = buildPacket(f.packet);
      const r = send(frame);
      expect(r.action).toBe(f.action);
      if (f.action === "PASS") {
        expect(r.data.equals(frame)).toBe(true);
      } else if (f.action === "TX") {
        const seed = SEEDS[f.seed!];
        const be = expectedBackend(seed, f.packet);
        const want = encapFor(
          frame,
          f.packet,
          be,
          (seed.spec as ListenerSpec).affinity === "source-ip",
        );
        expect(r.data.toString("hex")).toBe(want.toString("hex"));
        const l3 = l3Offset(r.data);
        if (r.data.readUInt16BE(l3 - 2) === 0x0800) {
          expect(inetChecksum(r.data.subarray(l3, l3 + 20))).toBe(0); // outer checksum valid
        }
        // the inner packet is byte-for-byte the original
        expect(
          r.data
            .subarray(r.data.length - (frame.length - l3Offset(frame)))
            .equals(frame.subarray(l3Offset(frame))),
        ).toBe(true);
      }
    });

    it("passes truncated and malformed frames untouched, whatever the cut", () => {
      const frames = [
        buildPacket({ src: client4, dst: "198.19.0.10", proto: TCP, sport: 40100, dport: 80 }),
        buildPacket({ src: client6, dst: "2001:db8:19::10", proto: TCP, sport: 40101, dport: 443 }),
        buildPacket({
          src: client4,
          dst: "198.19.0.10",
          proto: UDP,
          sport: 40102,
          dport: 53,
          vlan: 7,
        }),
      ];
      const before = dp.readStats().global.malformed;
      let cuts = 0;
      for (const f of frames) {
        const l3 = l3Offset(f);
        const min = f[l3]! >> 4 === 4 ? 20 + 8 : 40 + 8; // shortest complete UDP packet
        for (let len = 0; len < f.length; len++) {
          if (len >= l3 + min && f.readUInt16BE(l3 + 2) === 0) continue;
          const cut = Buffer.from(f.subarray(0, len));
          if (len < 14) continue; // the kernel refuses frames shorter than an Ethernet header
          const r = send(cut);
          expect(r.action, `cut at ${len}`).toBe("PASS");
          expect(r.data.equals(cut)).toBe(true);
          cuts++;
        }
      }
      // every cut inside the IP or L4 header (or short of the IP length) counts as malformed
      expect(dp.readStats().global.malformed - before).toBeGreaterThan(0n);
      expect(cuts).toBeGreaterThan(100);
      // bad version / header length / lengths
      const bad = buildPacket({
        src: client4,
        dst: "198.19.0.10",
        proto: TCP,
        sport: 40103,
        dport: 80,
      });
      for (const mutate of [
        (b: Buffer) => (b[14] = 0x55), // version 5
        (b: Buffer) => (b[14] = 0x44), // IHL 4
        (b: Buffer) => (b[14] = 0x4f), // IHL 15: options past the end
        (b: Buffer) => b.writeUInt16BE(0xffff, 16), // total length beyond the frame
        (b: Buffer) => b.writeUInt16BE(30, 16), // total length shorter than the headers
      ]) {
        const b = Buffer.from(bad);
        mutate(b);
        const r = send(b);
        expect(r.action).toBe("PASS");
        expect(r.data.equals(b)).toBe(true);
      }
    });

    // ---- connection cache ------------------------------------------------------------

    it("keeps an established flow on its backend after a table change; a new SYN follows the table", () => {
      const id = ids.switch;
      const udpId = ids.switchUdp;
      const vip = "198.19.0.60";
      const to = (be: Backend) => (frame: Buffer) => {
        const r = send(frame);
        expect(r.action).toBe("TX");
        const l3 = l3Offset(r.data);
        expect(abi.formatAddr(4, r.data.subarray(l3 + 16, l3 + 20))).toBe(be.address);
      };
      dp.writeTables(
        new Map([
          [id, constantTable(B.s1, dp.tableSize)],
          [udpId, constantTable(B.s1, dp.tableSize)],
        ]),
      );
      const flowA = { src: "198.18.60.1", dst: vip, proto: TCP, sport: nextPort(), dport: 80 };
      const udpFlow = { src: "198.18.60.1", dst: vip, proto: UDP, sport: nextPort(), dport: 80 };
      to(B.s1)(buildPacket({ ...flowA, tcpFlags: TCP_SYN }));
      to(B.s1)(buildPacket({ ...flowA, tcpFlags: TCP_ACK }));
      to(B.s1)(buildPacket(udpFlow));

      dp.writeTables(
        new Map([
          [id, constantTable(B.s2, dp.tableSize)],
          [udpId, constantTable(B.s2, dp.tableSize)],
        ]),
      );
      expect(dp.readTable(id)[0]).toBe(B.s2.id);
      to(B.s1)(buildPacket({ ...flowA, tcpFlags: TCP_ACK })); // established: stays
      to(B.s1)(buildPacket(udpFlow)); // UDP flow: stays
      const flowB = { ...flowA, sport: nextPort() };
      to(B.s2)(buildPacket({ ...flowB, tcpFlags: TCP_SYN })); // new connection: new table
      to(B.s2)(buildPacket({ ...flowB, tcpFlags: TCP_ACK }));
      to(B.s2)(buildPacket({ ...flowA, tcpFlags: TCP_SYN })); // 5-tuple reused by a new SYN: rehashed
      to(B.s2)(buildPacket({ ...flowA, tcpFlags: TCP_ACK })); // ...and cached there

      // A backend removed from the listener: its cached flows are hashed again.
      const flowC = { ...flowA, sport: nextPort() };
      to(B.s2)(buildPacket({ ...flowC, tcpFlags: TCP_SYN }));
      dp.writeTables(new Map([[id, constantTable(B.s1, dp.tableSize)]]));
      dp.setListenerBackends(id, [B.s1]);
      dp.setListenerBackends(udpId, [B.s1]);
      to(B.s1)(buildPacket({ ...flowC, tcpFlags: TCP_ACK }));
      dp.setListenerBackends(id, [B.s1, B.s2]);
      dp.setListenerBackends(udpId, [B.s1, B.s2]);
    });

    it("source-IP affinity: every flow of a client lands on the same backend", () => {
      const seed = SEEDS.dns4;
      const seen = new Set<string>();
      for (let c = 1; c <= 30; c++) {
        const src = `198.18.${40 + (c % 5)}.${c}`;
        const backends = new Set<string>();
        for (let f = 0; f < 5; f++) {
          const p = { src, dst: "198.19.0.10", proto: UDP, sport: nextPort(), dport: 53 };
          const r = send(buildPacket(p));
          expect(r.action).toBe("TX");
          const dst = abi.formatAddr(4, r.data.subarray(30, 34));
          expect(dst).toBe(expectedBackend(seed, p).address);
          backends.add(dst);
        }
        expect(backends.size).toBe(1);
        seen.add([...backends][0]!);
      }
      expect(seen.size).toBeGreaterThan(1); // and different clients spread over the backends
    });

    it("counts exactly: listener, backend and global counters", () => {
      const id = ids.counted;
      const s0 = dp.readStats();
      const allowed = {
        src: "198.18.50.9",
        dst: "198.19.0.70",
        proto: TCP,
        sport: nextPort(),
        dport: 80,
      };
      const syn = buildPacket({ ...allowed, tcpFlags: TCP_SYN });
      const ack = buildPacket({ ...allowed, tcpFlags: TCP_ACK, payload: Buffer.alloc(111) });
      const denied = buildPacket({ ...allowed, src: "198.18.51.9" });
      const nonVip = buildPacket({ ...allowed, dst: "198.18.9.9" });
      const sent = [syn, ack, ack, ack, denied, denied, nonVip];
      for (const f of sent) send(f);
      const s1 = dp.readStats();
      const l0 = s0.listeners.get(id)!;
      const l1 = s1.listeners.get(id)!;
      const d = (k: abi.ListenerCounter) => l1[k] - l0[k];
      expect(d("packets")).toBe(6n);
      expect(d("bytes")).toBe(BigInt(syn.length + 3 * ack.length + 2 * denied.length));
      expect(d("newFlows")).toBe(1n);
      expect(d("dropDenied")).toBe(2n);
      expect(d("dropNoBackend")).toBe(0n);
      const b0 = s0.backends.get(B.s1.id)!;
      const b1 = s1.backends.get(B.s1.id)!;
      expect(b1.packets - b0.packets).toBe(4n);
      expect(b1.bytes - b0.bytes).toBe(BigInt(syn.length + 3 * ack.length));
      const g = (k: abi.GlobalCounter) => s1.global[k] - s0.global[k];
      expect(g("tx")).toBe(4n);
      expect(g("drop")).toBe(2n);
      expect(g("pass")).toBe(1n);
      expect(g("cacheHit")).toBe(3n);
      expect(g("cacheMiss")).toBe(1n);
      expect(g("fibFallback")).toBe(4n);
    });

    it("SYN-flood guard: enters stateless mode over the limit, keeps cached flows, leaves after the cool-down", async () => {
      const conn = dp.map("tb_conn4_v2");
      const inCache = (p: PacketSpec) =>
        conn.lookup(abi.flowKey(flowOf(p)), Buffer.alloc(abi.LAYOUTS.tb_conn.size));
      const settings = {
        nodeV4: NODE_V4,
        nodeV6: NODE_V6,
        fallback: { ifindex: 0, dstMac: GW_MAC, srcMac: NODE_MAC },
      };
      dp.configure({ ...settings, floodGuard: { threshold: 5, windowMs: 300, cooldownMs: 400 } });
      try {
        const s0 = dp.readStats();
        const flows = Array.from({ length: 10 }, () => ({
          src: "198.18.70.1",
          dst: "198.19.0.10",
          proto: TCP,
          sport: nextPort(),
          dport: 80,
        }));
        for (const p of flows)
          expect(send(buildPacket({ ...p, tcpFlags: TCP_SYN })).action).toBe("TX");
        const s1 = dp.readStats();
        expect(s1.global.floodEnter - s0.global.floodEnter).toBe(1n);
        expect(s1.global.floodStateless - s0.global.floodStateless).toBe(5n);
        expect(s1.floodCpus).toEqual([0]);
        expect(flows.slice(0, 5).every(inCache)).toBe(true);
        expect(flows.slice(5).some(inCache)).toBe(false);
        // an established flow keeps working from the cache during the flood
        expect(send(buildPacket({ ...flows[0]!, tcpFlags: TCP_ACK })).action).toBe("TX");
        expect(dp.readStats().global.cacheHit - s1.global.cacheHit).toBe(1n);

        await new Promise((r) => setTimeout(r, 800)); // window and cool-down over
        expect(dp.readStats().floodCpus).toEqual([]); // reported out even before the next flow
        const late = { ...flows[0]!, sport: nextPort() };
        expect(send(buildPacket({ ...late, tcpFlags: TCP_SYN })).action).toBe("TX");
        expect(inCache(late)).toBe(true);
        const s2 = dp.readStats();
        expect(s2.floodCpus).toEqual([]);
        expect(s2.global.floodEnter - s0.global.floodEnter).toBe(1n);
      } finally {
        dp.configure({ ...settings, useFib: false });
      }
    });

    it("drops when the backend's family has no node address (counted)", () => {
      dp.configure({ nodeV4: NODE_V4, fallback: { ifindex: 0, dstMac: GW_MAC, srcMac: NODE_MAC } });
      try {
        const id = ids.web6;
        const before = dp.readStats().listeners.get(id)!.dropEncap;
        const r = send(
          buildPacket({
            src: client6,
            dst: "2001:db8:19::10",
            proto: TCP,
            sport: nextPort(),
            dport: 443,
          }),
        );
        expect(r.action).toBe("DROP");
        expect(dp.readStats().listeners.get(id)!.dropEncap - before).toBe(1n);
      } finally {
        dp.configure({
          nodeV4: NODE_V4,
          nodeV6: NODE_V6,
          fallback: { ifindex: 0, dstMac: GW_MAC, srcMac: NODE_MAC },
        });
      }
    });

    it("redirects to the fallback interface when it differs from the ingress", () => {
      dp.configure({
        nodeV4: NODE_V4,
        nodeV6: NODE_V6,
        fallback: { ifindex: 4242, dstMac: GW_MAC, srcMac: NODE_MAC },
      });
      try {
        const r = send(
          buildPacket({
            src: client4,
            dst: "198.19.0.10",
            proto: TCP,
            sport: nextPort(),
            dport: 80,
          }),
        );
        expect(r.action).toBe("REDIRECT");
      } finally {
        dp.configure({
          nodeV4: NODE_V4,
          nodeV6: NODE_V6,
          fallback: { ifindex: 0, dstMac: GW_MAC, srcMac: NODE_MAC },
        });
      }
    });

    it("drops with no route when neither FIB nor fallback can name a next hop", () => {
      dp.configure({ nodeV4: NODE_V4, nodeV6: NODE_V6 });
      try {
        const before = dp.readStats().listeners.get(ids.web4)!.dropNoRoute;
        const r = send(
          buildPacket({
            src: client4,
            dst: "198.19.0.10",
            proto: TCP,
            sport: nextPort(),
            dport: 80,
          }),
        );
        expect(r.action).toBe("DROP");
        expect(dp.readStats().listeners.get(ids.web4)!.dropNoRoute - before).toBe(1n);
      } finally {
        dp.configure({
          nodeV4: NODE_V4,
          nodeV6: NODE_V6,
          fallback: { ifindex: 0, dstMac: GW_MAC, srcMac: NODE_MAC },
        });
      }
    });

    it("a deleted listener stops matching; its VIP's other listeners keep working", () => {
      const spec = { vip: "198.19.0.80", protocol: "tcp", port: 9000, portEnd: 9010 } as const;
      const id = dp.upsertListener({ ...spec, backends: [B.v4a] });
      dp.writeTables(new Map([[id, constantTable(B.v4a, dp.tableSize)]]));
      const exact = dp.upsertListener({
        vip: "198.19.0.80",
        protocol: "tcp",
        port: 9005,
        backends: [B.v4b],
      });
      dp.writeTables(new Map([[exact, constantTable(B.v4b, dp.tableSize)]]));
      const pkt = (dport: number) =>
        buildPacket({ src: client4, dst: "198.19.0.80", proto: TCP, sport: nextPort(), dport });
      expect(send(pkt(9001)).action).toBe("TX");
      const viaExact = send(pkt(9005));
      expect(abi.formatAddr(4, viaExact.data.subarray(30, 34))).toBe(B.v4b.address); // exact port wins over the range
      expect(dp.deleteListener(spec)).toBe(true);
      expect(send(pkt(9001)).action).toBe("PASS");
      expect(send(pkt(9005)).action).toBe("TX");
      expect(dp.deleteListener({ vip: "198.19.0.80", protocol: "tcp", port: 9005 })).toBe(true);
      const frag = buildPacket({
        src: client4,
        dst: "198.19.0.80",
        proto: TCP,
        sport: 1,
        dport: 9005,
        moreFragments: true,
      });
      expect(send(frag).action).toBe("PASS"); // no longer a VIP at all
      expect(XdpAction.PASS).toBe(2);
    });

    it("a cached flow is never carried over to a new listener that re-uses a deleted one's id", () => {
      // another listener keeps 198.19.0.81 a VIP, so its packets pass the pre-filter
      const keeper = { vip: "198.19.0.81", protocol: "tcp", port: 9101 } as const;
      dp.upsertListener({ ...keeper, backends: [B.v4a] });
      const old = { vip: "198.19.0.81", protocol: "tcp", port: 9100 } as const;
      const oldId = dp.upsertListener({ ...old, backends: [B.v4a] });
      dp.writeTables(new Map([[oldId, constantTable(B.v4a, dp.tableSize)]]));
      const flow = { src: client4, dst: old.vip, proto: TCP, sport: nextPort(), dport: old.port };
      expect(send(buildPacket({ ...flow, tcpFlags: TCP_SYN })).action).toBe("TX");
      const s0 = dp.readStats();
      expect(send(buildPacket({ ...flow, tcpFlags: TCP_ACK })).action).toBe("TX");
      expect(dp.readStats().global.cacheHit - s0.global.cacheHit).toBe(1n);

      expect(dp.deleteListener(old)).toBe(true);
      const next = { vip: "198.19.0.82", protocol: "tcp", port: 9200 } as const;
      const nextId = dp.upsertListener({ ...next, backends: [B.v4b] });
      expect(nextId).toBe(oldId); // the slot is re-used (lowest free id)...
      dp.writeTables(new Map([[nextId, constantTable(B.v4b, dp.tableSize)]]));
      // ...but the old flow's cache entry names the earlier listener: the packet is not ours
      const s1 = dp.readStats();
      expect(send(buildPacket({ ...flow, tcpFlags: TCP_ACK })).action).toBe("PASS");
      expect(dp.readStats().global.cacheHit).toBe(s1.global.cacheHit);
      expect(dp.readStats().listeners.get(nextId)!.packets).toBe(0n);
      const fresh = { ...flow, dst: next.vip, dport: next.port };
      const r = send(buildPacket({ ...fresh, tcpFlags: TCP_ACK }));
      expect(r.action).toBe("TX");
      expect(abi.formatAddr(4, r.data.subarray(30, 34))).toBe(B.v4b.address);
      expect(dp.deleteListener(next)).toBe(true);
      expect(dp.deleteListener(keeper)).toBe(true);
    });

    it("VIP pre-filter: two VIPs sharing a filter bit; removing one keeps the other reachable", () => {
      // find a second address whose pre-filter bit equals the first one's
      const first = "198.19.7.1";
      const bit = abi.vipFilterBit(4, abi.addrBytes(first).bytes);
      const inUse = new Set(dp.listListeners().map((l) => l.vip));
      let second = "";
      for (let i = 0; i < 1 << 17 && !second; i++) {
        const a = `198.${18 + (i >> 16)}.${(i >> 8) & 0xff}.${i & 0xff}`;
        if (a === first || inUse.has(a)) continue;
        if (abi.vipFilterBit(4, abi.addrBytes(a).bytes) === bit) second = a;
      }
      expect(second).not.toBe("");
      const specs = [first, second].map((vip) => ({ vip, protocol: "tcp", port: 80 }) as const);
      for (const spec of specs) {
        const id = dp.upsertListener({ ...spec, backends: [B.v4c] });
        dp.writeTables(new Map([[id, constantTable(B.v4c, dp.tableSize)]]));
      }
      const to = (vip: string) =>
        send(buildPacket({ src: client4, dst: vip, proto: TCP, sport: nextPort(), dport: 80 }))
          .action;
      expect([to(first), to(second)]).toEqual(["TX", "TX"]);
      expect(dp.deleteListener(specs[0]!)).toBe(true);
      expect([to(first), to(second)]).toEqual(["PASS", "TX"]);
      expect(dp.deleteListener(specs[1]!)).toBe(true);
      expect(to(second)).toBe("PASS");
      const raw = Buffer.alloc(8 * abi.TB_VIP_FILTER_WORDS);
      dp.map("tb_vip_filter").lookup(abi.u32(0), raw);
      expect((raw[bit >> 3]! >> (bit & 7)) & 1).toBe(0); // the bit is clear again
    });

    it("rejects bad listener specs before touching the maps", () => {
      expect(() => dp.upsertListener({ vip: "198.19.0.90", protocol: "tcp", port: 0 })).toThrow(
        /port/,
      );
      expect(() =>
        dp.upsertListener({ vip: "198.19.0.90", protocol: "tcp", port: 90, portEnd: 80 }),
      ).toThrow(/empty/);
      expect(() => dp.upsertListener({ vip: "nope", protocol: "tcp", port: 90 })).toThrow(
        /address/,
      );
      expect(() =>
        dp.upsertListener({
          vip: "198.19.0.90",
          protocol: "tcp",
          port: 90,
          allowedCidrs: ["2001:db8::/32"],
        }),
      ).toThrow(/family/);
      expect(() =>
        dp.upsertListener({
          vip: "198.19.0.90",
          protocol: "tcp",
          port: 90,
          backends: [{ id: 9999, address: "198.18.2.1" }],
        }),
      ).toThrow(/range/);
      expect(() =>
        dp.upsertListener({ vip: "198.19.0.20", protocol: "tcp", port: 8050, portEnd: 8200 }),
      ).toThrow(/overlaps/);
      expect(dp.listenerId({ vip: "198.19.0.90", protocol: "tcp", port: 90 })).toBeUndefined();
    });
  },
);
