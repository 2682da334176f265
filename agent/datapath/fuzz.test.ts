// Fuzzing tb_lb through BPF_PROG_TEST_RUN: thousands of random and mutated frames. The kernel
// must survive them all, and every verdict must agree with an independent TypeScript model of
// the packet policy (bpf/README.md): PASS leaves the frame untouched, TX carries the original
// IP packet unchanged behind an outer header addressed to one of the listener's backends.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as abi from "./abi";
import { type TestRunner } from "./bpf-object";
import { Datapath, type ListenerSpec } from "./datapath";
import { xdpActionName } from "./libbpf";
import { NODE_MAC, TCP_SYN, buildPacket, type PacketSpec } from "./packet";
import { NOT_ROOT_REASON, isRoot, mountPrivateBpffs, type PrivateBpffs } from "./test-support";

const SEED = 0x5eed1234;
const FRAMES = 6000;

// xorshift32: deterministic, so a failure reproduces
function rng(seed: number) {
  let x = seed >>> 0 || 1;
  const next = () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
  return {
    next,
    int: (n: number) => next() % n,
    pick: <T>(a: readonly T[]) => a[next() % a.length]!,
  };
}

interface Lst {
  spec: ListenerSpec;
  backends: Array<{ id: number; address: string }>;
}
const LISTENERS: Lst[] = [
  {
    spec: { vip: "198.19.9.1", protocol: "tcp", port: 80 },
    backends: [
      { id: 1, address: "198.18.9.1" },
      { id: 2, address: "198.18.9.2" },
    ],
  },
  {
    spec: { vip: "198.19.9.1", protocol: "udp", port: 53, affinity: "source-ip" },
    backends: [{ id: 3, address: "2001:db8:9::3" }],
  },
  {
    spec: { vip: "198.19.9.2", protocol: "tcp", port: 1000, portEnd: 1999 },
    backends: [{ id: 4, address: "198.18.9.4" }],
  },
  {
    spec: { vip: "198.19.9.3", protocol: "tcp", port: 80, allowedCidrs: ["198.18.100.0/25"] },
    backends: [{ id: 5, address: "198.18.9.5" }],
  },
  { spec: { vip: "198.19.9.4", protocol: "udp", port: 80 }, backends: [] }, // no backend
  {
    spec: { vip: "2001:db8:19:9::1", protocol: "tcp", port: 443 },
    backends: [{ id: 6, address: "2001:db8:9::6" }],
  },
  {
    spec: { vip: "2001:db8:19:9::1", protocol: "udp", port: 4000, portEnd: 4010 },
    backends: [{ id: 7, address: "198.18.9.7" }],
  },
  {
    spec: {
      vip: "2001:db8:19:9::2",
      protocol: "tcp",
      port: 22,
      allowedCidrs: ["2001:db8:100::/56"],
    },
    backends: [{ id: 8, address: "2001:db8:9::8" }],
  },
];

type Verdict =
  { action: "PASS" } | { action: "DROP" } | { action: "TX"; listener: Lst; l3: number };

const protoNum = (p: string) => (p === "tcp" ? 6 : 17);

function inCidr(src: Buffer, cidr: string): boolean {
  const c = abi.parseCidr(cidr);
  for (let bit = 0; bit < c.prefix; bit++) {
    const m = 0x80 >> (bit & 7);
    if ((src[bit >> 3]! & m) !== (c.bytes[bit >> 3]! & m)) return false;
  }
  return true;
}

