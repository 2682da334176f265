"use client";
// Pools tab: each pool's health monitor, minimum healthy and all-down policy; edit them, add a
// pool, delete an unused one. Members have their own tab.
import { useMutation } from "@tanstack/react-query";
import { type FormEvent, useMemo, useState } from "react";
import { z } from "zod";
import { lbNameSchema, minHealthySchema, monitorSchema } from "@/lib/lb-schemas";
import { type FieldErrors, describeError } from "../forms";
import { useTenant } from "../shell/tenant";
import { useTRPC } from "../trpc";
import { Button } from "../ui/button";
import { ConfirmDialog } from "../ui/dialog";
import { EmptyState } from "../ui/feedback";
import { TextField } from "../ui/field";
import { Badge, Card } from "../ui/layout";
import { ChangeError, type PoolView, useApplyChange, useLb } from "./context";
import { type MonitorDraft, type PoolDraft, defaultMonitor, mergeErrors, monitorInput, poolSettingsInput, rebaseErrors, zodErrors } from "./draft";
import { MonitorFields, PoolSettingsFields, fieldProps, makeFormCtx } from "./editors";
import { msText, portsText } from "./format";
import { WideDialog } from "./wide-dialog";

export function PoolsTab() {
  const { lb, canEdit } = useLb();
  const [editing, setEditing] = useState<PoolView | "new" | null>(null);
  const [deleting, setDeleting] = useState<PoolView | null>(null);
  return (
    <div className="space-y-6">
      {canEdit && (
        <div className="flex justify-end">
          <Button size="sm" onClick={() => setEditing("new")}>
            Add pool
          </Button>
        </div>
      )}
      {lb.pools.length === 0 && <EmptyState title="No pools">Add a pool, then its members, then a listener that sends traffic to it.</EmptyState>}
      {lb.pools.map((p) => {
        const users = lb.listeners.filter((l) => l.pool === p.name);
        return (
          <Card
            key={p.id}
            title={`Pool ${p.name}`}
            description={`${p.members.length} member${p.members.length === 1 ? "" : "s"} · used by ${users.length ? users.map((l) => `${l.protocol} ${portsText(l.port, l.portEnd)}`).join(", ") : "no listener"}`}
            actions={
              canEdit && (
                <div className="flex gap-1">
                  <Button size="sm" variant="secondary" onClick={() => setEditing(p)} aria-label={`Edit pool ${p.name}`}>
                    Edit
                  </Button>
                  <Button size="sm" variant="dangerGhost" onClick={() => setDeleting(p)} aria-label={`Delete pool ${p.name}`}>
                    Delete
                  </Button>
                </div>
              )
            }
          >
            <dl className="grid gap-x-6 gap-y-3 text-sm sm:grid-cols-3" data-pool={p.name}>
              <div className="sm:col-span-3">
                <dt className="text-xs font-medium text-slate-500">Health monitor</dt>
                <dd className="mt-0.5 text-slate-900">{monitorText(p.monitor)}</dd>
              </div>
              <div>
                <dt className="text-xs font-medium text-slate-500">Minimum healthy</dt>
                <dd className="mt-0.5 text-slate-900">
                  {p.minHealthy.value}
                  {p.minHealthy.kind === "percent" ? "% of members" : ` member${p.minHealthy.value === 1 ? "" : "s"}`}
                </dd>
              </div>
              <div>
                <dt className="text-xs font-medium text-slate-500">When all are down</dt>
                <dd className="mt-0.5">
                  <Badge tone={p.allDownPolicy === "withdraw" ? "slate" : "amber"}>{p.allDownPolicy}</Badge>
                </dd>
              </div>
            </dl>
          </Card>
        );
      })}
      <WideDialog open={editing !== null} onClose={() => setEditing(null)} title={editing === "new" ? "Add a pool" : `Edit pool ${editing?.name ?? ""}`}>
        {editing !== null && <PoolForm key={editing === "new" ? "new" : editing.id} pool={editing === "new" ? null : editing} onDone={() => setEditing(null)} />}
      </WideDialog>
      <DeletePool pool={deleting} onDone={() => setDeleting(null)} />
    </div>
  );
}

