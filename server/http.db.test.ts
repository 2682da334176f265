// The real HTTP server (API-only: no Next.js build needed) on an ephemeral port: sessions,
// CSRF, tokens, limits, ops endpoints, websocket routing and graceful shutdown.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import net from "node:net";
import { WebSocket, WebSocketServer } from "ws";
import { createTRPCClient, httpLink } from "@trpc/client";
import superjson from "superjson";
import { openTestDatabase } from "./testing/db";
import { openServices, type Services } from "./services";
import { loadEnv } from "./env";
import { createHttpServer, type TenbinHttpServer, type UpgradeHandler } from "./http";
import { createLogger } from "./log";
import { ensureFirstAdmin } from "./domain/users";
import type { AppRouter } from "./api/root";

let services: Services;
let http: TenbinHttpServer;
let base: string;
const ADMIN = { email: "admin@tenbin.local", password: "admin-password-1" };

beforeAll(async () => {
  const database = await openTestDatabase();
  const env = loadEnv({ ...process.env, TENBIN_AUTH_SECRET: "x".repeat(40), TENBIN_DATA_DIR: "/nonexistent" });
  services = await openServices(env, { database, baseURL: "http://localhost:1" });
  await ensureFirstAdmin(database.db, services.auth, ADMIN);
  const wss = new WebSocketServer({ noServer: true });
  const echo: UpgradeHandler = (req, socket, head) =>
    wss.handleUpgrade(req, socket, head, (ws) => ws.on("message", (m) => ws.send(String(m))));
  http = createHttpServer({ services, log: createLogger("silent"), upgrades: new Map([["/ws/echo", echo]]) });
  await new Promise<void>((r) => http.server.listen(0, "127.0.0.1", r));
  const port = (http.server.address() as net.AddressInfo).port;
  base = `http://127.0.0.1:${port}`;
});
afterAll(async () => {
  await http?.shutdown(100).catch(() => {});
  await services?.close();
});

const json = { "content-type": "application/json" };
async function signIn(email: string, password: string) {
  const r = await fetch(`${base}/api/auth/sign-in/email`, {
    method: "POST",
    headers: { ...json, origin: base },
    body: JSON.stringify({ email, password }),
  });
  return { status: r.status, cookie: r.headers.getSetCookie().map((c) => c.split(";")[0]).join("; ") };
}
const trpcUrl = (p: string) => `${base}/api/trpc/${p}`;

describe("ops endpoints", () => {
  it("serves /healthz, /readyz and Prometheus /metrics", async () => {
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    await fetch(`${base}/api/trpc/me.get`);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/process_cpu_user_seconds_total/);
    expect(metrics).toMatch(/tenbin_http_requests_total\{area="api",method="GET",status="200"\} \d+/);
  });
});

describe("sessions and CSRF", () => {
  it("signs in with a cookie session and signs out", async () => {
    const { status, cookie } = await signIn(ADMIN.email, ADMIN.password);
    expect(status).toBe(200);
    expect(cookie).toMatch(/better-auth\.session_token=/);
    const me = await (await fetch(trpcUrl("me.get"), { headers: { cookie } })).json();
    expect(me.result.data.json.email).toBe(ADMIN.email);
    const out = await fetch(`${base}/api/auth/sign-out`, { method: "POST", headers: { cookie, origin: base } });
    expect(out.status).toBe(200);
    const after = await (await fetch(trpcUrl("me.get"), { headers: { cookie } })).json();
    expect(after.result.data.json).toBeNull();
  });

  it("refuses a cookie-authenticated mutation from another origin, changing nothing", async () => {
    const { cookie } = await signIn(ADMIN.email, ADMIN.password);
    const body = JSON.stringify({ json: { slug: "csrf", name: "CSRF" } });
    const evil = await fetch(trpcUrl("tenants.create"), {
      method: "POST",
      headers: { ...json, cookie, origin: "http://evil.example" },
      body,
    });
    expect(evil.status).toBe(403);
    const noOrigin = await fetch(trpcUrl("tenants.create"), { method: "POST", headers: { ...json, cookie }, body });
    expect(noOrigin.status).toBe(403);
    const list = await (await fetch(trpcUrl("tenants.list"), { headers: { cookie } })).json();
    expect(list.result.data.json).toEqual([]);
    const ok = await fetch(trpcUrl("tenants.create"), { method: "POST", headers: { ...json, cookie, origin: base }, body });
    expect(ok.status).toBe(200);
  });

});

