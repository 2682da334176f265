// Certificates in the console: an operator pastes a shuffled chain and its key, checks what
// Tenbin reads, uploads it, sees the parsed fields and the amber "expiring" badge, a bad key is
// reported at the field, then rotates it in place to a new version (badge turns green, version 1
// stays listed). Screenshots go to test-results/screens/cert-*.png.
import fs from "node:fs";
import { type Page, expect, test } from "@playwright/test";
import { E2E_ADMIN, E2E_BASE_URL } from "./settings";
import { CertFactory } from "../../server/domain/certs/test-fixtures";

const SCREENS = "test-results/screens";
const TENANT = { slug: "certshop", name: "Cert Shop" };
const DAY = 86_400_000;
let f: CertFactory;

async function shot(page: Page, name: string) {
  await expect(page.getByRole("status").filter({ hasText: /Loading|Opening|Redirecting/ })).toHaveCount(0);
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: `${SCREENS}/${name}.png`, fullPage: true });
}

test.describe.configure({ mode: "serial" });
test.setTimeout(180_000);

test.beforeAll(() => {
  fs.mkdirSync(SCREENS, { recursive: true });
  f = new CertFactory();
});
test.afterAll(() => f?.cleanup());

test("upload a chain, see the parsed fields and the expiry badge, rotate it", async ({ page }) => {
  await page.goto("/sign-in");
  await page.getByLabel("Email").fill(E2E_ADMIN.email);
  await page.getByLabel("Password").fill(E2E_ADMIN.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL((u) => !u.pathname.startsWith("/sign-in"));
  const res = await page.request.post("/api/trpc/tenants.create", { data: { json: TENANT }, headers: { origin: E2E_BASE_URL } });
  expect(res.ok(), await res.text()).toBe(true);

  const root = f.issue({ cn: "E2E Root", ca: true, to: new Date(Date.now() + 3650 * DAY) });
  const intermediate = f.issue({ cn: "E2E Intermediate", ca: true, issuer: root });
  const leaf = f.issue({ cn: "www.certshop.test", sans: ["DNS:www.certshop.test", "DNS:certshop.test"], issuer: intermediate, to: new Date(Date.now() + 20 * DAY) });

  await page.goto(`/t/${TENANT.slug}/certificates`);
  await expect(page.getByRole("heading", { name: "Certificates", level: 1 })).toBeVisible();
  await page.getByRole("link", { name: "Upload certificate" }).first().click();
  await expect(page.getByRole("heading", { name: "Upload certificate", level: 1 })).toBeVisible();
  await page.getByLabel("Name").fill("www");
  // Shuffled on purpose: root, leaf, intermediate.
  await page.getByLabel("Certificate chain (PEM)").fill(root.cert + leaf.cert + intermediate.cert);
  // The root's key by mistake first: the error names both, at the key field; nothing is stored.
  await page.getByLabel("Private key (PEM)").fill(root.key);
  await page.getByRole("button", { name: "Upload", exact: true }).click();
  await expect(page.getByText(/the private key belongs to "CN=E2E Root", a CA certificate, not to the leaf "CN=www.certshop.test"/).first()).toBeVisible();
  await page.getByLabel("Private key (PEM)").fill(leaf.key);
  await page.getByRole("button", { name: "Check" }).click();
  const preview = page.getByTestId("cert-preview");
  await expect(preview.getByRole("list", { name: "Certificate chain" }).getByRole("listitem")).toHaveCount(3);
  await expect(preview.getByRole("listitem").first()).toContainText("CN=www.certshop.test");
  await shot(page, "cert-upload");
  await page.getByRole("button", { name: "Upload", exact: true }).click();

  await expect(page.getByRole("heading", { name: "www", level: 1 })).toBeVisible();
  const summary = page.getByTestId("cert-summary");
  await expect(summary).toContainText("CN=www.certshop.test");
  await expect(summary).toContainText("DNS:www.certshop.test, DNS:certshop.test");
  await expect(summary).toContainText("CN=E2E Intermediate");
  await expect(summary).toContainText("ECDSA P-256");
  await expect(summary.getByTestId("expiry-badge")).toContainText(/expiring · 1\dd left/);
  await expect(page.getByRole("list", { name: "Certificate chain" }).getByRole("listitem")).toHaveCount(3);
  // The key never comes back: neither its PEM armour nor its body is anywhere in the page.
  const html = await page.content();
  expect(html).not.toMatch(/-----BEGIN [A-Z ]*PRIVATE KEY-----/);
  expect(html).not.toContain(leaf.key.split("\n")[1]!);
  await shot(page, "cert-detail");

  // Rotate in place to a certificate valid for a year.
  const next = f.issue({ cn: "www.certshop.test", sans: ["DNS:www.certshop.test"], issuer: intermediate, key: "p384" });
  await page.getByRole("button", { name: "Rotate" }).click();
  const dialog = page.getByRole("dialog", { name: "Rotate www" });
  await dialog.getByLabel("Certificate chain (PEM)").fill(next.cert + intermediate.cert);
  await dialog.getByLabel("Private key (PEM)").fill(next.key);
  await dialog.getByRole("button", { name: "Upload new version" }).click();
  await expect(dialog).toBeHidden();
  await expect(summary).toContainText("ECDSA P-384");
  await expect(summary.getByTestId("expiry-badge")).toContainText(/valid · 36\dd left/);
  await expect(page.getByTestId("cert-version-2")).toContainText("current");
  await expect(page.getByTestId("cert-version-1")).toBeVisible();
  await shot(page, "cert-rotated");

  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Certificates" }).click();
  await expect(page.getByTestId("cert-row-www")).toContainText(/valid · 36\dd left/);
  await shot(page, "cert-list");
});