export function monitorText(m: PoolView["monitor"]): string {
  if (!m) return "none: members count as up (NO_MONITOR)";
  const http = m.http ? ` · ${m.http.method} ${m.http.path}${m.http.host ? ` (Host ${m.http.host})` : ""} expects ${m.http.expectedCodes}` : "";
  const tls = m.tls
    ? ` · TLS ${m.tls.verify ? (m.tls.caCertificate ? "verified against a CA certificate" : "verified against the system CAs") : "not verified"}${m.tls.sni ? ` (SNI ${m.tls.sni})` : ""}`
    : m.type === "HTTPS"
      ? " · TLS not verified"
      : "";
  return `${m.type} every ${msText(m.intervalMs)}, timeout ${msText(m.timeoutMs)}, rise ${m.rise} / fall ${m.fall}${m.port ? `, port ${m.port}` : ""}${http}${tls}`;
}

function monitorDraft(m: PoolView["monitor"]): MonitorDraft {
  if (!m) return { ...defaultMonitor(), type: "none" };
  return {
    type: m.type,
    intervalMs: String(m.intervalMs),
    timeoutMs: String(m.timeoutMs),
    rise: String(m.rise),
    fall: String(m.fall),
    port: m.port ? String(m.port) : "",
    method: (m.http?.method as MonitorDraft["method"] | undefined) ?? "GET",
    path: m.http?.path ?? "/",
    host: m.http?.host ?? "",
    expectedCodes: m.http?.expectedCodes ?? "200",
    tlsVerify: !m.tls?.verify ? "off" : m.tls.caCertificate ? "ca" : "system",
    caCertificate: m.tls?.caCertificate ?? "",
    sni: m.tls?.sni ?? "",
  };
}

type PoolFormDraft = Pick<PoolDraft, "name" | "minKind" | "minValue" | "allDownPolicy"> & { monitor: MonitorDraft };

const newPoolSchema = z.object({ name: lbNameSchema, monitor: monitorSchema.nullable(), minHealthy: minHealthySchema, allDownPolicy: z.enum(["withdraw", "fail-open"]) });

