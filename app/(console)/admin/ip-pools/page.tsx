"use client";
// Platform admins: IP pools (IPv4 and IPv6 CIDRs per region) that VIP addresses come from, their
// usage, and which tenants may allocate from them.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { z } from "zod";
import { cidrSchema, inventoryNameSchema } from "@/lib/inventory-schemas";
import { NetworkIcon } from "@/components/admin/icons";
import { describeError, useZodForm } from "@/components/forms";
import { type RouterOutputs, useTRPC } from "@/components/trpc";
import { Button } from "@/components/ui/button";
import { cx } from "@/components/ui/cx";
import { ConfirmDialog, Dialog } from "@/components/ui/dialog";
import { Alert, EmptyState, ErrorState, Loading } from "@/components/ui/feedback";
import { SelectField, TextField } from "@/components/ui/field";
import { Badge, Card, PageHeader, Table, td, th } from "@/components/ui/layout";

type Pool = RouterOutputs["ipPools"]["list"][number];
type Tenant = RouterOutputs["tenants"]["list"][number];

export default function IpPoolsPage() {
  const trpc = useTRPC();
  const pools = useQuery(trpc.ipPools.list.queryOptions({}));
  const [editing, setEditing] = useState<Pool | null>(null);
  const [deleting, setDeleting] = useState<Pool | null>(null);
  return (
    <>
      <PageHeader title="IP pools" description="VIP addresses are allocated from these CIDRs (or requested inside them)." />
      <div className="space-y-6">
        <Card title="Pools" bodyClassName="">
          {pools.isPending ? (
            <Loading label="Loading IP pools…" />
          ) : pools.isError ? (
            <div className="p-4">
              <ErrorState message={describeError(pools.error).message} onRetry={() => void pools.refetch()} />
            </div>
          ) : pools.data.length === 0 ? (
            <div className="p-4">
              <EmptyState icon={<NetworkIcon className="size-10" />} title="No IP pools yet">
                Tenants cannot create load balancers until a pool exists in a region.
              </EmptyState>
            </div>
          ) : (
            <Table label="IP pools">
              <thead className="bg-slate-50">
                <tr>
                  <th scope="col" className={th}>Pool</th>
                  <th scope="col" className={th}>CIDR</th>
                  <th scope="col" className={th}>Region</th>
                  <th scope="col" className={th}>Usage</th>
                  <th scope="col" className={th}>Tenants</th>
                  <th scope="col" className={th}>
                    <span className="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody className="divide-y divide-slate-100">
                {pools.data.map((p) => (
                  <tr key={p.id} data-pool={p.name}>
                    <td className={td}>
                      <p className="font-medium text-slate-900">{p.name}</p>
                      <p className="text-xs text-slate-500">IPv{p.family}</p>
                    </td>
                    <td className={td}>
                      <p className="font-mono">{p.cidr}</p>
                      <p className="font-mono text-xs text-slate-500">
                        {p.firstUsable} – {p.lastUsable}
                      </p>
                    </td>
                    <td className={td}>{p.regionName}</td>
                    <td className={cx(td, "min-w-[11rem]")}>
                      <UsageBar pool={p} />
                    </td>
                    <td className={td}>
                      {p.tenants.length === 0 ? (
                        <span className="text-slate-500">all tenants</span>
                      ) : (
                        <ul className="flex flex-wrap gap-1">
                          {p.tenants.map((t) => (
                            <li key={t.id}>
                              <Badge tone="indigo">{t.slug}</Badge>
                            </li>
                          ))}
                        </ul>
                      )}
                    </td>
                    <td className={`${td} whitespace-nowrap text-right`}>
                      <Button size="sm" variant="ghost" onClick={() => setEditing(p)} aria-label={`Edit tenants of ${p.name}`}>
                        Tenants
                      </Button>
                      <Button size="sm" variant="dangerGhost" onClick={() => setDeleting(p)} aria-label={`Delete pool ${p.name}`}>
                        Delete
                      </Button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </Table>
          )}
        </Card>
        <CreatePool />
      </div>
      <Dialog open={editing !== null} onClose={() => setEditing(null)} title={editing ? `Tenants of ${editing.name}` : "Tenants"}>
        {editing && <TenantsForm key={editing.id} pool={editing} onDone={() => setEditing(null)} />}
      </Dialog>
      <DeletePool pool={deleting} onDone={() => setDeleting(null)} />
    </>
  );
}

function UsageBar({ pool }: { pool: Pool }) {
  const pct = pool.percentUsed;
  const width = pool.used > 0 ? Math.max(pct, 1) : 0;
  return (
    <div>
      <p className="text-sm tabular-nums text-slate-900" data-usage>
        {pool.used} used of {BigInt(pool.usable).toLocaleString("en")}
        <span className="ml-1.5 text-xs text-slate-500">({pct < 0.1 && pct > 0 ? "<0.1" : Number(pct.toFixed(1))}%)</span>
      </p>
      <div className="mt-1 h-2 overflow-hidden rounded-full bg-slate-100" role="meter" aria-valuenow={pct} aria-valuemin={0} aria-valuemax={100} aria-label={`${pool.name} usage`}>
        <div className={cx("h-full rounded-full", pct >= 90 ? "bg-red-500" : pct >= 70 ? "bg-amber-500" : "bg-indigo-500")} style={{ width: `${width}%` }} />
      </div>
    </div>
  );
}

function TenantPicker({ tenants, chosen, onChange }: { tenants: Tenant[]; chosen: string[]; onChange: (ids: string[]) => void }) {
  return (
    <fieldset>
      <legend className="text-sm font-medium text-slate-800">Restricted to tenants</legend>
      <p className="text-xs text-slate-500">None checked: every tenant may allocate from it.</p>
      <div className="mt-2 flex max-h-40 flex-wrap gap-x-4 gap-y-1.5 overflow-y-auto">
        {tenants.map((t) => (
          <label key={t.id} className="flex items-center gap-2 text-sm">
            <input
              type="checkbox"
              checked={chosen.includes(t.id)}
              onChange={(e) => onChange(e.target.checked ? [...chosen, t.id] : chosen.filter((x) => x !== t.id))}
              className="size-4 rounded text-indigo-600"
            />
            <span className="font-mono">{t.slug}</span>
          </label>
        ))}
        {tenants.length === 0 && <span className="text-sm text-slate-500">No tenants yet.</span>}
      </div>
    </fieldset>
  );
}

const poolForm = z.object({ regionId: z.string().min(1, "choose a region"), name: inventoryNameSchema, cidr: cidrSchema });

function CreatePool() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const regions = useQuery(trpc.regions.list.queryOptions());
  const tenants = useQuery(trpc.tenants.list.queryOptions());
  const [chosen, setChosen] = useState<string[]>([]);
  const [created, setCreated] = useState<string | null>(null);
  const form = useZodForm(poolForm, { regionId: "", name: "", cidr: "" });
  const create = useMutation(
    trpc.ipPools.create.mutationOptions({
      onSuccess: async (p) => {
        setCreated(`Pool ${p.name} (${p.cidr}) created.${p.notice ? ` ${p.notice}` : ""}`);
        form.reset();
        setChosen([]);
        await queryClient.invalidateQueries(trpc.ipPools.pathFilter());
        await queryClient.invalidateQueries(trpc.regions.pathFilter());
      },
      onError: (err) => form.showServerError(err),
    }),
  );
  const regionOptions = [{ value: "", label: regions.data?.length ? "Choose…" : "No regions: create one first" }, ...(regions.data ?? []).map((r) => ({ value: r.id, label: r.name }))];
  return (
    <Card title="Create an IP pool">
      <form
        ref={form.formRef}
        noValidate
        className="space-y-4"
        onSubmit={form.submit((d) => {
          setCreated(null);
          create.mutate({ ...d, tenants: chosen });
        })}
      >
        {form.formError && <Alert>{form.formError}</Alert>}
        {created && <Alert tone="success">{created}</Alert>}
        <div className="grid gap-4 sm:grid-cols-3">
          <SelectField label="Region" options={regionOptions} field={form.field("regionId")} />
          <TextField label="Name" placeholder="public-v4" autoComplete="off" spellCheck={false} field={form.field("name")} />
          <TextField label="CIDR" placeholder="198.18.10.0/24 or 2001:db8:10::/64" spellCheck={false} field={form.field("cidr")} />
        </div>
        <TenantPicker tenants={tenants.data ?? []} chosen={chosen} onChange={setChosen} />
        <Button type="submit" loading={create.isPending}>
          Create IP pool
        </Button>
      </form>
    </Card>
  );
}

function TenantsForm({ pool, onDone }: { pool: Pool; onDone: () => void }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const tenants = useQuery(trpc.tenants.list.queryOptions());
  const [chosen, setChosen] = useState<string[]>(pool.tenants.map((t) => t.id));
  const update = useMutation(
    trpc.ipPools.update.mutationOptions({
      onSuccess: async () => {
        await queryClient.invalidateQueries(trpc.ipPools.pathFilter());
        onDone();
      },
    }),
  );
  return (
    <div className="space-y-4">
      {update.error && <Alert>{describeError(update.error).message}</Alert>}
      <TenantPicker tenants={tenants.data ?? []} chosen={chosen} onChange={setChosen} />
      <p className="text-xs text-slate-500">VIPs already allocated keep their addresses.</p>
      <div className="flex justify-end gap-2">
        <Button variant="secondary" onClick={onDone} disabled={update.isPending}>
          Cancel
        </Button>
        <Button loading={update.isPending} onClick={() => update.mutate({ ipPoolId: pool.id, tenants: chosen })}>
          Save
        </Button>
      </div>
    </div>
  );
}

function DeletePool({ pool, onDone }: { pool: Pool | null; onDone: () => void }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const del = useMutation(
    trpc.ipPools.delete.mutationOptions({
      onSuccess: async () => {
        await queryClient.invalidateQueries(trpc.ipPools.pathFilter());
        onDone();
      },
    }),
  );
  return (
    <ConfirmDialog
      open={pool !== null}
      title="Delete IP pool?"
      confirmLabel="Delete pool"
      pending={del.isPending}
      error={del.error ? describeError(del.error).message : null}
      onCancel={() => {
        del.reset();
        onDone();
      }}
      onConfirm={() => pool && del.mutate({ ipPoolId: pool.id })}
    >
      {pool && (
        <p>
          <strong className="font-medium text-slate-900">{pool.name}</strong> ({pool.cidr}) is removed. A pool with VIPs in it ({pool.used} now) cannot be deleted.
        </p>
      )}
    </ConfirmDialog>
  );
}
