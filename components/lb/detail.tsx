"use client";
// A load balancer's page: header with both status axes, and tabs (Overview, Listeners, Pools,
// Members, History) kept in the URL so a tab can be linked to.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { usePathname, useRouter, useSearchParams } from "next/navigation";
import { useState, type ReactNode } from "react";
import { z } from "zod";
import { lbNameSchema } from "@/lib/lb-schemas";
import { describeError, errorCode, useZodForm } from "../forms";
import { useTenant } from "../shell/tenant";
import { useTRPC } from "../trpc";
import { Button, ButtonLink } from "../ui/button";
import { cx } from "../ui/cx";
import { ConfirmDialog, Dialog } from "../ui/dialog";
import { Alert, EmptyState, ErrorState, Loading } from "../ui/feedback";
import { TextField } from "../ui/field";
import { Badge, Card, Table, td, th } from "../ui/layout";
import { Time } from "../ui/time";
import { ChangeError, type LbView, LbProvider, useApplyChange, useCanEdit, useLb } from "./context";
import { ListenersTab } from "./detail-listeners";
import { LiveNodesCard, LiveProvider, MemberHealthCard, ThroughputCard } from "./live";
import { MembersTab } from "./detail-members";
import { PoolsTab } from "./detail-pools";
import { listenersText, memberText, parseTags, portsText, tagsText } from "./format";
import { StatusWithReason, TagList } from "./status";

const TABS = [
  { key: "overview", label: "Overview" },
  { key: "listeners", label: "Listeners" },
  { key: "pools", label: "Pools" },
  { key: "members", label: "Members" },
  { key: "history", label: "History" },
] as const;
type TabKey = (typeof TABS)[number]["key"];

export function LbDetail({ lbRef }: { lbRef: string }) {
  const tenant = useTenant();
  const trpc = useTRPC();
  const canEdit = useCanEdit();
  const search = useSearchParams();
  const router = useRouter();
  const pathname = usePathname();
  const lb = useQuery({
    ...trpc.lb.get.queryOptions({ tenantId: tenant.id, lb: lbRef }),
    // The live subscription refetches on every change; this slow poll only catches what turns
    // with time alone (a rollout timing out, health reports going stale).
    refetchInterval: 30_000,
  });
  const base = `/t/${encodeURIComponent(tenant.slug)}/lbs`;
  const tab: TabKey = TABS.find((t) => t.key === search.get("tab"))?.key ?? "overview";

  if (lb.isPending) return <Loading label="Loading the load balancer…" />;
  if (lb.isError) {
    if (errorCode(lb.error) === "NOT_FOUND") {
      return (
        <EmptyState title={`No load balancer “${lbRef}”`} action={<ButtonLink href={base}>All load balancers</ButtonLink>}>
          It does not exist in {tenant.name}, or it was deleted.
        </EmptyState>
      );
    }
    return <ErrorState message={describeError(lb.error).message} onRetry={() => void lb.refetch()} />;
  }
  const view = lb.data;
  const reload = async () => (await lb.refetch()).data?.revision;

  return (
    <LbProvider value={{ lb: view, lbRef, canEdit, reload }}>
      <LiveProvider lbRef={lbRef}>
        <nav aria-label="Breadcrumb" className="mb-2 text-sm">
          <Link href={base} className="text-indigo-700 hover:underline">
            Load balancers
          </Link>
          <span className="px-1.5 text-slate-400">/</span>
          <span className="text-slate-600">{view.name}</span>
        </nav>
        <header className="mb-5 flex flex-col gap-4 lg:flex-row lg:items-start lg:justify-between">
          <div className="min-w-0">
            <h1 className="text-xl font-semibold tracking-tight text-slate-900">
              {view.name} <span className="font-mono text-base font-medium text-slate-500">{view.address}</span>
            </h1>
            <p className="mt-1 text-sm text-slate-500">
              {listenersText(view.listeners) || "no listeners"} · {view.memberCount} member{view.memberCount === 1 ? "" : "s"} · revision {view.revision}
              {view.deletionProtection && " · deletion protection on"}
              {!view.adminEnabled && " · disabled"}
            </p>
          </div>
          <div className="grid shrink-0 grid-cols-1 gap-3 sm:grid-cols-2 lg:w-[34rem]">
            <StatusBox title="Provisioning">
              <StatusWithReason axis="provisioning" status={view.provisioning.status} reason={view.provisioning.reason} />
            </StatusBox>
            <StatusBox title="Operating">
              <StatusWithReason axis="operating" status={view.operating.status} reason={view.operating.reason} />
            </StatusBox>
          </div>
        </header>
        <div className="mb-5 overflow-x-auto border-b border-slate-200">
          <div role="tablist" aria-label="Load balancer sections" className="flex gap-1">
            {TABS.map((t) => (
              <button
                key={t.key}
                role="tab"
                type="button"
                id={`tab-${t.key}`}
                aria-selected={tab === t.key}
                aria-controls={`panel-${t.key}`}
                onClick={() => router.replace(`${pathname}${t.key === "overview" ? "" : `?tab=${t.key}`}`, { scroll: false })}
                className={cx(
                  "-mb-px whitespace-nowrap border-b-2 px-3 py-2 text-sm font-medium",
                  tab === t.key ? "border-indigo-600 text-indigo-700" : "border-transparent text-slate-600 hover:border-slate-300 hover:text-slate-900",
                )}
              >
                {t.label}
                {t.key === "listeners" && <Count n={view.listeners.length} />}
                {t.key === "pools" && <Count n={view.pools.length} />}
                {t.key === "members" && <Count n={view.memberCount} />}
              </button>
            ))}
          </div>
        </div>
        <div role="tabpanel" id={`panel-${tab}`} aria-labelledby={`tab-${tab}`}>
          {tab === "overview" && <OverviewTab />}
          {tab === "listeners" && <ListenersTab />}
          {tab === "pools" && <PoolsTab />}
          {tab === "members" && <MembersTab />}
          {tab === "history" && <HistoryTab />}
        </div>
      </LiveProvider>
    </LbProvider>
  );
}

