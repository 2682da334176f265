"use client";
// Platform admins: regions and their availability zones (where LB nodes and IP pools live).
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { createAzInput, createRegionInput, inventoryNameSchema } from "@/lib/inventory-schemas";
import { z } from "zod";
import { describeError, useZodForm } from "@/components/forms";
import { GlobeIcon } from "@/components/admin/icons";
import { type RouterOutputs, useTRPC } from "@/components/trpc";
import { Button } from "@/components/ui/button";
import { ConfirmDialog } from "@/components/ui/dialog";
import { Alert, EmptyState, ErrorState, Loading } from "@/components/ui/feedback";
import { TextField } from "@/components/ui/field";
import { Card, PageHeader } from "@/components/ui/layout";

type Region = RouterOutputs["regions"]["list"][number];
type Az = RouterOutputs["azs"]["list"][number];

function useInvalidateInventory() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  return () =>
    Promise.all([
      queryClient.invalidateQueries(trpc.regions.pathFilter()),
      queryClient.invalidateQueries(trpc.azs.pathFilter()),
      queryClient.invalidateQueries(trpc.nodes.pathFilter()),
    ]);
}

export default function RegionsPage() {
  const trpc = useTRPC();
  const regions = useQuery(trpc.regions.list.queryOptions());
  const azs = useQuery(trpc.azs.list.queryOptions({}));
  const [deleting, setDeleting] = useState<{ kind: "region"; r: Region } | { kind: "az"; a: Az } | null>(null);
  return (
    <>
      <PageHeader title="Regions & AZs" description="Regions hold availability zones (where LB nodes run) and IP pools (where VIP addresses come from)." />
      <div className="grid items-start gap-6 lg:grid-cols-[1fr_20rem]">
        <div className="space-y-4">
          {regions.isPending || azs.isPending ? (
            <Loading label="Loading regions…" />
          ) : regions.isError || azs.isError ? (
            <ErrorState message={describeError(regions.error ?? azs.error).message} onRetry={() => void Promise.all([regions.refetch(), azs.refetch()])} />
          ) : regions.data.length === 0 ? (
            <EmptyState icon={<GlobeIcon className="size-10" />} title="No regions yet">
              Create the first region, then its availability zones, LB nodes and IP pools.
            </EmptyState>
          ) : (
            regions.data.map((r) => (
              <Card
                key={r.id}
                title={r.name}
                description={`${r.description ? `${r.description} · ` : ""}${r.azCount} AZ${r.azCount === 1 ? "" : "s"} · ${r.ipPoolCount} IP pool${r.ipPoolCount === 1 ? "" : "s"}`}
                actions={
                  <Button size="sm" variant="dangerGhost" onClick={() => setDeleting({ kind: "region", r })} aria-label={`Delete region ${r.name}`}>
                    Delete
                  </Button>
                }
              >
                <div data-region={r.name}>
                  <h3 className="text-xs font-medium uppercase tracking-wide text-slate-500">Availability zones</h3>
                  <ul className="mt-2 flex flex-wrap gap-2">
                    {azs.data
                      .filter((a) => a.regionId === r.id)
                      .map((a) => (
                        <li key={a.id} className="flex items-center gap-2 rounded-md bg-slate-50 py-1 pl-2.5 pr-1 text-sm ring-1 ring-inset ring-slate-200" data-az={a.name}>
                          <span className="font-medium text-slate-900">{a.name}</span>
                          <span className="text-xs text-slate-500">
                            {a.nodeCount} node{a.nodeCount === 1 ? "" : "s"}
                          </span>
                          <button
                            type="button"
                            onClick={() => setDeleting({ kind: "az", a })}
                            className="rounded px-1 text-slate-400 hover:bg-red-50 hover:text-red-700"
                            aria-label={`Delete AZ ${a.name}`}
                          >
                            ✕
                          </button>
                        </li>
                      ))}
                    {r.azCount === 0 && <li className="text-sm text-slate-500">None yet.</li>}
                  </ul>
                  <AddAz region={r} />
                </div>
              </Card>
            ))
          )}
        </div>
        <CreateRegion />
      </div>
      <DeleteInventory target={deleting} onDone={() => setDeleting(null)} />
    </>
  );
}

