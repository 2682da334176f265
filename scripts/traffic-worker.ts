// One traffic worker of scripts/traffic.ts, run inside a client namespace (ip netns exec … node
// --import tsx scripts/traffic-worker.ts '<plan JSON>'): sends the plan's HTTP and UDP requests at
// its rate until its end, and prints one JSON line per second (by completion time) with what
// answered. Node built-ins only, so it starts fast. Every request is bounded by a timeout, the
// requests in flight by a cap, and the process by a hard exit shortly after the plan's end.
import dgram from "node:dgram";
import http from "node:http";

/** Requests in flight; beyond it a due request is skipped (counted), never queued. */
const MAX_IN_FLIGHT = 500;
const REQUEST_TIMEOUT_MS = 1000;

/** What one worker does; the parent passes it as JSON. */
export interface WorkerPlan {
  vips: string[];
  httpPort: number;
  udpPort: number;
  rate: number;
  durationS: number;
  udpShare: number;
  /** Epoch ms when second 0 starts (the same for every worker, so their seconds line up). */
  startAt: number;
}

/** One worker's count for one second (by completion time). */
export interface SecondReport {
  s: number;
  sent: number;
  skipped: number;
  /** "http be1" → answers */
  answers: Record<string, number>;
  /** "http timeout", "udp timeout", "http ECONNREFUSED"… → count */
  errors: Record<string, number>;
  latencyMsSum: number;
}

const emptyReport = (s: number): SecondReport => ({ s, sent: 0, skipped: 0, answers: {}, errors: {}, latencyMsSum: 0 });
const bump = (m: Record<string, number>, k: string, n = 1) => (m[k] = (m[k] ?? 0) + n);

function httpRequest(vip: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get({ hostname: vip, port, path: "/", agent: false, timeout: REQUEST_TIMEOUT_MS }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c.slice(0, 200)));
      res.on("end", () => (res.statusCode === 200 ? resolve(body.trim() || "?") : reject(new Error(`HTTP ${res.statusCode}`))));
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
  });
}

function udpRequest(vip: string, port: number, payload: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket(vip.includes(":") ? "udp6" : "udp4");
    const done = (err: Error | null, answer?: string) => {
      clearTimeout(timer);
      s.close();
      if (err) reject(err);
      else resolve(answer!);
    };
    const timer = setTimeout(() => done(new Error("timeout")), REQUEST_TIMEOUT_MS);
    s.on("message", (m) => done(null, m.toString().split(" ")[0] || "?")); // "<backend> <payload>"
    s.on("error", (e) => done(e));
    s.send(payload, port, vip);
  });
}

async function main(plan: WorkerPlan): Promise<void> {
  const interval = 1000 / plan.rate;
  const total = Math.floor(plan.rate * plan.durationS);
  const endAt = plan.startAt + plan.durationS * 1000;
  // Hard stop whatever happens: the last answers may take REQUEST_TIMEOUT_MS.
  setTimeout(() => process.exit(0), endAt - Date.now() + REQUEST_TIMEOUT_MS + 2000).unref();

  let report = emptyReport(0);
  const flush = () => {
    process.stdout.write(JSON.stringify(report) + "\n");
    report = emptyReport(report.s + 1);
  };
  let flusher: NodeJS.Timeout | undefined;
  const scheduleFlush = () => {
    flusher = setTimeout(() => {
      flush();
      scheduleFlush();
    }, plan.startAt + (report.s + 1) * 1000 - Date.now());
  };
  await new Promise((r) => setTimeout(r, Math.max(0, plan.startAt - Date.now())));
  scheduleFlush();

  let inFlight = 0;
  let next = 0;
  const send = (i: number) => {
    if (inFlight >= MAX_IN_FLIGHT) {
      report.skipped++;
      return;
    }
    const udp = Math.floor((i + 1) * plan.udpShare) > Math.floor(i * plan.udpShare);
    const vip = plan.vips[i % plan.vips.length]!;
    const proto = udp ? "udp" : "http";
    const t0 = performance.now();
    inFlight++;
    report.sent++;
    (udp ? udpRequest(vip, plan.udpPort, `traffic ${i}`) : httpRequest(vip, plan.httpPort)).then(
      (backend) => {
        bump(report.answers, `${proto} ${backend}`);
        report.latencyMsSum += performance.now() - t0;
      },
      (err: NodeJS.ErrnoException) => bump(report.errors, `${proto} ${err.code ?? err.message}`),
    ).finally(() => inFlight--);
  };
  while (next < total) {
    const now = Date.now();
    const due = Math.min(total, Math.floor((now - plan.startAt) / interval) + 1);
    // More than a second behind (a stalled event loop): skip the backlog rather than burst.
    if (due - next > plan.rate) {
      report.skipped += due - next - Math.ceil(plan.rate);
      next = due - Math.ceil(plan.rate);
    }
    while (next < due) send(next++);
    await new Promise((r) => setTimeout(r, Math.max(1, Math.min(20, plan.startAt + next * interval - Date.now()))));
  }
  // Let the last answers arrive, then report the rest and stop.
  const deadline = Date.now() + REQUEST_TIMEOUT_MS + 200;
  while (inFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  clearTimeout(flusher);
  flush();
  process.exit(0);
}

const plan = JSON.parse(process.argv[2] ?? "null") as WorkerPlan | null;
if (!plan || !(plan.rate > 0 && plan.rate <= 1000 && plan.durationS > 0 && plan.durationS <= 600) || plan.vips.length === 0) {
  console.error("usage: traffic-worker.ts '<plan JSON>' (started by scripts/traffic.ts)");
  process.exit(2);
}
process.on("SIGTERM", () => process.exit(0));
main(plan).catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