function Count({ n }: { n: number }) {
  return <span className="ml-1.5 rounded-full bg-slate-100 px-1.5 text-xs text-slate-600">{n}</span>;
}

function StatusBox({ title, children }: { title: string; children: ReactNode }) {
  return (
    <section aria-label={title} className="min-w-0 rounded-lg border border-slate-200 bg-white px-4 py-3">
      <h2 className="mb-1.5 text-xs font-medium text-slate-500">{title}</h2>
      {children}
    </section>
  );
}

// ---- overview ----------------------------------------------------------------------------------

function OverviewTab() {
  const { lb, canEdit } = useLb();
  const [editing, setEditing] = useState(false);
  const p = lb.provisioning;
  return (
    <div className="grid items-start gap-6 lg:grid-cols-[1fr_20rem]">
      <Card
        title="Settings"
        actions={
          canEdit && (
            <Button size="sm" variant="secondary" onClick={() => setEditing(true)}>
              Edit settings
            </Button>
          )
        }
      >
        <dl className="grid gap-x-6 gap-y-4 text-sm sm:grid-cols-2">
          <Item label="VIP address">
            <span className="font-mono">{lb.address}</span> <span className="text-slate-500">(IPv{lb.family})</span>
          </Item>
          <Item label="Name">{lb.name}</Item>
          <Item label="Description">{lb.description || <span className="text-slate-400">—</span>}</Item>
          <Item label="Replicas">{lb.replicas} LB nodes, spread over AZs</Item>
          <Item label="Admin state">{lb.adminEnabled ? <Badge tone="green">enabled</Badge> : <Badge>disabled</Badge>}</Item>
          <Item label="Deletion protection">{lb.deletionProtection ? <Badge tone="amber">on</Badge> : "off"}</Item>
          <Item label="Tags">
            <TagList tags={lb.tags} />
          </Item>
          <Item label="Revision">{lb.revision}</Item>
          <Item label="Created">
            <Time date={lb.createdAt} />
          </Item>
          <Item label="Updated">
            <Time date={lb.updatedAt} />
          </Item>
        </dl>
      </Card>
      <div className="space-y-6">
        <Card title="Placement">
          <p className="text-sm text-slate-900" data-placement>
            <span className="text-lg font-semibold">
              {p.nodesAtRevision}/{p.nodesTotal}
            </span>{" "}
            nodes at revision {lb.revision}
          </p>
          <p className="mt-1 text-xs text-slate-500">
            {p.nodesTotal === 0 ? `Wanted on ${lb.replicas} nodes; ${p.reason}.` : p.reason}
          </p>
          {lb.placements.length > 0 && (
            <ul className="mt-3 space-y-1 text-xs">
              {lb.placements.map((pl) => (
                <li key={pl.nodeId} className="flex flex-wrap justify-between gap-2">
                  <span className="font-mono text-slate-600" title={pl.nodeId}>
                    {pl.nodeName ?? `node ${pl.nodeId.slice(0, 8)}`}
                  </span>
                  <span className={pl.error ? "text-red-700" : "text-slate-600"}>
                    {pl.error
                      ? pl.error
                      : pl.appliedRevision === null
                        ? "not applied yet"
                        : `at revision ${pl.appliedRevision}${pl.appliedRevision >= lb.revision ? "" : ` (behind ${lb.revision})`} · ${pl.advertised ? "advertised" : "not advertised"}`}
                  </span>
                </li>
              ))}
            </ul>
          )}
        </Card>
        {canEdit && <DangerZone />}
      </div>
      {/* min-w-0: the live tables and charts must not widen the grid column on narrow screens. */}
      <div className="min-w-0 space-y-6 lg:col-span-2">
        <LiveNodesCard />
        <ThroughputCard />
        <MemberHealthCard />
      </div>
      <EditSettings open={editing} onClose={() => setEditing(false)} />
    </div>
  );
}

