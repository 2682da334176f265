// The platform foundation as users meet it in the console: a platform admin sets up a tenant
// and its people; an operator signs in, sees only that tenant, creates an API token (shown
// once) and reads the audit log; bad input gets field errors next to the inputs.
import fs from "node:fs";
import { type Browser, type Page, expect, test } from "@playwright/test";
import { E2E_ADMIN } from "./settings";

const SCREENS = "test-results/screens";
const ADMIN_STATE = "test-results/.auth/admin.json";
const OPERATOR_STATE = "test-results/.auth/operator.json";
const operator = { name: "Olivia Ops", email: "ops@example.test", password: "operator-pass-1" };
const viewer = { name: "Vic Viewer", email: "vic@example.test", password: "viewer-pass-22" };

async function shot(page: Page, name: string) {
  // Wait until no loading indicator is left, so the picture shows the page, not a spinner.
  await expect(page.getByRole("status").filter({ hasText: /Loading|Opening|Redirecting/ })).toHaveCount(0);
  await page.screenshot({ path: `${SCREENS}/${name}.png`, fullPage: true });
}

async function adminPage(browser: Browser): Promise<Page> {
  const context = await browser.newContext({ storageState: ADMIN_STATE });
  return context.newPage();
}

async function signIn(page: Page, who: { email: string; password: string }) {
  await page.goto("/sign-in");
  await page.getByLabel("Email").fill(who.email);
  await page.getByLabel("Password").fill(who.password);
  await page.getByRole("button", { name: "Sign in" }).click();
}

test.describe.configure({ mode: "serial" });

test.beforeAll(() => {
  fs.mkdirSync(SCREENS, { recursive: true });
  fs.mkdirSync("test-results/.auth", { recursive: true });
});

test("signed out, the console sends you to sign-in; wrong credentials are refused", async ({ page }) => {
  await page.goto("/admin/tenants");
  await expect(page).toHaveURL(/\/sign-in\?next=%2Fadmin%2Ftenants$/);
  await expect(page.getByRole("heading", { name: "Sign in" })).toBeVisible();

  // Client-side validation: nothing typed yet.
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByLabel("Email")).toHaveAccessibleDescription("not a valid email address");
  await expect(page.getByLabel("Email")).toBeFocused();
  await shot(page, "sign-in-errors");

  await page.getByLabel("Email").fill(E2E_ADMIN.email);
  await page.getByLabel("Password").fill("not-the-password-1");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("main").getByRole("alert")).toContainText(/invalid email or password/i);
});

test("the platform admin signs in and lands where they were going", async ({ page }) => {
  await page.goto("/sign-in?next=%2Fadmin%2Ftenants");
  await page.getByLabel("Email").fill(E2E_ADMIN.email);
  await page.getByLabel("Password").fill(E2E_ADMIN.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/admin\/tenants$/);
  await expect(page.getByRole("heading", { name: "Tenants", level: 1 })).toBeVisible();
  await expect(page.getByText("No tenants yet")).toBeVisible();
  await page.context().storageState({ path: ADMIN_STATE });

  await page.goto("/");
  await expect(page.getByRole("heading", { name: "No tenants yet" })).toBeVisible();
  await shot(page, "home-no-tenants-admin");
});

