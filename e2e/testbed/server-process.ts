// The Tenbin server as a separate process for the CLI testbed (`scripts/testbed.ts up`): the
// normal entry point (server/main.ts), listening on the testbed's management address only, with
// an embedded PGlite database in the testbed's state directory (gone with `down`) unless
// DATABASE_URL is given. Recorded in <stateDir>/server.pid like every other testbed daemon.
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { adminToken, apiClient } from "./api";
import { REPO_ROOT } from "./daemons";
import { isAlive, startDaemon, waitFor } from "./sys";
import type { ServerHandle } from "./testbed";
import type { Topology } from "./topology";

export interface ServerProcessOptions {
  port: number;
  /** Serve the console too (needs a `next build`); default: API only. */
  ui: boolean;
  adminEmail: string;
  /** Default: generated, printed by the CLI. */
  adminPassword?: string;
  databaseUrl?: string;
}

export interface ServerProcess extends ServerHandle {
  pid: number;
  adminEmail: string;
  adminPassword: string;
  logFile: string;
}

export async function startServerProcess(t: Topology, host: string, o: ServerProcessOptions): Promise<ServerProcess> {
  const url = `http://${host}:${o.port}`;
  const adminPassword = o.adminPassword ?? `tb-${randomBytes(9).toString("base64url")}`;
  const dataDir = path.join(t.stateDir, "server-data");
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const logFile = path.join(t.stateDir, "server.log");
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith("TENBIN_") || k === "DATABASE_URL") delete env[k];
  Object.assign(env, {
    PORT: String(o.port),
    HOST: host,
    TENBIN_BASE_URL: url,
    TENBIN_DATA_DIR: dataDir,
    TENBIN_ADMIN_EMAIL: o.adminEmail,
    TENBIN_ADMIN_PASSWORD: adminPassword,
    TENBIN_NO_UI: o.ui ? "0" : "1",
    NEXT_TELEMETRY_DISABLED: "1",
    ...(o.ui ? { NODE_ENV: "production" } : {}),
    ...(o.databaseUrl ? { DATABASE_URL: o.databaseUrl } : {}),
  });
  const pid = startDaemon({
    argv: [process.execPath, "--import", "tsx", path.join(REPO_ROOT, "server/main.ts"), t.stateDir],
    logFile,
    pidFile: path.join(t.stateDir, "server.pid"),
    env,
    cwd: REPO_ROOT, // drizzle's migrator reads ./drizzle
  });
  await waitFor(
    `the server at ${url}`,
    async () => {
      if (!isAlive(pid)) throw new Error(`the server exited; see ${logFile}:\n${fs.readFileSync(logFile, "utf8").slice(-2000)}`);
      const r = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(1000) }).catch(() => null);
      return r?.ok === true;
    },
    120_000,
    undefined,
    250,
  );
  const token = await adminToken(url, o.adminEmail, adminPassword);
  return { url, api: apiClient(url, token), pid, adminEmail: o.adminEmail, adminPassword, logFile };
}
