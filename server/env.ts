// The only module that reads process.env. Everything else receives typed settings.
import { z } from "zod";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

const schema = z.object({
  NODE_ENV: z.enum(["development", "production", "test"]).default("development"),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  HOST: z.string().default("0.0.0.0"),
  /** Public URL of the console, used for cookies and origin checks. */
  TENBIN_BASE_URL: z.string().url().optional(),
  /** Postgres connection string; unset = embedded PGlite in TENBIN_DATA_DIR. */
  DATABASE_URL: z.string().optional(),
  TENBIN_DATA_DIR: z.string().default(path.join(repoRoot, "data")),
  /** Session signing secret (>= 32 chars). Unset = generated once and kept in the data dir. */
  TENBIN_AUTH_SECRET: z.string().min(32).optional(),
  /**
   * Master key wrapping the data keys of certificate private keys: 32 bytes in base64
   * (`openssl rand -base64 32`). Unset = generated once and kept in the data dir (a warning in
   * production: keep the key away from the data it protects).
   */
  TENBIN_MASTER_KEY: z.string().trim().min(1).optional(),
  /** The new master key for scripts/rotate-master-key.ts (or pass --new-key-file). */
  TENBIN_NEW_MASTER_KEY: z.string().trim().min(1).optional(),
  TENBIN_ADMIN_EMAIL: z.string().email().default("admin@tenbin.local"),
  TENBIN_ADMIN_PASSWORD: z.string().min(12).optional(),
  TENBIN_ALLOW_SIGNUP: z
    .enum(["true", "false"])
    .default("true")
    .transform((v) => v === "true"),
  /** Serve the API only (no Next.js console): used by API tests and the CLI tests. */
  TENBIN_NO_UI: z
    .enum(["true", "false", "1", "0"])
    .default("false")
    .transform((v) => v === "true" || v === "1"),
  /**
   * Also bring up the demo cluster (server/demo.ts: testbed in network namespaces, demo tenant and
   * load balancer) when running as root; scripts/start.sh sets it.
   */
  TENBIN_DEMO_CLUSTER: z
    .enum(["true", "false", "1", "0"])
    .default("false")
    .transform((v) => v === "true" || v === "1"),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  TEST_DATABASE_URL: z.string().default("postgres://postgres@127.0.0.1:5432/postgres"),
  TENBIN_TEST_DB: z.enum(["pglite", "postgres"]).default("pglite"),
});

export type Env = z.infer<typeof schema>;

export function loadEnv(source: NodeJS.ProcessEnv = process.env): Env {
  const parsed = schema.safeParse(source);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join(".")}: ${i.message}`);
    throw new Error(`invalid environment:\n${lines.join("\n")}`);
  }
  return parsed.data;
}
