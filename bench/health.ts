/**
 * Health-check engine benchmark (loopback only, bounded in count and time).
 *
 *   npx tsx bench/health.ts [--burst=28000] [--rules=140000] [--seconds=30] [--server=raw|node-http]
 *
 * 1. burst: N fresh-connection HTTP probes, all due at once, against a few local HTTP servers,
 *    through the engine's in-flight cap → wall time, CPU per probe, false timeouts.
 *    Bars (ARCHITECTURE.md §7): 0 false timeouts, CPU per probe ≤ 60 µs.
 * 2. sustained: R check rules (half TCP, half HTTP) every 10 s for S seconds → CPU % of one core,
 *    event-loop delay p99, false downs. Bars: ≤ 50 % of one core, p99 ≤ 20 ms, 0 false downs.
 *
 * The servers run in a child process so that only the engine's own CPU is counted.
 * Prints progress, then one JSON line of figures.
 */
import { fork, type ChildProcess } from "node:child_process";
import { createServer as createHttpServer } from "node:http";
import { createServer as createNetServer, type AddressInfo, type Server } from "node:net";
import { fileURLToPath } from "node:url";
import { monitorEventLoopDelay, performance } from "node:perf_hooks";
import { HealthEngine } from "../agent/health/engine";
import type { HealthTarget, HealthTransition } from "../agent/health/types";

const SERVER_PORTS = 8;
const HOST = "127.0.0.1";

function flag(name: string, fallback: string): string {
  const prefix = `--${name}=`;
  return process.argv.find((arg) => arg.startsWith(prefix))?.slice(prefix.length) ?? fallback;
}

// ---- child: the backends ----

async function serve(kind: string): Promise<void> {
  const response = Buffer.from(
    "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n",
  );
  const ports: number[] = [];
  for (let i = 0; i < SERVER_PORTS; i++) {
    let server: Server;
    if (kind === "node-http") {
      server = createHttpServer((_request, reply) => {
        reply.writeHead(200, { "content-length": "3", connection: "close" });
        reply.end("ok\n");
      });
    } else {
      // A minimal HTTP/1.1 responder: one answer per connection, then close.
      server = createNetServer((socket) => {
        socket.on("error", () => {});
        socket.once("data", () => socket.end(response));
      });
    }
    await new Promise<void>((resolve) =>
      server.listen({ port: 0, host: HOST, backlog: 4096 }, resolve),
    );
    ports.push((server.address() as AddressInfo).port);
  }
  process.on("message", (message) => {
    if (message === "cpu") process.send!({ cpu: process.cpuUsage() });
  });
  process.on("disconnect", () => process.exit(0));
  process.send!({ ports });
}

// ---- parent: the engine ----

function startBackends(kind: string): Promise<{ child: ChildProcess; ports: number[] }> {
  const child = fork(fileURLToPath(import.meta.url), ["--serve", `--server=${kind}`], {
    stdio: "inherit",
  });
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`backend process exited with ${code}`)));
    child.once("message", (message: { ports: number[] }) =>
      resolve({ child, ports: message.ports }),
    );
  });
}

function childCpuMs(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    child.once("message", (message: { cpu: NodeJS.CpuUsage }) =>
      resolve((message.cpu.user + message.cpu.system) / 1000),
    );
    child.send("cpu");
  });
}

const cpuMs = (usage: NodeJS.CpuUsage) => (usage.user + usage.system) / 1000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const round = (value: number, digits = 1) => Number(value.toFixed(digits));

