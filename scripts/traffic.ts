// npx tsx scripts/traffic.ts [--duration 30] [--rate 50] [options]   (root)
//
// Bounded test traffic for the demo cluster (or the CLI testbed): HTTP and UDP requests from the
// testbed's client namespaces to its VIPs — by default every VIP the router has learned by BGP —
// at a fixed rate for a fixed time, printing each second which backend answered. It stops by
// itself; duration and rate have hard caps. One worker process runs inside each client namespace
// (scripts/traffic-worker.ts), so the requests take the real path: client → router (ECMP) →
// XDP on an LB node → IPIP → backend → straight back to the client.
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import readline from "node:readline";
import { fileURLToPath } from "node:url";
import { DEMO_TOPOLOGY } from "../server/demo";
import { runQuiet } from "../e2e/testbed/sys";
import { topologyFor } from "../e2e/testbed/testbed";
import { DEFAULT_TOPOLOGY, type Topology } from "../e2e/testbed/topology";
import type { SecondReport, WorkerPlan } from "./traffic-worker";

const MAX_DURATION_S = 600;
const MAX_RATE = 1000;
const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const WORKER = path.join(REPO_ROOT, "scripts/traffic-worker.ts");

const emptyReport = (s: number): SecondReport => ({ s, sent: 0, skipped: 0, answers: {}, errors: {}, latencyMsSum: 0 });
const bump = (m: Record<string, number>, k: string, n = 1) => (m[k] = (m[k] ?? 0) + n);

const USAGE = `usage: npx tsx scripts/traffic.ts [options]   (needs root)

Sends bounded HTTP and UDP requests from the testbed's client namespaces to its VIPs and prints,
every second, which backend answered. Stops by itself.

  --duration S    seconds to run, 1–${MAX_DURATION_S} (default 30)
  --rate N        requests per second over all clients, 1–${MAX_RATE} (default 50)
  --udp-share F   fraction of requests sent as UDP, 0–1 (default 0.2)
  --vip A[,B…]    VIPs to target (default: every VIP the testbed's router learned by BGP)
  --prefix P      testbed prefix (default: the demo cluster's ${DEMO_TOPOLOGY.prefix}, else the CLI testbed's ${DEFAULT_TOPOLOGY.prefix})`;

// ---- parent ------------------------------------------------------------------------------------

function parseArgs(argv: string[]): Map<string, string> {
  const flags = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--help" || a === "-h") flags.set("help", "");
    else if (a.startsWith("--")) {
      const [k, inline] = a.slice(2).split("=", 2) as [string, string | undefined];
      const v = inline ?? argv[++i];
      if (v === undefined) throw new Error(`--${k} needs a value`);
      flags.set(k, v);
    } else throw new Error(`unexpected argument ${a}`);
  }
  return flags;
}

function numberFlag(flags: Map<string, string>, name: string, fallback: number, min: number, max: number): number {
  const raw = flags.get(name);
  const n = raw === undefined ? fallback : Number(raw);
  if (!Number.isFinite(n) || n < min || n > max) throw new Error(`--${name} must be between ${min} and ${max}, got ${raw}`);
  return n;
}

async function namespaces(): Promise<Set<string>> {
  return new Set((await runQuiet("ip", ["netns", "list"])).split("\n").map((l) => l.split(" ")[0] ?? ""));
}

/** The testbed to use: --prefix, else the demo cluster's, else the CLI testbed's. */
async function findTestbed(prefix: string | undefined): Promise<Topology> {
  const existing = await namespaces();
  const candidates = prefix ? [prefix] : [DEMO_TOPOLOGY.prefix, DEFAULT_TOPOLOGY.prefix];
  for (const p of candidates) {
    const topo = topologyFor({ ...(p === DEMO_TOPOLOGY.prefix ? DEMO_TOPOLOGY : DEFAULT_TOPOLOGY), prefix: p });
    if (existing.has(topo.router.ns)) return topo;
  }
  throw new Error(
    `no running testbed with prefix ${candidates.join(" or ")}: start the demo (scripts/start.sh as root) or \`npx tsx scripts/testbed.ts up\``,
  );
}

/** The VIPs the router learned by BGP (the ones some LB node advertises). */
async function advertisedVips(t: Topology): Promise<string[]> {
  const vips: string[] = [];
  for (const family of ["-4", "-6"]) {
    const routes = JSON.parse((await runQuiet("ip", ["-n", t.router.ns, family, "-j", "route", "show", "proto", "bgp"])) || "[]") as { dst: string }[];
    vips.push(...routes.map((r) => r.dst.replace(/\/(32|128)$/, "")).filter((d) => !d.includes("/")));
  }
  return vips;
}

function merge(into: SecondReport, r: SecondReport): void {
  into.sent += r.sent;
  into.skipped += r.skipped;
  into.latencyMsSum += r.latencyMsSum;
  for (const [k, n] of Object.entries(r.answers)) bump(into.answers, k, n);
  for (const [k, n] of Object.entries(r.errors)) bump(into.errors, k, n);
}

