// Load balancers in the console, as a platform admin meets them: set up a region, an AZ, an
// IPv4 pool, a node and a tenant through the admin pages; then the wizard builds a VIP with two
// listeners and four members (HTTP monitor), bad input is caught at the field, the detail page
// shows the honest PENDING_CREATE status (no agents here), two members are bulk-disabled after a
// confirmation, the history shows the revisions, a stale revision is reported with a reload,
// and deletion protection refuses a delete. Screenshots go to test-results/screens/lb-*.png.
import fs from "node:fs";
import { type Page, expect, test } from "@playwright/test";
import { E2E_ADMIN, E2E_BASE_URL } from "./settings";

const SCREENS = "test-results/screens";
const ADMIN_STATE = "test-results/.auth/lb-admin.json";
const TENANT = { slug: "lbshop", name: "LB Shop" };
const REGION = "e2e-lb-1";
const AZ = "e2e-lb-1a";
const POOL = { name: "e2e-v4", cidr: "198.18.40.0/24" };
const NODE = "lb-e2e-01";
const MEMBERS = ["198.18.50.11:8080", "198.18.50.12:8080", "198.18.50.13:8080", "198.18.50.14:8080"];

let lbUrl = "";

async function shot(page: Page, name: string) {
  await expect(page.getByRole("status").filter({ hasText: /Loading|Opening|Redirecting/ })).toHaveCount(0);
  // From the top: a full-page picture of a scrolled page misplaces the fixed sidebar and header.
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: `${SCREENS}/${name}.png`, fullPage: true });
}

async function adminPage(browser: import("@playwright/test").Browser, viewport?: { width: number; height: number }): Promise<Page> {
  const context = await browser.newContext({ storageState: ADMIN_STATE, ...(viewport ? { viewport } : {}) });
  return context.newPage();
}

/** A tRPC call as the signed-in user (the page's cookies), for changes made "elsewhere". */
async function api<T>(page: Page, path: string, input: unknown): Promise<T> {
  const res = await page.request.post(`/api/trpc/${path}`, { data: { json: input }, headers: { origin: E2E_BASE_URL } });
  const body = await res.text();
  expect(res.ok(), `${path}: ${body}`).toBe(true);
  return (JSON.parse(body) as { result: { data: { json: T } } }).result.data.json;
}

async function apiGet<T>(page: Page, path: string, input: unknown): Promise<T> {
  const res = await page.request.get(`/api/trpc/${path}?input=${encodeURIComponent(JSON.stringify({ json: input }))}`);
  const body = await res.text();
  expect(res.ok(), `${path}: ${body}`).toBe(true);
  return (JSON.parse(body) as { result: { data: { json: T } } }).result.data.json;
}

test.describe.configure({ mode: "serial" });
test.setTimeout(240_000);

test.beforeAll(() => {
  fs.mkdirSync(SCREENS, { recursive: true });
  fs.mkdirSync("test-results/.auth", { recursive: true });
});

