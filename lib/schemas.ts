// Input schemas shared by the console (form validation as you type) and the API (the same
// rules enforced server-side). Pure zod: no server imports here.
import { z } from "zod";

export const ROLE_VALUES = ["viewer", "operator", "admin"] as const;
export const roleSchema = z.enum(ROLE_VALUES);

export const slugSchema = z
  .string()
  .trim()
  .min(2, "at least 2 characters")
  .max(40, "at most 40 characters")
  .regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/, "lowercase letters, digits and inner dashes only");

export const nameSchema = z.string().trim().min(1, "required").max(100, "at most 100 characters");
export const emailSchema = z.string().trim().toLowerCase().email("not a valid email address").max(254);

export const PASSWORD_MIN = 10;
export const passwordSchema = z
  .string()
  .min(PASSWORD_MIN, `at least ${PASSWORD_MIN} characters`)
  .max(128, "at most 128 characters")
  .refine((p) => /[a-zA-Z]/.test(p) && /[^a-zA-Z]/.test(p), "mix letters with digits or symbols");

/** A tenant reference: its id (uuid) or slug. */
export const tenantRefSchema = z.string().trim().min(1, "tenant required").max(64);

export const createTenantInput = z.object({ slug: slugSchema, name: nameSchema });
export const updateTenantInput = z.object({ tenantId: tenantRefSchema, name: nameSchema });

export const addMemberInput = z.object({
  tenantId: tenantRefSchema,
  email: emailSchema,
  role: roleSchema,
});
export const setMemberRoleInput = z.object({
  tenantId: tenantRefSchema,
  userId: z.string().min(1).max(64),
  role: roleSchema,
});
export const removeMemberInput = z.object({
  tenantId: tenantRefSchema,
  userId: z.string().min(1).max(64),
});

export const createUserInput = z.object({
  email: emailSchema,
  name: nameSchema,
  password: passwordSchema,
  platformAdmin: z.boolean().default(false),
});

export const signUpInput = z.object({ email: emailSchema, name: nameSchema, password: passwordSchema });
export const signInInput = z.object({ email: emailSchema, password: z.string().min(1, "required").max(128) });

export const createTokenInput = z.object({
  name: z.string().trim().min(1, "required").max(60, "at most 60 characters"),
  /** Days until expiry; omitted = never expires. */
  expiresInDays: z.number().int().min(1, "at least 1 day").max(3650, "at most 10 years").optional(),
});

export const auditListInput = z.object({
  mine: z.boolean().optional(),
  tenantId: tenantRefSchema.optional(),
  /** Return entries older than this id (pagination cursor). */
  before: z.number().int().positive().optional(),
  limit: z.number().int().min(1).max(200).default(50),
  action: z.string().max(100).optional(),
});

export type CreateTenantInput = z.infer<typeof createTenantInput>;
