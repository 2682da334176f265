// Helpers for the data plane's kernel tests and benchmarks: a private bpffs mount per test
// file (unmounted afterwards, taking every pinned object with it), and root detection.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

export const isRoot = process.getuid?.() === 0;
export const NOT_ROOT_REASON = "needs root (CAP_BPF/CAP_SYS_ADMIN) for BPF_PROG_TEST_RUN and bpffs";

export interface PrivateBpffs {
  dir: string;
  cleanup(): void;
}

/** Mounts a fresh bpffs in a temporary directory named tb-<label>-XXXX. */
export function mountPrivateBpffs(label: string): PrivateBpffs {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `tb-${label}-`));
  execFileSync("mount", ["-t", "bpf", "bpf", dir]);
  let done = false;
  return {
    dir,
    cleanup() {
      if (done) return;
      done = true;
      try {
        execFileSync("umount", [dir]);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
