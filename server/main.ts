// Entry point: one process serving the console, the API, websockets and /metrics.
//   tsx server/main.ts          production-style (expects `next build` output)
//   tsx server/main.ts --dev    Next.js dev mode with hot reload
import { loadEnv, repoRoot } from "./env";
import { createLogger } from "./log";
import { openServices } from "./services";
import { createHttpServer, type UpgradeHandler } from "./http";
import { ensureFirstAdmin } from "./domain/users";
import { AgentHub, CHANGES_CHANNEL } from "./hub/hub";
import { joinHandler } from "./hub/join";
import { Jobs } from "./jobs/scheduler";
import { AGENT_PATH } from "./protocol/agent";
import { startDemoCluster, type DemoCluster } from "./demo";
import { LiveFeed } from "./metrics/live";

async function main() {
  const env = loadEnv();
  const log = createLogger(env.LOG_LEVEL);
  const dev = process.argv.includes("--dev");
  process.env.NEXT_TELEMETRY_DISABLED = "1";

  const services = await openServices(env);
  log.info({ database: services.database.kind }, "database ready");

  const admin = await ensureFirstAdmin(services.database.db, services.auth, {
    email: env.TENBIN_ADMIN_EMAIL,
    ...(env.TENBIN_ADMIN_PASSWORD ? { password: env.TENBIN_ADMIN_PASSWORD } : {}),
  });
  if (admin) {
    const line = "=".repeat(64);
    console.log(
      `\n${line}\n First platform admin created (shown once):\n   email:    ${admin.email}\n   password: ${admin.password}\n${line}\n`,
    );
  }

  let nextHandlers: { handle: import("node:http").RequestListener; upgrade: UpgradeHandler } | undefined;
  if (!env.TENBIN_NO_UI) {
    const { default: next } = await import("next");
    const app = next({ dev, dir: repoRoot, hostname: "localhost", port: env.PORT });
    await app.prepare();
    const handle = app.getRequestHandler();
    const upgrade = app.getUpgradeHandler();
    nextHandlers = {
      handle: (req, res) => void handle(req, res),
      upgrade: (req, socket, head) => void upgrade(req, socket, head),
    };
  }

  // Live console views: agents' metrics kept in memory, change cues shared through NOTIFY.
  const live = new LiveFeed(services.database, log.child({ part: "live" }));
  await live.start();
  services.deps.live = live;
  const hub = new AgentHub(services.database, log.child({ part: "hub" }), {
    onMetrics: (nodeId, msg) => live.store.record(nodeId, msg),
    onReported: live.agentReported,
  });
  await hub.start();
  const jobs = new Jobs(services.database, services.auth, log.child({ part: "jobs" }));
  const unlistenJobs = await services.database.listen(CHANGES_CHANNEL, () => jobs.wake());
  jobs.start();

  const upgrades = new Map<string, UpgradeHandler>([[AGENT_PATH, hub.handleUpgrade]]);
  const routes = new Map([["/api/agent/join", joinHandler(services.database.db)]]);
  const http = createHttpServer({ services, log, upgrades, routes, ...(nextHandlers ? { next: nextHandlers } : {}) });
  await new Promise<void>((resolve, reject) => {
    http.server.once("error", reject);
    http.server.listen(env.PORT, env.HOST, () => resolve());
  });
  const address = http.server.address();
  const port = typeof address === "object" && address ? address.port : env.PORT;
  log.info({ port, ui: !env.TENBIN_NO_UI }, "listening");
  const consoleUrl = services.baseURL.replace(/:\d+$/, `:${port}`);
  console.log(`Tenbin console and API: ${consoleUrl}`);

  // The demo cluster starts in the background and never stops the console (server/demo.ts).
  let demo: DemoCluster | undefined;
  if (env.TENBIN_DEMO_CLUSTER) {
    demo = startDemoCluster({
      services,
      httpServer: http.server,
      port,
      consoleUrl,
      adminEmail: admin?.email ?? env.TENBIN_ADMIN_EMAIL,
      ...(admin && admin.password !== "(unchanged)" ? { newAdminPassword: admin.password } : {}),
      passwordFromEnv: env.TENBIN_ADMIN_PASSWORD !== undefined,
      log: log.child({ part: "demo" }),
    });
  }

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "shutting down: finishing in-flight requests");
    try {
      await demo?.stop(); // agents and namespaces first, while the database is still open
      await hub.stop();
      await live.stop(); // ends the console's open subscriptions so the HTTP server can drain
      await http.shutdown();
      await unlistenJobs();
      await jobs.stop();
      await services.close();
      log.info("stopped cleanly");
      process.exit(0);
    } catch (err) {
      log.error({ err }, "shutdown failed");
      process.exit(1);
    }
  };
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
