// Certificate input schemas shared by the console, the CLI and the API. Pure zod: no server
// imports here. Key material arrives as PEM text (or base64 PKCS#12) and is never echoed back.
import { z } from "zod";
import { tenantRefSchema } from "./schemas";

/** Upload limit for each PEM field: a long chain is a few KiB; anything bigger is a mistake. */
export const CERT_MAX_BYTES = 64 * 1024;
export const CERT_KINDS = ["server", "ca"] as const;
export type CertKind = (typeof CERT_KINDS)[number];
export const EXPIRY_STATES = ["valid", "expiring", "expired"] as const;
export type ExpiryState = (typeof EXPIRY_STATES)[number];
export const DEFAULT_EXPIRING_DAYS = 30;

export const certNameSchema = z
  .string()
  .trim()
  .min(1, "required")
  .max(63, "at most 63 characters")
  .regex(/^[a-zA-Z0-9]([a-zA-Z0-9._-]*[a-zA-Z0-9])?$/, "letters, digits, '.', '_' and '-' (not at the ends)");

/** A certificate reference (the `cert` field of by-reference procedures): its id (uuid) or name. */
export const certRefSchema = z.string().trim().min(1, "certificate required").max(64);

const tooBig = `at most ${CERT_MAX_BYTES / 1024} KiB`;

/**
 * The material of one version: a PEM chain (+ PEM private key, maybe encrypted), or a PKCS#12
 * bundle in base64. `passphrase` unlocks an encrypted key or the PKCS#12 bundle.
 */
export const certMaterialSchema = z.object({
  certificate: z.string().max(CERT_MAX_BYTES, tooBig).optional(),
  privateKey: z.string().max(CERT_MAX_BYTES, tooBig).optional(),
  /** PKCS#12 (.p12/.pfx) as base64. */
  pkcs12: z
    .string()
    .max(Math.ceil((CERT_MAX_BYTES * 4) / 3) + 4, tooBig)
    .optional(),
  passphrase: z.string().max(1024, "at most 1024 characters").optional(),
  /** Store an already expired certificate anyway (refused otherwise). */
  allowExpired: z.boolean().default(false),
});
export type CertMaterial = z.input<typeof certMaterialSchema>;

export const expiringDaysSchema = z
  .number()
  .int("whole number of days")
  .min(1, "1–365 days")
  .max(365, "1–365 days");

export const uploadCertInput = certMaterialSchema.extend({
  tenantId: tenantRefSchema,
  name: certNameSchema,
  kind: z.enum(CERT_KINDS).default("server"),
  description: z.string().max(500, "at most 500 characters").default(""),
  /** Days before expiry at which the certificate turns "expiring". */
  expiringDays: expiringDaysSchema.default(DEFAULT_EXPIRING_DAYS),
});
export type UploadCertInput = z.infer<typeof uploadCertInput>;

export const inspectCertInput = certMaterialSchema.extend({
  tenantId: tenantRefSchema,
  kind: z.enum(CERT_KINDS).default("server"),
});
export type InspectCertInput = z.infer<typeof inspectCertInput>;

export const rotateCertInput = certMaterialSchema.extend({
  tenantId: tenantRefSchema,
  cert: certRefSchema,
});
export type RotateCertInput = z.infer<typeof rotateCertInput>;

export const updateCertInput = z.object({
  tenantId: tenantRefSchema,
  cert: certRefSchema,
  description: z.string().max(500, "at most 500 characters").optional(),
  expiringDays: expiringDaysSchema.optional(),
});

export const listCertsInput = z.object({
  tenantId: tenantRefSchema,
  kind: z.enum(CERT_KINDS).optional(),
  state: z.enum(EXPIRY_STATES).optional(),
  sort: z.enum(["name", "expiry"]).default("name"),
});
