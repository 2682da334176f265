// XDP attachment through pinned bpf_links: the link (and so the program) stays attached when
// the agent exits; a restarted agent swaps in its freshly loaded program atomically.
import fs from "node:fs";
import path from "node:path";
import { BPF_XDP, BpfError, XDP_FLAGS_DRV_MODE, XDP_FLAGS_SKB_MODE, check, libbpf } from "./libbpf";

export type XdpMode = "native" | "generic" | "auto";

export interface AttachResult {
  ifindex: number;
  /** "native" or "generic" for a new link; "replaced" when an existing pinned link was updated. */
  mode: "native" | "generic" | "replaced";
  linkPin: string;
}

export function ifIndex(ifname: string): number {
  const idx = libbpf().ifNameToIndex(ifname);
  if (!idx) throw new Error(`no such interface: ${ifname}`);
  return idx;
}

export function linkPinPath(pinDir: string, ifname: string, program: string): string {
  return path.join(pinDir, `link_${program}_${ifname}`);
}

/**
 * Attaches `progFd` to `ifname` as an XDP link pinned at `linkPin`. If that pin exists the
 * link is kept and only its program is replaced (no detach, no gap).
 * mode "auto": native (driver) XDP, else generic.
 */
export function attachXdp(
  progFd: number,
  ifname: string,
  linkPin: string,
  mode: XdpMode = "auto",
): AttachResult {
  const lib = libbpf();
  const ifindex = ifIndex(ifname);
  if (fs.existsSync(linkPin)) {
    const linkFd = check(`open pinned link ${linkPin}`, lib.objGet(linkPin));
    try {
      check(`update link ${linkPin}`, lib.linkUpdate(linkFd, progFd, null));
    } finally {
      lib.close(linkFd);
    }
    return { ifindex, mode: "replaced", linkPin };
  }
  const tries: Array<["native" | "generic", number]> =
    mode === "native"
      ? [["native", XDP_FLAGS_DRV_MODE]]
      : mode === "generic"
        ? [["generic", XDP_FLAGS_SKB_MODE]]
        : [
            ["native", XDP_FLAGS_DRV_MODE],
            ["generic", XDP_FLAGS_SKB_MODE],
          ];
  let lastErr: unknown;
  for (const [name, flags] of tries) {
    const opts = Buffer.alloc(64); // struct bpf_link_create_opts
    opts.writeBigUInt64LE(64n, 0);
    opts.writeUInt32LE(flags, 8);
    const fd = lib.linkCreate(progFd, ifindex, BPF_XDP, opts);
    if (fd < 0) {
      lastErr = new BpfError(`attach XDP (${name}) to ${ifname}`, -fd);
      continue;
    }
    try {
      check(`pin link at ${linkPin}`, lib.objPin(fd, linkPin));
    } catch (e) {
      lib.linkDetach(fd);
      throw e;
    } finally {
      lib.close(fd);
    }
    return { ifindex, mode: name, linkPin };
  }
  throw lastErr;
}

/** Detaches a pinned XDP link and removes its pin. Returns false if there was none. */
export function detachXdp(linkPin: string): boolean {
  if (!fs.existsSync(linkPin)) return false;
  const lib = libbpf();
  const fd = check(`open pinned link ${linkPin}`, lib.objGet(linkPin));
  try {
    check(`detach ${linkPin}`, lib.linkDetach(fd));
  } finally {
    lib.close(fd);
  }
  fs.unlinkSync(linkPin);
  return true;
}