test("the platform admin sets up a tenant, a region with an AZ, an IPv4 pool and a node", async ({ page }) => {
  await page.goto("/sign-in?next=%2Fadmin%2Ftenants");
  await page.getByLabel("Email").fill(E2E_ADMIN.email);
  await page.getByLabel("Password").fill(E2E_ADMIN.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("heading", { name: "Tenants", level: 1 })).toBeVisible();
  await page.context().storageState({ path: ADMIN_STATE });

  // Tenant.
  const tenantForm = page.getByRole("region", { name: "Create a tenant" });
  await tenantForm.getByLabel("Name").fill(TENANT.name);
  await tenantForm.getByLabel("Slug").fill(TENANT.slug);
  await tenantForm.getByRole("button", { name: "Create tenant" }).click();
  await expect(page.locator(`tr[data-tenant=${TENANT.slug}]`)).toBeVisible();

  // Region and AZ, from the sidebar.
  const nav = page.getByRole("navigation", { name: "Main" });
  await nav.getByRole("link", { name: "Regions & AZs" }).click();
  await expect(page.getByRole("heading", { name: "Regions & AZs", level: 1 })).toBeVisible();
  const regionForm = page.getByRole("region", { name: "Create a region" });
  await regionForm.getByLabel("Name").fill("Bad Name!");
  await regionForm.getByRole("button", { name: "Create region" }).click();
  await expect(regionForm.getByLabel("Name")).toHaveAccessibleDescription(/lowercase letters/);
  await regionForm.getByLabel("Name").fill(REGION);
  await regionForm.getByLabel("Description").fill("E2E region");
  await regionForm.getByRole("button", { name: "Create region" }).click();
  const region = page.locator(`[data-region="${REGION}"]`);
  await expect(region).toBeVisible();
  await region.getByLabel(`New AZ in ${REGION}`).fill(AZ);
  await region.getByRole("button", { name: "Add AZ" }).click();
  await expect(region.locator(`[data-az="${AZ}"]`)).toContainText("0 nodes");
  await shot(page, "lb-admin-regions");

  // IPv4 pool; a bad CIDR first.
  await nav.getByRole("link", { name: "IP pools" }).click();
  const poolForm = page.getByRole("region", { name: "Create an IP pool" });
  await poolForm.getByLabel("Region").selectOption({ label: REGION });
  await poolForm.getByLabel("Name").fill(POOL.name);
  await poolForm.getByLabel("CIDR").fill("198.18.40.0/33");
  await poolForm.getByRole("button", { name: "Create IP pool" }).click();
  await expect(poolForm.getByLabel("CIDR")).toHaveAccessibleDescription(/not a valid CIDR/);
  await poolForm.getByLabel("CIDR").fill(POOL.cidr);
  await poolForm.getByRole("button", { name: "Create IP pool" }).click();
  await expect(page.locator(`tr[data-pool="${POOL.name}"]`)).toContainText("0 used of 254");
  await expect(page.locator(`tr[data-pool="${POOL.name}"]`)).toContainText("all tenants");

  // A node (its agent never connects in this test), a join token shown once, then cordoned.
  await nav.getByRole("link", { name: "LB nodes" }).click();
  await expect(page.getByText("No LB nodes yet")).toBeVisible();
  const nodeForm = page.getByRole("region", { name: "Register a node" });
  await nodeForm.getByLabel("Name").fill(NODE);
  await nodeForm.getByLabel("Availability zone").selectOption({ label: `${REGION} / ${AZ}` });
  await nodeForm.getByLabel("IPv4 address").fill("198.18.0.300");
  await nodeForm.getByLabel("BGP ASN").fill("65001");
  await nodeForm.getByLabel("Router peers").fill("198.18.0.1 65000");
  await nodeForm.getByRole("button", { name: "Register node" }).click();
  await expect(nodeForm.getByLabel("IPv4 address")).toHaveAccessibleDescription(/not a valid IPv4 address/);
  await nodeForm.getByLabel("IPv4 address").fill("198.18.0.11");
  await nodeForm.getByRole("button", { name: "Register node" }).click();
  const node = page.locator(`tr[data-node="${NODE}"]`);
  await expect(node).toContainText("never connected");
  await expect(node).toContainText("198.18.0.1 (AS 65000)");
  await expect(node).toContainText("0 / 1000");

  await page.getByRole("button", { name: `Issue join token for ${NODE}` }).click();
  const joinDialog = page.getByRole("dialog", { name: `Join token for ${NODE}` });
  await joinDialog.getByRole("button", { name: "Issue join token" }).click();
  await expect(joinDialog.getByLabel("Join token")).not.toHaveValue("");
  await expect(joinDialog).toContainText("joinToken");
  await shot(page, "lb-admin-join-token");
  await joinDialog.getByRole("button", { name: "I have copied it" }).click();
  await expect(joinDialog).toBeHidden();

  await page.getByRole("button", { name: `Cordon ${NODE}` }).click();
  const cordon = page.getByRole("dialog", { name: `Cordon ${NODE}?` });
  await cordon.getByLabel("Reason").fill("kernel upgrade OPS-42");
  await cordon.getByRole("button", { name: "Cordon" }).click();
  await expect(node).toContainText("cordoned");
  await expect(node).toContainText("kernel upgrade OPS-42");
  await page.getByRole("button", { name: `Activate ${NODE}` }).click();
  await page.getByRole("dialog", { name: `Activate ${NODE}?` }).getByRole("button", { name: "Activate" }).click();
  await expect(node.getByText("active", { exact: true })).toBeVisible();
  await shot(page, "lb-admin-nodes");
});