/** The policy, written from the README, not from the C. */
function model(f: Buffer): Verdict {
  let l3 = 14;
  let type = f.readUInt16BE(12);
  if (type === 0x8100) {
    if (f.length < 18) return { action: "PASS" };
    type = f.readUInt16BE(16);
    l3 = 18;
  }
  const avail = f.length - l3;
  let family: 4 | 6;
  let proto: number, src: Buffer, dst: Buffer, l4: number, totLen: number, fragment: boolean;
  if (type === 0x0800) {
    if (avail < 20) return { action: "PASS" };
    const ihl = (f[l3]! & 15) * 4;
    if (f[l3]! >> 4 !== 4 || ihl < 20) return { action: "PASS" };
    family = 4;
    fragment = (f.readUInt16BE(l3 + 6) & 0x3fff) !== 0;
    proto = f[l3 + 9]!;
    src = Buffer.alloc(16);
    dst = Buffer.alloc(16);
    f.copy(src, 0, l3 + 12, l3 + 16);
    f.copy(dst, 0, l3 + 16, l3 + 20);
    l4 = l3 + ihl;
    totLen = f.readUInt16BE(l3 + 2);
    if (fragment) return isVip(4, dst) ? { action: "DROP" } : { action: "PASS" };
    if (proto !== 6 && proto !== 17) return { action: "PASS" };
    const min = ihl + (proto === 6 ? 20 : 8);
    if (l4 + (proto === 6 ? 20 : 8) > f.length || totLen < min || totLen > avail)
      return { action: "PASS" };
  } else if (type === 0x86dd) {
    if (avail < 40) return { action: "PASS" };
    if (f[l3]! >> 4 !== 6) return { action: "PASS" };
    family = 6;
    proto = f[l3 + 6]!;
    src = Buffer.from(f.subarray(l3 + 8, l3 + 24));
    dst = Buffer.from(f.subarray(l3 + 24, l3 + 40));
    if (proto !== 6 && proto !== 17) {
      const ext = [0, 43, 44, 60, 51, 135].includes(proto);
      return ext && isVip(6, dst) ? { action: "DROP" } : { action: "PASS" };
    }
    l4 = l3 + 40;
    totLen = 40 + f.readUInt16BE(l3 + 4);
    const min = 40 + (proto === 6 ? 20 : 8);
    if (l4 + (proto === 6 ? 20 : 8) > f.length || totLen < min || totLen > avail)
      return { action: "PASS" };
  } else {
    return { action: "PASS" };
  }
  const dport = f.readUInt16BE(l4 + 2);
  const vipText = abi.formatAddr(family, dst);
  const sameVip = LISTENERS.filter(
    (l) => abi.formatAddr(...fam(l.spec.vip)) === vipText && protoNum(l.spec.protocol) === proto,
  );
  const lst =
    sameVip.find((l) => (l.spec.portEnd ?? l.spec.port) === l.spec.port && l.spec.port === dport) ??
    sameVip.find(
      (l) =>
        l.spec.portEnd !== undefined &&
        l.spec.portEnd !== l.spec.port &&
        dport >= l.spec.port &&
        dport <= l.spec.portEnd,
    );
  if (!lst) return { action: "PASS" };
  const cidrs = lst.spec.allowedCidrs ?? [];
  if (cidrs.length && !cidrs.some((c) => inCidr(src, c))) return { action: "DROP" };
  if (!lst.backends.length) return { action: "DROP" };
  return { action: "TX", listener: lst, l3 };
}

function fam(a: string): [4 | 6, Buffer] {
  const x = abi.addrBytes(a);
  return [x.family, x.bytes];
}

function isVip(family: 4 | 6, dst: Buffer): boolean {
  const t = abi.formatAddr(family, dst);
  return LISTENERS.some((l) => abi.formatAddr(...fam(l.spec.vip)) === t);
}

