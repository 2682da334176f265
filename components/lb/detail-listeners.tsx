"use client";
// Listeners tab: the ports the VIP answers on, each to a pool; add, edit and delete them.
import { useMutation } from "@tanstack/react-query";
import { type FormEvent, useMemo, useState } from "react";
import { listenerSchema } from "@/lib/lb-schemas";
import { type FieldErrors, describeError } from "../forms";
import { useTenant } from "../shell/tenant";
import { useTRPC } from "../trpc";
import { Button } from "../ui/button";
import { ConfirmDialog } from "../ui/dialog";
import { WideDialog } from "./wide-dialog";
import { EmptyState } from "../ui/feedback";
import { Card, Table, td, th } from "../ui/layout";
import { ChangeError, type ListenerView, useApplyChange, useLb } from "./context";
import { type ListenerDraft, emptyListener, listenerInput, mergeErrors, newKey, rebaseErrors, zodErrors } from "./draft";
import { ListenerFields, makeFormCtx } from "./editors";
import { portsText } from "./format";
import { StatusWithReason } from "./status";

export function ListenersTab() {
  const { lb, canEdit } = useLb();
  const [editing, setEditing] = useState<ListenerView | "new" | null>(null);
  const [deleting, setDeleting] = useState<ListenerView | null>(null);
  return (
    <Card
      title="Listeners"
      description="Protocol and port (or range) → pool. Ports of one protocol may not overlap."
      bodyClassName=""
      actions={
        canEdit && (
          <Button size="sm" onClick={() => setEditing("new")} disabled={lb.pools.length === 0} title={lb.pools.length === 0 ? "Add a pool first" : undefined}>
            Add listener
          </Button>
        )
      }
    >
      {lb.listeners.length === 0 ? (
        <div className="p-4">
          <EmptyState title="No listeners">The VIP answers on no port until a listener is added.</EmptyState>
        </div>
      ) : (
        <Table label="Listeners">
          <thead className="bg-slate-50">
            <tr>
              <th scope="col" className={th}>Listener</th>
              <th scope="col" className={th}>Pool</th>
              <th scope="col" className={th}>Allowed sources</th>
              <th scope="col" className={th}>Affinity</th>
              <th scope="col" className={th}>Operating</th>
              {canEdit && (
                <th scope="col" className={th}>
                  <span className="sr-only">Actions</span>
                </th>
              )}
            </tr>
          </thead>
          <tbody className="divide-y divide-slate-100">
            {lb.listeners.map((l) => (
              <tr key={l.id} data-listener={l.name}>
                <td className={td}>
                  <p className="font-medium text-slate-900">
                    {l.protocol} {portsText(l.port, l.portEnd)}
                  </p>
                  <p className="font-mono text-xs text-slate-500">{l.name}</p>
                </td>
                <td className={td}>{l.pool}</td>
                <td className={td}>
                  {l.allowedCidrs.length ? <span className="font-mono text-xs">{l.allowedCidrs.join(", ")}</span> : <span className="text-slate-500">any</span>}
                </td>
                <td className={td}>{l.affinity}</td>
                <td className={td}>
                  <StatusWithReason axis="operating" status={l.operating.status} reason={l.operating.reason} truncate />
                </td>
                {canEdit && (
                  <td className={`${td} whitespace-nowrap text-right`}>
                    <Button size="sm" variant="ghost" onClick={() => setEditing(l)} aria-label={`Edit listener ${l.name}`}>
                      Edit
                    </Button>
                    <Button size="sm" variant="dangerGhost" onClick={() => setDeleting(l)} aria-label={`Delete listener ${l.name}`}>
                      Delete
                    </Button>
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </Table>
      )}
      <WideDialog open={editing !== null} onClose={() => setEditing(null)} title={editing === "new" ? "Add a listener" : `Edit listener ${editing?.name ?? ""}`}>
        {editing !== null && <ListenerForm key={editing === "new" ? "new" : editing.id} listener={editing === "new" ? null : editing} onDone={() => setEditing(null)} />}
      </WideDialog>
      <DeleteListener listener={deleting} onDone={() => setDeleting(null)} />
    </Card>
  );
}

function toDraft(l: ListenerView): ListenerDraft {
  return {
    key: newKey(),
    protocol: l.protocol,
    port: String(l.port),
    portEnd: l.portEnd > l.port ? String(l.portEnd) : "",
    pool: l.pool,
    allowedCidrs: l.allowedCidrs.join(", "),
    affinity: l.affinity,
  };
}

function ListenerForm({ listener, onDone }: { listener: ListenerView | null; onDone: () => void }) {
  const { lb, lbRef, reload } = useLb();
  const tenant = useTenant();
  const trpc = useTRPC();
  const apply = useApplyChange();
  const [draft, setDraft] = useState<ListenerDraft>(() => (listener ? toDraft(listener) : emptyListener(lb.pools[0]?.name ?? "")));
  const [baseRevision, setBaseRevision] = useState(lb.revision);
  const [touched, setTouched] = useState<Set<string>>(new Set());
  const [attempted, setAttempted] = useState(false);
  const [serverErrors, setServerErrors] = useState<FieldErrors>({});

  const clientErrors = useMemo(() => {
    const input = listenerInput(draft);
    const parsed = listenerSchema.safeParse(input);
    const overlap: FieldErrors = {};
    const end = input.portEnd ?? input.port;
    for (const o of lb.listeners) {
      if (o.id === listener?.id || o.protocol !== input.protocol || !Number.isFinite(input.port)) continue;
      if (input.port <= o.portEnd && o.port <= end) (overlap.port ??= []).push(`overlaps listener ${o.name} (${o.protocol} ${portsText(o.port, o.portEnd)})`);
    }
    return mergeErrors(parsed.success ? {} : zodErrors(parsed.error), overlap);
  }, [draft, lb.listeners, listener?.id]);

  const ctx = makeFormCtx(
    clientErrors,
    serverErrors,
    (p) => attempted || touched.has(p),
    (p) => setTouched((t) => new Set(t).add(p)),
  );
  const onSuccess = async (view: Parameters<typeof apply>[0]) => {
    await apply(view);
    onDone();
  };
  const onError = (err: unknown) => setServerErrors(rebaseErrors(describeError(err).fieldErrors, "listener"));
  const create = useMutation(trpc.listeners.create.mutationOptions({ onSuccess, onError }));
  const update = useMutation(trpc.listeners.update.mutationOptions({ onSuccess, onError }));
  const pending = create.isPending || update.isPending;
  const error = create.error ?? update.error;

  const submit = (e: FormEvent) => {
    e.preventDefault();
    setAttempted(true);
    if (Object.keys(clientErrors).length) return;
    const input = listenerSchema.parse(listenerInput(draft));
    if (listener) {
      update.mutate({ tenantId: tenant.id, lb: lbRef, name: listener.name, listener: { ...input, name: listener.name }, expectedRevision: baseRevision });
    } else {
      create.mutate({ tenantId: tenant.id, lb: lbRef, listener: input, expectedRevision: baseRevision });
    }
  };
  return (
    <form onSubmit={submit} noValidate className="space-y-4">
      <ChangeError
        error={error}
        onReload={() =>
          void reload().then((r) => {
            if (r !== undefined) setBaseRevision(r);
            create.reset();
            update.reset();
          })
        }
      />
      <ListenerFields
        listener={draft}
        onChange={(patch) => {
          setDraft((d) => ({ ...d, ...patch }));
          setServerErrors({});
        }}
        prefix=""
        ctx={ctx}
        poolNames={lb.pools.map((p) => p.name)}
      />
      <div className="flex justify-end gap-2">
        <Button variant="secondary" onClick={onDone} disabled={pending}>
          Cancel
        </Button>
        <Button type="submit" loading={pending}>
          {listener ? "Save listener" : "Add listener"}
        </Button>
      </div>
    </form>
  );
}

function DeleteListener({ listener, onDone }: { listener: ListenerView | null; onDone: () => void }) {
  const { lb, lbRef } = useLb();
  const tenant = useTenant();
  const trpc = useTRPC();
  const apply = useApplyChange();
  const del = useMutation(
    trpc.listeners.delete.mutationOptions({
      onSuccess: async (view) => {
        await apply(view);
        onDone();
      },
    }),
  );
  return (
    <ConfirmDialog
      open={listener !== null}
      title="Delete listener?"
      confirmLabel="Delete listener"
      pending={del.isPending}
      error={del.error ? describeError(del.error).message : null}
      onCancel={() => {
        del.reset();
        onDone();
      }}
      onConfirm={() => listener && del.mutate({ tenantId: tenant.id, lb: lbRef, name: listener.name, expectedRevision: lb.revision })}
    >
      {listener && (
        <p>
          {lb.address} stops answering on {listener.protocol} {portsText(listener.port, listener.portEnd)} (listener{" "}
          <span className="font-mono">{listener.name}</span>). The pool {listener.pool} is kept.
        </p>
      )}
    </ConfirmDialog>
  );
}
