// Live console views without a reload. No agents run here, so the test IS the agent: it joins a
// node with a one-time token and speaks the real protocol over a real websocket (hello,
// heartbeats, acks, health transitions, metrics every second). The load balancer page must show
// each report within 1.5 s: the node applying and advertising (→ ACTIVE), members turning
// down/up with the reason, packets/s and bytes/s per node and per member, charts growing, and
// "no data" (not zero) once the agent falls silent. The node fleet page shows the node's traffic
// and a state change live. Screenshots go to test-results/screens/live-*.png.
import fs from "node:fs";
import { type Page, expect, test } from "@playwright/test";
import { WebSocket } from "ws";
import { AGENT_PATH, PROTOCOL_VERSION, type HubMessage } from "../../server/protocol/agent";
import { E2E_ADMIN, E2E_BASE_URL } from "./settings";

const SCREENS = "test-results/screens";
const TENANT = { slug: "liveshop", name: "Live Shop" };
const REGION = "e2e-live-1";
const AZ = "e2e-live-1a";
const POOL = { name: "e2e-live-v4", cidr: "198.18.70.0/24" };
const NODE = { name: "lb-live-01", address: "198.18.71.11" };
const MEMBERS = ["198.18.72.1", "198.18.72.2"];
/** The promise under test: a report shows within this long. */
const LIVE_MS = 1500;

/** A tRPC call as the signed-in admin (the page's cookies). */
async function api<T>(page: Page, path: string, input: unknown): Promise<T> {
  const res = await page.request.post(`/api/trpc/${path}`, { data: { json: input }, headers: { origin: E2E_BASE_URL } });
  const body = await res.text();
  expect(res.ok(), `${path}: ${body}`).toBe(true);
  return (JSON.parse(body) as { result: { data: { json: T } } }).result.data.json;
}

/** A node agent as the hub sees one: a real websocket speaking the real protocol. */
class TestAgent {
  private ws!: WebSocket;
  private inbox: HubMessage[] = [];
  private timers: NodeJS.Timeout[] = [];
  constructor(private readonly credential: string) {}

  async connect() {
    this.ws = new WebSocket(`${E2E_BASE_URL.replace(/^http/, "ws")}${AGENT_PATH}`, { headers: { authorization: `Bearer ${this.credential}` } });
    this.ws.on("message", (d) => this.inbox.push(JSON.parse(String(d)) as HubMessage));
    await new Promise<void>((resolve, reject) => {
      this.ws.once("open", () => resolve());
      this.ws.once("error", reject);
    });
    this.send({ type: "hello", protocolVersion: PROTOCOL_VERSION, agentVersion: "e2e-live", lastAppliedRevision: 0, restored: { vips: 0, backends: 0 } });
    // Heartbeats keep the node live for the scheduler (it places VIPs on live nodes only).
    const beat = () => this.send({ type: "heartbeat", at: Date.now(), bgp: { peersUp: 1, peersTotal: 1 }, advertised: 0 });
    this.timers.push(setInterval(beat, 2000));
  }

  send(msg: object) {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
  }

