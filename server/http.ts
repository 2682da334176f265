// The one HTTP server: /api/trpc and /api/auth handled here, websocket upgrades routed here,
// /metrics, /healthz, /readyz; everything else goes to Next.js (the console).
import http from "node:http";
import type { Duplex } from "node:stream";
import { createHTTPHandler } from "@trpc/server/adapters/standalone";
import { toNodeHandler } from "better-auth/node";
import client from "prom-client";
import type { Logger } from "pino";
import { appRouter } from "./api/root";
import { createApiContext } from "./api/trpc";
import type { Services } from "./services";

export type UpgradeHandler = (req: http.IncomingMessage, socket: Duplex, head: Buffer) => void;

export interface HttpOptions {
  services: Services;
  log: Logger;
  /** Next.js request/upgrade handlers; absent = API-only server. */
  next?: { handle: http.RequestListener; upgrade: UpgradeHandler };
  /** Websocket endpoints by exact path (e.g. /ws/agent). */
  upgrades?: Map<string, UpgradeHandler>;
  /** Trust X-Forwarded-For from a front proxy (otherwise the socket address is used). */
  trustProxy?: boolean;
  /** Extra request handlers by exact path (e.g. the agents' POST /api/agent/join). */
  routes?: Map<string, http.RequestListener>;
}

const MAX_API_BODY = 1024 * 1024;
const MAX_AUTH_BODY = 64 * 1024;

export interface TenbinHttpServer {
  server: http.Server;
  registry: client.Registry;
  /** Stop accepting, finish in-flight requests (up to graceMs), close sockets. */
  shutdown(graceMs?: number): Promise<void>;
}

export function createHttpServer(opts: HttpOptions): TenbinHttpServer {
  const { services, log } = opts;
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry });
  const requests = new client.Counter({
    name: "tenbin_http_requests_total",
    help: "HTTP requests by area, method and status",
    labelNames: ["area", "method", "status"] as const,
    registers: [registry],
  });
  const duration = new client.Histogram({
    name: "tenbin_http_request_duration_seconds",
    help: "HTTP request latency by area",
    labelNames: ["area"] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const openSockets = new client.Gauge({
    name: "tenbin_websockets_open",
    help: "Open websocket connections by path",
    labelNames: ["path"] as const,
    registers: [registry],
  });

  const trpc = createHTTPHandler({
    router: appRouter,
    basePath: "/api/trpc/",
    maxBodySize: MAX_API_BODY,
    createContext: ({ req }) => createApiContext(services.deps, req.headers),
    onError: ({ error, path }) => {
      if (error.code === "INTERNAL_SERVER_ERROR") log.error({ err: error, path }, "api error");
    },
  });
  const authHandler = toNodeHandler(services.auth);
  const baseOrigin = new URL(services.baseURL).origin;
  let draining = false;
  const upgraded = new Set<Duplex>();

  const sameOrigin = (req: http.IncomingMessage) => {
    const origin = req.headers.origin;
    if (!origin) return false;
    return origin === baseOrigin || origin === `http://${req.headers.host}` || origin === `https://${req.headers.host}`;
  };

  const sendJson = (res: http.ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { "content-type": "application/json" });
    res.end(JSON.stringify(body));
  };

  const server = http.createServer((req, res) => {
    const url = req.url ?? "/";
    const pathname = url.split("?", 1)[0]!;
    const area = pathname.startsWith("/api/trpc")
      ? "api"
      : pathname.startsWith("/api/auth")
        ? "auth"
        : pathname === "/metrics" || pathname === "/healthz" || pathname === "/readyz"
          ? "ops"
          : "console";
    const end = duration.startTimer({ area });
    res.on("finish", () => {
      end();
      requests.inc({ area, method: req.method ?? "GET", status: String(res.statusCode) });
    });
    if (draining) res.setHeader("connection", "close");

    if (pathname === "/healthz") return sendJson(res, 200, { ok: true });
    const route = opts.routes?.get(pathname);
    if (route) return route(req, res);
    if (pathname === "/readyz") {
      if (draining) return sendJson(res, 503, { ok: false, reason: "shutting down" });
      services.database.db
        .execute("select 1")
        .then(() => sendJson(res, 200, { ok: true }))
        .catch((err: unknown) => sendJson(res, 503, { ok: false, reason: `database: ${String(err)}` }));
      return;
    }
    if (pathname === "/metrics") {
      registry
        .metrics()
        .then((text) => {
          res.writeHead(200, { "content-type": registry.contentType });
          res.end(text);
        })
        .catch((err: unknown) => sendJson(res, 500, { error: String(err) }));
      return;
    }
    if (area === "api") {
      if (Number(req.headers["content-length"] ?? 0) > MAX_API_BODY) {
        return sendJson(res, 413, { error: { message: `request body larger than ${MAX_API_BODY} bytes` } });
      }
      // CSRF: a cookie-authenticated mutation must come from our own origin. Bearer-token
      // clients (CLI, scripts) send no cookie and are not exposed to CSRF.
      if (req.method === "POST" && !req.headers.authorization && req.headers.cookie && !sameOrigin(req)) {
        return sendJson(res, 403, {
          error: { message: "cross-site request refused: Origin header missing or not this console's origin" },
        });
      }
      return void trpc(req, res);
    }
    if (area === "auth") {
      const len = Number(req.headers["content-length"] ?? 0);
      if (len > MAX_AUTH_BODY) return sendJson(res, 413, { message: "request body too large" });
      // Rate limits key on the client address: never trust a client-sent X-Forwarded-For.
      if (!opts.trustProxy) req.headers["x-forwarded-for"] = req.socket.remoteAddress ?? "unknown";
      return void authHandler(req, res);
    }
    if (opts.next) return opts.next.handle(req, res);
    sendJson(res, 404, { error: "not found (API-only server: the console is not served)" });
  });

  server.on("upgrade", (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    const pathname = (req.url ?? "/").split("?", 1)[0]!;
    const handler = opts.upgrades?.get(pathname);
    if (handler && !draining) {
      upgraded.add(socket);
      openSockets.inc({ path: pathname });
      socket.once("close", () => {
        upgraded.delete(socket);
        openSockets.dec({ path: pathname });
      });
      return handler(req, socket, head);
    }
    if (pathname.startsWith("/_next/") && opts.next) return opts.next.upgrade(req, socket, head);
    socket.destroy();
  });

  return {
    server,
    registry,
    async shutdown(graceMs = 10_000) {
      draining = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of upgraded) s.destroy();
      // Keep-alive connections close as soon as their in-flight request is answered.
      server.closeIdleConnections();
      const sweep = setInterval(() => server.closeIdleConnections(), 25);
      const timer = setTimeout(() => server.closeAllConnections(), graceMs);
      await closed;
      clearInterval(sweep);
      clearTimeout(timer);
    },
  };
}
