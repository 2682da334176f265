// Starts the real Tenbin server in production mode on a fresh PGlite directory for the console
// tests (Playwright's webServer), builds the console first if there is no build, and removes
// the data directory when the server stops.
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { E2E_ADMIN, E2E_PORT } from "./settings";

const root = path.resolve(import.meta.dirname, "../..");
const env = { ...process.env, NEXT_TELEMETRY_DISABLED: "1" };

if (!fs.existsSync(path.join(root, ".next", "BUILD_ID"))) {
  console.log("[e2e] no console build found: running next build");
  const build = spawnSync(process.execPath, [path.join(root, "node_modules", "next", "dist", "bin", "next"), "build"], {
    cwd: root,
    env,
    stdio: "inherit",
  });
  if (build.status !== 0) process.exit(build.status ?? 1);
}

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "tenbin-e2e-"));
console.log(`[e2e] data directory ${dataDir}`);
const server = spawn(process.execPath, ["--import", "tsx", path.join("server", "main.ts")], {
  cwd: root,
  stdio: "inherit",
  env: {
    ...env,
    NODE_ENV: "production",
    PORT: String(E2E_PORT),
    TENBIN_DATA_DIR: dataDir,
    TENBIN_ADMIN_EMAIL: E2E_ADMIN.email,
    TENBIN_ADMIN_PASSWORD: E2E_ADMIN.password,
    TENBIN_ALLOW_SIGNUP: "true",
    LOG_LEVEL: process.env.LOG_LEVEL ?? "warn",
  },
});

const cleanUp = () => fs.rmSync(dataDir, { recursive: true, force: true });
server.on("exit", (code, signal) => {
  cleanUp();
  process.exit(code ?? (signal ? 0 : 1));
});
for (const sig of ["SIGTERM", "SIGINT"] as const) {
  process.on(sig, () => {
    if (server.exitCode === null) server.kill("SIGTERM");
  });
}