function Item({ label, children }: { label: string; children: ReactNode }) {
  return (
    <div className="min-w-0">
      <dt className="text-xs font-medium text-slate-500">{label}</dt>
      <dd className="mt-0.5 break-words text-slate-900">{children}</dd>
    </div>
  );
}

const settingsForm = z
  .object({
    name: lbNameSchema,
    description: z.string().max(500, "at most 500 characters"),
    replicas: z.string().regex(/^\d+$/, "a whole number, 1–8").transform(Number).pipe(z.number().min(1, "1–8").max(8, "1–8")),
    tags: z.string(),
    adminEnabled: z.boolean(),
    deletionProtection: z.boolean(),
  })
  .superRefine((v, ctx) => {
    const { errors } = parseTags(v.tags);
    if (errors.length) ctx.addIssue({ code: "custom", path: ["tags"], message: errors.join("; ") });
  });

function EditSettings({ open, onClose }: { open: boolean; onClose: () => void }) {
  const { lb } = useLb();
  return (
    <Dialog open={open} onClose={onClose} title={`Edit ${lb.name}`}>
      {open && <EditSettingsForm key={lb.id} onDone={onClose} />}
    </Dialog>
  );
}

function EditSettingsForm({ onDone }: { onDone: () => void }) {
  const { lb, lbRef, reload } = useLb();
  const tenant = useTenant();
  const trpc = useTRPC();
  const apply = useApplyChange();
  // The revision this form is based on: the one shown when it opened.
  const [baseRevision, setBaseRevision] = useState(lb.revision);
  const form = useZodForm(settingsForm, {
    name: lb.name,
    description: lb.description,
    replicas: String(lb.replicas),
    tags: tagsText(lb.tags),
    adminEnabled: lb.adminEnabled,
    deletionProtection: lb.deletionProtection,
  });
  const update = useMutation(
    trpc.lb.update.mutationOptions({
      onSuccess: async (view) => {
        await apply(view);
        onDone();
      },
      onError: (err) => form.showServerError(err),
    }),
  );
  const onSubmit = form.submit((data) =>
    update.mutate({
      tenantId: tenant.id,
      lb: lbRef,
      expectedRevision: baseRevision,
      name: data.name,
      description: data.description,
      replicas: data.replicas,
      tags: parseTags(data.tags).tags,
      adminEnabled: data.adminEnabled,
      deletionProtection: data.deletionProtection,
    }),
  );
  const check = (name: "adminEnabled" | "deletionProtection", label: string, hint: string) => (
    <label className="flex items-start gap-3 text-sm">
      <input type="checkbox" checked={form.values[name]} onChange={(e) => form.set(name, e.target.checked)} className="mt-0.5 size-4 rounded text-indigo-600" />
      <span>
        <span className="font-medium text-slate-800">{label}</span>
        <span className="block text-xs text-slate-500">{hint}</span>
      </span>
    </label>
  );
  return (
    <form ref={form.formRef} onSubmit={onSubmit} noValidate className="space-y-4">
      {update.error ? (
        <ChangeError
          error={update.error}
          onReload={() =>
            void reload().then((r) => {
              if (r !== undefined) setBaseRevision(r);
              update.reset();
            })
          }
        />
      ) : (
        form.formError && <Alert>{form.formError}</Alert>
      )}
      <TextField label="Name" autoComplete="off" spellCheck={false} field={form.field("name")} />
      <TextField label="Description" field={form.field("description")} />
      <TextField label="Replicas" inputMode="numeric" hint="LB nodes carrying the VIP (1–8)" field={form.field("replicas")} />
      <TextField label="Tags" hint="key=value, comma separated" spellCheck={false} field={form.field("tags")} />
      {check("adminEnabled", "Enabled", "Off: the VIP stops taking traffic (listeners and members are kept).")}
      {check("deletionProtection", "Deletion protection", "Deleting is refused while this is on.")}
      <p className="text-xs text-slate-500">Based on revision {baseRevision}; if someone changes it first, you will be told.</p>
      <div className="flex justify-end gap-2">
        <Button variant="secondary" onClick={onDone} disabled={update.isPending}>
          Cancel
        </Button>
        <Button type="submit" loading={update.isPending}>
          Save settings
        </Button>
      </div>
    </form>
  );
}

