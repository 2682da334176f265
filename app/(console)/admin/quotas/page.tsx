"use client";
// Platform admins: per-tenant quotas (VIPs, listeners, members) against current usage.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { z } from "zod";
import { QUOTA_MAX } from "@/lib/inventory-schemas";
import { wholeNumberText } from "@/components/admin/common";
import { GaugeIcon } from "@/components/admin/icons";
import { describeError, useZodForm } from "@/components/forms";
import { Usage } from "@/components/lb/usage";
import { type RouterOutputs, useTRPC } from "@/components/trpc";
import { Button } from "@/components/ui/button";
import { ConfirmDialog, Dialog } from "@/components/ui/dialog";
import { Alert, EmptyState, ErrorState, Loading } from "@/components/ui/feedback";
import { TextField } from "@/components/ui/field";
import { Badge, Card, PageHeader, Table, td, th } from "@/components/ui/layout";

type Quota = RouterOutputs["quotas"]["list"][number];

export default function QuotasPage() {
  const trpc = useTRPC();
  const quotas = useQuery(trpc.quotas.list.queryOptions());
  const [editing, setEditing] = useState<Quota | null>(null);
  const [resetting, setResetting] = useState<Quota | null>(null);
  return (
    <>
      <PageHeader title="Quotas" description="How many load balancers, listeners and members each tenant may have." />
      <Card title="Tenants" bodyClassName="">
        {quotas.isPending ? (
          <Loading label="Loading quotas…" />
        ) : quotas.isError ? (
          <div className="p-4">
            <ErrorState message={describeError(quotas.error).message} onRetry={() => void quotas.refetch()} />
          </div>
        ) : quotas.data.length === 0 ? (
          <div className="p-4">
            <EmptyState icon={<GaugeIcon className="size-10" />} title="No tenants yet" />
          </div>
        ) : (
          <Table label="Quotas">
            <thead className="bg-slate-50">
              <tr>
                <th scope="col" className={th}>Tenant</th>
                <th scope="col" className={th}>Load balancers</th>
                <th scope="col" className={th}>Listeners</th>
                <th scope="col" className={th}>Members</th>
                <th scope="col" className={th}>
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody className="divide-y divide-slate-100">
              {quotas.data.map((q) => (
                <tr key={q.tenantId} data-tenant={q.tenantSlug}>
                  <td className={td}>
                    <p className="font-medium text-slate-900">{q.tenantName}</p>
                    <p className="flex flex-wrap items-center gap-1.5 font-mono text-xs text-slate-500">
                      {q.tenantSlug}
                      {q.isDefault ? <Badge>defaults</Badge> : <Badge tone="indigo">custom</Badge>}
                      {q.exceeded.length > 0 && <Badge tone="red">over quota</Badge>}
                    </p>
                  </td>
                  <td className={`${td} min-w-[9rem]`}>
                    <Usage label="VIPs" used={q.usage.vips} max={q.maxVips} />
                  </td>
                  <td className={`${td} min-w-[9rem]`}>
                    <Usage label="Listeners" used={q.usage.listeners} max={q.maxListeners} />
                  </td>
                  <td className={`${td} min-w-[9rem]`}>
                    <Usage label="Members" used={q.usage.members} max={q.maxMembers} />
                  </td>
                  <td className={`${td} whitespace-nowrap text-right`}>
                    <Button size="sm" variant="ghost" onClick={() => setEditing(q)} aria-label={`Edit quota of ${q.tenantSlug}`}>
                      Edit
                    </Button>
                    {!q.isDefault && (
                      <Button size="sm" variant="ghost" onClick={() => setResetting(q)} aria-label={`Reset quota of ${q.tenantSlug}`}>
                        Reset
                      </Button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </Table>
        )}
      </Card>
      <Dialog open={editing !== null} onClose={() => setEditing(null)} title={editing ? `Quota of ${editing.tenantSlug}` : "Quota"}>
        {editing && <QuotaForm key={editing.tenantId} quota={editing} onDone={() => setEditing(null)} />}
      </Dialog>
      <ResetQuota quota={resetting} onDone={() => setResetting(null)} />
    </>
  );
}

const limit = (what: string) => wholeNumberText(`${what}: a whole number`).pipe(z.number().max(QUOTA_MAX, `at most ${QUOTA_MAX}`));
const quotaForm = z.object({ maxVips: limit("max VIPs"), maxListeners: limit("max listeners"), maxMembers: limit("max members") });

function QuotaForm({ quota, onDone }: { quota: Quota; onDone: () => void }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const form = useZodForm(quotaForm, { maxVips: String(quota.maxVips), maxListeners: String(quota.maxListeners), maxMembers: String(quota.maxMembers) });
  const set = useMutation(
    trpc.quotas.set.mutationOptions({
      onSuccess: async () => {
        await queryClient.invalidateQueries(trpc.quotas.pathFilter());
        onDone();
      },
      onError: (err) => form.showServerError(err),
    }),
  );
  return (
    <form ref={form.formRef} noValidate className="space-y-4" onSubmit={form.submit((d) => set.mutate({ tenantId: quota.tenantId, ...d }))}>
      {form.formError && <Alert>{form.formError}</Alert>}
      <TextField label="Max load balancers (VIPs)" inputMode="numeric" hint={`uses ${quota.usage.vips} now`} field={form.field("maxVips")} />
      <TextField label="Max listeners" inputMode="numeric" hint={`uses ${quota.usage.listeners} now`} field={form.field("maxListeners")} />
      <TextField label="Max members" inputMode="numeric" hint={`uses ${quota.usage.members} now`} field={form.field("maxMembers")} />
      <p className="text-xs text-slate-500">A limit below the current usage is allowed: nothing is removed, new objects are refused.</p>
      <div className="flex justify-end gap-2">
        <Button variant="secondary" onClick={onDone} disabled={set.isPending}>
          Cancel
        </Button>
        <Button type="submit" loading={set.isPending}>
          Save quota
        </Button>
      </div>
    </form>
  );
}

function ResetQuota({ quota, onDone }: { quota: Quota | null; onDone: () => void }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const reset = useMutation(
    trpc.quotas.reset.mutationOptions({
      onSuccess: async () => {
        await queryClient.invalidateQueries(trpc.quotas.pathFilter());
        onDone();
      },
    }),
  );
  return (
    <ConfirmDialog
      open={quota !== null}
      title="Reset to the defaults?"
      confirmLabel="Reset quota"
      danger={false}
      pending={reset.isPending}
      error={reset.error ? describeError(reset.error).message : null}
      onCancel={() => {
        reset.reset();
        onDone();
      }}
      onConfirm={() => quota && reset.mutate({ tenantId: quota.tenantId })}
    >
      <p>{quota?.tenantSlug}&apos;s own limits are removed; the platform defaults apply again.</p>
    </ConfirmDialog>
  );
}
