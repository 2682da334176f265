// Certificate verbs (tenant scope): upload, inspect, list, get, rotate, update, delete a version,
// delete. Material is parsed and validated before any write; private keys are sealed with a
// fresh data key; nothing returned here ever carries key material.
import { randomUUID } from "node:crypto";
import { and, asc, desc, eq, sql } from "drizzle-orm";
import type { Db, Tx } from "../../db/client";
import {
  backendPool,
  certificate,
  certificateVersion,
  healthMonitor,
  listener,
  listenerCertificate,
  loadBalancer,
  type StoredCertInfo,
} from "../../db/schema";
import type { CertKind, ExpiryState, InspectCertInput, RotateCertInput, UploadCertInput } from "../../../lib/cert-schemas";
import { type TenantCtx, requireRole } from "../context";
import { DomainError, notFound } from "../errors";
import { type Recorder, mutate } from "../mutate";
import { currentMasterKey, sealPrivateKey } from "./envelope";
import { expiryOf } from "./expiry";
import { type CertInfo, type ParsedMaterial, parseMaterial } from "./parse";

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

type CertRow = typeof certificate.$inferSelect;
type VersionRow = typeof certificateVersion.$inferSelect;

export interface CertInfoView extends Omit<StoredCertInfo, "notBefore" | "notAfter"> {
  notBefore: Date;
  notAfter: Date;
}

export interface CertUse {
  kind: "monitor" | "listener";
  lbId: string;
  lbName: string;
  lbAddress: string;
  /** The pool (monitor) or listener name. */
  name: string;
  sniHosts: string[];
}

export interface CertSummary {
  id: string;
  name: string;
  kind: CertKind;
  description: string;
  state: ExpiryState;
  daysLeft: number;
  notYetValid: boolean;
  notBefore: Date;
  notAfter: Date;
  commonName: string | null;
  subject: string;
  sans: string[];
  issuer: string;
  keyDescription: string;
  fingerprintSha256: string;
  currentVersion: number;
  versionCount: number;
  usedByCount: number;
  expiringDays: number;
  revision: number;
  createdAt: Date;
  updatedAt: Date;
}

export interface CertVersionView {
  version: number;
  current: boolean;
  subject: string;
  fingerprintSha256: string;
  notBefore: Date;
  notAfter: Date;
  state: ExpiryState;
  daysLeft: number;
  createdAt: Date;
}

export interface CertView extends CertSummary {
  hasPrivateKey: boolean;
  leaf: CertInfoView;
  chain: CertInfoView[];
  chainPem: string;
  chainComplete: boolean;
  missing: string | null;
  warnings: string[];
  versions: CertVersionView[];
  usedBy: CertUse[];
}

export interface InspectView {
  kind: CertKind;
  state: ExpiryState;
  daysLeft: number;
  notYetValid: boolean;
  leaf: CertInfoView;
  chain: CertInfoView[];
  chainComplete: boolean;
  missing: string | null;
  warnings: string[];
  hasPrivateKey: boolean;
}

const toStored = (c: CertInfo): StoredCertInfo => ({ ...c, notBefore: c.notBefore.toISOString(), notAfter: c.notAfter.toISOString() });
const fromStored = (c: StoredCertInfo): CertInfoView => ({ ...c, notBefore: new Date(c.notBefore), notAfter: new Date(c.notAfter) });

/** Finds a tenant's certificate by id or name; other tenants' answer NOT_FOUND. */
export async function findCert(db: Db | Tx, tenantId: string, ref: string): Promise<CertRow> {
  const key = UUID_RE.test(ref) ? eq(certificate.id, ref) : eq(certificate.name, ref);
  const [row] = await db.select().from(certificate).where(and(eq(certificate.tenantId, tenantId), key));
  if (!row) throw notFound(`certificate ${ref}`);
  return row;
}

