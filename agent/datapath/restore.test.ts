// Static stability: load, attach, program, close (the agent exits) -> the XDP link stays
// attached and the pinned maps keep their contents; a new Datapath restores its view from the
// pins and swaps its program into the same link. Also: next hop from the kernel FIB.
// Runs in a private bpffs and a network namespace of its own.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as abi from "./abi";
import { ifIndex } from "./attach";
import { BpfObject } from "./bpf-object";
import { Datapath, type ListenerSpec } from "./datapath";
import { libbpf, xdpActionName } from "./libbpf";
import { withNetns } from "./netns";
import { TCP_ACK, TCP_SYN, buildPacket, expectedEncap, type PacketSpec } from "./packet";
import { NOT_ROOT_REASON, isRoot, mountPrivateBpffs, type PrivateBpffs } from "./test-support";

const NS = `tb-dprestore-${process.pid}`;
const ip = (...args: string[]) =>
  execFileSync("ip", ["-n", NS, ...args], { stdio: ["ignore", "pipe", "pipe"] }).toString();
const inNs = (...cmd: string[]) =>
  execFileSync("ip", ["netns", "exec", NS, ...cmd], { stdio: ["ignore", "pipe", "pipe"] });
const xdpAttached = (dev: string) => /\bxdp/.test(ip("link", "show", "dev", dev));

const FALLBACK = { ifindex: 0, dstMac: "02:00:00:00:00:fe", srcMac: "02:00:00:00:00:02" };