describe.skipIf(!isRoot)(`tb_lb fuzzing${isRoot ? "" : ` (skipped: ${NOT_ROOT_REASON})`}`, () => {
  let bpffs: PrivateBpffs;
  let dp: Datapath;
  let run: TestRunner;

  beforeAll(() => {
    bpffs = mountPrivateBpffs("fuzz");
    dp = Datapath.open({
      pinDir: bpffs.dir,
      maxListeners: 16,
      maxBackends: 16,
      conn4PerCpu: 4096,
      conn6PerCpu: 4096,
    });
    dp.configure({
      nodeV4: "198.18.0.1",
      nodeV6: "2001:db8::1",
      fallback: { ifindex: 0, dstMac: "02:00:00:00:00:fe", srcMac: NODE_MAC },
    });
    const tables = new Map<number, Uint32Array>();
    for (const l of LISTENERS) {
      const id = dp.upsertListener({ ...l.spec, backends: l.backends });
      const t = new Uint32Array(dp.tableSize).fill(abi.TB_NO_BACKEND);
      if (l.backends.length)
        for (let i = 0; i < t.length; i++) t[i] = l.backends[i % l.backends.length]!.id;
      tables.set(id, t);
    }
    dp.writeTables(tables);
    run = dp.testRunner();
  });

  afterAll(() => {
    dp?.close();
    bpffs?.cleanup();
  });

  function validFrame(r: ReturnType<typeof rng>): Buffer {
    const l = r.pick(LISTENERS);
    const v6 = l.spec.vip.includes(":");
    const src = v6
      ? r.pick(["2001:db8:100::1", "2001:db8:100:ff::9", "2001:db8:7::1"])
      : r.pick(["198.18.100.1", "198.18.100.200", "198.18.7.7"]);
    const dport = l.spec.portEnd
      ? l.spec.port + r.int(l.spec.portEnd - l.spec.port + 3)
      : r.pick([l.spec.port, l.spec.port + 1]);
    const spec: PacketSpec = {
      src,
      dst: r.int(10) ? l.spec.vip : v6 ? "2001:db8:19:9::99" : "198.19.9.99",
      proto: r.int(8) ? protoNum(l.spec.protocol) : r.pick([1, 6, 17, 47, 58]),
      sport: 1024 + r.int(60000),
      dport: Math.min(dport, 65535),
      tcpFlags: r.int(2) ? TCP_SYN : 0x10,
      payload: Buffer.alloc(r.int(64), r.int(256)),
      vlan: r.int(4) ? undefined : r.int(4096),
      ipOptions: !v6 && !r.int(8) ? Buffer.alloc(4 * (1 + r.int(3)), 1) : undefined,
      moreFragments: !v6 && !r.int(20),
    };
    return buildPacket(spec);
  }

  function mutate(r: ReturnType<typeof rng>, f: Buffer): Buffer {
    let b = Buffer.from(f);
    switch (r.int(5)) {
      case 0: // flip a few bytes, biased towards the headers
        for (let i = r.int(4) + 1; i > 0; i--) b[r.int(Math.min(b.length, 80))] = r.int(256);
        break;
      case 1: // truncate
        b = b.subarray(0, 14 + r.int(b.length - 13));
        break;
      case 2: // append garbage
        b = Buffer.concat([b, Buffer.alloc(r.int(40), r.int(256))]);
        break;
      case 3: // lie about lengths
        if (b.length > 20) b.writeUInt16BE(r.int(65536), b.readUInt16BE(12) === 0x8100 ? 20 : 16);
        break;
      default:
        break; // valid
    }
    return Buffer.from(b);
  }

  function randomFrame(r: ReturnType<typeof rng>): Buffer {
    const b = Buffer.alloc(14 + r.int(120));
    for (let i = 0; i < b.length; i++) b[i] = r.int(256);
    const t = r.int(4);
    if (t === 0) b.writeUInt16BE(0x0800, 12);
    if (t === 1) b.writeUInt16BE(0x86dd, 12);
    if (t === 2) b.writeUInt16BE(0x8100, 12);
    if (t < 2 && b.length > 15) b[14] = (t === 0 ? 0x40 : 0x60) | (b[14]! & 15);
    return b;
  }

  it(`${FRAMES} random and mutated frames: no crash, every verdict explained`, () => {
    const r = rng(SEED);
    const tally: Record<string, number> = {};
    for (let n = 0; n < FRAMES; n++) {
      const frame = n % 3 === 2 ? randomFrame(r) : mutate(r, validFrame(r));
      const want = model(frame);
      const got = run.run(frame);
      const action = xdpActionName(got.action);
      tally[action] = (tally[action] ?? 0) + 1;
      const where = `frame #${n} ${frame.toString("hex")}`;
      expect(action, where).toBe(want.action);
      if (want.action === "PASS") {
        expect(got.data.equals(frame), where).toBe(true);
      } else if (want.action === "TX") {
        const inner = frame.subarray(want.l3);
        expect(got.data.subarray(got.data.length - inner.length).equals(inner), where).toBe(true);
        const outerL3 = want.l3;
        const outerV4 = got.data.readUInt16BE(outerL3 - 2) === 0x0800;
        const outerDst = outerV4
          ? abi.formatAddr(4, got.data.subarray(outerL3 + 16, outerL3 + 20))
          : abi.formatAddr(6, got.data.subarray(outerL3 + 24, outerL3 + 40));
        expect(
          want.listener.backends.map((b) => abi.formatAddr(...fam(b.address))),
          where,
        ).toContain(outerDst);
      }
    }
    // the corpus exercises every verdict
    expect(tally.TX).toBeGreaterThan(FRAMES / 10);
    expect(tally.PASS).toBeGreaterThan(FRAMES / 10);
    expect(tally.DROP).toBeGreaterThan(10);
  });
});
