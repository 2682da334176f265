"use client";
// A tenant's certificates and CA bundles: expiry badges, days left, sortable by name or expiry.
import { useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { useState } from "react";
import { ExpiryBadge } from "@/components/certs/parts";
import { describeError } from "@/components/forms";
import { hasRole, useTenant } from "@/components/shell/tenant";
import { useTRPC } from "@/components/trpc";
import { ButtonLink } from "@/components/ui/button";
import { EmptyState, ErrorState, Loading } from "@/components/ui/feedback";
import { KeyIcon } from "@/components/ui/icons";
import { Badge, Card, PageHeader, Table, td, th } from "@/components/ui/layout";

export default function CertificatesPage() {
  const tenant = useTenant();
  const trpc = useTRPC();
  const [sort, setSort] = useState<"name" | "expiry">("expiry");
  const certs = useQuery(trpc.certs.list.queryOptions({ tenantId: tenant.id, sort }));
  const base = `/t/${encodeURIComponent(tenant.slug)}/certificates`;
  const canUpload = hasRole(tenant, "operator");
  const sortButton = (by: "name" | "expiry", label: string) => (
    <button type="button" onClick={() => setSort(by)} className="uppercase hover:text-slate-800" aria-pressed={sort === by}>
      {label}
      {sort === by ? " ▲" : ""}
    </button>
  );
  return (
    <>
      <PageHeader
        title="Certificates"
        description="TLS certificates (with their private keys, stored encrypted) and CA bundles for HTTPS health monitors."
        actions={
          canUpload && (
            <ButtonLink href={`${base}/new`} variant="primary">
              Upload certificate
            </ButtonLink>
          )
        }
      />
      <Card title="All certificates" bodyClassName="">
        {certs.isPending ? (
          <Loading label="Loading certificates…" />
        ) : certs.isError ? (
          <div className="p-4">
            <ErrorState message={describeError(certs.error).message} onRetry={() => void certs.refetch()} />
          </div>
        ) : certs.data.length === 0 ? (
          <div className="p-4">
            <EmptyState icon={<KeyIcon className="size-10" />} title="No certificates yet">
              Upload a certificate chain with its private key (PEM or PKCS#12), or a CA bundle.
            </EmptyState>
          </div>
        ) : (
          <Table label="Certificates">
            <thead className="bg-slate-50">
              <tr>
                <th className={th}>{sortButton("name", "Name")}</th>
                <th className={th}>Subject</th>
                <th className={th}>{sortButton("expiry", "Expiry")}</th>
                <th className={th}>Expires</th>
                <th className={th}>Key</th>
                <th className={th}>Version</th>
                <th className={th}>In use</th>
              </tr>
            </thead>
            <tbody className="divide-y divide-slate-100">
              {certs.data.map((c) => (
                <tr key={c.id} data-testid={`cert-row-${c.name}`}>
                  <td className={td}>
                    <Link href={`${base}/${encodeURIComponent(c.name)}`} className="font-medium text-indigo-700 hover:underline">
                      {c.name}
                    </Link>
                    {c.kind === "ca" && (
                      <span className="ml-2">
                        <Badge tone="violet">CA bundle</Badge>
                      </span>
                    )}
                  </td>
                  <td className={td}>
                    <div>{c.commonName ?? c.subject}</div>
                    <div className="text-xs text-slate-500">{c.sans.slice(0, 3).join(", ")}</div>
                  </td>
                  <td className={td}>
                    <ExpiryBadge state={c.state} daysLeft={c.daysLeft} notYetValid={c.notYetValid} />
                  </td>
                  <td className={td}>{c.notAfter.toISOString().slice(0, 10)}</td>
                  <td className={td}>{c.keyDescription}</td>
                  <td className={td}>{c.currentVersion}</td>
                  <td className={td}>{c.usedByCount}</td>
                </tr>
              ))}
            </tbody>
          </Table>
        )}
      </Card>
    </>
  );
}
