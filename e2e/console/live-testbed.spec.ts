// The console against a live testbed (issue 6, end-to-end test 9 and the console half of test 6):
// a real cluster in network namespaces (router with FRR/ECMP, 3 LB nodes in 2 AZs running the
// real tenbin-agent, 3 backends, 2 clients) around the real server process serving the console.
// Signed in as the platform admin, the test creates a load balancer in the wizard whose members
// are the testbed's backends, and — without ever reloading the page — watches it turn ACTIVE,
// sees member health and traffic from bounded client traffic (scripts/traffic.ts) appear, stops
// one backend's HTTP server and sees that member turn down within fall × interval + 1.5 s, then
// drains a placed node on the LB nodes page and sees it drained and withdrawn there and the VIP
// re-placed on the load balancer's page. The router's routes and curl from a client confirm
// what the console says. Needs root (skipped otherwise) and a `next build`.
// Screenshots: test-results/screens/live-testbed-*.png; logs: .test-output/testbed-tb-pw/.
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { type Locator, type Page, expect, test } from "@playwright/test";
import type { ApiClient } from "../testbed/api";
import { agentLogFile, REPO_ROOT, startBackendHttp, stopBackendHttp } from "../testbed/daemons";
import { httpFromClient, routerNexthops } from "../testbed/probe";
import { startServerProcess } from "../testbed/server-process";
import { down, up, type Testbed } from "../testbed/testbed";
import { buildTopology, testTopology, type TopologyOptions } from "../testbed/topology";

const isRoot = process.getuid?.() === 0;

// Namespaces tb-pw-*, management 198.18.240.0/24: used by no other testbed.
const TOPOLOGY: TopologyOptions = testTopology("tb-pw-", 240);
/** The server listens on the management bridge address only; any free port there. */
const SERVER_PORT = 8240;
const ADMIN = { email: "pw-admin@tenbin.local", password: "pw-testbed-admin-1" };
const TENANT = { slug: "pw-live", name: "Playwright live" };
const LB_NAME = "pw-web";
const INTERVAL_MS = 500;
const FALL = 2;
/** The promise under test: a member is shown down within fall × interval + 1.5 s of its death. */
const UNHEALTHY_BOUND_MS = FALL * INTERVAL_MS + 1500;
const SCREENS = "test-results/screens";
const LOG_DIR = path.join(REPO_ROOT, ".test-output", "testbed-tb-pw");

const topo = buildTopology(TOPOLOGY);
let tb: Testbed | null = null;
let traffic: ChildProcess | null = null;

test.describe.configure({ mode: "serial" });
test.skip(!isRoot, "needs root: network namespaces, XDP and FRR for the live testbed");

test.beforeAll(async () => {
  test.setTimeout(180_000);
  if (!fs.existsSync(path.join(REPO_ROOT, ".next", "BUILD_ID"))) throw new Error("no console build: run `npx next build` first");
  fs.mkdirSync(SCREENS, { recursive: true });
  fs.rmSync(LOG_DIR, { recursive: true, force: true });
  fs.mkdirSync(LOG_DIR, { recursive: true });
  tb = await up({
    topology: TOPOLOGY,
    server: (host) => startServerProcess(topo, host, { port: SERVER_PORT, ui: true, adminEmail: ADMIN.email, adminPassword: ADMIN.password }),
    log: (l) => console.log(`[testbed] ${l}`),
    readyTimeoutMs: 60_000,
  });
  await tb.server.api.tenants.create.mutate({ slug: TENANT.slug, name: TENANT.name });
});

test.afterAll(async () => {
  test.setTimeout(60_000);
  if (traffic && traffic.exitCode === null && traffic.pid) process.kill(traffic.pid, "SIGTERM");
  // Keep the logs for a failure's diagnosis (the state directory goes with `down`).
  for (const n of topo.lbNodes) if (fs.existsSync(agentLogFile(n))) fs.copyFileSync(agentLogFile(n), path.join(LOG_DIR, `${n.name}-agent.log`));
  const serverLog = path.join(topo.stateDir, "server.log");
  if (fs.existsSync(serverLog)) fs.copyFileSync(serverLog, path.join(LOG_DIR, "server.log"));
  // Agents, backends, FRR, then the server (all by their pid files), namespaces, bridge, pins.
  await down(topo, (l) => console.log(`[testbed] ${l}`));
});

async function shot(page: Page, name: string) {
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: `${SCREENS}/live-testbed-${name}.png`, fullPage: true });
}