function formatSecond(r: SecondReport, label: string): string {
  const answered = Object.values(r.answers).reduce((a, b) => a + b, 0);
  const failed = Object.values(r.errors).reduce((a, b) => a + b, 0);
  const byProto = (proto: string) =>
    Object.entries(r.answers)
      .filter(([k]) => k.startsWith(`${proto} `))
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, n]) => `${k.slice(proto.length + 1)} ${n}`)
      .join("  ") || "-";
  const errors = Object.entries(r.errors).map(([k, n]) => `${k} ${n}`).join(", ");
  const avg = answered ? `${(r.latencyMsSum / answered).toFixed(1)} ms` : "-";
  return (
    `${label.padStart(6)}  sent ${String(r.sent).padStart(4)}  ok ${String(answered).padStart(4)}  failed ${String(failed).padStart(3)}` +
    `  avg ${avg.padStart(8)}   HTTP: ${byProto("http")}   UDP: ${byProto("udp")}` +
    (errors ? `   errors: ${errors}` : "") +
    (r.skipped ? `   skipped ${r.skipped}` : "")
  );
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  const flags = parseArgs(argv);
  if (flags.has("help")) {
    console.log(USAGE);
    return 0;
  }
  const durationS = Math.floor(numberFlag(flags, "duration", 30, 1, MAX_DURATION_S));
  const rate = numberFlag(flags, "rate", 50, 1, MAX_RATE);
  const udpShare = numberFlag(flags, "udp-share", 0.2, 0, 1);
  if (process.getuid?.() !== 0) {
    console.error("traffic needs root: it runs inside the testbed's client namespaces (ip netns exec)");
    return 1;
  }
  const topo = await findTestbed(flags.get("prefix"));
  const vips = flags.get("vip")?.split(",").filter(Boolean) ?? (await advertisedVips(topo));
  if (vips.length === 0) throw new Error(`no VIP is advertised at ${topo.router.ns} yet: create a load balancer (or wait for the demo's), or pass --vip`);
  const existing = await namespaces();
  const clients = topo.clients.filter((c) => existing.has(c.ns));
  if (clients.length === 0) throw new Error(`the client namespaces of ${topo.prefix} are missing`);

  console.log(
    `traffic: ${rate}/s for ${durationS} s (${Math.round(udpShare * 100)}% UDP :${topo.udpPort}, the rest HTTP :${topo.httpPort}) ` +
      `from ${clients.map((c) => c.ns).join(", ")} to ${vips.join(", ")}`,
  );
  const plan: Omit<WorkerPlan, "rate"> = { vips, httpPort: topo.httpPort, udpPort: topo.udpPort, durationS, udpShare, startAt: Date.now() + 2000 };
  const seconds = new Map<number, { merged: SecondReport; reports: number }>();
  const total = emptyReport(-1);
  let printed = 0;
  const workers: ChildProcess[] = [];
  /** Prints finished seconds in order (all workers reported); at the end (`force`) whatever is left. */
  const printReady = (force: boolean) => {
    for (const k of [...seconds.keys()].sort((a, b) => a - b)) {
      const s = seconds.get(k)!;
      if (!force && (k !== printed || s.reports < workers.length)) return;
      console.log(formatSecond(s.merged, k < durationS ? `${k + 1}s` : "late"));
      merge(total, s.merged);
      seconds.delete(k);
      printed = k + 1;
    }
  };

  const exits = clients.map((c) => {
    const child = spawn("ip", ["netns", "exec", c.ns, process.execPath, "--import", "tsx", WORKER, JSON.stringify({ ...plan, rate: rate / clients.length })], {
      cwd: REPO_ROOT, // resolves `--import tsx`
      stdio: ["ignore", "pipe", "inherit"],
    });
    workers.push(child);
    readline.createInterface({ input: child.stdout! }).on("line", (line) => {
      let r: SecondReport;
      try {
        r = JSON.parse(line) as SecondReport;
      } catch {
        return console.log(`${c.name}: ${line}`);
      }
      const s = seconds.get(r.s) ?? { merged: emptyReport(r.s), reports: 0 };
      merge(s.merged, r);
      s.reports++;
      seconds.set(r.s, s);
      printReady(false);
    });
    return new Promise<void>((resolve) => child.once("exit", () => resolve()));
  });

  // Stop the workers (by their own pids) on Ctrl-C, and in any case shortly after the end.
  const stopWorkers = () => {
    for (const w of workers) if (w.exitCode === null && w.pid) process.kill(w.pid, "SIGTERM");
  };
  process.once("SIGINT", stopWorkers);
  process.once("SIGTERM", stopWorkers);
  const guard = setTimeout(stopWorkers, plan.startAt - Date.now() + durationS * 1000 + 15_000);
  await Promise.all(exits);
  clearTimeout(guard);
  printReady(true);

  const answered = Object.values(total.answers).reduce((a, b) => a + b, 0);
  const byBackend = Object.entries(total.answers)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, n]) => `${k} ${n}`)
    .join(", ");
  console.log(`total: sent ${total.sent}, answered ${answered}, failed ${total.sent - answered}${total.skipped ? `, skipped ${total.skipped}` : ""}; ${byBackend || "no answers"}`);
  return answered > 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  },
);
