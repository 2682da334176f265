// Explicit output shapes: only these fields ever leave the server.
import { z } from "zod";
import { ROLE_VALUES } from "../../../lib/schemas";

export const roleOut = z.enum(ROLE_VALUES);

export const tenantOut = z.object({
  id: z.string(),
  slug: z.string(),
  name: z.string(),
  role: roleOut,
  memberCount: z.number(),
  createdAt: z.date(),
});

export const userOut = z.object({
  id: z.string(),
  email: z.string(),
  name: z.string(),
  platformAdmin: z.boolean(),
  createdAt: z.date(),
  tenants: z.array(z.object({ id: z.string(), slug: z.string(), role: roleOut })),
});

export const memberOut = z.object({
  userId: z.string(),
  email: z.string(),
  name: z.string(),
  role: roleOut,
  since: z.date(),
});

export const tokenOut = z.object({
  id: z.string(),
  name: z.string(),
  prefix: z.string(),
  createdAt: z.date(),
  expiresAt: z.date().nullable(),
  lastUsedAt: z.date().nullable(),
  revokedAt: z.date().nullable(),
  state: z.enum(["active", "expired", "revoked"]),
});

export const auditEntryOut = z.object({
  id: z.number(),
  at: z.date(),
  actor: z.string(),
  via: z.string(),
  tenantId: z.string().nullable(),
  action: z.string(),
  entityType: z.string(),
  entityId: z.string(),
  before: z.unknown(),
  after: z.unknown(),
  revision: z.number().nullable(),
});