/** Every listener and monitor that references the certificate. */
export async function certUsage(db: Db | Tx, tenantId: string, certId: string): Promise<CertUse[]> {
  const monitors = await db
    .select({ lbId: loadBalancer.id, lbName: loadBalancer.name, lbAddress: loadBalancer.address, name: backendPool.name })
    .from(healthMonitor)
    .innerJoin(backendPool, eq(backendPool.id, healthMonitor.poolId))
    .innerJoin(loadBalancer, eq(loadBalancer.id, backendPool.lbId))
    .where(and(eq(backendPool.tenantId, tenantId), sql`${healthMonitor.tls}->>'caCertificateId' = ${certId}`))
    .orderBy(asc(loadBalancer.name), asc(backendPool.name));
  const listeners = await db
    .select({
      lbId: loadBalancer.id,
      lbName: loadBalancer.name,
      lbAddress: loadBalancer.address,
      name: listener.name,
      sniHosts: listenerCertificate.sniHosts,
    })
    .from(listenerCertificate)
    .innerJoin(listener, eq(listener.id, listenerCertificate.listenerId))
    .innerJoin(loadBalancer, eq(loadBalancer.id, listener.lbId))
    .where(and(eq(listenerCertificate.tenantId, tenantId), eq(listenerCertificate.certificateId, certId)))
    .orderBy(asc(loadBalancer.name), asc(listener.name));
  return [
    ...listeners.map((l) => ({ kind: "listener" as const, ...l })),
    ...monitors.map((m) => ({ kind: "monitor" as const, ...m, sniHosts: [] })),
  ];
}