function DangerZone() {
  const { lb, lbRef } = useLb();
  const tenant = useTenant();
  const trpc = useTRPC();
  const router = useRouter();
  const queryClient = useQueryClient();
  const [open, setOpen] = useState(false);
  const del = useMutation(
    trpc.lb.delete.mutationOptions({
      onSuccess: async () => {
        await queryClient.invalidateQueries(trpc.lb.list.pathFilter());
        router.push(`/t/${encodeURIComponent(tenant.slug)}/lbs`);
      },
    }),
  );
  return (
    <Card title="Delete">
      <p className="text-sm text-slate-600">
        Deleting withdraws the VIP {lb.address} from every LB node and frees its address.
        {lb.deletionProtection && " Deletion protection is on: turn it off in the settings first."}
      </p>
      <Button className="mt-3" variant="danger" onClick={() => setOpen(true)}>
        Delete load balancer
      </Button>
      <ConfirmDialog
        open={open}
        title={`Delete ${lb.name}?`}
        confirmLabel="Delete load balancer"
        pending={del.isPending}
        error={del.error ? describeError(del.error).message : null}
        onCancel={() => {
          del.reset();
          setOpen(false);
        }}
        onConfirm={() => del.mutate({ tenantId: tenant.id, lb: lbRef })}
      >
        <p>
          <strong className="font-medium text-slate-900">{lb.name}</strong> (<span className="font-mono">{lb.address}</span>) with its{" "}
          {lb.listeners.length} listener{lb.listeners.length === 1 ? "" : "s"} and {lb.memberCount} member{lb.memberCount === 1 ? "" : "s"} stops
          taking traffic. This cannot be undone.
        </p>
      </ConfirmDialog>
    </Card>
  );
}

// ---- history -----------------------------------------------------------------------------------

