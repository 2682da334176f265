// Backend-side decapsulation (bpf/decap.bpf.c) for hosts without an ipip/ip6tnl device, and
// the pass-through program a veth peer needs to receive XDP_TX/XDP_REDIRECT frames.
import fs from "node:fs";
import { attachXdp, detachXdp, linkPinPath, type AttachResult, type XdpMode } from "./attach";
import { BpfObject, TestRunner, isBpffs } from "./bpf-object";
import { bpfObjectPath } from "./build";
import { libbpf } from "./libbpf";

export interface DecapStats {
  decapV4: bigint;
  decapV6: bigint;
  passed: bigint;
}

export class Decap {
  private constructor(
    private readonly obj: BpfObject,
    readonly pinDir: string,
  ) {}

  /** Loads tb_decap; its counter map is pinned (and reused) under `pinDir`. */
  static open(pinDir: string): Decap {
    fs.mkdirSync(pinDir, { recursive: true });
    if (!isBpffs(pinDir)) throw new Error(`${pinDir} is not on a bpf filesystem`);
    return new Decap(BpfObject.load(bpfObjectPath("decap"), { pinRoot: pinDir }), pinDir);
  }

  get programFd(): number {
    return this.obj.programFd("tb_decap");
  }

  attach(ifname: string, mode: XdpMode = "auto"): AttachResult {
    return attachXdp(this.programFd, ifname, linkPinPath(this.pinDir, ifname, "tb_decap"), mode);
  }

  detach(ifname: string): boolean {
    return detachXdp(linkPinPath(this.pinDir, ifname, "tb_decap"));
  }

  testRunner(): TestRunner {
    return new TestRunner(this.programFd);
  }

  readStats(): DecapStats {
    const cpus = libbpf().numPossibleCpus();
    const v = this.obj.map("tb_decap_stats").readArray(1, 32 * cpus);
    const sum = (i: number) => {
      let s = 0n;
      for (let c = 0; c < cpus; c++) s += v.readBigUInt64LE(c * 32 + i * 8);
      return s;
    };
    return { decapV4: sum(0), decapV6: sum(1), passed: sum(2) };
  }

  /** Closes our handles; an attached decap stays attached. */
  close(): void {
    this.obj.close();
  }
}

/**
 * Attaches the pass-through program (tb_pass) to an interface, pinned under `pinDir`: a veth
 * peer needs some XDP program for XDP_TX/XDP_REDIRECT frames to be delivered.
 */
export function attachPassThrough(
  pinDir: string,
  ifname: string,
  mode: XdpMode = "auto",
): AttachResult {
  const obj = BpfObject.load(bpfObjectPath("pass"));
  try {
    return attachXdp(
      obj.programFd("tb_pass"),
      ifname,
      linkPinPath(pinDir, ifname, "tb_pass"),
      mode,
    );
  } finally {
    obj.close();
  }
}
