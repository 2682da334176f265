// A real Tenbin API server for the CLI tests (in this process, on 127.0.0.1, ephemeral port,
// PGlite in memory), seeded with a region, IP pools, a tenant and an operator, plus a way to run
// the real `bin/tenbin.mjs` as a child process.
import { spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { openTestDatabase } from "../server/testing/db";
import { openServices, type Services } from "../server/services";
import { loadEnv } from "../server/env";
import { createHttpServer, type TenbinHttpServer } from "../server/http";
import { createLogger } from "../server/log";
import { ensureFirstAdmin } from "../server/domain/users";
import { createApiClient, type ApiClient } from "./client";

export const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "bin", "tenbin.mjs");

export const ADMIN = { email: "admin@tenbin.test", password: "admin-password-1" };
export const OPERATOR = { email: "op@shop.test", name: "Op", password: "operator-pass-1" };
export const TENANT = "shop";

export interface TestServer {
  url: string;
  /** Platform admin's typed client (bearer token). */
  admin: ApiClient;
  adminToken: string;
  close(): Promise<void>;
}

async function signIn(url: string, email: string, password: string): Promise<string> {
  const r = await fetch(`${url}/api/auth/sign-in/email`, {
    method: "POST",
    headers: { "content-type": "application/json", origin: url },
    body: JSON.stringify({ email, password }),
  });
  if (!r.ok) throw new Error(`sign-in failed: ${r.status}`);
  return r.headers
    .getSetCookie()
    .map((c) => c.split(";")[0])
    .join("; ");
}

/** A port nobody listens on right now (the server's own origin must be known before it starts). */
export async function freePort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address() as net.AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

export async function startTestServer(): Promise<TestServer> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const database = await openTestDatabase();
  let services: Services | undefined;
  let http: TenbinHttpServer | undefined;
  try {
    const env = loadEnv({ ...process.env, TENBIN_AUTH_SECRET: "x".repeat(40), TENBIN_DATA_DIR: "/nonexistent" });
    services = await openServices(env, { database, baseURL: url });
    await ensureFirstAdmin(database.db, services.auth, ADMIN);
    http = createHttpServer({ services, log: createLogger("silent") });
    const server = http.server;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", resolve);
    });

    const cookie = await signIn(url, ADMIN.email, ADMIN.password);
    const session = createApiClient(url, { cookie, origin: url });
    const adminToken = (await session.tokens.create.mutate({ name: "test-admin" })).token;
    const admin = createApiClient(url, { authorization: `Bearer ${adminToken}` });

    const region = await admin.regions.create.mutate({ name: "r1" });
    await admin.ipPools.create.mutate({ regionId: region.id, name: "v4", cidr: "198.19.0.0/24" });
    await admin.ipPools.create.mutate({ regionId: region.id, name: "v6", cidr: "2001:db8:19::/64" });
    await admin.tenants.create.mutate({ slug: TENANT, name: "Shop" });
    await admin.users.create.mutate({ email: OPERATOR.email, name: OPERATOR.name, password: OPERATOR.password });
    await admin.members.add.mutate({ tenantId: TENANT, email: OPERATOR.email, role: "operator" });

    const started = { services, http };
    return {
      url,
      admin,
      adminToken,
      close: async () => {
        await started.http.shutdown(100).catch(() => undefined);
        await started.services.close();
      },
    };
  } catch (err) {
    await http?.shutdown(100).catch(() => undefined);
    await (services ? services.close() : database.close());
    throw err;
  }
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the real CLI binary from a directory outside the repository, with only the environment
 * given (plus PATH and a private HOME), feeding `input` to its stdin.
 */
export function runTenbin(args: string[], opts: { env?: Record<string, string>; input?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: os.tmpdir(),
      env: { NODE_ENV: "test", PATH: process.env.PATH ?? "/usr/bin:/bin", ...opts.env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 30_000);
    child.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(opts.input ?? "");
  });
}

/** A private temporary directory (config home, files), removed by the caller. */
export const tempDir = (prefix: string) => fs.mkdtempSync(path.join(os.tmpdir(), prefix));