function summary(row: CertRow, current: VersionRow, versionCount: number, usedByCount: number, now: Date): CertSummary {
  const leaf = current.chain[0]!;
  const { state, daysLeft } = expiryOf(current.notAfter, row.expiringDays, now);
  return {
    id: row.id,
    name: row.name,
    kind: row.kind,
    description: row.description,
    state,
    daysLeft,
    notYetValid: current.notBefore.getTime() > now.getTime(),
    notBefore: current.notBefore,
    notAfter: current.notAfter,
    commonName: leaf.commonName,
    subject: leaf.subject,
    sans: leaf.sans,
    issuer: leaf.issuer,
    keyDescription: leaf.keyDescription,
    fingerprintSha256: current.fingerprintSha256,
    currentVersion: row.currentVersion,
    versionCount,
    usedByCount,
    expiringDays: row.expiringDays,
    revision: row.revision,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

async function loadView(db: Db | Tx, row: CertRow, now = new Date()): Promise<CertView> {
  const versions = await db
    .select()
    .from(certificateVersion)
    .where(eq(certificateVersion.certificateId, row.id))
    .orderBy(desc(certificateVersion.version));
  const current = versions.find((v) => v.version === row.currentVersion)!;
  const usedBy = await certUsage(db, row.tenantId, row.id);
  return {
    ...summary(row, current, versions.length, usedBy.length, now),
    hasPrivateKey: current.keyCiphertext !== null,
    leaf: fromStored(current.chain[0]!),
    chain: current.chain.map(fromStored),
    chainPem: current.chainPem,
    chainComplete: current.chainComplete,
    missing: current.missing,
    warnings: current.warnings,
    versions: versions.map((v) => ({
      version: v.version,
      current: v.version === row.currentVersion,
      subject: v.chain[0]!.subject,
      fingerprintSha256: v.fingerprintSha256,
      notBefore: v.notBefore,
      notAfter: v.notAfter,
      ...expiryOf(v.notAfter, row.expiringDays, now),
      createdAt: v.createdAt,
    })),
    usedBy,
  };
}

/** Version row values for parsed material; the key is sealed under the current master key. */
function versionValues(certId: string, tenantId: string, version: number, p: ParsedMaterial): typeof certificateVersion.$inferInsert {
  const id = randomUUID();
  const sealed = p.keyPem ? sealPrivateKey(currentMasterKey(), id, p.keyPem) : null;
  return {
    id,
    certificateId: certId,
    tenantId,
    version,
    chainPem: p.chainPem,
    chain: p.chain.map(toStored),
    chainComplete: p.chainComplete,
    missing: p.missing,
    warnings: p.warnings,
    notBefore: p.notBefore,
    notAfter: p.notAfter,
    fingerprintSha256: p.leaf.fingerprintSha256,
    keyCiphertext: sealed?.keyCiphertext ?? null,
    wrappedDataKey: sealed?.wrappedDataKey ?? null,
    masterKeyId: sealed?.masterKeyId ?? null,
  };
}

/** What the audit log keeps about a version: public facts only. */
const auditFacts = (p: ParsedMaterial, version: number) => ({
  version,
  subject: p.leaf.subject,
  sans: p.leaf.sans,
  issuer: p.leaf.issuer,
  serial: p.leaf.serial,
  fingerprintSha256: p.leaf.fingerprintSha256,
  notAfter: p.notAfter.toISOString(),
  keyDescription: p.leaf.keyDescription,
});

export async function inspectCert(ctx: TenantCtx, input: InspectCertInput, now = new Date()): Promise<InspectView> {
  requireRole(ctx, "viewer");
  const p = parseMaterial(input, now);
  return {
    kind: p.kind,
    ...expiryOf(p.notAfter, 30, now),
    notYetValid: p.notYetValid,
    leaf: p.leaf,
    chain: p.chain,
    chainComplete: p.chainComplete,
    missing: p.missing,
    warnings: p.warnings,
    hasPrivateKey: p.keyPem !== null,
  };
}

export async function uploadCert(ctx: TenantCtx, input: UploadCertInput): Promise<CertView> {
  requireRole(ctx, "operator");
  const tenantId = ctx.tenant.id;
  const parsed = parseMaterial(input);
  const now = new Date();
  const id = await mutate(ctx, async (tx, rec) => {
    const [dup] = await tx
      .select({ id: certificate.id })
      .from(certificate)
      .where(and(eq(certificate.tenantId, tenantId), eq(certificate.name, input.name)));
    if (dup) throw new DomainError("CONFLICT", `a certificate named "${input.name}" already exists`, { name: ["already exists"] });
    const certId = randomUUID();
    await tx.insert(certificate).values({
      id: certId,
      tenantId,
      name: input.name,
      kind: input.kind,
      description: input.description,
      expiringDays: input.expiringDays,
      currentVersion: 1,
      recordedState: expiryOf(parsed.notAfter, input.expiringDays, now).state,
    });
    await tx.insert(certificateVersion).values(versionValues(certId, tenantId, 1, parsed));
    const rev = await rec.record({
      tenantId,
      action: "certificate.create",
      entityType: "certificate",
      entityId: certId,
      before: null,
      after: { name: input.name, kind: input.kind, ...auditFacts(parsed, 1) },
    });
    await tx.update(certificate).set({ revision: rev }).where(eq(certificate.id, certId));
    return certId;
  });
  return loadView(ctx.db, await findCert(ctx.db, tenantId, id));
}

export async function listCerts(
  ctx: TenantCtx,
  input: { kind?: CertKind | undefined; state?: ExpiryState | undefined; sort: "name" | "expiry" },
): Promise<CertSummary[]> {
  requireRole(ctx, "viewer");
  const now = new Date();
  const rows = await ctx.db
    .select({ cert: certificate, current: certificateVersion })
    .from(certificate)
    .innerJoin(
      certificateVersion,
      and(eq(certificateVersion.certificateId, certificate.id), eq(certificateVersion.version, certificate.currentVersion)),
    )
    .where(and(eq(certificate.tenantId, ctx.tenant.id), input.kind ? eq(certificate.kind, input.kind) : undefined))
    .orderBy(asc(certificate.name));
  const counts = await ctx.db
    .select({ id: certificateVersion.certificateId, n: sql<number>`count(*)::int` })
    .from(certificateVersion)
    .where(eq(certificateVersion.tenantId, ctx.tenant.id))
    .groupBy(certificateVersion.certificateId);
  const versionCount = new Map(counts.map((c) => [c.id, Number(c.n)]));
  const out: CertSummary[] = [];
  for (const r of rows) {
    const uses = (await certUsage(ctx.db, ctx.tenant.id, r.cert.id)).length;
    const s = summary(r.cert, r.current, versionCount.get(r.cert.id) ?? 1, uses, now);
    if (!input.state || s.state === input.state) out.push(s);
  }
  if (input.sort === "expiry") out.sort((a, b) => a.notAfter.getTime() - b.notAfter.getTime() || a.name.localeCompare(b.name));
  return out;
}

export async function getCert(ctx: TenantCtx, ref: string): Promise<CertView> {
  requireRole(ctx, "viewer");
  return loadView(ctx.db, await findCert(ctx.db, ctx.tenant.id, ref));
}

/** Locks the certificate row for a change (concurrent rotations serialize here). */
async function lockCert(tx: Tx, tenantId: string, id: string): Promise<CertRow> {
  const [row] = await tx
    .select()
    .from(certificate)
    .where(and(eq(certificate.tenantId, tenantId), eq(certificate.id, id)))
    .for("update");
  if (!row) throw notFound("certificate");
  return row;
}

/**
 * Moves everything bound to the certificate to its new version: each load balancer using it
 * gets a new revision, so the agents carrying it receive the change.
 */
async function touchUsers(tx: Tx, rec: Recorder, tenantId: string, cert: CertRow, version: number) {
  const lbIds = [...new Set((await certUsage(tx, tenantId, cert.id)).map((u) => u.lbId))];
  for (const lbId of lbIds) {
    const rev = await rec.record({
      tenantId,
      action: "lb.certificate-rotated",
      entityType: "load-balancer",
      entityId: lbId,
      before: null,
      after: { certificate: cert.name, certificateId: cert.id, version },
    });
    await tx.update(loadBalancer).set({ revision: rev, updatedAt: new Date() }).where(eq(loadBalancer.id, lbId));
  }
}

export async function rotateCert(ctx: TenantCtx, input: RotateCertInput): Promise<CertView> {
  requireRole(ctx, "operator");
  const tenantId = ctx.tenant.id;
  const found = await findCert(ctx.db, tenantId, input.cert);
  const parsed = parseMaterial({ ...input, kind: found.kind });
  const now = new Date();
  await mutate(ctx, async (tx, rec) => {
    const cert = await lockCert(tx, tenantId, found.id);
    const [current] = await tx
      .select({ fingerprint: certificateVersion.fingerprintSha256 })
      .from(certificateVersion)
      .where(and(eq(certificateVersion.certificateId, cert.id), eq(certificateVersion.version, cert.currentVersion)));
    // Uploading the current certificate again changes nothing (idempotent retries).
    if (current?.fingerprint === parsed.leaf.fingerprintSha256 && parsed.chain.length > 0) return;
    const [max] = await tx
      .select({ v: sql<number>`max(${certificateVersion.version})::int` })
      .from(certificateVersion)
      .where(eq(certificateVersion.certificateId, cert.id));
    const version = Number(max?.v ?? 0) + 1;
    await tx.insert(certificateVersion).values(versionValues(cert.id, tenantId, version, parsed));
    const rev = await rec.record({
      tenantId,
      action: "certificate.rotate",
      entityType: "certificate",
      entityId: cert.id,
      before: { version: cert.currentVersion },
      after: { name: cert.name, ...auditFacts(parsed, version) },
    });
    await tx
      .update(certificate)
      .set({
        currentVersion: version,
        revision: rev,
        updatedAt: now,
        recordedState: expiryOf(parsed.notAfter, cert.expiringDays, now).state,
      })
      .where(eq(certificate.id, cert.id));
    await touchUsers(tx, rec, tenantId, cert, version);
  });
  return loadView(ctx.db, await findCert(ctx.db, tenantId, found.id));
}

export async function updateCert(
  ctx: TenantCtx,
  input: { cert: string; description?: string | undefined; expiringDays?: number | undefined },
): Promise<CertView> {
  requireRole(ctx, "operator");
  const tenantId = ctx.tenant.id;
  const found = await findCert(ctx.db, tenantId, input.cert);
  await mutate(ctx, async (tx, rec) => {
    const cert = await lockCert(tx, tenantId, found.id);
    const next = { description: input.description ?? cert.description, expiringDays: input.expiringDays ?? cert.expiringDays };
    if (next.description === cert.description && next.expiringDays === cert.expiringDays) return;
    const rev = await rec.record({
      tenantId,
      action: "certificate.update",
      entityType: "certificate",
      entityId: cert.id,
      before: { description: cert.description, expiringDays: cert.expiringDays },
      after: next,
    });
    await tx.update(certificate).set({ ...next, revision: rev, updatedAt: new Date() }).where(eq(certificate.id, cert.id));
  });
  return loadView(ctx.db, await findCert(ctx.db, tenantId, found.id));
}

export async function deleteCertVersion(ctx: TenantCtx, input: { cert: string; version: number }): Promise<CertView> {
  requireRole(ctx, "operator");
  const tenantId = ctx.tenant.id;
  const found = await findCert(ctx.db, tenantId, input.cert);
  await mutate(ctx, async (tx, rec) => {
    const cert = await lockCert(tx, tenantId, found.id);
    if (input.version === cert.currentVersion) {
      throw new DomainError(
        "PRECONDITION_FAILED",
        `version ${input.version} is the current version of ${cert.name}: rotate to a new version first, or delete the certificate`,
        { version: ["is the current version"] },
      );
    }
    const gone = await tx
      .delete(certificateVersion)
      .where(and(eq(certificateVersion.certificateId, cert.id), eq(certificateVersion.version, input.version)))
      .returning({ fingerprint: certificateVersion.fingerprintSha256 });
    if (gone.length === 0) throw notFound(`version ${input.version} of certificate ${cert.name}`);
    const rev = await rec.record({
      tenantId,
      action: "certificate.version.delete",
      entityType: "certificate",
      entityId: cert.id,
      before: { version: input.version, fingerprintSha256: gone[0]!.fingerprint },
      after: null,
    });
    await tx.update(certificate).set({ revision: rev, updatedAt: new Date() }).where(eq(certificate.id, cert.id));
  });
  return loadView(ctx.db, await findCert(ctx.db, tenantId, found.id));
}

export async function deleteCert(ctx: TenantCtx, input: { cert: string }): Promise<{ deleted: boolean }> {
  requireRole(ctx, "operator");
  const tenantId = ctx.tenant.id;
  const found = await findCert(ctx.db, tenantId, input.cert);
  await mutate(ctx, async (tx, rec) => {
    const cert = await lockCert(tx, tenantId, found.id);
    const uses = await certUsage(tx, tenantId, cert.id);
    if (uses.length) {
      const list = uses.map((u) => `${u.kind} ${u.name} of load balancer ${u.lbName} (${u.lbAddress})`).join(", ");
      throw new DomainError("PRECONDITION_FAILED", `certificate ${cert.name} is in use by ${list}: remove those references first`, {
        cert: [`in use by ${list}`],
      });
    }
    await tx.delete(certificate).where(eq(certificate.id, cert.id));
    await rec.record({
      tenantId,
      action: "certificate.delete",
      entityType: "certificate",
      entityId: cert.id,
      before: { name: cert.name, kind: cert.kind, currentVersion: cert.currentVersion },
      after: null,
    });
  });
  return { deleted: true };
}
