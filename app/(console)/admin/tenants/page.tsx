"use client";
// Platform admins: every tenant, create one, rename one, jump to its members.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { useState } from "react";
import { z } from "zod";
import { createTenantInput, nameSchema } from "@/lib/schemas";
import { describeError, useZodForm } from "@/components/forms";
import { type RouterOutputs, useTRPC } from "@/components/trpc";
import { Button } from "@/components/ui/button";
import { Dialog } from "@/components/ui/dialog";
import { Alert, EmptyState, ErrorState, Loading } from "@/components/ui/feedback";
import { TextField } from "@/components/ui/field";
import { BuildingIcon } from "@/components/ui/icons";
import { Card, PageHeader, Table, td, th } from "@/components/ui/layout";
import { Time } from "@/components/ui/time";

type Tenant = RouterOutputs["tenants"]["list"][number];

export default function TenantsAdminPage() {
  const trpc = useTRPC();
  const tenants = useQuery(trpc.tenants.list.queryOptions());
  const [renaming, setRenaming] = useState<Tenant | null>(null);
  return (
    <>
      <PageHeader title="Tenants" description="Each tenant owns its load balancers and has its own members." />
      <div className="grid items-start gap-6 lg:grid-cols-[1fr_20rem]">
        <Card title="All tenants" bodyClassName="">
          {tenants.isPending ? (
            <Loading label="Loading tenants…" />
          ) : tenants.isError ? (
            <div className="p-4">
              <ErrorState message={describeError(tenants.error).message} onRetry={() => void tenants.refetch()} />
            </div>
          ) : tenants.data.length === 0 ? (
            <div className="p-4">
              <EmptyState icon={<BuildingIcon className="size-10" />} title="No tenants yet">
                Create the first tenant with the form, then add its members.
              </EmptyState>
            </div>
          ) : (
            <Table label="Tenants">
              <thead className="bg-slate-50">
                <tr>
                  <th scope="col" className={th}>Tenant</th>
                  <th scope="col" className={th}>Members</th>
                  <th scope="col" className={th}>Created</th>
                  <th scope="col" className={th}>
                    <span className="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody className="divide-y divide-slate-100">
                {tenants.data.map((t) => (
                  <tr key={t.id} data-tenant={t.slug}>
                    <td className={td}>
                      <Link href={`/t/${t.slug}`} className="font-medium text-indigo-700 hover:underline">
                        {t.name}
                      </Link>
                      <p className="font-mono text-xs text-slate-500">{t.slug}</p>
                    </td>
                    <td className={td}>
                      <Link href={`/t/${t.slug}/members`} className="hover:underline" aria-label={`${t.memberCount} members of ${t.slug}`}>
                        {t.memberCount}
                      </Link>
                    </td>
                    <td className={td}>
                      <Time date={t.createdAt} />
                    </td>
                    <td className={`${td} whitespace-nowrap text-right`}>
                      <Link href={`/t/${t.slug}/members`} className="mr-1 inline-flex rounded-md px-2.5 py-1.5 text-xs font-medium text-slate-700 hover:bg-slate-100">
                        Members
                      </Link>
                      <Button size="sm" variant="ghost" onClick={() => setRenaming(t)} aria-label={`Rename ${t.slug}`}>
                        Rename
                      </Button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </Table>
          )}
        </Card>
        <CreateTenant />
      </div>
      <RenameTenant tenant={renaming} onDone={() => setRenaming(null)} />
    </>
  );
}

function CreateTenant() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [created, setCreated] = useState<Tenant | null>(null);
  const form = useZodForm(createTenantInput, { slug: "", name: "" });
  const create = useMutation(
    trpc.tenants.create.mutationOptions({
      onSuccess: async (t) => {
        setCreated(t);
        form.reset();
        await queryClient.invalidateQueries(trpc.tenants.pathFilter());
      },
      onError: (err) => form.showServerError(err),
    }),
  );
  const onSubmit = form.submit((data) => {
    setCreated(null);
    create.mutate(data);
  });
  return (
    <Card title="Create a tenant">
      <form ref={form.formRef} onSubmit={onSubmit} noValidate className="space-y-4">
        {form.formError && <Alert>{form.formError}</Alert>}
        {created && (
          <Alert tone="success">
            Tenant <span className="font-mono">{created.slug}</span> created.{" "}
            <Link href={`/t/${created.slug}/members`} className="font-medium underline">
              Add its members
            </Link>
          </Alert>
        )}
        <TextField label="Name" placeholder="Acme Payments" autoComplete="off" field={form.field("name")} />
        <TextField
          label="Slug"
          placeholder="acme-payments"
          autoComplete="off"
          spellCheck={false}
          hint="Used in URLs and the CLI: lowercase letters, digits, dashes. Cannot change later."
          field={form.field("slug")}
        />
        <Button type="submit" loading={create.isPending} className="w-full">
          Create tenant
        </Button>
      </form>
    </Card>
  );
}

const renameForm = z.object({ name: nameSchema });

function RenameTenant({ tenant, onDone }: { tenant: Tenant | null; onDone: () => void }) {
  return (
    <Dialog open={tenant !== null} onClose={onDone} title={tenant ? `Rename ${tenant.slug}` : "Rename"}>
      {tenant && <RenameForm key={tenant.id} tenant={tenant} onDone={onDone} />}
    </Dialog>
  );
}

function RenameForm({ tenant, onDone }: { tenant: Tenant; onDone: () => void }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const form = useZodForm(renameForm, { name: tenant.name });
  const rename = useMutation(
    trpc.tenants.rename.mutationOptions({
      onSuccess: async () => {
        await queryClient.invalidateQueries(trpc.tenants.pathFilter());
        onDone();
      },
      onError: (err) => form.showServerError(err),
    }),
  );
  const onSubmit = form.submit((data) => rename.mutate({ tenantId: tenant.id, name: data.name }));
  return (
    <form ref={form.formRef} onSubmit={onSubmit} noValidate className="space-y-4">
      {form.formError && <Alert>{form.formError}</Alert>}
      <TextField label="Name" autoFocus autoComplete="off" field={form.field("name")} />
      <p className="text-xs text-slate-500">
        The slug <span className="font-mono">{tenant.slug}</span> stays the same.
      </p>
      <div className="flex justify-end gap-2">
        <Button variant="secondary" onClick={onDone} disabled={rename.isPending}>
          Cancel
        </Button>
        <Button type="submit" loading={rename.isPending}>
          Save name
        </Button>
      </div>
    </form>
  );
}