describe.skipIf(!isRoot)(
  `pinned state across agent restarts${isRoot ? "" : ` (skipped: ${NOT_ROOT_REASON})`}`,
  () => {
    let bpffs: PrivateBpffs;

    beforeAll(() => {
      bpffs = mountPrivateBpffs("restore");
      execFileSync("ip", ["netns", "add", NS]);
      ip("link", "add", "tb-r0", "type", "veth", "peer", "name", "tb-r1");
      ip("link", "add", "tb-r2", "type", "veth", "peer", "name", "tb-r3");
      for (const d of ["lo", "tb-r0", "tb-r1", "tb-r2", "tb-r3"]) ip("link", "set", d, "up");
      ip("addr", "add", "198.18.200.1/24", "dev", "tb-r0");
      ip("addr", "add", "198.18.201.1/24", "dev", "tb-r2");
      ip("-6", "addr", "add", "2001:db8:200::1/64", "dev", "tb-r0", "nodad");
      ip("neigh", "add", "198.18.200.2", "lladdr", "02:00:00:00:02:02", "dev", "tb-r0");
      ip("neigh", "add", "198.18.201.2", "lladdr", "02:00:00:00:02:03", "dev", "tb-r2");
      ip("-6", "neigh", "add", "2001:db8:200::2", "lladdr", "02:00:00:00:02:06", "dev", "tb-r0");
      ip("route", "add", "198.18.210.0/24", "via", "198.18.200.2");
      ip("route", "add", "198.18.220.0/24", "via", "198.18.201.2");
      ip("route", "add", "198.18.230.0/24", "via", "198.18.200.99"); // no neighbour entry
      ip("-6", "route", "add", "2001:db8:210::/48", "via", "2001:db8:200::2");
      inNs("sysctl", "-qw", "net.ipv4.ip_forward=1");
      inNs("sysctl", "-qw", "net.ipv6.conf.all.forwarding=1");
    });

    afterAll(() => {
      try {
        execFileSync("ip", ["netns", "del", NS]);
      } finally {
        bpffs?.cleanup();
      }
    });

    const opts = () => ({
      pinDir: `${bpffs.dir}/node`,
      maxListeners: 32,
      maxBackends: 64,
      conn4PerCpu: 2048,
      conn6PerCpu: 1024,
    });
    const specs: ListenerSpec[] = [
      {
        vip: "198.19.5.1",
        protocol: "tcp",
        port: 443,
        backends: [
          { id: 1, address: "198.18.210.1" },
          { id: 2, address: "198.18.210.2" },
        ],
      },
      {
        vip: "198.19.5.1",
        protocol: "udp",
        port: 5000,
        portEnd: 5100,
        affinity: "source-ip",
        backends: [{ id: 3, address: "198.18.210.3" }],
      },
      {
        vip: "2001:db8:19::5",
        protocol: "tcp",
        port: 80,
        allowedCidrs: ["2001:db8:100::/48", "2001:db8:101::/64"],
        backends: [{ id: 4, address: "2001:db8:210::4" }],
      },
    ];

    it("survives close and re-open: maps keep their contents, the link stays attached", () => {
      // --- first agent run
      const dp1 = withNetns(NS, () => {
        const dp = Datapath.open(opts());
        expect(dp.restored).toBe(false);
        const r = dp.attach("tb-r0");
        expect(["native", "generic"]).toContain(r.mode);
        return dp;
      });
      dp1.configure({ nodeV4: "198.18.200.1", nodeV6: "2001:db8:200::1", fallback: FALLBACK });
      const ids = specs.map((s) => dp1.upsertListener(s));
      const table = (id: number) => new Uint32Array(dp1.tableSize).map((_, i) => (i % 2 ? id : 1));
      dp1.writeTables(
        new Map([
          [ids[0]!, new Uint32Array(dp1.tableSize).fill(1)],
          [ids[1]!, new Uint32Array(dp1.tableSize).fill(3)],
          [ids[2]!, new Uint32Array(dp1.tableSize).fill(4)],
        ]),
      );
      dp1.writeTables(new Map([[ids[0]!, table(2)]])); // listener 0 now on its second buffer
      const flow: PacketSpec = {
        src: "198.18.100.1",
        dst: "198.19.5.1",
        proto: 6,
        sport: 33333,
        dport: 443,
      };
      const run1 = dp1.testRunner();
      const first = run1.run(buildPacket({ ...flow, tcpFlags: TCP_SYN }));
      expect(xdpActionName(first.action)).toBe("TX");
      const backendOfFlow = abi.formatAddr(4, first.data.subarray(30, 34));
      const before = {
        listeners: dp1.listListeners(),
        backends: dp1.listBackends(),
        table0: dp1.readTable(ids[0]!),
        stats: dp1.readStats(),
      };
      dp1.close(); // the agent exits

      expect(xdpAttached("tb-r0")).toBe(true);

      // --- second agent run
      const dp2 = withNetns(NS, () => Datapath.open(opts()));
      try {
        expect(dp2.restored).toBe(true);
        expect(dp2.listListeners()).toEqual(before.listeners);
        expect(dp2.listBackends()).toEqual(before.backends);
        expect(dp2.readTable(ids[0]!)).toEqual(before.table0);
        const stats = dp2.readStats();
        // the veth is live: the kernel's own packets (e.g. IPv6 ND) may add passes meanwhile
        expect({ ...stats.global, pass: 0n }).toEqual({ ...before.stats.global, pass: 0n });
        expect(stats.global.pass).toBeGreaterThanOrEqual(before.stats.global.pass);
        expect(stats.listeners).toEqual(before.stats.listeners);
        expect(stats.backends).toEqual(before.stats.backends);
        expect(dp2.listListeners().map((l) => l.allowedCidrs)[2]).toEqual([
          "2001:db8:100::/48",
          "2001:db8:101::/64",
        ]);

        // The cached flow keeps its backend; the program swap keeps the link.
        expect(withNetns(NS, () => dp2.attach("tb-r0")).mode).toBe("replaced");
        expect(xdpAttached("tb-r0")).toBe(true);
        dp2.writeTables(
          new Map([
            [
              ids[0]!,
              new Uint32Array(dp2.tableSize).fill(backendOfFlow === "198.18.210.1" ? 2 : 1),
            ],
          ]),
        );
        const again = dp2.testRunner().run(buildPacket({ ...flow, tcpFlags: TCP_ACK }));
        expect(abi.formatAddr(4, again.data.subarray(30, 34))).toBe(backendOfFlow);
        // the restored active-buffer index makes the next write land in the inactive buffer
        const next = new Uint32Array(dp2.tableSize).fill(2);
        dp2.writeTables(new Map([[ids[0]!, next]]));
        expect(dp2.readTable(ids[0]!)).toEqual(next);
        // listeners can be changed and deleted after a restore
        expect(dp2.upsertListener({ ...specs[2]!, allowedCidrs: ["2001:db8:100::/48"] })).toBe(
          ids[2],
        );
        expect(dp2.listListeners()[2]!.allowedCidrs).toEqual(["2001:db8:100::/48"]);
        expect(dp2.deleteListener(specs[1]!)).toBe(true);
        expect(dp2.listListeners().map((l) => l.id)).toEqual([ids[0], ids[2]]);

        expect(dp2.detach("tb-r0")).toBe(true);
        expect(xdpAttached("tb-r0")).toBe(false);
      } finally {
        dp2.close();
      }
    });

    it("after a restore, pruneBackends clears the backends no listener lists any more", () => {
      const o = { ...opts(), pinDir: `${bpffs.dir}/prune` };
      const drained = { id: 8, address: "198.18.210.8" }; // weight 0 at shutdown: in no table
      const kept = { id: 9, address: "198.18.210.9" }; // weight 0 too, but still desired
      const live = { id: 7, address: "198.18.210.7" };
      const dp1 = Datapath.open(o);
      const web = { vip: "198.19.6.1", protocol: "tcp", port: 80 } as const;
      const dns = { vip: "198.19.6.1", protocol: "udp", port: 53 } as const;
      const webId = dp1.upsertListener({ ...web, backends: [live, drained] });
      const dnsId = dp1.upsertListener({ ...dns, backends: [live, kept] });
      dp1.writeTables(
        new Map([
          [webId, new Uint32Array(dp1.tableSize).fill(live.id)],
          [dnsId, new Uint32Array(dp1.tableSize).fill(live.id)],
        ]),
      );
      dp1.close();

      const dp2 = Datapath.open(o);
      try {
        expect(dp2.listBackends().map((b) => b.id)).toEqual([7, 8, 9]);
        // the new desired state: web without the drained backend, dns unchanged
        dp2.setListenerBackends(webId, [live]);
        dp2.setListenerBackends(dnsId, [live, kept]);
        expect(dp2.listBackends().map((b) => b.id)).toEqual([7, 8, 9]); // 8: nobody's
        expect(dp2.pruneBackends()).toEqual([8]);
        expect(dp2.listBackends().map((b) => b.id)).toEqual([7, 9]);
        const raw = Buffer.alloc(abi.LAYOUTS.tb_backend.size);
        dp2.map("tb_backends").lookup(abi.u32(drained.id), raw);
        expect(raw[abi.LAYOUTS.tb_backend.fields.family]).toBe(abi.FAMILY_NONE);
        expect(dp2.pruneBackends()).toEqual([]);
      } finally {
        dp2.close();
      }
    });

    it("an upgrade carries the global counters of the previous layout (tb_stats_glb) over and removes its pin", () => {
      const dir = `${bpffs.dir}/glbv1`;
      const cpus = libbpf().numPossibleCpus();
      const dp1 = Datapath.open({ ...opts(), pinDir: dir });
      // counters as the previous program laid them out: old index i on CPU c holds 10(i+1)+c
      const old = Buffer.alloc(abi.perCpuStride(128, cpus));
      for (let c = 0; c < cpus; c++)
        abi.GLOBAL_COUNTERS_V1.forEach((_, i) =>
          old.writeBigUInt64LE(BigInt(10 * (i + 1) + c), c * 128 + i * 8),
        );
      const glb = dp1.map("tb_stats_glb_v2");
      glb.update(abi.u32(0), old);
      expect(libbpf().objPin(glb.fd, `${dir}/tb_stats_glb`)).toBe(0);
      fs.rmSync(`${dir}/tb_stats_glb_v2`); // as if the previous build had left only its own
      dp1.close();

      const dp2 = Datapath.open({ ...opts(), pinDir: dir });
      try {
        const g = dp2.readStats().global;
        abi.GLOBAL_COUNTERS_V1.forEach((name, i) => {
          const want = BigInt(cpus * 10 * (i + 1) + (cpus * (cpus - 1)) / 2);
          expect([name, g[name]]).toEqual([name, want]);
        });
        expect(fs.existsSync(`${dir}/tb_stats_glb`)).toBe(false);
        const r = dp2
          .testRunner()
          .run(
            buildPacket({ src: "198.18.9.1", dst: "198.18.9.2", proto: 17, sport: 1, dport: 2 }),
          );
        expect(xdpActionName(r.action)).toBe("PASS");
        expect(dp2.readStats().global.pass).toBe(g.pass + 1n);
      } finally {
        dp2.close();
      }
    });

    it("an upgrade from tb_listeners + tb_table_sel keeps listeners, their generation and active table", () => {
      const dir = `${bpffs.dir}/lsnv1`;
      const o = { ...opts(), pinDir: dir };
      const dp1 = Datapath.open(o);
      dp1.configure({ nodeV4: "198.18.200.1", fallback: FALLBACK });
      const web = { vip: "198.19.8.1", protocol: "tcp", port: 80 } as const;
      const backends = [
        { id: 1, address: "198.18.210.1" },
        { id: 2, address: "198.18.210.2" },
      ];
      dp1.upsertListener({ ...web, backends }); // id 0, gen 0, then deleted: the id's gen moves on
      dp1.deleteListener(web);
      const id = dp1.upsertListener({ ...web, backends });
      dp1.writeTables(new Map([[id, new Uint32Array(dp1.tableSize).fill(2)]])); // buffer 1 active
      const flow: PacketSpec = {
        src: "198.18.9.7",
        dst: web.vip,
        proto: 6,
        sport: 5555,
        dport: 80,
      };
      expect(
        xdpActionName(dp1.testRunner().run(buildPacket({ ...flow, tcpFlags: TCP_SYN })).action),
      ).toBe("TX");
      const raw = Buffer.alloc(8);
      dp1.map("tb_listeners_v2").lookup(abi.u32(id), raw);
      const was = abi.decodeListener(raw);
      expect(was).toMatchObject({ flags: abi.LISTENER_F_ACTIVE, tableSel: 1 });
      expect(was.gen).toBeGreaterThan(0); // a lost gen (0) would make the cached flow stale
      dp1.close();

      // What the previous build pinned: the listener records and selectors in maps of their own.
      const src = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "tb-v1maps-")), "v1.bpf.c");
      fs.writeFileSync(
        src,
        `#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, __u32);
  __type(value, __u64); __uint(pinning, LIBBPF_PIN_BY_NAME); } tb_listeners SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, __u32);
  __type(value, __u32); __uint(pinning, LIBBPF_PIN_BY_NAME); } tb_table_sel SEC(".maps");
SEC("xdp") int v1(struct xdp_md *ctx) { return XDP_PASS; }
char LICENSE[] SEC("license") = "GPL";
`,
      );
      const objPath = src.replace(/\.c$/, ".o");
      execFileSync("clang", [
        "-O2",
        "-g", // BTF: libbpf needs it for BTF-defined maps
        "-target",
        "bpf",
        `-I/usr/include/${process.arch === "arm64" ? "aarch64" : "x86_64"}-linux-gnu`,
        "-c",
        src,
        "-o",
        objPath,
      ]);
      const v1 = BpfObject.load(objPath, {
        pinRoot: dir,
        maxEntries: { tb_listeners: o.maxListeners, tb_table_sel: o.maxListeners },
      });
      const old = Buffer.alloc(8); // { u32 flags; u16 gen; u16 pad }
      old.writeUInt32LE(was.flags, 0);
      old.writeUInt16LE(was.gen, 4);
      v1.map("tb_listeners").update(abi.u32(id), old);
      v1.map("tb_table_sel").update(abi.u32(id), abi.u32(1));
      v1.close();
      fs.rmSync(path.dirname(src), { recursive: true });
      fs.rmSync(`${dir}/tb_listeners_v2`);

      const dp2 = Datapath.open(o);
      try {
        expect(dp2.restored).toBe(true);
        expect(dp2.listListeners().map((l) => [l.id, l.vip, l.port])).toEqual([[id, web.vip, 80]]);
        expect(dp2.readTable(id).every((b) => b === 2)).toBe(true);
        expect(fs.existsSync(`${dir}/tb_listeners`) || fs.existsSync(`${dir}/tb_table_sel`)).toBe(
          false,
        );
        const run = (spec: PacketSpec) => dp2.testRunner().run(buildPacket(spec));
        // the cached flow is still this listener's (same gen): a hit
        const s0 = dp2.readStats();
        expect(xdpActionName(run({ ...flow, tcpFlags: TCP_ACK }).action)).toBe("TX");
        expect(dp2.readStats().global.cacheHit - s0.global.cacheHit).toBe(1n);
        // a new flow reads the active buffer (buffer 0 holds no backend: it would be dropped)
        const syn = run({ ...flow, sport: 5556, tcpFlags: TCP_SYN });
        expect(xdpActionName(syn.action)).toBe("TX");
        expect(syn.data.subarray(30, 34)).toEqual(Buffer.from([198, 18, 210, 2]));
      } finally {
        dp2.close();
      }
    });

    it("refuses pins of another size with a clear error, and leaves them alone", () => {
      const dir = `${bpffs.dir}/sized`;
      const dp = Datapath.open({ ...opts(), pinDir: dir });
      const id = dp.upsertListener({ vip: "198.19.7.1", protocol: "tcp", port: 80 });
      dp.close();
      expect(() => Datapath.open({ ...opts(), pinDir: dir, maxListeners: 48 })).toThrow(
        /could not be reused/,
      );
      const again = Datapath.open({ ...opts(), pinDir: dir });
      expect(again.listListeners().map((l) => l.id)).toEqual([id]);
      again.close();
    });

    it("next hop from the FIB: XDP_TX on the ingress link, XDP_REDIRECT elsewhere, fallback without a neighbour", () => {
      withNetns(NS, () => {
        const dp = Datapath.open({ ...opts(), pinDir: `${bpffs.dir}/fib` });
        try {
          const r0 = ifIndex("tb-r0");
          const r2 = ifIndex("tb-r2");
          const mac = (dev: string) =>
            /link\/ether ([0-9a-f:]+)/.exec(ip("link", "show", "dev", dev))![1]!;
          dp.configure({
            nodeV4: "198.18.200.1",
            nodeV6: "2001:db8:200::1",
            useFib: true,
            fallback: FALLBACK,
          });
          const cases = [
            {
              vip: "198.19.6.1",
              backend: "198.18.210.7",
              action: "TX",
              dmac: "02:00:00:00:02:02",
              smac: mac("tb-r0"),
            },
            {
              vip: "198.19.6.2",
              backend: "198.18.220.7",
              action: "REDIRECT",
              dmac: "02:00:00:00:02:03",
              smac: mac("tb-r2"),
            },
            {
              vip: "198.19.6.3",
              backend: "198.18.230.7",
              action: "TX",
              dmac: FALLBACK.dstMac,
              smac: FALLBACK.srcMac,
            },
            {
              vip: "198.19.6.4",
              backend: "2001:db8:210::7",
              action: "TX",
              dmac: "02:00:00:00:02:06",
              smac: mac("tb-r0"),
            },
          ];
          const tables = new Map<number, Uint32Array>();
          cases.forEach((c, i) => {
            const id = dp.upsertListener({
              vip: c.vip,
              protocol: "tcp",
              port: 80,
              backends: [{ id: 10 + i, address: c.backend }],
            });
            tables.set(id, new Uint32Array(dp.tableSize).fill(10 + i));
          });
          dp.writeTables(tables);
          const run = dp.testRunner();
          const s0 = dp.readStats().global;
          for (const c of cases) {
            const p: PacketSpec = {
              src: "198.18.100.1",
              dst: c.vip,
              proto: 6,
              sport: 4000,
              dport: 80,
            };
            const frame = buildPacket(p);
            const r = run.run(frame, r0);
            expect([c.vip, xdpActionName(r.action)]).toEqual([c.vip, c.action]);
            const v6 = c.backend.includes(":");
            const want = expectedEncap(frame, {
              outerSrc: v6 ? "2001:db8:200::1" : "198.18.200.1",
              outerDst: c.backend,
              dstMac: c.dmac,
              srcMac: c.smac,
              flowLabel: v6 ? r.data.readUInt32BE(14) & 0xfffff : undefined,
            });
            expect(r.data.toString("hex")).toBe(want.toString("hex"));
          }
          const s1 = dp.readStats().global;
          expect(s1.fibOk - s0.fibOk).toBe(3n);
          expect(s1.fibFallback - s0.fibFallback).toBe(1n);
          expect(s1.redirect - s0.redirect).toBe(1n);
          expect(r2).toBeGreaterThan(0);
        } finally {
          dp.close();
        }
      });
    });
  },
);
