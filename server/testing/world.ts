// A test world: database + auth + a typed API caller per user, exactly as the HTTP layer builds
// them (same context, same middlewares), without sockets.
import { openTestDatabase } from "./db";
import { createAuth } from "../auth/auth";
import { appRouter } from "../api/root";
import { createCallerFactory, type ApiContext } from "../api/trpc";
import { SYSTEM_ACTOR, type Actor } from "../domain/context";
import { auditSignUp, createUser } from "../domain/users";
import type { Database } from "../db/client";
import type { Auth } from "../auth/auth";

const createCaller = createCallerFactory(appRouter);
export type Caller = ReturnType<typeof createCaller>;

export interface World {
  database: Database;
  auth: Auth;
  admin: Caller;
  anonymous: Caller;
  /** Creates a user (by the system) and returns a caller acting as them. */
  user(email: string, opts?: { platformAdmin?: boolean }): Promise<{ id: string; caller: Caller; actor: Actor }>;
  callerFor(actor: Actor | null, authError?: string): Caller;
  close(): Promise<void>;
}

export async function openWorld(): Promise<World> {
  const database = await openTestDatabase();
  let auth: Auth | undefined = undefined;
  auth = createAuth(database.db, {
    baseURL: "http://localhost:3000",
    secret: "test-secret-test-secret-test-secret-0123",
    allowSignUp: true,
    onUserCreated: (u) => auditSignUp(database.db, auth!, u),
  });
  const deps = { db: database.db, database, auth };
  const callerFor = (actor: Actor | null, authError?: string) =>
    createCaller({ deps, actor, authError: authError ?? null } satisfies ApiContext);
  const systemCtx = { db: database.db, auth, actor: SYSTEM_ACTOR };
  const user: World["user"] = async (email, opts = {}) => {
    const u = await createUser(systemCtx, {
      email,
      name: email.split("@")[0]!,
      password: "correct-horse-9",
      platformAdmin: opts.platformAdmin ?? false,
    });
    const actor: Actor = { userId: u.id, email: u.email, name: u.name, platformAdmin: u.platformAdmin, via: "session" };
    return { id: u.id, caller: callerFor(actor), actor };
  };
  const admin = await user("root@example.test", { platformAdmin: true });
  return {
    database,
    auth,
    admin: admin.caller,
    anonymous: callerFor(null),
    user,
    callerFor,
    close: () => database.close(),
  };
}