test("the wizard catches bad input at the field, then creates a VIP with 2 listeners and 4 members", async ({ browser }) => {
  const page = await adminPage(browser);
  await page.goto(`/t/${TENANT.slug}`);
  await expect(page.getByText("No load balancers yet")).toBeVisible();
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Load balancers" }).click();
  await expect(page).toHaveURL(new RegExp(`/t/${TENANT.slug}/lbs$`));
  await expect(page.getByText("No load balancers yet")).toBeVisible();
  await shot(page, "lb-list-empty");
  await page.getByRole("main").getByRole("link", { name: "Create load balancer" }).first().click();
  await expect(page.getByRole("heading", { name: "Create a load balancer" })).toBeVisible();

  // Basics: nothing typed yet → Next shows what is missing.
  const next = page.getByRole("button", { name: /^Next/ });
  await next.click();
  await expect(page.getByLabel("Name", { exact: true })).toHaveAccessibleDescription("required");
  await page.getByLabel("Name", { exact: true }).fill("shop-web");
  await page.getByLabel("Tags").fill("env=prod, team=shop");
  await page.getByLabel("Replicas").fill("9");
  await expect(page.getByLabel("Replicas")).toHaveAccessibleDescription("1–8");
  await page.getByLabel("Replicas").fill("2");
  await next.click();

  // Pools: four members pasted, an HTTP monitor; a timeout not shorter than the interval is refused.
  await expect(page.getByLabel("Pool name")).toHaveValue("web");
  await page.getByRole("button", { name: "Paste many…" }).click();
  await page.getByLabel("Paste members").fill(MEMBERS.join("\n"));
  await page.getByRole("button", { name: "Add 4 members" }).click();
  const members = page.getByRole("table", { name: "Members of web" });
  await expect(members.locator("tr[data-member-row]")).toHaveCount(4);
  await expect(page.getByLabel("Member 4 address")).toHaveValue("198.18.50.14");
  await page.getByLabel("Type").selectOption("HTTP");
  await page.getByLabel("Path").fill("/healthz");
  await page.getByLabel("Expected codes").fill("200-299");
  const timeout = page.getByLabel("Timeout (ms)");
  await timeout.fill("6000");
  await timeout.blur();
  await expect(timeout).toHaveAccessibleDescription("timeout must be shorter than the interval");
  await page.getByLabel("Member 2 weight").fill("300");
  await page.getByLabel("Member 2 weight").blur();
  await expect(page.getByLabel("Member 2 weight")).toHaveAccessibleDescription("0–256 (0 drains)");
  await shot(page, "lb-wizard-field-errors");
  await next.click();
  await expect(page.getByRole("heading", { name: "Members" })).toBeVisible(); // still on the pools step
  await timeout.fill("2000");
  await page.getByLabel("Member 2 weight").fill("100");
  await expect(timeout).not.toHaveAttribute("aria-invalid");
  await next.click();

  // Listeners: TCP 80 and TCP 443; a second 80 overlaps the first.
  const first = page.getByRole("group", { name: "Listener 1" });
  await first.getByLabel("Port", { exact: true }).fill("80");
  await page.getByRole("button", { name: "+ Add listener" }).click();
  const second = page.getByRole("group", { name: "Listener 2" });
  await second.getByLabel("Port", { exact: true }).fill("80");
  await second.getByLabel("Port", { exact: true }).blur();
  await expect(second.getByLabel("Port", { exact: true })).toHaveAccessibleDescription(/TCP port 80 overlaps listener 1/);
  await shot(page, "lb-wizard-overlap");
  await second.getByLabel("Port", { exact: true }).fill("443");
  await expect(second.getByLabel("Pool")).toHaveValue("web");
  await next.click();

  // Review, then create.
  await expect(page.getByRole("region", { name: "Basics" })).toContainText("TCP 80, 443");
  await expect(page.getByRole("region", { name: "Pools" })).toContainText("web · 4 members");
  await expect(page.getByRole("region", { name: "Pools" })).toContainText("HTTP monitor every 5 s, timeout 2 s");
  await shot(page, "lb-wizard-review");

  // A requested address outside every pool: the server's refusal comes back to its step and field.
  await page.getByRole("region", { name: "Basics" }).getByRole("button", { name: "Edit" }).click();
  await page.getByLabel("Request a specific address").check();
  await page.getByLabel("Requested address").fill("198.18.99.5");
  await next.click();
  await next.click();
  await next.click();
  await page.getByRole("button", { name: "Create load balancer" }).click();
  await expect(page.getByLabel("Requested address")).toHaveAccessibleDescription(/198.18.99.5 is not in any IP pool/);
  await expect(page.getByRole("alert").filter({ hasText: "The load balancer was not created" })).toBeVisible();
  await expect(page.getByRole("button", { name: "Step 1 Basics" })).toHaveAttribute("aria-current", "step");
  await shot(page, "lb-wizard-server-error");
  await page.getByLabel("Allocate one from an IP pool").check();
  for (let i = 0; i < 3; i++) await next.click();
  await page.getByRole("button", { name: "Create load balancer" }).click();

  // The detail page: honest PENDING_CREATE with its reason (no agent ever connected here).
  await expect(page).toHaveURL(new RegExp(`/t/${TENANT.slug}/lbs/[0-9a-f-]{36}$`), { timeout: 30_000 });
  lbUrl = new URL(page.url()).pathname;
  await expect(page.getByRole("heading", { name: /shop-web/, level: 1 })).toContainText("198.18.40.");
  const provisioning = page.getByRole("region", { name: "Provisioning" });
  await expect(provisioning).toContainText("PENDING_CREATE");
  await expect(provisioning).toContainText("not placed on any LB node yet");
  await expect(page.getByRole("region", { name: "Operating" })).toContainText("UNKNOWN");
  await expect(page.locator("[data-placement]")).toContainText("0/0 nodes at revision");
  await expect(page.getByRole("region", { name: "Settings" })).toContainText("env=prod");
  await shot(page, "lb-detail-overview");

  await page.getByRole("tab", { name: /Listeners/ }).click();
  const listeners = page.getByRole("table", { name: "Listeners" });
  await expect(listeners.locator("tr[data-listener]")).toHaveCount(2);
  await expect(listeners.locator("tr[data-listener=tcp-80]")).toContainText("web");
  await expect(listeners.locator("tr[data-listener=tcp-443]")).toContainText("TCP 443");
  await shot(page, "lb-detail-listeners");

  await page.getByRole("tab", { name: /Pools/ }).click();
  await expect(page.locator("[data-pool=web]")).toContainText("HTTP every 5 s, timeout 2 s, rise 2 / fall 3 · GET /healthz expects 200-299");
  await shot(page, "lb-detail-pools");
  await page.context().close();
});

