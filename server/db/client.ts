// One database handle for the process: embedded PGlite when no DATABASE_URL is set, otherwise a
// postgres.js pool. Migrations from drizzle/ are applied at open, under an advisory lock so
// replicas can start together.
import path from "node:path";
import fs from "node:fs";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import * as schema from "./schema";
import { repoRoot } from "../env";

export type Schema = typeof schema;
export type Db = PgDatabase<PgQueryResultHKT, Schema>;
export type Tx = Parameters<Parameters<Db["transaction"]>[0]>[0];

export interface Database {
  db: Db;
  kind: "pglite" | "postgres";
  /** The connection string (PostgreSQL only): lets a second process or replica open the same database. */
  url?: string;
  close(): Promise<void>;
  /** Postgres LISTEN; with PGlite an in-process emitter gives the same semantics. */
  listen(channel: string, onPayload: (payload: string) => void): Promise<() => Promise<void>>;
  notify(channel: string, payload: string): Promise<void>;
  /**
   * Tries to take a session-level advisory lock on its own connection (the jobs' leader lease).
   * Returns null when another process holds it. PGlite is single-process: always granted.
   */
  tryLease(key: number): Promise<Lease | null>;
}

export interface Lease {
  /** Resolves if the lease's connection is lost (another replica may take over). */
  lost: Promise<void>;
  release(): Promise<void>;
}

const migrationsFolder = path.join(repoRoot, "drizzle");
const MIGRATION_LOCK = 0x7465_6e62; // "tenb"

export async function openDatabase(opts: { url?: string; dataDir?: string }): Promise<Database> {
  return opts.url ? openPostgres(opts.url) : openPglite(opts.dataDir);
}

async function openPglite(dataDir: string | undefined): Promise<Database> {
  const { PGlite } = await import("@electric-sql/pglite");
  const { drizzle } = await import("drizzle-orm/pglite");
  const { migrate } = await import("drizzle-orm/pglite/migrator");
  if (dataDir) fs.mkdirSync(dataDir, { recursive: true });
  const client = dataDir ? await PGlite.create(dataDir) : await PGlite.create();
  const db = drizzle(client, { schema });
  await migrate(db, { migrationsFolder });
  return {
    db: db as unknown as Db,
    kind: "pglite",
    close: () => client.close(),
    async listen(channel, onPayload) {
      const unsub = await client.listen(channel, onPayload);
      return async () => unsub();
    },
    async notify(channel, payload) {
      await client.query("select pg_notify($1, $2)", [channel, payload]);
    },
    async tryLease() {
      return { lost: new Promise<void>(() => {}), release: async () => {} };
    },
  };
}

async function openPostgres(url: string): Promise<Database> {
  const { default: postgres } = await import("postgres");
  const { drizzle } = await import("drizzle-orm/postgres-js");
  const { migrate } = await import("drizzle-orm/postgres-js/migrator");
  const client = postgres(url, { max: 10, onnotice: () => {} });
  const db = drizzle(client, { schema });
  // Session-level advisory lock on one reserved connection; the migrator uses the pool.
  const lockConn = await client.reserve();
  try {
    await lockConn`select pg_advisory_lock(${MIGRATION_LOCK})`;
    await migrate(db, { migrationsFolder });
  } finally {
    await lockConn`select pg_advisory_unlock(${MIGRATION_LOCK})`.catch(() => {});
    lockConn.release();
  }
  return {
    db: db as unknown as Db,
    kind: "postgres",
    url,
    close: () => client.end({ timeout: 5 }),
    async listen(channel, onPayload) {
      const sub = await client.listen(channel, (p) => onPayload(p));
      return () => sub.unlisten();
    },
    async notify(channel, payload) {
      await client`select pg_notify(${channel}, ${payload})`;
    },
    async tryLease(key) {
      const conn = await client.reserve();
      const [row] = await conn<{ ok: boolean }[]>`select pg_try_advisory_lock(${key}) as ok`;
      if (!row?.ok) {
        conn.release();
        return null;
      }
      let stop: () => void = () => {};
      const lost = new Promise<void>((resolve) => {
        // A cheap liveness probe on the lease's own connection: if it fails, the lock is gone.
        const timer = setInterval(() => {
          conn`select 1`.catch(() => {
            clearInterval(timer);
            resolve();
          });
        }, 2000);
        stop = () => clearInterval(timer);
      });
      return {
        lost,
        async release() {
          stop();
          await conn`select pg_advisory_unlock(${key})`.catch(() => {});
          conn.release();
        },
      };
    },
  };
}
