// Expiry state, computed at read time from the current version's validity, and the job that
// announces a certificate crossing into "expiring" or "expired" in the audit log (once).
import { eq, and } from "drizzle-orm";
import type { Db } from "../../db/client";
import type { Auth } from "../../auth/auth";
import { certificate, certificateVersion } from "../../db/schema";
import type { ExpiryState } from "../../../lib/cert-schemas";
import { type DomainCtx, SYSTEM_ACTOR } from "../context";
import { mutate } from "../mutate";

const DAY_MS = 86_400_000;

export interface Expiry {
  state: ExpiryState;
  /** Whole days until notAfter, toward zero (negative once expired). */
  daysLeft: number;
}

export function expiryOf(notAfter: Date, expiringDays: number, now: Date): Expiry {
  const left = notAfter.getTime() - now.getTime();
  // Whole days toward zero: "9 days left", "expired 1 day ago" (never -0).
  const daysLeft = Math.trunc(left / DAY_MS) || 0;
  const state: ExpiryState = left <= 0 ? "expired" : left < expiringDays * DAY_MS ? "expiring" : "valid";
  return { state, daysLeft };
}

const severity: Record<ExpiryState, number> = { valid: 0, expiring: 1, expired: 2 };

/**
 * Records an audit event for every certificate whose current version crossed into "expiring"
 * or "expired" since the last run, and remembers the state so each crossing is announced once.
 * Called by the jobs loop; returns the crossings it recorded.
 */
export async function recordExpiryTransitions(
  db: Db,
  now = new Date(),
  onCommitted?: (revisions: number[]) => void,
): Promise<{ certificateId: string; tenantId: string; name: string; from: ExpiryState; to: ExpiryState }[]> {
  const rows = await db
    .select({
      id: certificate.id,
      tenantId: certificate.tenantId,
      name: certificate.name,
      expiringDays: certificate.expiringDays,
      recordedState: certificate.recordedState,
      version: certificate.currentVersion,
      notAfter: certificateVersion.notAfter,
    })
    .from(certificate)
    .innerJoin(
      certificateVersion,
      and(eq(certificateVersion.certificateId, certificate.id), eq(certificateVersion.version, certificate.currentVersion)),
    );
  // The audit write needs no auth service: mutate() only uses the database and the actor.
  const ctx: DomainCtx = { db, auth: undefined as unknown as Auth, actor: SYSTEM_ACTOR, ...(onCommitted ? { onCommitted } : {}) };
  const crossed = [];
  for (const r of rows) {
    const { state, daysLeft } = expiryOf(r.notAfter, r.expiringDays, now);
    if (state === r.recordedState) continue;
    const worse = severity[state] > severity[r.recordedState];
    const announced = await mutate(ctx, async (tx, rec) => {
      // Only the run that flips the stored state announces it (replicas may race).
      const updated = await tx
        .update(certificate)
        .set({ recordedState: state })
        .where(and(eq(certificate.id, r.id), eq(certificate.recordedState, r.recordedState)))
        .returning({ id: certificate.id });
      if (updated.length === 0 || !worse) return false;
      await rec.record({
        tenantId: r.tenantId,
        action: `certificate.${state}`,
        entityType: "certificate",
        entityId: r.id,
        before: { state: r.recordedState },
        after: { state, name: r.name, version: r.version, notAfter: r.notAfter.toISOString(), daysLeft },
      });
      return true;
    });
    if (announced) crossed.push({ certificateId: r.id, tenantId: r.tenantId, name: r.name, from: r.recordedState, to: state });
  }
  return crossed;
}
