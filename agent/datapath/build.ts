// Locates the BPF objects and (re)builds them with `make -C bpf` when missing or stale, so
// tests and the agent work from a fresh clone. make decides staleness; the Makefile renames
// finished objects into place, so concurrent builds are safe.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** The repository's bpf/ directory (this file lives in agent/datapath/). */
export const BPF_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../bpf");

export type BpfObjectName = "lb" | "decap" | "pass";

let built = false;

/** Path of bpf/build/<name>.bpf.o, building all objects first if needed (once per process). */
export function bpfObjectPath(name: BpfObjectName): string {
  const file = path.join(BPF_DIR, "build", `${name}.bpf.o`);
  if (!built) {
    try {
      execFileSync("make", ["-s", "-C", BPF_DIR], { stdio: ["ignore", "pipe", "pipe"] });
    } catch (e) {
      const err = e as { stderr?: Buffer; message: string; code?: string };
      // Without make (an install with prebuilt objects) use what is there; a failing
      // compiler is always an error, never a silent stale object.
      if (err.code !== "ENOENT" || !fs.existsSync(file)) {
        throw new Error(`building BPF objects failed: ${err.stderr?.toString() ?? err.message}`);
      }
    }
    built = true;
  }
  return file;
}