function PoolForm({ pool, onDone }: { pool: PoolView | null; onDone: () => void }) {
  const { lb, lbRef, reload } = useLb();
  const tenant = useTenant();
  const trpc = useTRPC();
  const apply = useApplyChange();
  const [draft, setDraft] = useState<PoolFormDraft>(() => ({
    name: pool?.name ?? "",
    minKind: pool?.minHealthy.kind ?? "count",
    minValue: String(pool?.minHealthy.value ?? 1),
    allDownPolicy: pool?.allDownPolicy ?? "withdraw",
    monitor: pool ? monitorDraft(pool.monitor) : defaultMonitor(),
  }));
  const [baseRevision, setBaseRevision] = useState(lb.revision);
  const [touched, setTouched] = useState<Set<string>>(new Set());
  const [attempted, setAttempted] = useState(false);
  const [serverErrors, setServerErrors] = useState<FieldErrors>({});

  const input = useMemo(() => ({ name: draft.name, monitor: monitorInput(draft.monitor), ...poolSettingsInput(draft) }), [draft]);
  const clientErrors = useMemo(() => {
    const parsed = newPoolSchema.safeParse(input);
    const errs = parsed.success ? {} : zodErrors(parsed.error);
    if (pool) delete errs.name;
    const extra: FieldErrors = {};
    if (!pool && lb.pools.some((p) => p.name === draft.name.trim())) extra.name = ["a pool with this name exists"];
    const count = pool?.members.length ?? 0;
    if (draft.minKind === "count" && Number(draft.minValue) > Math.max(count, 1)) {
      extra.minHealthy = [`more than the pool's ${count} member${count === 1 ? "" : "s"}`];
    }
    return mergeErrors(errs, extra);
  }, [input, pool, lb.pools, draft]);

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
  const onError = (err: unknown) => setServerErrors(rebaseErrors(describeError(err).fieldErrors, "pool"));
  const create = useMutation(trpc.pools.create.mutationOptions({ onSuccess, onError }));
  const update = useMutation(trpc.pools.update.mutationOptions({ onSuccess, onError }));
  const pending = create.isPending || update.isPending;
  const set = (patch: Partial<PoolFormDraft>) => {
    setDraft((d) => ({ ...d, ...patch }));
    setServerErrors({});
  };

  const submit = (e: FormEvent) => {
    e.preventDefault();
    setAttempted(true);
    if (Object.keys(clientErrors).length) return;
    const parsed = newPoolSchema.parse(pool ? { ...input, name: pool.name } : input);
    if (pool) {
      update.mutate({
        tenantId: tenant.id,
        lb: lbRef,
        pool: pool.name,
        expectedRevision: baseRevision,
        monitor: parsed.monitor,
        minHealthy: parsed.minHealthy,
        allDownPolicy: parsed.allDownPolicy,
      });
    } else {
      create.mutate({ tenantId: tenant.id, lb: lbRef, expectedRevision: baseRevision, pool: { ...parsed, members: [] } });
    }
  };
  return (
    <form onSubmit={submit} noValidate className="space-y-5">
      <ChangeError
        error={create.error ?? update.error}
        onReload={() =>
          void reload().then((r) => {
            if (r !== undefined) setBaseRevision(r);
            create.reset();
            update.reset();
          })
        }
      />
      {!pool && (
        <TextField label="Pool name" className="max-w-xs" spellCheck={false} autoComplete="off" field={fieldProps(ctx, "name", draft.name, (v) => set({ name: v }))} />
      )}
      <MonitorFields monitor={draft.monitor} onChange={(patch) => set({ monitor: { ...draft.monitor, ...patch } })} prefix="monitor." ctx={ctx} />
      <PoolSettingsFields pool={draft} onChange={(patch) => set(patch as Partial<PoolFormDraft>)} prefix="" ctx={ctx} />
      {!pool && <p className="text-xs text-slate-500">Add members in the Members tab once the pool exists.</p>}
      <div className="flex justify-end gap-2">
        <Button variant="secondary" onClick={onDone} disabled={pending}>
          Cancel
        </Button>
        <Button type="submit" loading={pending}>
          {pool ? "Save pool" : "Add pool"}
        </Button>
      </div>
    </form>
  );
}

function DeletePool({ pool, onDone }: { pool: PoolView | null; onDone: () => void }) {
  const { lb, lbRef } = useLb();
  const tenant = useTenant();
  const trpc = useTRPC();
  const apply = useApplyChange();
  const del = useMutation(
    trpc.pools.delete.mutationOptions({
      onSuccess: async (view) => {
        await apply(view);
        onDone();
      },
    }),
  );
  return (
    <ConfirmDialog
      open={pool !== null}
      title="Delete pool?"
      confirmLabel="Delete pool"
      pending={del.isPending}
      error={del.error ? describeError(del.error).message : null}
      onCancel={() => {
        del.reset();
        onDone();
      }}
      onConfirm={() => pool && del.mutate({ tenantId: tenant.id, lb: lbRef, pool: pool.name, expectedRevision: lb.revision })}
    >
      {pool && (
        <p>
          Pool <strong className="font-medium text-slate-900">{pool.name}</strong> and its {pool.members.length} member{pool.members.length === 1 ? "" : "s"} are
          removed. A pool that a listener still uses cannot be deleted.
        </p>
      )}
    </ConfirmDialog>
  );
}
