"use client";
// The audit log viewer: who did what, when, to which object, and what changed (before → after).
// Scopes: one tenant's log (tenant admins), your own actions (anyone), everything (platform admins).
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { describeError } from "./forms";
import { type RouterOutputs, useTRPC } from "./trpc";
import { Button } from "./ui/button";
import { cx } from "./ui/cx";
import { EmptyState, ErrorState, Loading } from "./ui/feedback";
import { ListIcon } from "./ui/icons";
import { Badge, Card, Table, td, th } from "./ui/layout";
import { Time } from "./ui/time";

type Entry = RouterOutputs["audit"]["list"]["entries"][number];

export interface AuditScope {
  key: string;
  label: string;
  /** What to ask the API for: a tenant's log, your own actions, or everything. */
  query: { tenantId: string } | { mine: true } | Record<string, never>;
  description: string;
}

const PAGE_SIZE = 25;
const KNOWN_ACTIONS = [
  "tenant.create",
  "tenant.update",
  "member.add",
  "member.set-role",
  "member.remove",
  "token.create",
  "token.revoke",
  "user.create",
  "user.sign-up",
  "user.set-platform-admin",
];

export function AuditLog({ scopes }: { scopes: AuditScope[] }) {
  const trpc = useTRPC();
  const [scopeKey, setScopeKey] = useState(scopes[0]?.key ?? "");
  const [actionDraft, setActionDraft] = useState("");
  const [action, setAction] = useState("");
  // Cursors of the pages we came through; the last one is the current page's `before`.
  const [cursors, setCursors] = useState<number[]>([]);
  const scope = scopes.find((s) => s.key === scopeKey) ?? scopes[0];
  const before = cursors[cursors.length - 1];
  const log = useQuery({
    ...trpc.audit.list.queryOptions({
      ...(scope?.query ?? { mine: true }),
      limit: PAGE_SIZE,
      ...(before ? { before } : {}),
      ...(action ? { action } : {}),
    }),
    placeholderData: keepPreviousData,
  });
  const tenants = useQuery(trpc.tenants.list.queryOptions());
  const tenantSlug = new Map((tenants.data ?? []).map((t) => [t.id, t.slug]));
  const showTenant = !(scope && "tenantId" in scope.query);

  const chooseScope = (key: string) => {
    setScopeKey(key);
    setCursors([]);
  };

  return (
    <Card
      title={scope?.label ?? "Audit log"}
      description={scope?.description}
      bodyClassName=""
      actions={
        <div className="flex flex-wrap items-center gap-2">
          {scopes.length > 1 && (
            <div className="inline-flex rounded-md shadow-xs" role="group" aria-label="Which entries">
              {scopes.map((s, i) => (
                <button
                  key={s.key}
                  type="button"
                  aria-pressed={s.key === scope?.key}
                  onClick={() => chooseScope(s.key)}
                  className={cx(
                    "px-3 py-1.5 text-xs font-medium ring-1 ring-inset ring-slate-300",
                    i === 0 && "rounded-l-md",
                    i === scopes.length - 1 && "rounded-r-md",
                    i > 0 && "-ml-px",
                    s.key === scope?.key ? "z-10 bg-indigo-600 text-white ring-indigo-600" : "bg-white text-slate-700 hover:bg-slate-50",
                  )}
                >
                  {s.label}
                </button>
              ))}
            </div>
          )}
          <form
            role="search"
            className="flex items-center gap-1.5"
            onSubmit={(e) => {
              e.preventDefault();
              setAction(actionDraft.trim());
              setCursors([]);
            }}
          >
            <label htmlFor="audit-action" className="sr-only">
              Filter by action
            </label>
            <input
              id="audit-action"
              list="audit-actions"
              value={actionDraft}
              onChange={(e) => setActionDraft(e.target.value)}
              placeholder="action, e.g. member.add"
              className="w-44 rounded-md border-0 px-2.5 py-1.5 text-xs ring-1 ring-inset ring-slate-300 focus:ring-2 focus:ring-indigo-600"
            />
            <datalist id="audit-actions">
              {KNOWN_ACTIONS.map((a) => (
                <option key={a} value={a} />
              ))}
            </datalist>
            <Button type="submit" size="sm" variant="secondary">
              Filter
            </Button>
            {action && (
              <Button
                size="sm"
                variant="ghost"
                onClick={() => {
                  setAction("");
                  setActionDraft("");
                  setCursors([]);
                }}
              >
                Clear
              </Button>
            )}
          </form>
        </div>
      }
    >
      {log.isPending ? (
        <Loading label="Loading the audit log…" />
      ) : log.isError ? (
        <div className="p-4">
          <ErrorState message={describeError(log.error).message} onRetry={() => void log.refetch()} />
        </div>
      ) : log.data.entries.length === 0 ? (
        <div className="p-4">
          <EmptyState icon={<ListIcon className="size-10" />} title={action ? `No “${action}” entries` : "No entries yet"}>
            {cursors.length ? "There is nothing older." : "Every change made through the console, the API or the CLI shows up here."}
          </EmptyState>
        </div>
      ) : (
        <div className={cx(log.isPlaceholderData && "opacity-60 transition-opacity")}>
          <Table label="Audit log entries">
            <thead className="bg-slate-50">
              <tr>
                <th scope="col" className={th}>When</th>
                <th scope="col" className={th}>Who</th>
                <th scope="col" className={th}>Action</th>
                <th scope="col" className={th}>Object</th>
                {showTenant && <th scope="col" className={th}>Tenant</th>}
                <th scope="col" className={th}>Change</th>
              </tr>
            </thead>
            <tbody className="divide-y divide-slate-100">
              {log.data.entries.map((e) => (
                <tr key={e.id} data-action={e.action}>
                  <td className={td}>
                    <Time date={e.at} />
                  </td>
                  <td className={td}>
                    <p className="text-slate-900">{e.actor}</p>
                    {e.via !== "session" && <p className="font-mono text-xs text-slate-500">via {e.via}</p>}
                  </td>
                  <td className={td}>
                    <Badge tone={actionTone(e.action)}>{e.action}</Badge>
                  </td>
                  <td className={td}>
                    <p className="text-slate-900">{e.entityType}</p>
                    <p className="max-w-[10rem] truncate font-mono text-xs text-slate-500" title={e.entityId}>
                      {e.entityId}
                    </p>
                  </td>
                  {showTenant && (
                    <td className={td}>
                      {e.tenantId ? (
                        <span className="font-mono text-xs">{tenantSlug.get(e.tenantId) ?? e.tenantId.slice(0, 8)}</span>
                      ) : (
                        <span className="text-slate-400">—</span>
                      )}
                    </td>
                  )}
                  <td className={td}>
                    <Change entry={e} />
                  </td>
                </tr>
              ))}
            </tbody>
          </Table>
          <nav aria-label="Audit log pages" className="flex items-center justify-between border-t border-slate-200 px-4 py-3 sm:px-5">
            <p className="text-xs text-slate-500">
              Page {cursors.length + 1} · {log.data.entries.length} entries
            </p>
            <div className="flex gap-2">
              <Button size="sm" variant="secondary" disabled={cursors.length === 0} onClick={() => setCursors((c) => c.slice(0, -1))}>
                ← Newer
              </Button>
              <Button
                size="sm"
                variant="secondary"
                disabled={log.data.nextCursor === null}
                onClick={() => {
                  const next = log.data.nextCursor;
                  if (next !== null) setCursors((c) => [...c, next]);
                }}
              >
                Older →
              </Button>
            </div>
          </nav>
        </div>
      )}
    </Card>
  );
}