test("bulk-disabling two members asks first, names them, and shows them OFFLINE", async ({ browser }) => {
  const page = await adminPage(browser);
  await page.goto(`${lbUrl}?tab=members`);
  const table = page.getByRole("table", { name: "Members of web" });
  await expect(table.locator("tr[data-member]")).toHaveCount(4);
  for (const m of MEMBERS) await expect(table.locator(`tr[data-member="${m}"]`)).toContainText("enabled");

  await table.getByLabel(`Select ${MEMBERS[0]}`).check();
  await table.getByLabel(`Select ${MEMBERS[1]}`).check();
  const toolbar = page.getByRole("toolbar", { name: "Bulk actions for web" });
  await expect(toolbar).toContainText("2 selected");
  await toolbar.getByRole("button", { name: "Disable" }).click();
  const confirm = page.getByRole("dialog", { name: "Disable 2 members?" });
  await expect(confirm.getByRole("list", { name: "Members to change" })).toHaveText(new RegExp(`${MEMBERS[0]}\\s*${MEMBERS[1]}`));
  await shot(page, "lb-members-confirm");
  await confirm.getByRole("button", { name: "Disable members" }).click();
  await expect(confirm).toBeHidden();
  for (const m of MEMBERS.slice(0, 2)) {
    await expect(table.locator(`tr[data-member="${m}"]`)).toContainText("disabled");
    await expect(table.locator(`tr[data-member="${m}"]`)).toContainText("OFFLINE");
    await expect(table.locator(`tr[data-member="${m}"]`)).toContainText("disabled by an operator");
  }
  for (const m of MEMBERS.slice(2)) await expect(table.locator(`tr[data-member="${m}"]`)).toContainText("enabled");
  await expect(toolbar).toContainText("Select members for bulk actions");
  await shot(page, "lb-detail-members");

  // The history: the create and the bulk disable, each a revision, newest first.
  await page.getByRole("tab", { name: "History" }).click();
  const history = page.getByRole("table", { name: "Revisions" });
  await expect(history.locator("tr[data-action]")).toHaveCount(2);
  await expect(history.locator("tr[data-action]").first()).toHaveAttribute("data-action", "member.disable");
  await expect(history.locator("tr[data-action='member.disable']")).toContainText(`${MEMBERS[0]}, ${MEMBERS[1]}`);
  await expect(history.locator("tr[data-action='lb.create']")).toContainText("shop-web");
  const revs = await history.locator("tr[data-revision]").evaluateAll((rows) => rows.map((r) => Number(r.getAttribute("data-revision"))));
  expect(revs[0]).toBeGreaterThan(revs[1]!);
  await shot(page, "lb-detail-history");
  await page.context().close();
});