  /** The first message from the hub matching `pred` (bounded wait). */
  async waitFor(pred: (m: HubMessage) => boolean, timeoutMs = 20_000): Promise<HubMessage> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.inbox.findIndex(pred);
      if (i >= 0) return this.inbox.splice(i, 1)[0]!;
      if (Date.now() > deadline) throw new Error(`no such hub message within ${timeoutMs} ms; got ${JSON.stringify(this.inbox).slice(0, 400)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Metrics every second, as the agent's collector sends them (deltas of the last interval). */
  startMetrics(sample: () => object) {
    this.stopMetrics();
    const tick = () => this.send({ type: "metrics", at: Date.now(), intervalMs: 1000, ...sample() });
    tick();
    this.metricsTimer = setInterval(tick, 1000);
  }
  private metricsTimer: NodeJS.Timeout | null = null;
  stopMetrics() {
    if (this.metricsTimer) clearInterval(this.metricsTimer);
    this.metricsTimer = null;
  }

  close() {
    this.stopMetrics();
    for (const t of this.timers) clearInterval(t);
    this.ws?.close();
  }
}

/** Runs `send`, then waits (≤ LIVE_MS) for `shown`; returns how long the page took. */
async function liveWithin(send: () => unknown, shown: () => Promise<void>): Promise<number> {
  const t0 = Date.now();
  await send();
  await shown();
  const took = Date.now() - t0;
  expect(took).toBeLessThanOrEqual(LIVE_MS);
  return took;
}

test.describe.configure({ mode: "serial" });
test.setTimeout(180_000);

let agent: TestAgent | null = null;
let lb: { id: string; revision: number; listenerId: string; poolId: string } | null = null;
const latencies: Record<string, number> = {};

test.beforeAll(() => fs.mkdirSync(SCREENS, { recursive: true }));
test.afterAll(() => {
  agent?.close();
  console.log(`[live] page updated after (ms): ${JSON.stringify(latencies)}`);
});

async function signIn(page: Page) {
  await page.goto("/sign-in?next=%2Fadmin%2Fnodes");
  await page.getByLabel("Email").fill(E2E_ADMIN.email);
  await page.getByLabel("Password").fill(E2E_ADMIN.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  // Generous: password hashing is slow on a loaded 2-core machine.
  await expect(page.getByRole("heading", { name: "LB nodes", level: 1 })).toBeVisible({ timeout: 30_000 });
}

test("a node joins with a token and its agent connects; a load balancer is placed on it", async ({ page }) => {
  await signIn(page);
  await api(page, "tenants.create", { slug: TENANT.slug, name: TENANT.name });
  const region = await api<{ id: string }>(page, "regions.create", { name: REGION });
  const az = await api<{ id: string }>(page, "azs.create", { regionId: region.id, name: AZ });
  await api(page, "ipPools.create", { regionId: region.id, name: POOL.name, cidr: POOL.cidr });
  const node = await api<{ id: string }>(page, "nodes.create", {
    name: NODE.name,
    azId: az.id,
    address: NODE.address,
    asn: 65101,
    peers: [{ address: "198.18.71.1", asn: 65100 }],
    capacity: 10,
  });
  const { joinToken } = await api<{ joinToken: string }>(page, "agents.issueJoinToken", { nodeId: node.id });
  const joined = await page.request.post("/api/agent/join", { data: { joinToken, agentVersion: "e2e-live" } });
  expect(joined.status(), await joined.text()).toBe(200);
  const { credential } = (await joined.json()) as { credential: string };

  agent = new TestAgent(credential);
  await agent.connect();
  await agent.waitFor((m) => m.type === "snapshot");

  const created = await api<{ id: string; revision: number; listeners: { id: string }[]; pools: { id: string }[] }>(page, "lb.create", {
    tenantId: TENANT.slug,
    name: "live-web",
    replicas: 1,
    pools: [{ name: "web", members: MEMBERS.map((address) => ({ address, port: 80 })), monitor: { type: "TCP", port: 80 } }],
    listeners: [{ protocol: "TCP", port: 80, pool: "web" }],
  });
  // The scheduler places it on our (only, live) node, and the hub sends the complete VIP.
  const update = await agent.waitFor((m) => m.type === "update" && m.vips.some((v) => v.lbId === created.id));
  const vip = (update.type === "update" ? update.vips : []).find((v) => v.lbId === created.id)!;
  lb = { id: created.id, revision: vip.revision, listenerId: vip.listeners[0]!.id, poolId: vip.pools[0]!.id };
});

test("the load balancer page follows the agent's reports live, without a reload", async ({ page }) => {
  test.skip(!agent || !lb, "needs the node and load balancer of the previous test");
  const a = agent!;
  const vip = lb!;
  await signIn(page);
  await page.goto(`/t/${TENANT.slug}/lbs/${vip.id}`);
  // Loading is not what is measured here (and the machine may be busy): generous.
  await expect(page.getByRole("heading", { name: /live-web/, level: 1 })).toBeVisible({ timeout: 30_000 });
  const nodes = page.getByRole("table", { name: "Nodes carrying this load balancer" });
  const nodeRow = nodes.locator(`tr[data-node="${NODE.name}"]`);
  await expect(page.locator('[data-live="on"]').first()).toBeVisible({ timeout: 30_000 });
  await expect(nodeRow).toHaveAttribute("data-advertised", "no");
  await expect(nodeRow.locator('[data-cell="advertising"]')).toContainText("has not applied");
  await expect(page.getByRole("region", { name: "Provisioning" })).toContainText("PENDING_CREATE");
  // Anything that reloads the page loses this.
  await page.evaluate(() => ((window as unknown as { liveMarker: string }).liveMarker = "kept"));

  // Applied and advertised → node row and provisioning status.
  latencies.ack = await liveWithin(
    () => a.send({ type: "ack", results: [{ lbId: vip.id, revision: vip.revision, ok: true, error: null, advertised: true }] }),
    async () => {
      await expect(nodeRow).toHaveAttribute("data-advertised", "yes", { timeout: LIVE_MS });
      await expect(nodeRow.locator('[data-cell="revision"]')).toHaveText(String(vip.revision), { timeout: LIVE_MS });
      await expect(page.getByRole("region", { name: "Provisioning" })).toContainText("ACTIVE", { timeout: LIVE_MS });
    },
  );

  // Health transitions, with their reasons, per member and node.
  const health = page.getByRole("table", { name: "Member health per node" });
  const m1 = health.locator(`tr[data-member="${MEMBERS[0]}:80"][data-node="${NODE.name}"]`);
  const m2 = health.locator(`tr[data-member="${MEMBERS[1]}:80"][data-node="${NODE.name}"]`);
  await expect(m1).toHaveAttribute("data-health", "none");
  const at = Date.now();
  latencies.health = await liveWithin(
    () =>
      a.send({
        type: "health",
        transitions: [
          { lbId: vip.id, poolId: vip.poolId, address: MEMBERS[0], port: 80, state: "down", reason: "TCP connect to 198.18.72.1:80 refused (3 of 3 probes)", at },
          { lbId: vip.id, poolId: vip.poolId, address: MEMBERS[1], port: 80, state: "up", reason: "TCP connect ok (2 of 2 probes)", at },
        ],
      }),
    async () => {
      await expect(m1).toHaveAttribute("data-health", "down", { timeout: LIVE_MS });
      await expect(m1.locator('[data-cell="reason"]')).toContainText("refused (3 of 3 probes)", { timeout: LIVE_MS });
      await expect(m2).toHaveAttribute("data-health", "up", { timeout: LIVE_MS });
    },
  );
  await expect(page.getByRole("region", { name: "Operating" })).toContainText("DEGRADED");

  // Traffic every second: the node's rates, the member's, and the charts growing.
  const sample = () => ({
    listeners: [{ lbId: vip.id, listenerId: vip.listenerId, packets: 1200, bytes: 1_500_000, newFlows: 30, drops: 2 }],
    backends: [{ lbId: vip.id, address: MEMBERS[1], packets: 700, bytes: 900_000 }],
  });
  latencies.metrics = await liveWithin(
    () => a.startMetrics(sample),
    async () => {
      await expect(nodeRow.locator('[data-cell="packets"]')).toHaveText("1.20 k", { timeout: LIVE_MS });
      await expect(nodeRow.locator('[data-cell="bytes"]')).toHaveText("1.50 MB/s", { timeout: LIVE_MS });
      await expect(nodeRow.locator('[data-cell="flows"]')).toHaveText("30", { timeout: LIVE_MS });
    },
  );
  const memberTraffic = health.locator(`tr[data-member="${MEMBERS[1]}:80"]`).first().locator('[data-cell="member-traffic"]');
  await expect(memberTraffic).toContainText("700 pkt/s");
  await expect(memberTraffic).toContainText("900.0 kB/s");
  const chart = page.locator('figure[data-chart="Load balancer throughput"]');
  await expect(chart.locator("canvas")).toBeVisible();
  // Seconds with data keep coming in: one more point a second.
  const filledBefore = Number(await chart.getAttribute("data-filled"));
  await expect.poll(async () => Number(await chart.getAttribute("data-filled")), { timeout: 5000 }).toBeGreaterThan(filledBefore);
  await expect(page.locator('figure[data-chart="Member throughput"] canvas')).toBeVisible();
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: `${SCREENS}/live-lb.png`, fullPage: true });

  // The agent falls silent: no data, not zero (3 s without a report, then the next tick).
  a.stopMetrics();
  await expect(nodeRow.locator('[data-cell="packets"]')).toHaveText("no data", { timeout: 8000 });
  await expect(memberTraffic).toContainText("no data");

  // A member recovers: the transition shows with its new reason.
  latencies.recovery = await liveWithin(
    () =>
      a.send({
        type: "health",
        transitions: [{ lbId: vip.id, poolId: vip.poolId, address: MEMBERS[0], port: 80, state: "up", reason: "TCP connect ok (2 of 2 probes)", at: Date.now() }],
      }),
    async () => {
      await expect(m1).toHaveAttribute("data-health", "up", { timeout: LIVE_MS });
    },
  );
  expect(await page.evaluate(() => (window as unknown as { liveMarker?: string }).liveMarker)).toBe("kept");

  // On a phone-sized screen the live tables scroll sideways and the charts shrink: the page
  // itself never gets wider than the screen.
  await page.setViewportSize({ width: 390, height: 844 });
  await expect
    .poll(() => page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth), { timeout: 5000 })
    .toBeLessThanOrEqual(0);
  // Also when the page opens at that size (the charts' first width comes from the layout).
  await page.reload();
  await expect(page.locator('figure[data-chart="Load balancer throughput"] canvas')).toBeVisible({ timeout: 30_000 });
  await expect
    .poll(() => page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth), { timeout: 5000 })
    .toBeLessThanOrEqual(0);
  await page.screenshot({ path: `${SCREENS}/live-lb-narrow.png`, fullPage: true });
});

test("the node fleet page shows the node's traffic and state changes live", async ({ page }) => {
  test.skip(!agent || !lb, "needs the node and load balancer of the first test");
  const a = agent!;
  const vip = lb!;
  await signIn(page);
  const row = page.locator(`tr[data-node="${NODE.name}"]`);
  // Our VIP at least (with the other specs' database the scheduler may have placed more here).
  await expect(row).toContainText(/[1-9]\d* \/ 10/, { timeout: 30_000 });
  await expect(page.locator('[data-live="on"]')).toBeVisible({ timeout: 30_000 });
  await expect(row.locator('[data-traffic="none"]')).toBeVisible();
  await page.evaluate(() => ((window as unknown as { liveMarker: string }).liveMarker = "kept"));

  latencies.fleetMetrics = await liveWithin(
    () =>
      a.startMetrics(() => ({
        listeners: [{ lbId: vip.id, listenerId: vip.listenerId, packets: 2500, bytes: 3_000_000, newFlows: 10, drops: 0 }],
        backends: [],
      })),
    async () => {
      await expect(row.locator('[data-cell="packets"]')).toHaveText("2.50 k pkt/s", { timeout: LIVE_MS });
      await expect(row.locator('[data-cell="bytes"]')).toHaveText("3.00 MB/s", { timeout: LIVE_MS });
    },
  );
  await expect(page.locator('figure[data-chart="Fleet throughput"] canvas')).toBeVisible();

  // A state change made elsewhere (the API) appears without a reload.
  latencies.nodeState = await liveWithin(
    () => api(page, "nodes.setState", { nodeId: NODE.name, state: "cordoned", reason: "e2e: live view check" }),
    async () => {
      await expect(row).toContainText("cordoned", { timeout: LIVE_MS });
      await expect(row).toContainText("e2e: live view check", { timeout: LIVE_MS });
    },
  );
  await page.screenshot({ path: `${SCREENS}/live-nodes.png`, fullPage: true });
  a.stopMetrics();
  await expect(row.locator('[data-traffic="none"]')).toBeVisible({ timeout: 8000 });
  expect(await page.evaluate(() => (window as unknown as { liveMarker?: string }).liveMarker)).toBe("kept");
});
