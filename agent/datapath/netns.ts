// Runs synchronous code with the calling thread (Node's main thread) inside a named network
// namespace: interface names, XDP attach and bpf_fib_lookup test runs then see that namespace.
// Only synchronous work: the thread is moved back before the function returns.
import fs from "node:fs";
import { BpfError, CLONE_NEWNET, libbpf } from "./libbpf";

export function withNetns<T>(name: string, fn: () => T): T {
  const lib = libbpf();
  const target = fs.openSync(`/run/netns/${name}`, "r");
  const home = fs.openSync("/proc/thread-self/ns/net", "r");
  try {
    if (lib.setns(target, CLONE_NEWNET) < 0) throw new BpfError(`setns ${name}`, lib.errno());
    let result: T;
    try {
      result = fn();
    } finally {
      // Never leave the main thread in the wrong namespace: that would be worse than a crash.
      if (lib.setns(home, CLONE_NEWNET) < 0) {
        process.stderr.write(
          `setns back to the original network namespace failed (errno ${lib.errno()})\n`,
        );
        process.abort();
      }
    }
    return result;
  } finally {
    fs.closeSync(target);
    fs.closeSync(home);
  }
}
