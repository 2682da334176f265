import { execFileSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HealthEngine } from "./engine";
import type { HealthTarget, HealthTransition } from "./types";

// fping needs a raw ICMP socket (root). Unreachable addresses are pinged only inside a network
// namespace this test creates, so no probe leaves the machine.
const isRoot = process.getuid?.() === 0;
const namespace = `tb-health-icmp-${process.pid}`;

function icmpTarget(key: string, address: string): HealthTarget {
  return {
    key,
    address,
    port: 0,
    monitor: { type: "ICMP", intervalMs: 1000, timeoutMs: 500, rise: 1, fall: 1 },
  };
}

async function verdicts(
  engine: HealthEngine,
  log: Map<string, HealthTransition>,
  keys: string[],
): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!keys.every((key) => log.has(key))) {
    if (Date.now() > deadline)
      throw new Error(`no verdict for ${keys.filter((key) => !log.has(key))}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function engineWithLog(fpingCommand?: string[]) {
  const log = new Map<string, HealthTransition>();
  const engine = new HealthEngine({
    onTransitions: (batch) => batch.forEach((transition) => log.set(transition.key, transition)),
    batchWindowMs: 0,
    maxInitialDelayMs: 0,
    fpingCommand,
  });
  return { engine, log };
}

describe.skipIf(!isRoot)("ICMP probes through fping (needs root for raw ICMP sockets)", () => {
  beforeAll(() => {
    execFileSync("ip", ["netns", "add", namespace]);
    execFileSync("ip", ["-n", namespace, "link", "set", "lo", "up"]);
  });
  afterAll(() => {
    execFileSync("ip", ["netns", "delete", namespace]);
  });

  it("sees loopback answer over IPv4 and IPv6, batched into one fping run", async () => {
    const { engine, log } = engineWithLog();
    try {
      engine.setTargets([
        icmpTarget("v4", "127.0.0.1"),
        icmpTarget("v6", "::1"),
        icmpTarget("v4-again", "127.0.0.1"),
      ]);
      await verdicts(engine, log, ["v4", "v6", "v4-again"]);
      for (const key of ["v4", "v6", "v4-again"]) {
        expect(log.get(key)?.to, key).toBe("up");
        expect(log.get(key)?.reason, key).toMatch(/^echo reply in [\d.]+ ms$/);
      }
      expect(engine.stats().icmpRuns).toBe(1);
    } finally {
      await engine.close();
    }
  });

  it("marks an address without a route down, and an unreachable fping as a clear failure", async () => {
    const { engine, log } = engineWithLog(["ip", "netns", "exec", namespace, "fping"]);
    const broken = engineWithLog(["/nonexistent/fping"]);
    try {
      engine.setTargets([
        icmpTarget("inside-lo", "127.0.0.1"),
        icmpTarget("no-route", "198.18.0.2"),
      ]);
      broken.engine.setTargets([icmpTarget("any", "127.0.0.1")]);
      await verdicts(engine, log, ["inside-lo", "no-route"]);
      await verdicts(broken.engine, broken.log, ["any"]);
      expect(log.get("inside-lo")?.to).toBe("up");
      expect(log.get("no-route")).toMatchObject({ from: "unknown", to: "down" });
      expect(log.get("no-route")?.reason).toMatch(/^(no echo reply|timeout after 500 ms)$/);
      expect(broken.log.get("any")).toMatchObject({ to: "down", reason: "fping ENOENT" });
    } finally {
      await engine.close();
      await broken.engine.close();
    }
  });
});