test("a stale revision is reported with a reload; deletion protection refuses a delete", async ({ browser }) => {
  const page = await adminPage(browser);
  await page.goto(lbUrl);
  await page.getByRole("button", { name: "Edit settings" }).click();
  const dialog = page.getByRole("dialog", { name: "Edit shop-web" });
  await dialog.getByLabel("Description").fill("storefront");
  await dialog.getByLabel("Deletion protection").check();

  // Meanwhile someone else changes the load balancer (another browser, the CLI...).
  const lbId = lbUrl.split("/").pop()!;
  const before = await apiGet<{ revision: number }>(page, "lb.get", { tenantId: TENANT.slug, lb: lbId });
  const current = await api<{ revision: number }>(page, "lb.update", {
    tenantId: TENANT.slug,
    lb: lbId,
    expectedRevision: before.revision,
    tags: { env: "prod", team: "shop", owner: "someone-else" },
  });
  expect(current.revision).toBeGreaterThan(before.revision);
  await dialog.getByRole("button", { name: "Save settings" }).click();
  await expect(dialog.getByRole("alert")).toContainText("Changed meanwhile by someone else");
  await expect(dialog.getByRole("alert")).toContainText(`is at revision ${current.revision}`);
  await shot(page, "lb-stale-revision");
  await dialog.getByRole("button", { name: "Reload the latest version" }).click();
  await expect(dialog).toContainText(`Based on revision ${current.revision}`);
  // What was typed is kept; saving now applies it on top of the other change.
  await expect(dialog.getByLabel("Description")).toHaveValue("storefront");
  await dialog.getByLabel("Tags").fill("env=prod, team=shop, owner=someone-else");
  await dialog.getByRole("button", { name: "Save settings" }).click();
  await expect(dialog).toBeHidden();
  const settings = page.getByRole("region", { name: "Settings" });
  await expect(settings).toContainText("storefront");
  await expect(settings).toContainText("owner=someone-else");

  // Delete is refused while protected, and says why.
  await page.getByRole("button", { name: "Delete load balancer" }).click();
  const del = page.getByRole("dialog", { name: "Delete shop-web?" });
  await del.getByRole("button", { name: "Delete load balancer" }).click();
  await expect(del.getByRole("alert")).toContainText("has deletion protection; turn it off first");
  await shot(page, "lb-delete-refused");
  await del.getByRole("button", { name: "Cancel" }).click();
  await expect(page.getByRole("heading", { name: /shop-web/, level: 1 })).toBeVisible();
  await page.context().close();
});

