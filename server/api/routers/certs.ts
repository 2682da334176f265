// Certificates and CA bundles (tenant scope). Explicit outputs: no output schema has a field
// that could carry a private key or a data key, so none can leave the server.
import { z } from "zod";
import {
  CERT_KINDS,
  EXPIRY_STATES,
  certRefSchema,
  inspectCertInput,
  listCertsInput,
  rotateCertInput,
  updateCertInput,
  uploadCertInput,
} from "../../../lib/cert-schemas";
import {
  deleteCert,
  deleteCertVersion,
  getCert,
  inspectCert,
  listCerts,
  rotateCert,
  updateCert,
  uploadCert,
} from "../../domain/certs/verbs";
import { router, tenantProcedure } from "../trpc";

const certInfoOut = z.object({
  subject: z.string(),
  commonName: z.string().nullable(),
  sans: z.array(z.string()),
  issuer: z.string(),
  serial: z.string(),
  notBefore: z.date(),
  notAfter: z.date(),
  fingerprintSha256: z.string(),
  isCa: z.boolean(),
  selfSigned: z.boolean(),
  keyType: z.string(),
  keyBits: z.number().nullable(),
  curve: z.string().nullable(),
  keyDescription: z.string(),
});

const expiryOut = { state: z.enum(EXPIRY_STATES), daysLeft: z.number() };

export const certSummaryOut = z.object({
  id: z.string(),
  name: z.string(),
  kind: z.enum(CERT_KINDS),
  description: z.string(),
  ...expiryOut,
  notYetValid: z.boolean(),
  notBefore: z.date(),
  notAfter: z.date(),
  commonName: z.string().nullable(),
  subject: z.string(),
  sans: z.array(z.string()),
  issuer: z.string(),
  keyDescription: z.string(),
  fingerprintSha256: z.string(),
  currentVersion: z.number(),
  versionCount: z.number(),
  usedByCount: z.number(),
  expiringDays: z.number(),
  revision: z.number(),
  createdAt: z.date(),
  updatedAt: z.date(),
});

export const certOut = certSummaryOut.extend({
  hasPrivateKey: z.boolean(),
  leaf: certInfoOut,
  chain: z.array(certInfoOut),
  /** The public chain only (leaf first): certificates are public. */
  chainPem: z.string(),
  chainComplete: z.boolean(),
  missing: z.string().nullable(),
  warnings: z.array(z.string()),
  versions: z.array(
    z.object({
      version: z.number(),
      current: z.boolean(),
      subject: z.string(),
      fingerprintSha256: z.string(),
      notBefore: z.date(),
      notAfter: z.date(),
      ...expiryOut,
      createdAt: z.date(),
    }),
  ),
  usedBy: z.array(
    z.object({
      kind: z.enum(["monitor", "listener"]),
      lbId: z.string(),
      lbName: z.string(),
      lbAddress: z.string(),
      name: z.string(),
      sniHosts: z.array(z.string()),
    }),
  ),
});

export const certInspectOut = z.object({
  kind: z.enum(CERT_KINDS),
  ...expiryOut,
  notYetValid: z.boolean(),
  leaf: certInfoOut,
  chain: z.array(certInfoOut),
  chainComplete: z.boolean(),
  missing: z.string().nullable(),
  warnings: z.array(z.string()),
  hasPrivateKey: z.boolean(),
});

export const certsRouter = router({
  /** Parses and validates material without storing anything (the upload form's preview). */
  inspect: tenantProcedure("viewer")
    .input(inspectCertInput)
    .output(certInspectOut)
    .mutation(({ ctx, input }) => inspectCert(ctx.tenantCtx, input)),
  upload: tenantProcedure("operator")
    .input(uploadCertInput)
    .output(certOut)
    .mutation(({ ctx, input }) => uploadCert(ctx.tenantCtx, input)),
  list: tenantProcedure("viewer")
    .input(listCertsInput)
    .output(z.array(certSummaryOut))
    .query(({ ctx, input }) => listCerts(ctx.tenantCtx, input)),
  get: tenantProcedure("viewer")
    .input(z.object({ cert: certRefSchema }))
    .output(certOut)
    .query(({ ctx, input }) => getCert(ctx.tenantCtx, input.cert)),
  /** Uploads a new version in place: same id, version n+1; users move to it. */
  rotate: tenantProcedure("operator")
    .input(rotateCertInput)
    .output(certOut)
    .mutation(({ ctx, input }) => rotateCert(ctx.tenantCtx, input)),
  update: tenantProcedure("operator")
    .input(updateCertInput)
    .output(certOut)
    .mutation(({ ctx, input }) => updateCert(ctx.tenantCtx, input)),
  deleteVersion: tenantProcedure("operator")
    .input(z.object({ cert: certRefSchema, version: z.number().int().positive() }))
    .output(certOut)
    .mutation(({ ctx, input }) => deleteCertVersion(ctx.tenantCtx, input)),
  delete: tenantProcedure("operator")
    .input(z.object({ cert: certRefSchema }))
    .output(z.object({ deleted: z.boolean() }))
    .mutation(({ ctx, input }) => deleteCert(ctx.tenantCtx, input)),
});