test("the platform admin creates tenants; bad and duplicate slugs get field errors", async ({ browser }) => {
  const page = await adminPage(browser);
  await page.goto("/admin/tenants");
  const create = page.getByRole("region", { name: "Create a tenant" });
  const slug = create.getByLabel("Slug");

  // As you type (after leaving the field once): the same rule as the server.
  await create.getByLabel("Name").fill("Acme Payments");
  await slug.fill("Acme Payments");
  await slug.blur();
  await expect(slug).toHaveAccessibleDescription("lowercase letters, digits and inner dashes only");
  await slug.fill("acme");
  await expect(slug).not.toHaveAttribute("aria-invalid");
  await create.getByRole("button", { name: "Create tenant" }).click();
  await expect(create.getByRole("status")).toContainText("Tenant acme created");
  await expect(page.getByRole("table", { name: "Tenants" }).locator("tr[data-tenant=acme]")).toBeVisible();

  // Duplicate slug: the server's answer shows next to the field, nothing is created.
  await create.getByLabel("Name").fill("Acme again");
  await slug.fill("acme");
  await create.getByRole("button", { name: "Create tenant" }).click();
  await expect(slug).toHaveAccessibleDescription('a tenant with slug "acme" already exists');
  await expect(create.getByRole("alert").first()).toContainText("already exists");
  await expect(page.locator("tr[data-tenant]")).toHaveCount(1);

  // A second tenant the operator must never see.
  await create.getByLabel("Name").fill("Globex");
  await slug.fill("globex");
  await create.getByRole("button", { name: "Create tenant" }).click();
  await expect(page.locator("tr[data-tenant=globex]")).toBeVisible();

  // Rename (the slug stays).
  await page.getByRole("button", { name: "Rename globex" }).click();
  const dialog = page.getByRole("dialog", { name: "Rename globex" });
  await dialog.getByLabel("Name").fill("Globex Logistics");
  await dialog.getByRole("button", { name: "Save name" }).click();
  await expect(dialog).toBeHidden();
  await expect(page.locator("tr[data-tenant=globex]")).toContainText("Globex Logistics");
  await shot(page, "admin-tenants");
  await page.context().close();
});

test("the platform admin creates a user; a weak password and a duplicate email are refused", async ({ browser }) => {
  const page = await adminPage(browser);
  await page.goto("/admin/users");
  const create = page.getByRole("region", { name: "Create a user" });
  await create.getByLabel("Name").fill(operator.name);
  await create.getByLabel("Email").fill(operator.email);
  await create.getByLabel("Initial password").fill("short");
  await create.getByRole("button", { name: "Create user" }).click();
  await expect(create.getByLabel("Initial password")).toHaveAccessibleDescription(/at least 10 characters/);
  await create.getByLabel("Initial password").fill("onlyletterspassword");
  await expect(create.getByLabel("Initial password")).toHaveAccessibleDescription("mix letters with digits or symbols");
  await create.getByLabel("Initial password").fill(operator.password);
  await create.getByRole("button", { name: "Create user" }).click();
  await expect(create.getByRole("status")).toContainText(`${operator.email} can sign in now`);
  await expect(page.locator(`tr[data-user="${operator.email}"]`)).toContainText("none");

  await create.getByLabel("Name").fill("Someone else");
  await create.getByLabel("Email").fill(operator.email.toUpperCase());
  await create.getByLabel("Initial password").fill("another-pass-9");
  await create.getByRole("button", { name: "Create user" }).click();
  await expect(create.getByLabel("Email")).toHaveAccessibleDescription(`a user with email ${operator.email} already exists`);
  await expect(page.locator("tr[data-user]")).toHaveCount(2);
  await shot(page, "admin-users");
  await page.context().close();
});

test("sign-up checks the password as you type, then creates the account", async ({ page }) => {
  await page.goto("/sign-up");
  await page.getByLabel("Name").fill(viewer.name);
  await page.getByLabel("Email").fill(viewer.email);
  const password = page.getByLabel("Password", { exact: true });
  await password.fill("abc");
  await password.blur();
  await expect(password).toHaveAccessibleDescription(/at least 10 characters/);
  await password.fill("abcdefghijkl");
  await expect(password).toHaveAccessibleDescription("mix letters with digits or symbols");
  await shot(page, "sign-up-weak-password");
  await password.fill(viewer.password);
  await page.getByLabel("Confirm password").fill(viewer.password + "x");
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page.getByLabel("Confirm password")).toHaveAccessibleDescription("the passwords do not match");
  await shot(page, "sign-up-errors");

  // The server's own refusal, shown at the field: this email is taken.
  await page.getByLabel("Email").fill(operator.email);
  await page.getByLabel("Confirm password").fill(viewer.password);
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page.getByLabel("Email")).toHaveAccessibleDescription(/already exists/);

  await page.getByLabel("Email").fill(viewer.email);
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page.getByRole("heading", { name: "You are not in any tenant yet" })).toBeVisible();
  await expect(page.getByRole("navigation", { name: "Main" })).not.toContainText("Platform");
  await shot(page, "home-no-tenant-user");

  // Platform pages say plainly they are not for this user.
  await page.goto("/admin/users");
  await expect(page.getByRole("heading", { name: "Platform admins only" })).toBeVisible();
});

