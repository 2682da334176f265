// Console end-to-end tests in Debian's Chromium against the real server (production build,
// fresh embedded database). Run `npx next build` first; the launcher builds if there is none.
import { defineConfig } from "@playwright/test";
import { E2E_BASE_URL, E2E_PORT } from "./e2e/console/settings";

export default defineConfig({
  testDir: "e2e/console",
  // One server and database for all specs: the foundation spec needs the fresh, empty database,
  // so the specs run in this order (each project waits for the previous one).
  projects: [
    { name: "foundation", testMatch: "foundation.spec.ts" },
    { name: "load-balancers", testMatch: "load-balancers.spec.ts", dependencies: ["foundation"] },
    { name: "certificates", testMatch: "certificates.spec.ts", dependencies: ["load-balancers"] },
    { name: "live-views", testMatch: "live.spec.ts", dependencies: ["certificates"] },
    // Its own server and testbed (root only; skipped otherwise), independent of the shared database.
    { name: "live-testbed", testMatch: "live-testbed.spec.ts" },
  ],
  outputDir: "test-results/artifacts",
  fullyParallel: false,
  workers: 1,
  forbidOnly: Boolean(process.env.CI),
  retries: 0,
  // Generous: CI machines here have 2 cores shared with other suites.
  timeout: 120_000,
  expect: { timeout: 10_000 },
  reporter: [["list"], ["json", { outputFile: "test-results/playwright.json" }]],
  use: {
    baseURL: E2E_BASE_URL,
    browserName: "chromium",
    headless: true,
    viewport: { width: 1366, height: 860 },
    screenshot: "only-on-failure",
    trace: "retain-on-failure",
    launchOptions: {
      // Debian's Chromium (never a downloaded browser); override with CHROMIUM_PATH.
      executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
      ],
    },
  },
  webServer: {
    command: "node --import tsx e2e/console/start-server.ts",
    url: `http://127.0.0.1:${E2E_PORT}/readyz`,
    reuseExistingServer: false,
    timeout: 240_000,
    stdout: "pipe",
    stderr: "pipe",
    gracefulShutdown: { signal: "SIGTERM", timeout: 10_000 },
  },
});
