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
    try {
      return fn();
    } finally {
      if (lib.setns(home, CLONE_NEWNET) < 0) throw new BpfError("setns back", lib.errno());
    }
  } finally {
    fs.closeSync(target);
    fs.closeSync(home);
  }
}