function CreateRegion() {
  const trpc = useTRPC();
  const invalidate = useInvalidateInventory();
  const [created, setCreated] = useState<string | null>(null);
  const form = useZodForm(createRegionInput, { name: "", description: "" });
  const create = useMutation(
    trpc.regions.create.mutationOptions({
      onSuccess: async (r) => {
        setCreated(r.name);
        form.reset();
        await invalidate();
      },
      onError: (err) => form.showServerError(err),
    }),
  );
  return (
    <Card title="Create a region">
      <form
        ref={form.formRef}
        noValidate
        className="space-y-4"
        onSubmit={form.submit((data) => {
          setCreated(null);
          create.mutate(data);
        })}
      >
        {form.formError && <Alert>{form.formError}</Alert>}
        {created && <Alert tone="success">Region {created} created. Add its availability zones.</Alert>}
        <TextField label="Name" placeholder="eu-west-1" autoComplete="off" spellCheck={false} field={form.field("name")} />
        <TextField label="Description" placeholder="optional" field={form.field("description")} />
        <Button type="submit" loading={create.isPending} className="w-full">
          Create region
        </Button>
      </form>
    </Card>
  );
}

const azForm = z.object({ name: inventoryNameSchema });

function AddAz({ region }: { region: Region }) {
  const trpc = useTRPC();
  const invalidate = useInvalidateInventory();
  const form = useZodForm(azForm, { name: "" });
  const create = useMutation(
    trpc.azs.create.mutationOptions({
      onSuccess: async () => {
        form.reset();
        await invalidate();
      },
      onError: (err) => form.showServerError(err),
    }),
  );
  return (
    <form
      ref={form.formRef}
      noValidate
      className="mt-4 flex flex-wrap items-start gap-2"
      onSubmit={form.submit((data) => create.mutate(createAzInput.parse({ regionId: region.id, name: data.name })))}
    >
      <TextField label={`New AZ in ${region.name}`} placeholder={`${region.name}a`} className="min-w-0 flex-1 sm:max-w-xs" autoComplete="off" spellCheck={false} field={form.field("name")} />
      <Button type="submit" variant="secondary" loading={create.isPending} className="sm:mt-7">
        Add AZ
      </Button>
      {form.formError && !form.errorsFor("name") && <p className="w-full text-xs text-red-700">{form.formError}</p>}
    </form>
  );
}

function DeleteInventory({ target, onDone }: { target: { kind: "region"; r: Region } | { kind: "az"; a: Az } | null; onDone: () => void }) {
  const trpc = useTRPC();
  const invalidate = useInvalidateInventory();
  const opts = {
    onSuccess: async () => {
      await invalidate();
      onDone();
    },
  };
  const delRegion = useMutation(trpc.regions.delete.mutationOptions(opts));
  const delAz = useMutation(trpc.azs.delete.mutationOptions(opts));
  const error = delRegion.error ?? delAz.error;
  const name = target ? (target.kind === "region" ? target.r.name : `${target.a.regionName}/${target.a.name}`) : "";
  return (
    <ConfirmDialog
      open={target !== null}
      title={target?.kind === "region" ? "Delete region?" : "Delete availability zone?"}
      confirmLabel="Delete"
      pending={delRegion.isPending || delAz.isPending}
      error={error ? describeError(error).message : null}
      onCancel={() => {
        delRegion.reset();
        delAz.reset();
        onDone();
      }}
      onConfirm={() => {
        if (target?.kind === "region") delRegion.mutate({ regionId: target.r.id });
        else if (target) delAz.mutate({ azId: target.a.id });
      }}
    >
      <p>
        <strong className="font-medium text-slate-900">{name}</strong> is removed. Only empty ones can be deleted (no AZs, nodes or IP pools left in them).
      </p>
    </ConfirmDialog>
  );
}