/** "1.20 k" → 1200, "57" → 57, "no data" → null (the console's siText). */
function rateOf(text: string): number | null {
  const m = /^\s*([\d.]+)\s*([kMG]?)/.exec(text);
  if (!m) return null;
  return Number(m[1]) * ({ "": 1, k: 1e3, M: 1e6, G: 1e9 } as Record<string, number>)[m[2]!]!;
}

/** Polls a cell until its rate is above zero (traffic visible), bounded. */
async function expectTraffic(cell: Locator, what: string, timeout = 15_000) {
  await expect.poll(async () => rateOf((await cell.innerText()).split("\n")[0] ?? ""), { message: `${what} shows traffic`, timeout }).toBeGreaterThan(0);
}

/** Bounded client traffic through the VIP: scripts/traffic.ts, HTTP only, both clients. */
function startTraffic(vip: string, durationS: number, rate: number): ChildProcess {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", "scripts/traffic.ts", "--prefix", TOPOLOGY.prefix, "--vip", vip, "--duration", String(durationS), "--rate", String(rate), "--udp-share", "0"],
    { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"] },
  );
  const log = fs.createWriteStream(path.join(LOG_DIR, "traffic.log"));
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  return child;
}

test("a load balancer created in the console goes ACTIVE, shows health and traffic live, a dead backend turns down, a drained node is withdrawn", async ({ browser }) => {
  test.setTimeout(180_000);
  const bed = tb!;
  const api: ApiClient = bed.server.api;
  const context = await browser.newContext({ baseURL: bed.server.url });
  const page = await context.newPage();
  const timings: Record<string, number> = {};

  await test.step("sign in as the platform admin: the fleet of three live nodes", async () => {
    await page.goto("/sign-in?next=%2Fadmin%2Fnodes");
    await page.getByLabel("Email").fill(ADMIN.email);
    await page.getByLabel("Password").fill(ADMIN.password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect(page.getByRole("heading", { name: "LB nodes", level: 1 })).toBeVisible({ timeout: 30_000 });
    for (const n of topo.lbNodes) {
      const row = page.locator(`tr[data-node="${n.name}"]`);
      await expect(row).toContainText("active");
      await expect(row.locator("[data-bgp]")).toContainText("BGP 2/2 peers up", { timeout: 15_000 });
    }
  });

  // The wizard: members are the testbed's backends, an HTTP monitor every 500 ms, fall 2.
  let lbId = "";
  let createClicked = 0;
  await test.step("create the load balancer in the wizard", async () => {
    await page.goto(`/t/${TENANT.slug}/lbs/new`);
    await expect(page.getByRole("heading", { name: "Create a load balancer" })).toBeVisible({ timeout: 30_000 });
    const next = page.getByRole("button", { name: /^Next/ });
    await page.getByLabel("Name", { exact: true }).fill(LB_NAME);
    await page.getByLabel("Replicas").fill("2");
    await next.click();
    await page.getByRole("button", { name: "Paste many…" }).click();
    await page.getByLabel("Paste members").fill(topo.backends.map((b) => `${b.link.v4}:${topo.httpPort}`).join("\n"));
    await page.getByRole("button", { name: `Add ${topo.backends.length} members` }).click();
    await expect(page.getByRole("table", { name: "Members of web" }).locator("tr[data-member-row]")).toHaveCount(topo.backends.length);
    await page.getByLabel("Type").selectOption("HTTP");
    await page.getByLabel("Interval (ms)").fill(String(INTERVAL_MS));
    await page.getByLabel("Timeout (ms)").fill("400");
    await page.getByLabel("Rise", { exact: true }).fill("2");
    await page.getByLabel("Fall", { exact: true }).fill(String(FALL));
    await page.getByLabel("Path").fill("/");
    await page.getByLabel("Expected codes").fill("200");
    await next.click();
    await page.getByRole("group", { name: "Listener 1" }).getByLabel("Port", { exact: true }).fill(String(topo.httpPort));
    await next.click();
    await expect(page.getByRole("region", { name: "Pools" })).toContainText(`web · ${topo.backends.length} members`);
    await shot(page, "wizard-review");
    createClicked = performance.now();
    await page.getByRole("button", { name: "Create load balancer" }).click();
    await expect(page).toHaveURL(new RegExp(`/t/${TENANT.slug}/lbs/[0-9a-f-]{36}$`), { timeout: 30_000 });
    lbId = new URL(page.url()).pathname.split("/").pop()!;
  });
  const lb = await api.lb.get.query({ tenantId: TENANT.slug, lb: lbId });
  const vip = lb.address;
  await expect(page.getByRole("heading", { name: new RegExp(LB_NAME), level: 1 })).toContainText(vip, { timeout: 30_000 });
  // Anything that reloads the page loses this marker.
  await page.evaluate(() => ((window as unknown as { liveMarker: string }).liveMarker = "kept"));
  const nodes = page.getByRole("table", { name: "Nodes carrying this load balancer" });
  const health = page.getByRole("table", { name: "Member health per node" });
  const member = (b: (typeof topo.backends)[number]) => `${b.link.v4}:${topo.httpPort}`;

  let placed: string[] = [];
  await test.step("provisioning reaches ACTIVE on two advertising nodes, without a reload", async () => {
    await expect(page.getByRole("region", { name: "Provisioning" })).toContainText("ACTIVE", { timeout: 30_000 });
    timings.createClickToActive = Math.round(performance.now() - createClicked);
    await expect(nodes.locator('tr[data-advertised="yes"]')).toHaveCount(2);
    placed = await nodes.locator("tr[data-node]").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-node")!));
    expect(placed).toHaveLength(2);
    for (const name of placed) await expect(nodes.locator(`tr[data-node="${name}"] [data-cell="revision"]`)).toHaveText(String(lb.revision));
    // What the console says is what the router learned: both placed nodes are next hops.
    const uplinks = placed.map((name) => topo.lbNodes.find((n) => n.name === name)!.uplink.v4).sort();
    await expect.poll(async () => (await routerNexthops(topo, `${vip}/32`)).sort(), { timeout: 10_000 }).toEqual(uplinks);
    await page.locator('[data-live="on"]').first().waitFor({ timeout: 15_000 });
    await shot(page, "active");
  });

  await test.step("every member is up on both nodes; client traffic shows per node and per member", async () => {
    for (const b of topo.backends)
      for (const name of placed)
        await expect(health.locator(`tr[data-member="${member(b)}"][data-node="${name}"]`)).toHaveAttribute("data-health", "up", { timeout: 15_000 });
    await expect(page.getByRole("region", { name: "Operating" })).toContainText("ONLINE", { timeout: 5000 });
    // 40 requests/s from both clients for at most 60 s (afterAll stops it if still running).
    traffic = startTraffic(vip, 60, 40);
    const t0 = performance.now();
    // ECMP spreads the clients' flows over both placed nodes; Maglev over every member.
    for (const name of placed) await expectTraffic(nodes.locator(`tr[data-node="${name}"] [data-cell="packets"]`), `node ${name}`);
    for (const b of topo.backends) await expectTraffic(health.locator(`tr[data-member="${member(b)}"]`).first().locator('[data-cell="member-traffic"]'), `member ${b.name}`);
    timings.trafficShown = Math.round(performance.now() - t0);
    const chart = page.locator('figure[data-chart="Load balancer throughput"]');
    await expect(chart.locator("canvas")).toBeVisible();
    await expect(page.locator('figure[data-chart="Member throughput"] canvas')).toBeVisible();
    await shot(page, "traffic");
  });

  const victim = topo.backends[0]!;
  await test.step(`a stopped backend turns down on both nodes within ${UNHEALTHY_BOUND_MS} ms`, async () => {
    const victimRows = placed.map((name) => health.locator(`tr[data-member="${member(victim)}"][data-node="${name}"]`));
    const stopStarted = performance.now();
    expect(await stopBackendHttp(topo, victim), `${victim.name}'s HTTP server was running`).toBe(true);
    const stopped = performance.now();
    for (const row of victimRows) await expect(row).toHaveAttribute("data-health", "down", { timeout: UNHEALTHY_BOUND_MS + 2000 });
    timings.stopCall = Math.round(stopped - stopStarted);
    timings.backendStoppedToShownDown = Math.round(performance.now() - stopped);
    expect(timings.backendStoppedToShownDown, "backend stopped → shown down on both nodes (ms)").toBeLessThanOrEqual(UNHEALTHY_BOUND_MS);
    for (const row of victimRows) await expect(row.locator('[data-cell="reason"]')).not.toHaveText("—");
    await expect(page.getByRole("region", { name: "Operating" })).toContainText("DEGRADED", { timeout: 3000 });
    // The other members stay up, and the dead one gets no more traffic.
    for (const b of topo.backends.slice(1)) for (const name of placed) await expect(health.locator(`tr[data-member="${member(b)}"][data-node="${name}"]`)).toHaveAttribute("data-health", "up");
    const victimTraffic = health.locator(`tr[data-member="${member(victim)}"]`).first().locator('[data-cell="member-traffic"]');
    await expect.poll(async () => rateOf((await victimTraffic.innerText()).split("\n")[0] ?? ""), { timeout: 10_000 }).toBe(0);
    await shot(page, "unhealthy");
    // Back for the rest: restarted, it turns up again after `rise` probes.
    startBackendHttp(topo, victim);
    for (const row of victimRows) await expect(row).toHaveAttribute("data-health", "up", { timeout: 15_000 });
    await expect(page.getByRole("region", { name: "Operating" })).toContainText("ONLINE", { timeout: 3000 });
  });

  await test.step("drain a placed node on the LB nodes page: drained, withdrawn, the VIP re-placed", async () => {
    const drained = placed[0]!;
    const drainedNode = topo.lbNodes.find((n) => n.name === drained)!;
    const admin = await context.newPage();
    await admin.goto("/admin/nodes");
    const row = admin.locator(`tr[data-node="${drained}"]`);
    await expect(row.getByLabel("1 of 100 VIPs")).toBeVisible({ timeout: 30_000 });
    await expect(row.locator("[data-bgp]")).toContainText("1 advertised");
    await expect(row.locator('[data-traffic="live"]')).toBeVisible({ timeout: 15_000 });
    await admin.evaluate(() => ((window as unknown as { liveMarker: string }).liveMarker = "kept"));
    await admin.getByRole("button", { name: `Drain ${drained}` }).click();
    const dialog = admin.getByRole("dialog", { name: `Drain ${drained}?` });
    await dialog.getByLabel("Reason").fill("playwright: live drain");
    const t0 = performance.now();
    await dialog.getByRole("button", { name: "Drain", exact: true }).click();
    await expect(dialog).toBeHidden();
    await expect(row).toContainText("draining");
    await expect(row).toContainText("playwright: live drain");
    // Its VIP moves away and its agent withdraws the route (reported by its heartbeat).
    await expect(row.getByLabel("0 of 100 VIPs")).toBeVisible({ timeout: 20_000 });
    await expect(row.locator("[data-bgp]")).toContainText("0 advertised", { timeout: 20_000 });
    timings.drainToWithdrawnShown = Math.round(performance.now() - t0);
    const survivors = topo.lbNodes.filter((n) => n.name !== drained);
    const newcomer = survivors.find((n) => !placed.includes(n.name))!;
    await expect(admin.locator(`tr[data-node="${newcomer.name}"]`).getByLabel("1 of 100 VIPs")).toBeVisible({ timeout: 20_000 });
    // The drained node forwards nothing any more (its agent, carrying no VIP, reports no
    // metrics at all: "no data" today, or 0 pkt/s).
    await expect
      .poll(async () => rateOf(await row.locator('[data-traffic="live"] [data-cell="packets"], [data-traffic="none"]').first().innerText()) ?? 0, {
        message: `${drained} shows no more traffic`,
        timeout: 10_000,
      })
      .toBe(0);
    await shot(admin, "nodes-drained");
    expect(await admin.evaluate(() => (window as unknown as { liveMarker?: string }).liveMarker)).toBe("kept");

    // The load balancer's page, still open: the drained node gone, the newcomer advertising.
    await page.bringToFront();
    await expect(nodes.locator(`tr[data-node="${drained}"]`)).toHaveCount(0, { timeout: 20_000 });
    await expect(nodes.locator(`tr[data-node="${newcomer.name}"]`)).toHaveAttribute("data-advertised", "yes", { timeout: 20_000 });
    await expect(nodes.locator('tr[data-advertised="yes"]')).toHaveCount(2);
    await expect(page.getByRole("region", { name: "Provisioning" })).toContainText("ACTIVE");
    timings.drainToReplacedShown = Math.round(performance.now() - t0);
    // The router agrees: the drained node is no longer a next hop; the clients still get answers.
    const expected = survivors.map((n) => n.uplink.v4).sort();
    await expect.poll(async () => (await routerNexthops(topo, `${vip}/32`)).sort(), { timeout: 10_000 }).toEqual(expected);
    expect(await routerNexthops(topo, `${vip}/32`)).not.toContain(drainedNode.uplink.v4);
    for (const c of topo.clients) expect(await httpFromClient(c, `http://${vip}:${topo.httpPort}/`, 2), `${c.name} answered after the drain`).not.toBeNull();
    await expectTraffic(nodes.locator(`tr[data-node="${newcomer.name}"] [data-cell="packets"]`), `node ${newcomer.name}`);
    await shot(page, "replaced");
    expect(await page.evaluate(() => (window as unknown as { liveMarker?: string }).liveMarker)).toBe("kept");
    await admin.close();
  });

  console.log(`[live-testbed] timings (ms): ${JSON.stringify(timings)}`);
  await context.close();
});
