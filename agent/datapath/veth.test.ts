// Real packets, real kernel: client ns -> lb ns (tb_lb, native XDP on the client-facing veth)
// -> XDP_REDIRECT into the backend-facing veth -> backend ns (tb_decap) -> UDP server bound on
// the VIP, whose answers go back to the client with the VIP as source.
import { execFileSync, spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ifIndex } from "./attach";
import { Datapath } from "./datapath";
import { Decap } from "./decap";
import { withNetns } from "./netns";
import { NOT_ROOT_REASON, isRoot, mountPrivateBpffs, type PrivateBpffs } from "./test-support";

const tag = `${process.pid}`;
const CLIENT = `tb-dpveth-c-${tag}`;
const LB = `tb-dpveth-lb-${tag}`;
const BACKEND = `tb-dpveth-be-${tag}`;
const VIP = "198.19.220.1";
const CLIENT_ADDR = "198.18.221.2";
const LB_FRONT = "198.18.221.1";
const LB_BACK = "198.18.222.1";
const BACKEND_ADDR = "198.18.222.2";

const sh = (ns: string, ...cmd: string[]) =>
  execFileSync("ip", ["netns", "exec", ns, ...cmd], {
    stdio: ["ignore", "pipe", "pipe"],
    timeout: 10_000,
  }).toString();
const mac = (ns: string, dev: string) =>
  /link\/ether ([0-9a-f:]+)/.exec(sh(ns, "ip", "link", "show", "dev", dev))![1]!;

// Bounded: both scripts give up after 4 s.
const SERVER = `
const s = require("node:dgram").createSocket("udp4");
s.on("message", (m, r) => { console.log(JSON.stringify([m.toString(), r.address])); s.send(m, r.port, r.address); });
s.bind(7000, "${VIP}", () => console.log("ready"));
setTimeout(() => process.exit(0), 4000);
`;
const CLIENT_SCRIPT = `
const c = require("node:dgram").createSocket("udp4");
const got = [];
const done = () => { console.log(JSON.stringify(got)); process.exit(0); };
setTimeout(done, 4000);
c.on("message", (m, r) => { got.push([m.toString(), r.address]); if (got.length === 5) done(); });
c.bind(0, "${CLIENT_ADDR}", () => { for (let i = 0; i < 5; i++) c.send("hello " + i, 7000, "${VIP}"); });
`;

