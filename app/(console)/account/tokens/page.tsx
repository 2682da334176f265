"use client";
// Personal API tokens for the CLI and typed clients: the secret is shown once, at creation.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { z } from "zod";
import { createTokenInput } from "@/lib/schemas";
import { describeError, useZodForm } from "@/components/forms";
import { type RouterOutputs, useTRPC } from "@/components/trpc";
import { Button } from "@/components/ui/button";
import { SecretWithCopy } from "@/components/ui/copy";
import { ConfirmDialog } from "@/components/ui/dialog";
import { Alert, EmptyState, ErrorState, Loading } from "@/components/ui/feedback";
import { TextField } from "@/components/ui/field";
import { KeyIcon } from "@/components/ui/icons";
import { Badge, type BadgeTone, Card, PageHeader, Table, td, th } from "@/components/ui/layout";
import { Time } from "@/components/ui/time";

type Token = RouterOutputs["tokens"]["list"][number];
type Created = RouterOutputs["tokens"]["create"];

const stateTone: Record<Token["state"], BadgeTone> = { active: "green", expired: "amber", revoked: "red" };

// The form holds text; an empty expiry means "never".
const tokenForm = z.object({
  name: createTokenInput.shape.name,
  expiresInDays: z.preprocess(
    (v) => (typeof v === "string" && v.trim() === "" ? undefined : Number(v)),
    createTokenInput.shape.expiresInDays,
  ),
});

export default function TokensPage() {
  const trpc = useTRPC();
  const tokens = useQuery(trpc.tokens.list.queryOptions());
  const [created, setCreated] = useState<Created | null>(null);
  const [revoking, setRevoking] = useState<Token | null>(null);

  return (
    <>
      <PageHeader
        title="API tokens"
        description="Personal tokens for the CLI and scripts. A token acts as you, with your roles in each tenant."
      />
      {created && <NewTokenSecret created={created} onDismiss={() => setCreated(null)} />}
      <div className="grid items-start gap-6 lg:grid-cols-[1fr_20rem]">
        <Card title="Your tokens" bodyClassName="">
          {tokens.isPending ? (
            <Loading label="Loading tokens…" />
          ) : tokens.isError ? (
            <div className="p-4">
              <ErrorState message={describeError(tokens.error).message} onRetry={() => void tokens.refetch()} />
            </div>
          ) : tokens.data.length === 0 ? (
            <div className="p-4">
              <EmptyState icon={<KeyIcon className="size-10" />} title="No API tokens">
                Create one to use the CLI or to call the API from scripts.
              </EmptyState>
            </div>
          ) : (
            <Table label="API tokens">
              <thead className="bg-slate-50">
                <tr>
                  <th scope="col" className={th}>Name</th>
                  <th scope="col" className={th}>State</th>
                  <th scope="col" className={th}>Created</th>
                  <th scope="col" className={th}>Expires</th>
                  <th scope="col" className={th}>Last used</th>
                  <th scope="col" className={th}>
                    <span className="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody className="divide-y divide-slate-100">
                {tokens.data.map((t) => (
                  <tr key={t.id} data-token={t.name}>
                    <td className={td}>
                      <p className="font-medium text-slate-900">{t.name}</p>
                      <p className="font-mono text-xs text-slate-500">{t.prefix}…</p>
                    </td>
                    <td className={td}>
                      <Badge tone={stateTone[t.state]}>{t.state}</Badge>
                    </td>
                    <td className={td}>
                      <Time date={t.createdAt} />
                    </td>
                    <td className={td}>{t.expiresAt ? <Time date={t.expiresAt} /> : <span className="text-slate-400">never</span>}</td>
                    <td className={td}>{t.lastUsedAt ? <Time date={t.lastUsedAt} /> : <span className="text-slate-400">never</span>}</td>
                    <td className={`${td} text-right`}>
                      {t.state === "active" && (
                        <Button size="sm" variant="dangerGhost" onClick={() => setRevoking(t)} aria-label={`Revoke ${t.name}`}>
                          Revoke
                        </Button>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </Table>
          )}
        </Card>
        <CreateToken onCreated={setCreated} />
      </div>
      <RevokeToken token={revoking} onDone={() => setRevoking(null)} />
    </>
  );
}

function NewTokenSecret({ created, onDismiss }: { created: Created; onDismiss: () => void }) {
  return (
    <div role="region" aria-label="New token secret" className="mb-6 rounded-lg border border-emerald-300 bg-emerald-50 p-4 sm:p-5">
      <h2 className="text-sm font-semibold text-emerald-900">Token “{created.view.name}” created: copy it now</h2>
      <p className="mt-1 text-sm text-emerald-800">This is the only time the secret is shown. Tenbin keeps only a hash of it.</p>
      <div className="mt-3">
        <SecretWithCopy value={created.token} label="New API token secret" />
      </div>
      <p className="mt-2 text-xs text-emerald-900">
        Use it as <code className="rounded bg-emerald-100 px-1 font-mono">Authorization: Bearer &lt;token&gt;</code>.
      </p>
      <Button variant="secondary" size="sm" className="mt-3" onClick={onDismiss}>
        I have copied it
      </Button>
    </div>
  );
}

function CreateToken({ onCreated }: { onCreated: (c: Created) => void }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const form = useZodForm(tokenForm, { name: "", expiresInDays: "90" });
  const create = useMutation(
    trpc.tokens.create.mutationOptions({
      onSuccess: async (c) => {
        onCreated(c);
        form.reset();
        await queryClient.invalidateQueries(trpc.tokens.list.queryFilter());
      },
      onError: (err) => form.showServerError(err),
    }),
  );
  const onSubmit = form.submit((data) => create.mutate(data));
  return (
    <Card title="Create a token">
      <form ref={form.formRef} onSubmit={onSubmit} noValidate className="space-y-4">
        {form.formError && <Alert>{form.formError}</Alert>}
        <TextField label="Name" placeholder="e.g. laptop CLI" autoComplete="off" hint="What it is for, so you know what to revoke." field={form.field("name")} />
        <TextField
          label="Expires after (days)"
          type="number"
          inputMode="numeric"
          min={1}
          max={3650}
          placeholder="never"
          hint="Leave empty for a token that never expires."
          field={form.field("expiresInDays")}
        />
        <Button type="submit" loading={create.isPending} className="w-full">
          Create token
        </Button>
      </form>
    </Card>
  );
}

function RevokeToken({ token, onDone }: { token: Token | null; onDone: () => void }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const revoke = useMutation(
    trpc.tokens.revoke.mutationOptions({
      onSuccess: async () => {
        await queryClient.invalidateQueries(trpc.tokens.list.queryFilter());
        onDone();
      },
    }),
  );
  return (
    <ConfirmDialog
      open={token !== null}
      title="Revoke token?"
      confirmLabel="Revoke token"
      pending={revoke.isPending}
      error={revoke.error ? describeError(revoke.error).message : null}
      onCancel={() => {
        revoke.reset();
        onDone();
      }}
      onConfirm={() => token && revoke.mutate({ id: token.id })}
    >
      {token && (
        <p>
          Anything using <strong className="font-medium text-slate-900">{token.name}</strong> (
          <span className="font-mono">{token.prefix}…</span>) is refused from now on. This cannot be undone.
        </p>
      )}
    </ConfirmDialog>
  );
}
