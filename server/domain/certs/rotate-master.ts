// Master-key rotation: re-wraps every certificate data key from the old master key to the new
// one. The key ciphertexts stay untouched. Idempotent: rows already under the new key are
// skipped, so an interrupted run is simply run again.
import { and, eq, isNotNull, ne } from "drizzle-orm";
import type { Db } from "../../db/client";
import type { Auth } from "../../auth/auth";
import { certificateVersion } from "../../db/schema";
import { type DomainCtx, SYSTEM_ACTOR } from "../context";
import { mutate } from "../mutate";
import { type MasterKey, rewrapDataKey } from "./envelope";

export interface RotationResult {
  rewrapped: number;
  alreadyNew: number;
  total: number;
}

const BATCH = 100;

export async function rewrapDataKeys(
  db: Db,
  from: MasterKey,
  to: MasterKey,
  onProgress: (done: number, total: number) => void = () => {},
): Promise<RotationResult> {
  const sealed = isNotNull(certificateVersion.wrappedDataKey);
  const rows = await db.select({ id: certificateVersion.id, masterKeyId: certificateVersion.masterKeyId }).from(certificateVersion).where(sealed);
  const stale = rows.filter((r) => r.masterKeyId !== to.id);
  const unknown = stale.filter((r) => r.masterKeyId !== from.id);
  if (unknown.length) {
    throw new Error(
      `${unknown.length} data key(s) are wrapped by neither the old nor the new master key (e.g. ${unknown[0]!.masterKeyId} on version ${unknown[0]!.id}); nothing changed`,
    );
  }
  const ctx: DomainCtx = { db, auth: undefined as unknown as Auth, actor: SYSTEM_ACTOR };
  let done = 0;
  for (let i = 0; i < stale.length; i += BATCH) {
    const ids = stale.slice(i, i + BATCH).map((r) => r.id);
    await db.transaction(async (tx) => {
      for (const id of ids) {
        const [row] = await tx
          .select()
          .from(certificateVersion)
          .where(and(eq(certificateVersion.id, id), eq(certificateVersion.masterKeyId, from.id)))
          .for("update");
        if (!row) continue; // re-wrapped meanwhile by another run
        const next = rewrapDataKey(from, to, row.id, {
          keyCiphertext: row.keyCiphertext!,
          wrappedDataKey: row.wrappedDataKey!,
          masterKeyId: row.masterKeyId!,
        });
        await tx
          .update(certificateVersion)
          .set({ wrappedDataKey: next.wrappedDataKey, masterKeyId: next.masterKeyId })
          .where(eq(certificateVersion.id, row.id));
      }
    });
    done += ids.length;
    onProgress(done, stale.length);
  }
  if (stale.length) {
    await mutate(ctx, async (_tx, rec) => {
      await rec.record({
        tenantId: null,
        action: "master-key.rotate",
        entityType: "master-key",
        entityId: to.id,
        before: { masterKeyId: from.id },
        after: { masterKeyId: to.id, rewrapped: stale.length },
      });
    });
  }
  const left = await db
    .select({ id: certificateVersion.id })
    .from(certificateVersion)
    .where(and(sealed, ne(certificateVersion.masterKeyId, to.id)));
  if (left.length) throw new Error(`${left.length} data key(s) are still not under the new master key: run again`);
  return { rewrapped: stale.length, alreadyNew: rows.length - stale.length, total: rows.length };
}
