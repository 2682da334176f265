// Test databases: an in-memory PGlite, or a fresh database on a real PostgreSQL server
// (TENBIN_TEST_DB=postgres, server from TEST_DATABASE_URL), dropped again on close.
import { randomBytes } from "node:crypto";
import { openDatabase, type Database } from "../db/client";
import { loadEnv } from "../env";

export async function openTestDatabase(): Promise<Database> {
  const env = loadEnv();
  if (env.TENBIN_TEST_DB === "pglite") return openDatabase({});
  const { default: postgres } = await import("postgres");
  const admin = postgres(env.TEST_DATABASE_URL, { max: 1, onnotice: () => {} });
  const name = `tenbin_test_${randomBytes(6).toString("hex")}`;
  try {
    await admin.unsafe(`create database ${name}`);
  } catch (err) {
    await admin.end();
    throw new Error(
      `cannot create a test database on ${env.TEST_DATABASE_URL.replace(/:[^:@/]*@/, ":***@")}: ${String(err)}. ` +
        "Start PostgreSQL (scripts/test.sh does) or set TEST_DATABASE_URL.",
    );
  }
  const url = new URL(env.TEST_DATABASE_URL);
  url.pathname = `/${name}`;
  const db = await openDatabase({ url: url.toString() });
  return {
    ...db,
    async close() {
      await db.close();
      await admin.unsafe(`drop database if exists ${name} with (force)`);
      await admin.end();
    },
  };
}