test("the platform admin adds members with roles, changes and removes one", async ({ browser }) => {
  const page = await adminPage(browser);
  await page.goto("/admin/tenants");
  await page.getByRole("link", { name: "0 members of acme" }).click();
  await expect(page).toHaveURL(/\/t\/acme\/members$/);
  await expect(page.getByText("No members yet")).toBeVisible();
  const add = page.getByRole("region", { name: "Add a member" });

  // Unknown email: the server says why, at the field.
  await add.getByLabel("Email").fill("nobody@example.test");
  await add.getByLabel("Role").selectOption("operator");
  await add.getByRole("button", { name: "Add member" }).click();
  await expect(add.getByLabel("Email")).toHaveAccessibleDescription(/no user with email nobody@example.test/);

  await add.getByLabel("Email").fill(operator.email);
  await add.getByRole("button", { name: "Add member" }).click();
  await expect(add.getByRole("status")).toContainText(`${operator.email} is now an operator`);
  await add.getByLabel("Email").fill(viewer.email);
  await add.getByLabel("Role").selectOption("viewer");
  await add.getByRole("button", { name: "Add member" }).click();
  const members = page.getByRole("table", { name: "Tenant members" });
  await expect(members.locator("tr[data-member]")).toHaveCount(2);

  // Change a role: pick, then save.
  await members.getByLabel(`Role of ${viewer.email}`).selectOption("admin");
  await members.locator(`tr[data-member="${viewer.email}"]`).getByRole("button", { name: "Save" }).click();
  await expect(members.locator(`tr[data-member="${viewer.email}"]`).getByRole("button", { name: "Save" })).toBeHidden();
  await expect(members.getByLabel(`Role of ${viewer.email}`)).toHaveValue("admin");

  // Removing the only admin is refused with the reason, and changes nothing.
  await page.getByRole("button", { name: `Remove ${viewer.email}` }).click();
  const confirm = page.getByRole("dialog", { name: "Remove member?" });
  await expect(confirm).toContainText(`${viewer.name} (${viewer.email}) loses access`);
  await confirm.getByRole("button", { name: "Remove member" }).click();
  await expect(confirm.getByRole("alert")).toContainText(`${viewer.email} is the last admin of acme`);
  await confirm.getByRole("button", { name: "Cancel" }).click();
  await expect(confirm).toBeHidden();
  await expect(members.locator("tr[data-member]")).toHaveCount(2);

  // With a second admin (the platform admin adds themselves) the removal goes through.
  await add.getByLabel("Email").fill(E2E_ADMIN.email);
  await add.getByLabel("Role").selectOption("admin");
  await add.getByRole("button", { name: "Add member" }).click();
  await expect(members.locator("tr[data-member]")).toHaveCount(3);
  await page.getByRole("button", { name: `Remove ${viewer.email}` }).click();
  await expect(confirm.getByRole("alert")).toHaveCount(0);
  await confirm.getByRole("button", { name: "Remove member" }).click();
  await expect(confirm).toBeHidden();
  await expect(members.locator("tr[data-member]")).toHaveCount(2);
  await expect(members.locator(`tr[data-member="${viewer.email}"]`)).toHaveCount(0);
  await expect(members.getByLabel(`Role of ${operator.email}`)).toHaveValue("operator");
  await shot(page, "tenant-members-admin");
  await page.context().close();
});