function HistoryTab() {
  const { lbRef } = useLb();
  const tenant = useTenant();
  const trpc = useTRPC();
  const history = useQuery(trpc.lb.history.queryOptions({ tenantId: tenant.id, lb: lbRef, limit: 200 }));
  return (
    <Card title="History" description="Every revision of this load balancer and who made it, newest first." bodyClassName="">
      {history.isPending ? (
        <Loading label="Loading the history…" />
      ) : history.isError ? (
        <div className="p-4">
          <ErrorState message={describeError(history.error).message} onRetry={() => void history.refetch()} />
        </div>
      ) : history.data.length === 0 ? (
        <div className="p-4">
          <EmptyState title="No history yet" />
        </div>
      ) : (
        <Table label="Revisions">
          <thead className="bg-slate-50">
            <tr>
              <th scope="col" className={th}>Revision</th>
              <th scope="col" className={th}>When</th>
              <th scope="col" className={th}>Who</th>
              <th scope="col" className={th}>Action</th>
              <th scope="col" className={th}>Change</th>
            </tr>
          </thead>
          <tbody className="divide-y divide-slate-100">
            {history.data.map((h, i) => (
              <tr key={`${h.revision ?? "x"}-${i}`} data-action={h.action} data-revision={h.revision ?? undefined}>
                <td className={cx(td, "font-mono")}>{h.revision ?? "—"}</td>
                <td className={td}>
                  <Time date={h.at} />
                </td>
                <td className={td}>
                  <p className="text-slate-900">{h.actor}</p>
                  {h.via !== "session" && <p className="font-mono text-xs text-slate-500">via {h.via}</p>}
                </td>
                <td className={td}>
                  <Badge tone={/\.(remove|delete|disable)$/.test(h.action) ? "red" : /\.(create|add|enable)$/.test(h.action) ? "green" : "indigo"}>{h.action}</Badge>
                </td>
                <td className={td}>
                  <Change before={h.before} after={h.after} />
                </td>
              </tr>
            ))}
          </tbody>
        </Table>
      )}
    </Card>
  );
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * Compact text for a value: members read as "198.18.1.10:8080", listeners as "TCP 80 → web",
 * pools as "web (4 members, HTTP monitor)"; anything else as JSON, cut short.
 */
function show(v: unknown): string {
  if (v === null || v === undefined) return "∅";
  if (typeof v === "string") return v;
  if (Array.isArray(v) && v.length > 0 && v.every(isRecord)) {
    if (v.every((x) => typeof x.address === "string" && typeof x.port === "number")) {
      return v.map((x) => memberText({ address: String(x.address), port: Number(x.port) })).join(", ");
    }
    if (v.every((x) => typeof x.protocol === "string" && typeof x.port === "number")) {
      return v
        .map((x) => `${String(x.protocol)} ${portsText(Number(x.port), Number(x.portEnd ?? x.port))} → ${String(x.pool)}`)
        .join(", ");
    }
    if (v.every((x) => typeof x.name === "string" && Array.isArray(x.members))) {
      return v
        .map((x) => {
          const n = (x.members as unknown[]).length;
          const mon = isRecord(x.monitor) ? `${String(x.monitor.type)} monitor` : "no monitor";
          return `${String(x.name)} (${n} member${n === 1 ? "" : "s"}, ${mon})`;
        })
        .join(", ");
    }
  }
  // A member target {lb, pool}: the pool is what a reader needs.
  if (isRecord(v) && typeof v.pool === "string" && "lb" in v) return `pool ${v.pool}`;
  const s = JSON.stringify(v);
  return s.length > 240 ? `${s.slice(0, 240)}…` : s;
}

function Change({ before, after }: { before: unknown; after: unknown }) {
  const b = isRecord(before) ? before : null;
  const a = isRecord(after) ? after : null;
  if (!b && !a) return <span className="text-slate-400">—</span>;
  const keys = [...new Set([...Object.keys(b ?? {}), ...Object.keys(a ?? {})])];
  const rows = keys.map((k) => ({ k, bv: b?.[k], av: a?.[k] })).filter((r) => !b || !a || JSON.stringify(r.bv) !== JSON.stringify(r.av));
  // Changes inside the tree record the revision they were based on, not a field that changed.
  const basedOn = b && a && keys.length > 1 && Object.keys(b).length === 1 && typeof b.revision === "number" ? b.revision : null;
  return (
    <dl className="max-w-xl space-y-0.5 font-mono text-xs" data-diff>
      {basedOn !== null && <div className="text-slate-400">based on revision {basedOn}</div>}
      {rows.filter((r) => basedOn === null || r.k !== "revision").map(({ k, bv, av }) => (
        <div key={k} className="flex flex-wrap gap-x-1.5">
          <dt className="text-slate-500">{k}:</dt>
          <dd className="min-w-0 break-all" title={JSON.stringify(av ?? bv)}>
            {bv !== undefined && <span className={av !== undefined ? "text-red-700 line-through decoration-red-300" : "text-red-700"}>{show(bv)}</span>}
            {bv !== undefined && av !== undefined && <span className="text-slate-400"> → </span>}
            {av !== undefined && <span className="text-emerald-700">{show(av)}</span>}
          </dd>
        </div>
      ))}
    </dl>
  );
}

export type { LbView };
