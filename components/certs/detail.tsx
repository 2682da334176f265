"use client";
// Certificate detail: the parsed chain, versions (delete old ones), "in use by", rotate, delete.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useRouter } from "next/navigation";
import { useState } from "react";
import { ChainView, ExpiryBadge, MaterialFields, emptyMaterial, materialInput } from "./parts";
import { describeError, type FieldErrors } from "@/components/forms";
import { hasRole, useTenant } from "@/components/shell/tenant";
import { useTRPC } from "@/components/trpc";
import { Button } from "@/components/ui/button";
import { ConfirmDialog, Dialog } from "@/components/ui/dialog";
import { Alert, ErrorState, Loading } from "@/components/ui/feedback";
import { Badge, Card, PageHeader, Table, td, th } from "@/components/ui/layout";

export function CertDetail({ certRef }: { certRef: string }) {
  const tenant = useTenant();
  const trpc = useTRPC();
  const qc = useQueryClient();
  const router = useRouter();
  const cert = useQuery(trpc.certs.get.queryOptions({ tenantId: tenant.id, cert: certRef }));
  const [rotating, setRotating] = useState(false);
  const [values, setValues] = useState(emptyMaterial);
  const [rotateError, setRotateError] = useState<{ message: string; fieldErrors: FieldErrors } | null>(null);
  const [deleting, setDeleting] = useState(false);
  const rotate = useMutation(trpc.certs.rotate.mutationOptions());
  const remove = useMutation(trpc.certs.delete.mutationOptions());
  const removeVersion = useMutation(trpc.certs.deleteVersion.mutationOptions());
  const canEdit = hasRole(tenant, "operator");
  const refresh = () => qc.invalidateQueries({ queryKey: trpc.certs.pathKey() });

  if (cert.isPending) return <Loading label="Loading the certificate…" />;
  if (cert.isError) return <ErrorState message={describeError(cert.error).message} onRetry={() => void cert.refetch()} />;
  const c = cert.data;

  return (
    <>
      <PageHeader
        title={c.name}
        description={c.description || (c.kind === "ca" ? "CA bundle" : "Certificate with private key (stored encrypted)")}
        actions={
          canEdit && (
            <>
              <Button variant="secondary" onClick={() => setRotating(true)}>
                Rotate
              </Button>
              <Button variant="danger" onClick={() => setDeleting(true)}>
                Delete
              </Button>
            </>
          )
        }
      />
      <div className="grid gap-6 lg:grid-cols-3">
        <Card title="Summary" className="lg:col-span-1">
          <dl className="space-y-2 text-sm" data-testid="cert-summary">
            <div>
              <dt className="text-xs text-slate-500">Expiry</dt>
              <dd>
                <ExpiryBadge state={c.state} daysLeft={c.daysLeft} notYetValid={c.notYetValid} />
              </dd>
            </div>
            {(
              [
                ["Subject", c.subject],
                ["SANs", c.sans.join(", ") || "—"],
                ["Issuer", c.issuer],
                ["Serial", c.leaf.serial],
                ["Valid", `${c.notBefore.toISOString().slice(0, 10)} → ${c.notAfter.toISOString().slice(0, 10)}`],
                ["Key", c.keyDescription],
                ["SHA-256", c.fingerprintSha256],
                ["Version", String(c.currentVersion)],
              ] as const
            ).map(([k, v]) => (
              <div key={k}>
                <dt className="text-xs text-slate-500">{k}</dt>
                <dd className="break-all">{v}</dd>
              </div>
            ))}
          </dl>
        </Card>
        <Card title="Chain" description="Leaf first, each certificate followed by its issuer." className="lg:col-span-2">
          <ChainView chain={c.chain} missing={c.missing} warnings={c.warnings} />
        </Card>
        <Card title="Versions" className="lg:col-span-2" bodyClassName="">
          <Table label="Versions">
            <thead className="bg-slate-50">
              <tr>
                <th className={th}>Version</th>
                <th className={th}>Subject</th>
                <th className={th}>Expiry</th>
                <th className={th}>SHA-256</th>
                <th className={th} />
              </tr>
            </thead>
            <tbody className="divide-y divide-slate-100">
              {c.versions.map((v) => (
                <tr key={v.version} data-testid={`cert-version-${v.version}`}>
                  <td className={td}>
                    {v.version} {v.current && <Badge tone="indigo">current</Badge>}
                  </td>
                  <td className={td}>{v.subject}</td>
                  <td className={td}>
                    <ExpiryBadge state={v.state} daysLeft={v.daysLeft} />
                  </td>
                  <td className={`${td} break-all font-mono text-xs`}>{v.fingerprintSha256.slice(0, 23)}…</td>
                  <td className={td}>
                    {canEdit && !v.current && (
                      <Button
                        size="sm"
                        variant="dangerGhost"
                        loading={removeVersion.isPending}
                        onClick={() => removeVersion.mutate({ tenantId: tenant.id, cert: c.id, version: v.version }, { onSuccess: () => void refresh() })}
                      >
                        Remove
                      </Button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </Table>
        </Card>
        <Card title="In use by">
          {c.usedBy.length === 0 ? (
            <p className="text-sm text-slate-500">Nothing references this certificate.</p>
          ) : (
            <ul className="space-y-1 text-sm">
              {c.usedBy.map((u) => (
                <li key={`${u.kind}-${u.lbId}-${u.name}`}>
                  {u.kind} <span className="font-medium">{u.name}</span> of {u.lbName} ({u.lbAddress})
                </li>
              ))}
            </ul>
          )}
        </Card>
      </div>

      <Dialog open={rotating} onClose={() => setRotating(false)} title={`Rotate ${c.name}`}>
        <form
          className="space-y-4"
          onSubmit={(e) => {
            e.preventDefault();
            setRotateError(null);
            rotate.mutate(
              { tenantId: tenant.id, cert: c.id, ...materialInput(values) },
              {
                onSuccess: () => {
                  setRotating(false);
                  setValues(emptyMaterial);
                  void refresh();
                },
                onError: (err) => setRotateError(describeError(err)),
              },
            );
          }}
        >
          <p className="text-sm text-slate-600">The new version replaces version {c.currentVersion} everywhere this certificate is used; old versions stay listed until removed.</p>
          <MaterialFields kind={c.kind} values={values} onChange={setValues} errors={rotateError?.fieldErrors ?? {}} />
          {rotateError && <Alert>{rotateError.message}</Alert>}
          <div className="flex justify-end gap-2">
            <Button type="button" variant="secondary" onClick={() => setRotating(false)}>
              Cancel
            </Button>
            <Button type="submit" loading={rotate.isPending}>
              Upload new version
            </Button>
          </div>
        </form>
      </Dialog>
      <ConfirmDialog
        open={deleting}
        title={`Delete ${c.name}?`}
        confirmLabel="Delete"
        pending={remove.isPending}
        error={remove.error ? describeError(remove.error).message : null}
        onCancel={() => {
          setDeleting(false);
          remove.reset();
        }}
        onConfirm={() =>
          remove.mutate(
            { tenantId: tenant.id, cert: c.id },
            { onSuccess: () => router.push(`/t/${encodeURIComponent(tenant.slug)}/certificates`) },
          )
        }
      >
        All {c.versionCount} version(s) and the encrypted private key are removed. Refused while anything uses it.
      </ConfirmDialog>
    </>
  );
}
