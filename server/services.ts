// Opens what the server process needs: database (migrated), auth, the API dependencies.
import fs from "node:fs";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { openDatabase, type Database } from "./db/client";
import { createAuth, type Auth } from "./auth/auth";
import { auditSignUp } from "./domain/users";
import type { Env } from "./env";
import type { ApiDeps } from "./api/trpc";
import { CHANGES_CHANNEL } from "./hub/hub";
import { configureMasterKey } from "./domain/certs/envelope";
import { loadMasterKey } from "./domain/certs/master-key";
import { createLogger } from "./log";

export interface Services {
  database: Database;
  auth: Auth;
  deps: ApiDeps;
  baseURL: string;
  close(): Promise<void>;
}

/** The session secret: from the environment, else generated once and kept in the data dir. */
function authSecret(env: Env): string {
  if (env.TENBIN_AUTH_SECRET) return env.TENBIN_AUTH_SECRET;
  const file = path.join(env.TENBIN_DATA_DIR, "auth-secret");
  try {
    return fs.readFileSync(file, "utf8").trim();
  } catch {
    fs.mkdirSync(env.TENBIN_DATA_DIR, { recursive: true });
    const secret = randomBytes(32).toString("base64url");
    fs.writeFileSync(file, secret + "\n", { mode: 0o600, flag: "wx" });
    return secret;
  }
}

export async function openServices(env: Env, overrides: { database?: Database; baseURL?: string } = {}): Promise<Services> {
  // Read (or generated) on first use: processes that never seal a key never touch the key file.
  configureMasterKey(() => {
    const master = loadMasterKey(env);
    if (master.source !== "environment") {
      // Development convenience; in production the key belongs in a secret store, not next to the data.
      const log = createLogger(env.LOG_LEVEL).child({ part: "certs" });
      const msg = `certificate master key ${master.key.id} ${master.source === "generated" ? "generated into" : "read from"} ${master.file}: set TENBIN_MASTER_KEY to keep it apart from the data`;
      if (env.NODE_ENV === "production") log.warn(msg);
      else log.info(msg);
    }
    return master.key;
  });
  const database =
    overrides.database ??
    (await openDatabase(
      env.DATABASE_URL ? { url: env.DATABASE_URL } : { dataDir: path.join(env.TENBIN_DATA_DIR, "pglite") },
    ));
  const baseURL = overrides.baseURL ?? env.TENBIN_BASE_URL ?? `http://localhost:${env.PORT}`;
  let auth: Auth | undefined = undefined;
  auth = createAuth(database.db, {
    baseURL,
    secret: authSecret(env),
    allowSignUp: env.TENBIN_ALLOW_SIGNUP,
    onUserCreated: (u) => auditSignUp(database.db, auth!, u),
  });
  return {
    database,
    auth,
    baseURL,
    deps: {
      db: database.db,
      database,
      auth,
      // Wake every replica's hub and jobs: NOTIFY reaches this process too (PGlite in-process).
      onCommitted: (revisions) => {
        database.notify(CHANGES_CHANNEL, String(Math.max(...revisions))).catch(() => {});
      },
    },
    close: () => database.close(),
  };
}