test("the operator signs in and sees only their tenant, without admin actions", async ({ page }) => {
  await signIn(page, operator);
  // The only tenant: straight into it.
  await expect(page).toHaveURL(/\/t\/acme$/);
  await expect(page.getByRole("heading", { name: "Acme Payments", level: 1 })).toBeVisible();
  await expect(page.getByText("No load balancers yet")).toBeVisible();
  const switcher = page.getByRole("combobox", { name: "Tenant" });
  await expect(switcher.locator("option")).toHaveText(["Acme Payments (acme)"]);
  await expect(page.getByRole("navigation", { name: "Main" })).not.toContainText("Platform");
  await shot(page, "tenant-overview-operator");

  // Another tenant does not exist as far as this user can tell.
  await page.goto("/t/globex");
  await expect(page.getByRole("heading", { name: "No tenant “globex”" })).toBeVisible();

  // Members: visible, but no admin actions.
  await page.goto("/t/acme/members");
  await expect(page.getByRole("table", { name: "Tenant members" })).toContainText(operator.email);
  await expect(page.getByRole("region", { name: "Add a member" })).toHaveCount(0);
  await expect(page.getByRole("button", { name: /^Remove / })).toHaveCount(0);
  await shot(page, "tenant-members-operator");
  await page.context().storageState({ path: OPERATOR_STATE });
});

test("the operator creates an API token shown once, revokes one, and reads their audit entries", async ({
  browser,
  request,
}) => {
  const page = await (await browser.newContext({ storageState: OPERATOR_STATE })).newPage();
  await page.goto("/t/acme");
  // API tokens: the secret once, with a copy button.
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "API tokens" }).click();
  await expect(page.getByText("No API tokens")).toBeVisible();
  const create = page.getByRole("region", { name: "Create a token" });
  await create.getByLabel("Name").fill("");
  await create.getByRole("button", { name: "Create token" }).click();
  await expect(create.getByLabel("Name")).toHaveAccessibleDescription("required");
  await create.getByLabel("Expires after (days)").fill("0");
  await expect(create.getByLabel("Expires after (days)")).toHaveAccessibleDescription("at least 1 day");
  await create.getByLabel("Name").fill("ci-deploy");
  await create.getByLabel("Expires after (days)").fill("30");
  await create.getByRole("button", { name: "Create token" }).click();
  const secretBox = page.getByRole("region", { name: "New token secret" });
  const secret = await secretBox.getByLabel("New API token secret").inputValue();
  expect(secret).toMatch(/^tb_[A-Za-z0-9_-]{40,}$/);
  await expect(secretBox.getByRole("button", { name: "Copy" })).toBeVisible();
  await expect(page.locator("tr[data-token=ci-deploy]")).toContainText("active");
  await shot(page, "tokens-secret-shown");

  // The secret really works against the API, as this user.
  const me = await request.get("/api/trpc/me.get", { headers: { authorization: `Bearer ${secret}` } });
  expect(me.ok()).toBe(true);
  expect(JSON.stringify(await me.json())).toContain(operator.email);

  // Shown once: after a reload it is gone; the list keeps only its prefix.
  await page.reload();
  await expect(page.getByRole("table", { name: "API tokens" })).toContainText("ci-deploy");
  await expect(page.getByRole("region", { name: "New token secret" })).toHaveCount(0);
  await expect(page.locator("body")).not.toContainText(secret);

  // A second token, revoked after confirming.
  await create.getByLabel("Name").fill("temporary");
  await create.getByLabel("Expires after (days)").fill("");
  await create.getByRole("button", { name: "Create token" }).click();
  await expect(page.locator("tr[data-token=temporary]")).toContainText("never");
  await page.getByRole("button", { name: "I have copied it" }).click();
  await page.getByRole("button", { name: "Revoke temporary" }).click();
  await page.getByRole("dialog", { name: "Revoke token?" }).getByRole("button", { name: "Revoke token" }).click();
  await expect(page.locator("tr[data-token=temporary]")).toContainText("revoked");
  await expect(page.getByRole("button", { name: "Revoke temporary" })).toHaveCount(0);
  await shot(page, "tokens-list");

  // The audit log: an operator sees their own actions.
  await page.goto("/t/acme/audit");
  await expect(page.getByText("The whole tenant's log is for tenant admins")).toBeVisible();
  const log = page.getByRole("table", { name: "Audit log entries" });
  await expect(log.locator("tr[data-action='token.create']")).toHaveCount(2);
  await expect(log.locator("tr[data-action='token.revoke']")).toHaveCount(1);
  await expect(log.locator("tr[data-action='token.revoke']")).toContainText(/revokedAt:\s*∅\s*→/);
  await expect(log).not.toContainText("member.add");
  await shot(page, "audit-operator");

  // Sign out: the console is closed again.
  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/sign-in$/);
  await page.goto("/t/acme");
  await expect(page).toHaveURL(/\/sign-in\?next=%2Ft%2Facme$/);
  await page.context().close();
});