async function burst(
  ports: number[],
  child: ChildProcess,
  count: number,
  transport: "native" | "net",
  maxInFlight: number,
) {
  const engine = new HealthEngine({
    transport,
    onTransitions: () => {},
    maxInFlight,
    initialState: "up",
    maxInitialDelayMs: 0,
  });
  const targets: HealthTarget[] = [];
  for (let i = 0; i < count; i++) {
    targets.push({
      key: `burst/${i}`,
      address: HOST,
      port: ports[i % ports.length]!,
      // One probe each: the interval is far beyond the run.
      monitor: {
        type: "HTTP",
        intervalMs: 600_000,
        timeoutMs: 3_000,
        rise: 1,
        fall: 1,
        http: { method: "GET", path: "/health", expectedCodes: "200" },
      },
    });
  }
  const childBefore = await childCpuMs(child);
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  engine.setTargets(targets);
  const deadline = started + 60_000;
  for (;;) {
    const stats = engine.stats();
    if (stats.probesSucceeded + stats.probesFailed >= count || performance.now() > deadline) break;
    await sleep(1);
  }
  const wallMs = performance.now() - started;
  const usage = process.cpuUsage(cpuBefore);
  const cpu = cpuMs(usage);
  const childCpu = (await childCpuMs(child)) - childBefore;
  const stats = engine.stats();
  await engine.close();
  return {
    probes: count,
    userUsPerProbe: round(usage.user / count),
    systemUsPerProbe: round(usage.system / count),
    inFlightLimitAtEnd: stats.inFlightLimit,
    completed: stats.probesSucceeded + stats.probesFailed,
    wallMs: round(wallMs),
    cpuMs: round(cpu),
    cpuPerProbeUs: round((cpu * 1000) / count),
    serverCpuMs: round(childCpu),
    falseTimeouts: stats.probesTimedOut,
    failures: stats.probesFailed,
    slipped: stats.probesSlipped,
    maxSlipMs: round(stats.maxSlipMs),
  };
}

async function sustained(
  ports: number[],
  child: ChildProcess,
  rules: number,
  seconds: number,
  transport: "native" | "net",
) {
  const transitions: HealthTransition[] = [];
  const engine = new HealthEngine({
    transport,
    onTransitions: (batch) => transitions.push(...batch),
    initialState: "up",
  });
  const targets: HealthTarget[] = [];
  for (let i = 0; i < rules; i++) {
    const port = ports[i % ports.length]!;
    targets.push(
      i % 2 === 0
        ? {
            key: `tcp/${i}`,
            address: HOST,
            port,
            monitor: { type: "TCP", intervalMs: 10_000, timeoutMs: 2_000, rise: 2, fall: 2 },
          }
        : {
            key: `http/${i}`,
            address: HOST,
            port,
            monitor: {
              type: "HTTP",
              intervalMs: 10_000,
              timeoutMs: 2_000,
              rise: 2,
              fall: 2,
              http: { method: "GET", path: "/health", expectedCodes: "200" },
            },
          },
    );
  }
  const setStarted = performance.now();
  engine.setTargets(targets);
  const setTargetsMs = performance.now() - setStarted;
  // Let the first probes spread out, then measure a steady window.
  await sleep(2_000);
  const lag = monitorEventLoopDelay({ resolution: 10 });
  lag.enable();
  const statsBefore = engine.stats();
  const childBefore = await childCpuMs(child);
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  for (let elapsed = 0; elapsed < seconds; elapsed += 5) {
    await sleep(5_000);
    const stats = engine.stats();
    console.error(
      `  sustained t=${elapsed + 5}s probes=${stats.probesStarted - statsBefore.probesStarted} inFlight=${stats.inFlight}/${stats.inFlightLimit} ` +
        `failed=${stats.probesFailed} timedOut=${stats.probesTimedOut} slipped=${stats.probesSlipped}`,
    );
  }
  const wallMs = performance.now() - started;
  const cpu = cpuMs(process.cpuUsage(cpuBefore));
  const childCpu = (await childCpuMs(child)) - childBefore;
  lag.disable();
  const stats = engine.stats();
  const rssMb = process.memoryUsage().rss / 2 ** 20;
  await engine.close();
  const probes = stats.probesStarted - statsBefore.probesStarted;
  return {
    rules,
    seconds: round(wallMs / 1000),
    setTargetsMs: round(setTargetsMs),
    probesPerSecond: round(probes / (wallMs / 1000), 0),
    cpuPercentOfOneCore: round((cpu / wallMs) * 100),
    cpuPerProbeUs: round((cpu * 1000) / probes),
    serverCpuPercent: round((childCpu / wallMs) * 100),
    // Node 20 records each whole timer interval: subtract the 10 ms resolution to get the lag.
    eventLoopLagP99Ms: round(Math.max(0, lag.percentile(99) / 1e6 - 10), 2),
    eventLoopLagMaxMs: round(Math.max(0, lag.max / 1e6 - 10), 2),
    falseDowns: transitions.filter((transition) => transition.to === "down").length,
    inFlightLimitAtEnd: stats.inFlightLimit,
    failures: stats.probesFailed,
    timeouts: stats.probesTimedOut,
    slipped: stats.probesSlipped,
    rssMb: round(rssMb, 0),
  };
}

