// A Tenbin server run inside the test process (HTTP API, agent hub, jobs) on the testbed's
// management address, that can be restarted on the same address and port: everything but the
// database is stopped and built again, as a restarted server process would (the database is a
// separate service in production; an in-memory PGlite would not survive a process restart).
// PostgreSQL when TEST_DATABASE_URL is set (scripts/test.sh), else PGlite.
import net from "node:net";
import { eq } from "drizzle-orm";
import pino from "pino";
import { openTestDatabase } from "../../server/testing/db";
import type { Database } from "../../server/db/client";
import { openServices, type Services } from "../../server/services";
import { loadEnv } from "../../server/env";
import { createHttpServer, type TenbinHttpServer } from "../../server/http";
import { createLogger } from "../../server/log";
import { AgentHub, CHANGES_CHANNEL } from "../../server/hub/hub";
import { joinHandler } from "../../server/hub/join";
import { Jobs } from "../../server/jobs/scheduler";
import { AGENT_PATH } from "../../server/protocol/agent";
import { SYSTEM_ACTOR } from "../../server/domain/context";
import { createToken } from "../../server/domain/tokens";
import { ensureFirstAdmin } from "../../server/domain/users";
import { user } from "../../server/db/schema";
import { apiClient, type ApiClient } from "./api";
import type { ServerHandle } from "./testbed";

const ADMIN = { email: "testbed-admin@tenbin.local", password: "testbed-admin-password-1" };

/** Real PostgreSQL when the environment names one (CI: scripts/test.sh), else PGlite. */
async function openDatabase(): Promise<Database> {
  const saved = process.env.TENBIN_TEST_DB;
  if (process.env.TEST_DATABASE_URL) process.env.TENBIN_TEST_DB = "postgres";
  try {
    return await openTestDatabase();
  } finally {
    if (saved === undefined) delete process.env.TENBIN_TEST_DB;
    else process.env.TENBIN_TEST_DB = saved;
  }
}

interface Running {
  services: Services;
  hub: AgentHub;
  jobs: Jobs;
  http: TenbinHttpServer;
  unlisten: () => Promise<void>;
}

export class InProcessServer {
  /** `logFile`: the server's log (info and up) goes there, appended across restarts; default: none. */
  constructor(private readonly opts: { logFile?: string } = {}) {}

  private database: Database | undefined;
  private running: Running | undefined;
  private host = "";
  private port = 0;
  url = "";
  api: ApiClient | undefined;

  get dbKind(): string {
    return this.database?.kind ?? "";
  }

  /** The running hub's connected (hello done) node ids. */
  connectedNodes(): string[] {
    return this.running?.hub.connectedNodes() ?? [];
  }

  /** First start: opens the database, listens on `host` (an ephemeral port), mints an admin token. */
  async start(host: string): Promise<ServerHandle> {
    this.database = await openDatabase();
    this.host = host;
    await this.listen();
    const { services } = this.running!;
    await ensureFirstAdmin(this.database.db, services.auth, ADMIN);
    const [admin] = await this.database.db.select().from(user).where(eq(user.email, ADMIN.email));
    const { token } = await createToken(
      { db: this.database.db, auth: services.auth, actor: { ...SYSTEM_ACTOR, userId: admin!.id, email: admin!.email } },
      { name: "testbed" },
    );
    this.api = apiClient(this.url, token);
    return { url: this.url, api: this.api };
  }

  private async listen(): Promise<void> {
    const database = this.database!;
    const env = loadEnv({ ...process.env, TENBIN_AUTH_SECRET: "t".repeat(40), TENBIN_DATA_DIR: "/nonexistent" });
    const services = await openServices(env, { database, baseURL: "http://localhost:1" });
    const log = this.opts.logFile
      ? pino({ name: "tenbin", level: "info" }, pino.destination({ dest: this.opts.logFile, append: true, sync: true }))
      : createLogger("silent");
    const hub = new AgentHub(database, log, {}, { pollMs: 500 });
    await hub.start();
    // The default heartbeat timeout: an agent restart must not look like a dead node.
    const jobs = new Jobs(database, services.auth, log, { intervalMs: 250 });
    const unlisten = await database.listen(CHANGES_CHANNEL, () => jobs.wake());
    jobs.start();
    const http = createHttpServer({
      services,
      log,
      upgrades: new Map([[AGENT_PATH, hub.handleUpgrade]]),
      routes: new Map([["/api/agent/join", joinHandler(database.db)]]),
    });
    this.running = { services, hub, jobs, http, unlisten };
    await new Promise<void>((resolve, reject) => {
      http.server.once("error", reject);
      http.server.listen(this.port, this.host, () => resolve()); // the management bridge only
    });
    this.port = (http.server.address() as net.AddressInfo).port;
    this.url = `http://${this.host}:${this.port}`;
  }

  /** Stops the HTTP server (agents' sockets included), hub and jobs; keeps the database. */
  private async halt(): Promise<void> {
    const r = this.running;
    this.running = undefined;
    if (!r) return;
    await r.http.shutdown(200).catch(() => undefined);
    await r.hub.stop().catch(() => undefined);
    await r.jobs.stop().catch(() => undefined);
    await r.unlisten().catch(() => undefined);
  }

  /** A server restart: everything stops, stays down `downForMs`, then starts again on the same address and port. */
  async restart(downForMs = 0): Promise<void> {
    if (!this.database) throw new Error("the server was never started");
    await this.halt();
    await new Promise((r) => setTimeout(r, downForMs));
    await this.listen();
  }

  async stop(): Promise<void> {
    await this.halt();
    await this.database?.close().catch(() => undefined);
    this.database = undefined;
  }
}