function actionTone(action: string) {
  if (/\.(remove|revoke|delete)$/.test(action)) return "red" as const;
  if (/\.(create|add|sign-up)$/.test(action)) return "green" as const;
  return "indigo" as const;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

function show(v: unknown): string {
  if (v === null || v === undefined) return "∅";
  if (typeof v === "string") return v;
  return JSON.stringify(v);
}

/** The fields that changed, as `field: before → after`. */
function Change({ entry }: { entry: Entry }) {
  const before = isRecord(entry.before) ? entry.before : null;
  const after = isRecord(entry.after) ? entry.after : null;
  if (!before && !after) return <span className="text-slate-400">—</span>;
  const keys = [...new Set([...Object.keys(before ?? {}), ...Object.keys(after ?? {})])];
  const rows = keys
    .map((k) => ({ k, b: before?.[k], a: after?.[k] }))
    .filter((r) => !before || !after || JSON.stringify(r.b) !== JSON.stringify(r.a));
  return (
    <dl className="space-y-0.5 font-mono text-xs" data-diff>
      {rows.map(({ k, b, a }) => (
        <div key={k} className="flex flex-wrap gap-x-1.5">
          <dt className="text-slate-500">{k}:</dt>
          <dd className="break-all">
            {before && <span className={after ? "text-red-700 line-through decoration-red-300" : "text-red-700"}>{show(b)}</span>}
            {before && after && <span className="text-slate-400"> → </span>}
            {after && <span className="text-emerald-700">{show(a)}</span>}
          </dd>
        </div>
      ))}
    </dl>
  );
}