describe.skipIf(!isRoot)(
  `tb_lb and tb_decap on veth pairs${isRoot ? "" : ` (skipped: ${NOT_ROOT_REASON})`}`,
  () => {
    let bpffs: PrivateBpffs;
    let dp: Datapath | undefined;
    let decap: Decap | undefined;

    beforeAll(() => {
      bpffs = mountPrivateBpffs("veth");
      for (const ns of [CLIENT, LB, BACKEND]) execFileSync("ip", ["netns", "add", ns]);
      execFileSync("ip", [
        "-n",
        CLIENT,
        "link",
        "add",
        "tb-c0",
        "type",
        "veth",
        "peer",
        "name",
        "tb-a0",
        "netns",
        LB,
      ]);
      execFileSync("ip", [
        "-n",
        BACKEND,
        "link",
        "add",
        "tb-s0",
        "type",
        "veth",
        "peer",
        "name",
        "tb-b0",
        "netns",
        LB,
      ]);
      for (const [ns, dev] of [
        [CLIENT, "tb-c0"],
        [LB, "tb-a0"],
        [LB, "tb-b0"],
        [BACKEND, "tb-s0"],
      ] as const) {
        sh(ns, "ip", "link", "set", dev, "mtu", "1600", "up");
      }
      for (const ns of [CLIENT, LB, BACKEND]) sh(ns, "ip", "link", "set", "lo", "up");
      sh(CLIENT, "ip", "addr", "add", `${CLIENT_ADDR}/24`, "dev", "tb-c0");
      sh(CLIENT, "ip", "route", "add", "198.19.220.0/24", "via", LB_FRONT);
      sh(CLIENT, "ethtool", "-K", "tb-c0", "tx", "off"); // full checksums in what the LB forwards
      sh(LB, "ip", "addr", "add", `${LB_FRONT}/24`, "dev", "tb-a0");
      sh(LB, "ip", "addr", "add", `${LB_BACK}/24`, "dev", "tb-b0");
      sh(LB, "sysctl", "-qw", "net.ipv4.ip_forward=1"); // carries the backend's answers back
      sh(BACKEND, "ip", "addr", "add", `${BACKEND_ADDR}/24`, "dev", "tb-s0");
      sh(BACKEND, "ip", "addr", "add", `${VIP}/32`, "dev", "lo");
      sh(BACKEND, "ip", "route", "add", "default", "via", LB_BACK);
      for (const k of ["all", "tb-s0"])
        sh(BACKEND, "sysctl", "-qw", `net.ipv4.conf.${k}.rp_filter=0`);
    });

    afterAll(() => {
      dp?.close();
      decap?.close();
      for (const ns of [CLIENT, LB, BACKEND]) {
        try {
          execFileSync("ip", ["netns", "del", ns]);
        } catch {
          // already gone
        }
      }
      bpffs?.cleanup();
    });

    it("forwards a UDP exchange: VIP -> IPIP (XDP_REDIRECT) -> decap -> server -> answer", async () => {
      decap = withNetns(BACKEND, () => {
        const d = Decap.open(`${bpffs.dir}/backend`);
        d.attach("tb-s0"); // also what lets tb-b0 receive redirected frames
        return d;
      });
      const backIfindex = withNetns(LB, () => ifIndex("tb-b0"));
      dp = withNetns(LB, () => {
        const d = Datapath.open({
          pinDir: `${bpffs.dir}/lb`,
          maxListeners: 8,
          maxBackends: 8,
          conn4PerCpu: 1024,
          conn6PerCpu: 1024,
        });
        expect(d.attach("tb-a0").mode).toBe("native");
        return d;
      });
      dp.configure({
        nodeV4: LB_BACK,
        fallback: { ifindex: backIfindex, dstMac: mac(BACKEND, "tb-s0"), srcMac: mac(LB, "tb-b0") },
      });
      const id = dp.upsertListener({
        vip: VIP,
        protocol: "udp",
        port: 7000,
        backends: [{ id: 1, address: BACKEND_ADDR }],
      });
      dp.writeTables(new Map([[id, new Uint32Array(dp.tableSize).fill(1)]]));

      const server = spawn("ip", ["netns", "exec", BACKEND, process.execPath, "-e", SERVER], {
        stdio: ["ignore", "pipe", "inherit"],
      });
      let serverOut = "";
      try {
        await new Promise<void>((resolve, reject) => {
          const t = setTimeout(() => reject(new Error("server did not start")), 5000);
          server.stdout.on("data", (d: Buffer) => {
            serverOut += d.toString();
            if (serverOut.includes("ready")) {
              clearTimeout(t);
              resolve();
            }
          });
        });
        const answers = JSON.parse(sh(CLIENT, process.execPath, "-e", CLIENT_SCRIPT)) as Array<
          [string, string]
        >;
        expect(answers.map((a) => a[0]).sort()).toEqual([0, 1, 2, 3, 4].map((i) => `hello ${i}`));
        expect(answers.every((a) => a[1] === VIP)).toBe(true); // the answer comes from the VIP
      } finally {
        server.kill();
      }
      const received = serverOut
        .split("\n")
        .filter((l) => l.startsWith("["))
        .map((l) => JSON.parse(l) as [string, string]);
      expect(received.every((r) => r[1] === CLIENT_ADDR)).toBe(true); // the client's address, intact

      const s = dp.readStats();
      expect(s.listeners.get(id)!.packets).toBe(5n);
      expect(s.global.redirect).toBe(5n);
      expect(s.backends.get(1)!.packets).toBe(5n);
      expect(decap.readStats().decapV4).toBe(5n);
    });
  },
);
