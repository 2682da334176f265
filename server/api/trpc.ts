// tRPC setup: the request context (who is calling, how), the procedure builders and the one
// mapping from domain errors to API errors. Routers stay thin: validate, call one verb, shape.
import { TRPCError, initTRPC } from "@trpc/server";
import superjson from "superjson";
import { ZodError, z } from "zod";
import type { IncomingHttpHeaders } from "node:http";
import type { Auth } from "../auth/auth";
import type { Database, Db } from "../db/client";
import { type Actor, type DomainCtx, type Role, requireRole, resolveTenant } from "../domain/context";
import { tenantRefSchema } from "../../lib/schemas";
import { DomainError } from "../domain/errors";
import { authenticateToken } from "../domain/tokens";
import type { LiveFeed } from "../metrics/live";

export interface ApiDeps {
  db: Db;
  database: Database;
  auth: Auth;
  onCommitted?: (revisions: number[]) => void;
  /** Live metrics and change cues for subscriptions (absent: live views are off). */
  live?: LiveFeed;
}

export interface ApiContext {
  deps: ApiDeps;
  actor: Actor | null;
  /** Why the caller is anonymous (bad token etc.), for a clear UNAUTHORIZED message. */
  authError: string | null;
}

/** Resolves the caller from a bearer token or the session cookie. */
export async function createApiContext(deps: ApiDeps, headers: IncomingHttpHeaders): Promise<ApiContext> {
  const authz = headers.authorization;
  if (authz) {
    const m = /^Bearer\s+(\S+)$/i.exec(authz);
    if (!m) return { deps, actor: null, authError: "Authorization header must be 'Bearer <token>'" };
    const r = await authenticateToken(deps.db, m[1]!);
    return r.ok ? { deps, actor: r.actor, authError: null } : { deps, actor: null, authError: r.reason };
  }
  const h = new Headers();
  for (const [k, v] of Object.entries(headers)) {
    if (typeof v === "string") h.set(k, v);
    else if (Array.isArray(v)) h.set(k, v.join(", "));
  }
  const s = await deps.auth.api.getSession({ headers: h });
  if (!s) return { deps, actor: null, authError: null };
  const u = s.user as typeof s.user & { platformAdmin?: boolean };
  return {
    deps,
    actor: { userId: u.id, email: u.email, name: u.name, platformAdmin: u.platformAdmin === true, via: "session" },
    authError: null,
  };
}

const t = initTRPC.context<ApiContext>().create({
  transformer: superjson,
  errorFormatter({ shape, error }) {
    const cause = error.cause;
    let fieldErrors: Record<string, string[]> | undefined;
    if (cause instanceof ZodError) {
      fieldErrors = {};
      for (const issue of cause.issues) {
        const key = issue.path.join(".") || "_";
        (fieldErrors[key] ??= []).push(issue.message);
      }
    } else if (cause instanceof DomainError) {
      fieldErrors = cause.fieldErrors;
    }
    // Never leak internals: unexpected errors get a generic message (the log has the detail).
    const message =
      error.code === "INTERNAL_SERVER_ERROR"
        ? "internal error (see the server log)"
        : cause instanceof ZodError
          ? "invalid input: " +
            Object.entries(fieldErrors ?? {})
              .map(([k, v]) => `${k}: ${v.join(", ")}`)
              .join("; ")
          : shape.message;
    const { stack: _stack, ...data } = shape.data;
    return { ...shape, message, data: { ...data, fieldErrors: fieldErrors ?? null } };
  },
});

/** One mapping from domain errors to API errors. */
const mapErrors = t.middleware(async ({ next }) => {
  const result = await next();
  if (!result.ok && result.error.cause instanceof DomainError) {
    const d = result.error.cause;
    throw new TRPCError({ code: d.code, message: d.message, cause: d });
  }
  if (!result.ok && result.error.cause instanceof ZodError && result.error.code !== "BAD_REQUEST") {
    throw new TRPCError({ code: "BAD_REQUEST", message: "invalid input", cause: result.error.cause });
  }
  return result;
});

export const router = t.router;
export const createCallerFactory = t.createCallerFactory;
export const publicProcedure = t.procedure.use(mapErrors);

/** Signed-in users (session cookie or API token). Gives verbs their DomainCtx. */
export const authedProcedure = publicProcedure.use(({ ctx, next }) => {
  if (!ctx.actor) {
    throw new TRPCError({ code: "UNAUTHORIZED", message: ctx.authError ?? "sign in first" });
  }
  const domain: DomainCtx = {
    db: ctx.deps.db,
    auth: ctx.deps.auth,
    actor: ctx.actor,
    ...(ctx.deps.onCommitted ? { onCommitted: ctx.deps.onCommitted } : {}),
  };
  return next({ ctx: { ...ctx, actor: ctx.actor, domain } });
});

/** Platform admins only (operators of the service). Verbs re-check it. */
export const platformProcedure = authedProcedure.use(({ ctx, next }) => {
  if (!ctx.actor.platformAdmin) throw new TRPCError({ code: "FORBIDDEN", message: "this needs a platform admin" });
  return next();
});

/**
 * Procedures acting inside one tenant (input carries `tenantId`: id or slug). The tenant is
 * resolved in the domain layer (NOT_FOUND for tenants the caller is not in) and the role checked.
 */
export const tenantProcedure = (min: Role) =>
  authedProcedure
    .input(z.object({ tenantId: tenantRefSchema }))
    .use(async ({ ctx, input, next }) => {
      const tenantCtx = await resolveTenant(ctx.domain, input.tenantId);
      requireRole(tenantCtx, min);
      return next({ ctx: { ...ctx, tenantCtx } });
    });