test("the list shows statuses with reasons, filters by search and tag; admin pages show usage", async ({ browser }) => {
  const page = await adminPage(browser);
  await page.goto(`/t/${TENANT.slug}/lbs`);
  const table = page.getByRole("table", { name: "Load balancers" });
  const row = table.locator("tr[data-lb=shop-web]");
  await expect(row).toContainText("TCP 80, 443");
  await expect(row).toContainText("PENDING_CREATE");
  await expect(row).toContainText("not placed on any LB node yet");
  await expect(row).toContainText("env=prod");
  await expect(row.locator("td").nth(2)).toHaveText("4");
  await shot(page, "lb-list");

  await page.getByLabel("Search load balancers").fill("nothing-like-this");
  await expect(page.getByText("No load balancer matches")).toBeVisible();
  await page.getByLabel("Search load balancers").fill("");
  await page.getByLabel("Filter by tag").fill("env=staging");
  await expect(page.getByText("No load balancer matches")).toBeVisible();
  await page.getByLabel("Filter by tag").fill("env=prod");
  await expect(row).toBeVisible();

  // Tenant overview: counts and quota usage.
  await page.goto(`/t/${TENANT.slug}`);
  await expect(page.getByRole("link", { name: "1 load balancers" })).toBeVisible();
  const quota = page.getByRole("region", { name: "Quota" });
  await expect(quota.getByLabel("Load balancers: 1 of 50")).toBeVisible();
  await expect(quota.getByLabel("Members: 4 of 2000")).toBeVisible();
  await shot(page, "lb-tenant-overview");

  // Admin pages: the pool has one address used; quotas show the tenant's usage.
  await page.goto("/admin/ip-pools");
  await expect(page.locator(`tr[data-pool="${POOL.name}"]`)).toContainText("1 used of 254");
  await shot(page, "lb-admin-ip-pools");
  await page.goto("/admin/quotas");
  const q = page.locator(`tr[data-tenant=${TENANT.slug}]`);
  await expect(q.getByLabel("VIPs: 1 of 50")).toBeVisible();
  await page.getByRole("button", { name: `Edit quota of ${TENANT.slug}` }).click();
  const qd = page.getByRole("dialog", { name: `Quota of ${TENANT.slug}` });
  await qd.getByLabel("Max load balancers (VIPs)").fill("-1");
  await qd.getByRole("button", { name: "Save quota" }).click();
  await expect(qd.getByLabel("Max load balancers (VIPs)")).toHaveAccessibleDescription(/whole number/);
  await qd.getByLabel("Max load balancers (VIPs)").fill("10");
  await qd.getByRole("button", { name: "Save quota" }).click();
  await expect(qd).toBeHidden();
  await expect(q.getByLabel("VIPs: 1 of 10")).toBeVisible();
  await expect(q).toContainText("custom");
  await shot(page, "lb-admin-quotas");
  await page.goto("/admin/nodes");
  await expect(page.locator(`tr[data-node="${NODE}"]`)).toBeVisible();
  await page.context().close();
});

test("load balancer pages work at a narrow width", async ({ browser }) => {
  const page = await adminPage(browser, { width: 390, height: 844 });
  for (const [url, heading, name] of [
    [`/t/${TENANT.slug}/lbs`, "Load balancers", "lb-narrow-list"],
    [lbUrl, /shop-web/, "lb-narrow-detail"],
    [`${lbUrl}?tab=members`, /shop-web/, "lb-narrow-members"],
    [`/t/${TENANT.slug}/lbs/new`, "Create a load balancer", "lb-narrow-wizard"],
    ["/admin/nodes", "LB nodes", "lb-narrow-nodes"],
    ["/admin/ip-pools", "IP pools", null],
    ["/admin/regions", "Regions & AZs", null],
    ["/admin/quotas", "Quotas", null],
    [`/t/${TENANT.slug}`, TENANT.name, null],
  ] as const) {
    await page.goto(url);
    await expect(page.getByRole("heading", { name: heading, level: 1 })).toBeVisible();
    await expect(page.getByRole("status").filter({ hasText: /Loading/ })).toHaveCount(0);
    const layout = await page.evaluate(() => {
      const width = document.documentElement.clientWidth;
      const inScroller = (el: Element) => {
        for (let p = el.parentElement; p; p = p.parentElement) if (getComputedStyle(p).overflowX === "auto") return true;
        return false;
      };
      const offenders = Array.from(document.querySelectorAll("body *"))
        .filter((el) => el.getBoundingClientRect().right > width + 1 && !inScroller(el))
        .map((el) => `${el.tagName.toLowerCase()}.${String(el.className).slice(0, 60)}`)
        .slice(0, 5);
      return { width, scrollWidth: document.documentElement.scrollWidth, offenders };
    });
    expect(layout.scrollWidth > layout.width ? layout : null, `wider than the screen on ${url}`).toBeNull();
    if (name) await shot(page, name);
  }
  // The narrow list is a stack of cards, with both statuses and their reasons.
  await page.goto(`/t/${TENANT.slug}/lbs`);
  await expect(page.locator("[data-lb-card=shop-web]")).toContainText("not placed on any LB node yet");
  await page.context().close();
});
