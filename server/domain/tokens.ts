// Personal API tokens for the CLI and typed clients. The secret is 32 random bytes shown once;
// only its SHA-256 is stored (a fast hash is right for high-entropy secrets and keeps lookups
// O(1)). Tokens act as their user, with the user's roles.
import { createHash, randomBytes } from "node:crypto";
import { and, desc, eq, isNull } from "drizzle-orm";
import { apiToken, user } from "../db/schema";
import type { Db } from "../db/client";
import type { Actor, DomainCtx } from "./context";
import { DomainError, notFound } from "./errors";
import { mutate } from "./mutate";

export const TOKEN_PREFIX = "tb_";

export interface TokenView {
  id: string;
  name: string;
  prefix: string;
  createdAt: Date;
  expiresAt: Date | null;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
  state: "active" | "expired" | "revoked";
}

const hashSecret = (token: string) => createHash("sha256").update(token).digest("hex");

const view = (t: typeof apiToken.$inferSelect, now = new Date()): TokenView => ({
  id: t.id,
  name: t.name,
  prefix: t.prefix,
  createdAt: t.createdAt,
  expiresAt: t.expiresAt,
  lastUsedAt: t.lastUsedAt,
  revokedAt: t.revokedAt,
  state: t.revokedAt ? "revoked" : t.expiresAt && t.expiresAt <= now ? "expired" : "active",
});

export async function createToken(
  ctx: DomainCtx,
  input: { name: string; expiresInDays?: number | undefined },
): Promise<{ token: string; view: TokenView }> {
  if (!ctx.actor.userId) throw new DomainError("FORBIDDEN", "only users own API tokens");
  const token = TOKEN_PREFIX + randomBytes(32).toString("base64url");
  const expiresAt = input.expiresInDays ? new Date(Date.now() + input.expiresInDays * 86_400_000) : null;
  const row = await mutate(ctx, async (tx, rec) => {
    const [r] = await tx
      .insert(apiToken)
      .values({
        userId: ctx.actor.userId,
        name: input.name,
        prefix: token.slice(0, 10),
        secretHash: hashSecret(token),
        expiresAt,
      })
      .returning();
    await rec.record({
      tenantId: null,
      action: "token.create",
      entityType: "api-token",
      entityId: r!.id,
      before: null,
      after: { name: r!.name, prefix: r!.prefix, expiresAt },
    });
    return r!;
  });
  return { token, view: view(row) };
}

export async function listTokens(ctx: DomainCtx): Promise<TokenView[]> {
  const rows = await ctx.db
    .select()
    .from(apiToken)
    .where(eq(apiToken.userId, ctx.actor.userId))
    .orderBy(desc(apiToken.createdAt));
  return rows.map((r) => view(r));
}

export async function revokeToken(ctx: DomainCtx, id: string): Promise<TokenView> {
  return mutate(ctx, async (tx, rec) => {
    const [t] = await tx
      .select()
      .from(apiToken)
      .where(and(eq(apiToken.id, id), eq(apiToken.userId, ctx.actor.userId)));
    if (!t) throw notFound("API token");
    if (t.revokedAt) return view(t);
    const [r] = await tx
      .update(apiToken)
      .set({ revokedAt: new Date() })
      .where(and(eq(apiToken.id, id), isNull(apiToken.revokedAt)))
      .returning();
    await rec.record({
      tenantId: null,
      action: "token.revoke",
      entityType: "api-token",
      entityId: id,
      before: { name: t.name, prefix: t.prefix, revokedAt: null },
      after: { name: t.name, prefix: t.prefix, revokedAt: r!.revokedAt },
    });
    return view(r!);
  });
}

/** Resolves a bearer token to its user; explains why a token is refused. */
export async function authenticateToken(
  db: Db,
  token: string,
): Promise<{ ok: true; actor: Actor } | { ok: false; reason: string }> {
  if (!token.startsWith(TOKEN_PREFIX) || token.length > 200) return { ok: false, reason: "malformed API token" };
  const [row] = await db
    .select({ t: apiToken, u: user })
    .from(apiToken)
    .innerJoin(user, eq(user.id, apiToken.userId))
    .where(eq(apiToken.secretHash, hashSecret(token)));
  if (!row) return { ok: false, reason: "unknown API token" };
  if (row.t.revokedAt) return { ok: false, reason: `API token ${row.t.prefix}… was revoked` };
  const now = new Date();
  if (row.t.expiresAt && row.t.expiresAt <= now) {
    return { ok: false, reason: `API token ${row.t.prefix}… expired at ${row.t.expiresAt.toISOString()}` };
  }
  // Record use at most once a minute per token: no write on every request.
  if (!row.t.lastUsedAt || now.getTime() - row.t.lastUsedAt.getTime() > 60_000) {
    await db.update(apiToken).set({ lastUsedAt: now }).where(eq(apiToken.id, row.t.id));
  }
  return {
    ok: true,
    actor: {
      userId: row.u.id,
      email: row.u.email,
      name: row.u.name,
      platformAdmin: row.u.platformAdmin,
      via: `token:${row.t.prefix}`,
    },
  };
}
