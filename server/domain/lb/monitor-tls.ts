// HTTPS monitors may verify backends against a CA certificate of the same tenant. Inputs name it
// by name or id; the stored tree always holds the id, so comparisons and the write path see one form.
import { and, eq, inArray, or } from "drizzle-orm";
import type { Tx } from "../../db/client";
import { certificate } from "../../db/schema";
import { isUuid } from "../context";
import { DomainError } from "../errors";
import type { DesiredTree } from "./tree";

/** Replaces every monitor's `tls.caCertificate` reference with the certificate's id (in place). */
export async function resolveMonitorCas(tx: Tx, tenantId: string, desired: DesiredTree): Promise<void> {
  const refs = desired.pools.flatMap((p, i) =>
    p.monitor?.tls?.caCertificate ? [{ i, tls: p.monitor.tls, ref: p.monitor.tls.caCertificate }] : [],
  );
  if (!refs.length) return;
  const names = [...new Set(refs.map((r) => r.ref))];
  const ids = names.filter(isUuid);
  const rows = await tx
    .select({ id: certificate.id, name: certificate.name, kind: certificate.kind })
    .from(certificate)
    .where(
      and(
        eq(certificate.tenantId, tenantId),
        ids.length ? or(inArray(certificate.name, names), inArray(certificate.id, ids)) : inArray(certificate.name, names),
      ),
    );
  const errors: Record<string, string[]> = {};
  for (const { i, tls, ref } of refs) {
    const row = rows.find((r) => r.id === ref) ?? rows.find((r) => r.name === ref);
    const path = `pools.${i}.monitor.tls.caCertificate`;
    if (!row) errors[path] = [`no certificate "${ref}" in this tenant`];
    else if (row.kind !== "ca")
      errors[path] = [`certificate ${row.name} is a server certificate; upload the CA bundle as a CA certificate`];
    else tls.caCertificate = row.id;
  }
  const first = Object.entries(errors)[0];
  if (first) throw new DomainError("BAD_REQUEST", `${first[1][0]} (${first[0]})`, errors);
}