describe("API tokens over HTTP (typed client)", () => {
  it("a bearer token acts as its user; a revoked one is refused with the reason", async () => {
    const { cookie } = await signIn(ADMIN.email, ADMIN.password);
    const r = await fetch(trpcUrl("tokens.create"), {
      method: "POST",
      headers: { ...json, cookie, origin: base },
      body: JSON.stringify({ json: { name: "cli" } }),
    });
    const token: string = (await r.json()).result.data.json.token;
    const client = createTRPCClient<AppRouter>({
      links: [httpLink({ url: `${base}/api/trpc`, transformer: superjson, headers: { authorization: `Bearer ${token}` } })],
    });
    const me = await client.me.get.query();
    expect(me?.email).toBe(ADMIN.email);
    // Token-authenticated mutations need no Origin (no cookie, no CSRF exposure).
    const t = await client.tenants.create.mutate({ slug: "via-token", name: "Via token" });
    expect(t.slug).toBe("via-token");
    const tokens = await client.tokens.list.query();
    await client.tokens.revoke.mutate({ id: tokens.find((x) => x.name === "cli")!.id });
    await expect(client.me.get.query()).resolves.toBeNull();
    await expect(client.tenants.list.query()).rejects.toThrow(/revoked/);
    const bad = await fetch(trpcUrl("tenants.list"), { headers: { authorization: "Basic abc" } });
    expect(bad.status).toBe(401);
  }, 20_000);
});

describe("bad requests", () => {
  it("refuses oversized and malformed bodies with clear errors", async () => {
    const huge = JSON.stringify({ json: { slug: "x", name: "y".repeat(2 * 1024 * 1024) } });
    const r = await fetch(trpcUrl("tenants.create"), { method: "POST", headers: { ...json, authorization: "Bearer tb_x" }, body: huge });
    expect(r.status).toBe(413);
    const { cookie } = await signIn(ADMIN.email, ADMIN.password);
    const m = await fetch(trpcUrl("tenants.create"), { method: "POST", headers: { ...json, cookie, origin: base }, body: "{not json" });
    expect(m.status).toBe(400);
    expect(JSON.stringify(await m.json())).toMatch(/JSON|parse/i);
    const big = await fetch(`${base}/api/auth/sign-in/email`, {
      method: "POST",
      headers: { ...json, origin: base },
      body: JSON.stringify({ email: "a@b.c", password: "p".repeat(100_000) }),
    });
    expect(big.status).toBe(413);
  });
});

describe("websocket routing", () => {
  it("routes registered upgrade paths and destroys unknown ones", async () => {
    const ws = new WebSocket(`${base.replace("http", "ws")}/ws/echo`);
    const reply = await new Promise<string>((resolve, reject) => {
      ws.on("open", () => ws.send("ping"));
      ws.on("message", (m) => resolve(String(m)));
      ws.on("error", reject);
    });
    expect(reply).toBe("ping");
    ws.close();
    const unknown = new WebSocket(`${base.replace("http", "ws")}/ws/nope`);
    const err = await new Promise<Error>((resolve) => unknown.on("error", resolve));
    expect(err.message).toMatch(/socket hang up|closed|ECONNRESET/i);
  });
});

describe("graceful shutdown", () => {
  it("finishes in-flight requests, then refuses new connections", async () => {
    const database = await openTestDatabase();
    const env = loadEnv({ ...process.env, TENBIN_AUTH_SECRET: "y".repeat(40), TENBIN_DATA_DIR: "/nonexistent" });
    const s = await openServices(env, { database, baseURL: "http://localhost:1" });
    const h = createHttpServer({ services: s, log: createLogger("silent") });
    await new Promise<void>((r) => h.server.listen(0, "127.0.0.1", r));
    const port = (h.server.address() as net.AddressInfo).port;
    // Hold a request open: a slow client that has sent headers but not the body yet.
    const sock = net.connect(port, "127.0.0.1");
    await new Promise((r) => sock.once("connect", r));
    sock.write(`POST /api/trpc/tenants.create HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\nauthorization: Bearer tb_x\r\ncontent-length: 40\r\n\r\n`);
    await new Promise((r) => setTimeout(r, 100));
    const done = h.shutdown(5_000);
    const response = new Promise<string>((resolve) => {
      let buf = "";
      sock.on("data", (d) => (buf += String(d)));
      sock.on("close", () => resolve(buf));
    });
    sock.write(JSON.stringify({ json: { slug: "a", name: "b" } }).padEnd(40, " "));
    expect(await response).toMatch(/^HTTP\/1.1 401/);
    await done;
    await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();
    await s.close();
  });
});

describe("sign-in rate limit (last: it blocks this address)", () => {
  it("rate-limits sign-in attempts per client address", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) statuses.push((await signIn("someone@example.test", "wrong-password-1")).status);
    // 10 attempts a minute per address (earlier tests in this file used some of them).
    expect(statuses[0]).toBe(401);
    expect(statuses.slice(-2)).toEqual([429, 429]);
    expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(10);
    // Even the right password is refused while limited.
    expect((await signIn(ADMIN.email, ADMIN.password)).status).toBe(429);
  });
});
