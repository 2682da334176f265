import { execFileSync } from "node:child_process";
import { FrrInstance } from "./instance";
import { FrrApplier } from "./apply";
import { renderFrrConfig } from "./render";
const ip = (...a: string[]) => execFileSync("ip", a).toString();
ip("netns", "add", "tb-frrt-x1"); ip("-n", "tb-frrt-x1", "link", "set", "lo", "up");
const a = await FrrInstance.start({ dir: "/tmp/tb-frrt-x1", netns: "tb-frrt-x1" });
try {
  const ap = new FrrApplier({ confDir: a.confDir, debounceMs: 0 });
  const cfg = (n: number, off = 0) => renderFrrConfig({ hostname: "n", routerId: "198.18.251.1", localAsn: 65001, neighbors: [{ address: "198.18.251.2", remoteAsn: 65000 }], vips: Array.from({ length: n }, (_, i) => `198.19.251.${i + 1 + off}`) });
  for (const [label, c] of [["0 VIPs", cfg(0)], ["+50 VIPs", cfg(50)], ["+1 VIP", cfg(51)], ["-1 VIP", cfg(50)], ["-10 VIPs", cfg(40)], ["-40 VIPs", cfg(0)]] as const) {
    const r = await ap.apply(c); console.log(label, "apply ms", Math.round(r.durationMs));
  }
} finally { await a.stop(); ip("netns", "del", "tb-frrt-x1"); }