async function main(): Promise<void> {
  const kind = flag("server", "raw");
  const burstCount = Math.min(Number(flag("burst", "28000")), 100_000);
  const rules = Math.min(Number(flag("rules", "140000")), 140_000);
  const seconds = Math.min(Number(flag("seconds", "30")), 120);
  // Below the fd limit (20,000) with room for the process's other descriptors.
  const inFlight = Math.min(Number(flag("in-flight", "4000")), 16_000);
  const { child, ports } = await startBackends(kind);
  try {
    console.error(`backends (${kind}) on ${HOST} ports ${ports.join(",")}`);
    const only = flag("only", "");
    const transport = flag("transport", "native") === "net" ? "net" : "native";
    // Alternate the transports so that machine noise hits both alike; net.Socket is the baseline.
    const bursts = [];
    const netBursts = [];
    for (let run = 1; run <= (only === "sustained" ? 0 : 3); run++) {
      const result = await burst(ports, child, burstCount, transport, inFlight);
      console.error(`  burst run ${run} (${transport}): ${JSON.stringify(result)}`);
      bursts.push(result);
      await sleep(1_000);
      if (transport === "native") {
        const baseline = await burst(ports, child, burstCount, "net", inFlight);
        console.error(`  burst run ${run} (net baseline): ${JSON.stringify(baseline)}`);
        netBursts.push(baseline);
        await sleep(1_000);
      }
    }
    if (only === "burst") return;
    const median = [...bursts].sort((a, b) => a.cpuPerProbeUs - b.cpuPerProbeUs)[1]!;
    const netMedian = [...netBursts].sort((a, b) => a.cpuPerProbeUs - b.cpuPerProbeUs)[1];
    console.error(`sustained: ${rules} rules every 10 s for ${seconds} s`);
    const steady = await sustained(ports, child, rules, seconds, transport);
    const figures = {
      bench: "health",
      server: kind,
      transport,
      burstMaxInFlight: inFlight,
      burst: {
        ...median,
        runs: bursts.map((b) => b.cpuPerProbeUs),
        falseTimeoutsAllRuns: bursts.reduce((sum, b) => sum + b.falseTimeouts, 0),
      },
      burstNetBaseline: netMedian && {
        cpuPerProbeUs: netMedian.cpuPerProbeUs,
        wallMs: netMedian.wallMs,
        runs: netBursts.map((b) => b.cpuPerProbeUs),
        ratio: round(median.cpuPerProbeUs / netMedian.cpuPerProbeUs, 2),
      },
      sustained: steady,
      bars: {
        burstCpuPerProbeUs: {
          value: median.cpuPerProbeUs,
          bar: 60,
          ok: median.cpuPerProbeUs <= 60,
        },
        burstFalseTimeouts: { value: bursts.reduce((sum, b) => sum + b.falseTimeouts, 0), bar: 0 },
        sustainedCpuPercent: {
          value: steady.cpuPercentOfOneCore,
          bar: 50,
          ok: steady.cpuPercentOfOneCore <= 50,
        },
        sustainedLagP99Ms: {
          value: steady.eventLoopLagP99Ms,
          bar: 20,
          ok: steady.eventLoopLagP99Ms <= 20,
        },
        sustainedFalseDowns: { value: steady.falseDowns, bar: 0, ok: steady.falseDowns === 0 },
      },
    };
    console.log(JSON.stringify(figures));
  } finally {
    child.removeAllListeners("exit");
    child.kill("SIGTERM");
  }
}

if (process.argv.includes("--serve")) {
  await serve(flag("server", "raw"));
} else {
  await main();
}