test("the platform admin reads the tenant's audit log with before → after", async ({ browser }) => {
  const page = await adminPage(browser);
  await page.goto("/t/acme/audit");
  const log = page.getByRole("table", { name: "Audit log entries" });
  await expect(log.locator("tr[data-action='member.add']")).toHaveCount(3);
  const roleChange = log.locator("tr[data-action='member.set-role']");
  await expect(roleChange).toContainText(/role:\s*viewer\s*→\s*admin/);
  await expect(log.locator("tr[data-action='member.remove']")).toContainText(viewer.email);
  await expect(log).toContainText("tenant.create");
  // Tokens are personal, not the tenant's: not in this view.
  await expect(log.locator("tr[data-action='token.create']")).toHaveCount(0);
  await shot(page, "audit-tenant-admin");

  await page.getByRole("button", { name: "All tenants" }).click();
  await expect(log.locator("tr[data-action='token.create']")).toHaveCount(2);
  await expect(log.locator("tr[data-action='user.sign-up']")).toContainText(viewer.email);

  // Filter by action.
  await page.getByLabel("Filter by action").fill("tenant.create");
  await page.getByRole("button", { name: "Filter" }).click();
  await expect(log.locator("tr[data-action]")).toHaveCount(2);
  await shot(page, "audit-platform");

  // The tenant switcher keeps you on the same kind of page, and is remembered.
  await page.goto("/t/acme/members");
  await page.getByRole("combobox", { name: "Tenant" }).selectOption("globex");
  await expect(page).toHaveURL(/\/t\/globex\/members$/);
  await expect(page.getByText("No members yet")).toBeVisible();
  await page.goto("/");
  await expect(page).toHaveURL(/\/t\/globex$/);

  await page.goto("/admin/users");
  await expect(page.locator(`tr[data-user="${operator.email}"]`)).toContainText("acme");
  await expect(page.locator(`tr[data-user="${operator.email}"]`)).toContainText("operator");
  await page.context().close();
});

test("the console works at a narrow width", async ({ browser }) => {
  const context = await browser.newContext({ storageState: ADMIN_STATE, viewport: { width: 390, height: 844 } });
  const page = await context.newPage();
  await page.goto("/t/acme");
  await expect(page.getByRole("heading", { name: "Acme Payments", level: 1 })).toBeVisible();
  await page.getByRole("button", { name: "Open menu" }).click();
  const nav = page.locator("#mobile-nav").getByRole("navigation", { name: "Main" });
  await expect(nav.getByRole("link", { name: "Members" })).toBeVisible();
  await shot(page, "narrow-menu");
  await nav.getByRole("link", { name: "Members" }).click();
  await expect(page).toHaveURL(/\/t\/acme\/members$/);
  await expect(page.locator("#mobile-nav")).toHaveCount(0);
  await shot(page, "narrow-members");

  // No page is wider than the screen: wide tables scroll inside their card.
  for (const [url, heading] of [
    ["/t/acme", "Acme Payments"],
    ["/t/acme/members", "Members"],
    ["/t/acme/audit", "Audit log"],
    ["/account/tokens", "API tokens"],
    ["/admin/tenants", "Tenants"],
    ["/admin/users", "Users"],
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
      // What sticks out (outside a scroller), to make a failure easy to fix.
      const offenders = Array.from(document.querySelectorAll("body *"))
        .filter((el) => el.getBoundingClientRect().right > width + 1 && !inScroller(el))
        .map((el) => `${el.tagName.toLowerCase()}.${String(el.className).slice(0, 60)}`)
        .slice(0, 5);
      return { width, scrollWidth: document.documentElement.scrollWidth, offenders };
    });
    const tooWide = layout.scrollWidth > layout.width ? layout : null;
    expect(tooWide, `wider than the screen on ${url}`).toBeNull();
  }
  await context.close();
});
