// Node registration: a platform admin issues a one-time join token for a node; the agent
// exchanges it for a long-lived node credential. Both are stored only as SHA-256 hashes.
// Revoking the credential cuts the node off (the hub closes its socket).
import { createHash, randomBytes } from "node:crypto";
import { and, eq, gt } from "drizzle-orm";
import { lbNode } from "../db/schema";
import type { Db } from "../db/client";
import { type DomainCtx, requirePlatformAdmin } from "./context";
import { DomainError } from "./errors";
import { findNode } from "./inventory/refs";
import { mutate } from "./mutate";

export const JOIN_TOKEN_PREFIX = "tbj_";
export const NODE_CREDENTIAL_PREFIX = "tbn_";
export const JOIN_TOKEN_TTL_MS = 60 * 60 * 1000;

const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");


/** Issues a one-time join token (shown once, valid one hour). Replaces an unused earlier one. */
export async function issueJoinToken(ctx: DomainCtx, nodeRef: string): Promise<{ joinToken: string; expiresAt: Date }> {
  requirePlatformAdmin(ctx);
  const node = await findNode(ctx.db, nodeRef);
  const joinToken = JOIN_TOKEN_PREFIX + randomBytes(24).toString("base64url");
  const expiresAt = new Date(Date.now() + JOIN_TOKEN_TTL_MS);
  await mutate(ctx, async (tx, rec) => {
    await tx.update(lbNode).set({ joinTokenHash: sha256(joinToken), joinTokenExpiresAt: expiresAt }).where(eq(lbNode.id, node.id));
    await rec.record({
      tenantId: null,
      action: "node.issue-join-token",
      entityType: "node",
      entityId: node.id,
      before: null,
      after: { name: node.name, expiresAt },
    });
  });
  return { joinToken, expiresAt };
}

/** Revokes the node's credential: the agent is disconnected and must join again. */
export async function revokeNodeCredential(ctx: DomainCtx, nodeRef: string): Promise<void> {
  requirePlatformAdmin(ctx);
  const node = await findNode(ctx.db, nodeRef);
  await mutate(ctx, async (tx, rec) => {
    await tx.update(lbNode).set({ credentialHash: null }).where(eq(lbNode.id, node.id));
    await rec.record({
      tenantId: null,
      action: "node.revoke-credential",
      entityType: "node",
      entityId: node.id,
      before: { joined: node.credentialHash !== null },
      after: { joined: false },
    });
  });
}

/** The agent side of joining: a valid, unexpired join token becomes a node credential (once). */
export async function exchangeJoinToken(
  db: Db,
  input: { joinToken: string; agentVersion: string },
): Promise<{ nodeId: string; nodeName: string; credential: string }> {
  if (!input.joinToken.startsWith(JOIN_TOKEN_PREFIX)) throw new DomainError("UNAUTHORIZED", "malformed join token");
  const credential = NODE_CREDENTIAL_PREFIX + randomBytes(32).toString("base64url");
  const node = await db.transaction(async (tx) => {
    const [n] = await tx
      .update(lbNode)
      .set({
        joinTokenHash: null,
        joinTokenExpiresAt: null,
        credentialHash: sha256(credential),
        agentVersion: input.agentVersion,
      })
      .where(and(eq(lbNode.joinTokenHash, sha256(input.joinToken)), gt(lbNode.joinTokenExpiresAt, new Date())))
      .returning();
    return n;
  });
  if (!node) throw new DomainError("UNAUTHORIZED", "join token unknown, already used or expired: issue a new one");
  return { nodeId: node.id, nodeName: node.name, credential };
}

export async function authenticateNode(db: Db, credential: string) {
  if (!credential.startsWith(NODE_CREDENTIAL_PREFIX)) return null;
  const [n] = await db.select().from(lbNode).where(eq(lbNode.credentialHash, sha256(credential)));
  return n ?? null;
}

export const credentialMatches = (hash: string | null, credential: string) => hash !== null && hash === sha256(credential);
