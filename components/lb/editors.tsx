"use client";
// Editors for the parts of a load balancer, shared by the create wizard and the detail page's
// dialogs: members (with paste-many), health monitor, pool settings, listener. They edit drafts
// (text as typed) and show errors by the API's field paths under a prefix ("pools.0.").
import { useId, useState, type ReactNode } from "react";
import { useQuery } from "@tanstack/react-query";
import { AFFINITIES, ALL_DOWN_POLICIES, MEMBER_STATES, MONITOR_TYPES, PROTOCOLS } from "@/lib/lb-schemas";
import type { FieldErrors, FieldProps } from "../forms";
import { Button } from "../ui/button";
import { cx } from "../ui/cx";
import { SelectField, TextField } from "../ui/field";
import {
  type ListenerDraft,
  type MemberDraft,
  type MonitorDraft,
  type PoolDraft,
  emptyMember,
  newKey,
} from "./draft";
import { parseMemberLines } from "./format";
import { useTenant } from "../shell/tenant";
import { useTRPC } from "../trpc";

/** How an editor reads errors and marks fields as visited. */
export interface FormCtx {
  /** Errors to show for this path; `deep` adds those of its children (list items). */
  errs(path: string, deep?: boolean): string[] | undefined;
  touch(path: string): void;
}

/** Visible errors: the server's always, the client's once a field was visited or its step submitted. */
export function makeFormCtx(
  clientErrors: FieldErrors,
  serverErrors: FieldErrors,
  visible: (path: string) => boolean,
  touch: (path: string) => void,
): FormCtx {
  const collect = (errors: FieldErrors, path: string, deep: boolean) => {
    const out = [...(errors[path] ?? [])];
    if (deep) for (const [k, v] of Object.entries(errors)) if (k.startsWith(path + ".")) out.push(...v);
    return out;
  };
  return {
    errs(path, deep = false) {
      const server = collect(serverErrors, path, deep);
      if (server.length) return server;
      if (!visible(path)) return undefined;
      // One problem at a time per input ("required", not also "letters, digits...").
      const client = [...new Set(collect(clientErrors, path, deep))];
      return client.length ? (deep ? client : client.slice(0, 1)) : undefined;
    },
    touch,
  };
}

export function fieldProps(ctx: FormCtx, path: string, value: string, set: (v: string) => void, deep = false): FieldProps {
  return { name: path, value, onChange: (e) => set(e.target.value), onBlur: () => ctx.touch(path), errors: ctx.errs(path, deep) };
}

const cellControl =
  "block w-full min-w-0 rounded-md border-0 bg-white px-2.5 py-1.5 text-sm text-slate-900 shadow-sm ring-1 ring-inset placeholder:text-slate-400 focus:ring-2 focus:ring-inset focus:outline-none";

/** A compact input for table cells: its label is for screen readers, its error shows below. */
function CellInput({ label, field, className, ...rest }: { label: string; field: FieldProps; className?: string; inputMode?: "numeric"; placeholder?: string }) {
  const id = useId();
  const invalid = Boolean(field.errors?.length);
  return (
    <div className={className}>
      <input
        id={id}
        aria-label={label}
        name={field.name}
        value={field.value}
        onChange={field.onChange}
        onBlur={field.onBlur}
        aria-invalid={invalid || undefined}
        aria-describedby={invalid ? `${id}-e` : undefined}
        className={cx(cellControl, invalid ? "ring-red-400 focus:ring-red-600" : "ring-slate-300 focus:ring-indigo-600")}
        autoComplete="off"
        spellCheck={false}
        {...rest}
      />
      {invalid && (
        <p id={`${id}-e`} className="mt-1 text-xs text-red-700" data-field-error>
          {field.errors!.join("; ")}
        </p>
      )}
    </div>
  );
}

function CellSelect({ label, value, onChange, options }: { label: string; value: string; onChange: (v: string) => void; options: readonly string[] }) {
  return (
    <select aria-label={label} value={value} onChange={(e) => onChange(e.target.value)} className={cx(cellControl, "pr-7 ring-slate-300 focus:ring-indigo-600")}>
      {options.map((o) => (
        <option key={o} value={o}>
          {o}
        </option>
      ))}
    </select>
  );
}

export function RowError({ errors }: { errors: string[] | undefined }) {
  if (!errors?.length) return null;
  return (
    <p role="alert" className="mt-1 text-xs text-red-700" data-field-error>
      {errors.join("; ")}
    </p>
  );
}

const opts = (values: readonly string[], labels: Record<string, string> = {}) => values.map((v) => ({ value: v, label: labels[v] ?? v }));

// ---- members ---------------------------------------------------------------------------------

export function MembersEditor({
  members,
  onChange,
  prefix,
  ctx,
  poolLabel,
}: {
  members: MemberDraft[];
  onChange: (members: MemberDraft[]) => void;
  /** e.g. "pools.0.members." */
  prefix: string;
  ctx: FormCtx;
  poolLabel: string;
}) {
  const set = (i: number, patch: Partial<MemberDraft>) => onChange(members.map((m, j) => (j === i ? { ...m, ...patch } : m)));
  const listErrors = ctx.errs(prefix.replace(/\.$/, ""));
  return (
    <div>
      <div className="overflow-x-auto">
        <table className="w-full min-w-[34rem] text-sm" aria-label={`Members of ${poolLabel}`}>
          <thead>
            <tr className="text-left text-xs font-medium text-slate-500">
              <th className="w-8 pb-1.5 font-medium">#</th>
              <th className="pb-1.5 pr-2 font-medium">Address</th>
              <th className="w-24 pb-1.5 pr-2 font-medium">Port</th>
              <th className="w-24 pb-1.5 pr-2 font-medium">Weight</th>
              <th className="w-32 pb-1.5 pr-2 font-medium">State</th>
              <th className="w-10 pb-1.5">
                <span className="sr-only">Remove</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {members.map((m, i) => {
              const p = `${prefix}${i}`;
              const rowErrors = ctx.errs(p);
              return (
                <tr key={m.key} className="align-top" data-member-row={i}>
                  <td className="py-1 pt-2.5 text-xs text-slate-400">{i + 1}</td>
                  <td className="py-1 pr-2">
                    <CellInput
                      label={`Member ${i + 1} address`}
                      placeholder="198.18.1.10"
                      field={fieldProps(ctx, `${p}.address`, m.address, (v) => set(i, { address: v }))}
                    />
                    <RowError errors={rowErrors} />
                  </td>
                  <td className="py-1 pr-2">
                    <CellInput label={`Member ${i + 1} port`} inputMode="numeric" placeholder="8080" field={fieldProps(ctx, `${p}.port`, m.port, (v) => set(i, { port: v }))} />
                  </td>
                  <td className="py-1 pr-2">
                    <CellInput label={`Member ${i + 1} weight`} inputMode="numeric" field={fieldProps(ctx, `${p}.weight`, m.weight, (v) => set(i, { weight: v }))} />
                  </td>
                  <td className="py-1 pr-2">
                    <CellSelect label={`Member ${i + 1} state`} value={m.adminState} options={MEMBER_STATES} onChange={(v) => set(i, { adminState: v as MemberDraft["adminState"] })} />
                  </td>
                  <td className="py-1">
                    <button
                      type="button"
                      onClick={() => onChange(members.filter((_, j) => j !== i))}
                      className="rounded-md px-2 py-1.5 text-slate-400 hover:bg-red-50 hover:text-red-700"
                      aria-label={`Remove member ${i + 1}`}
                    >
                      ✕
                    </button>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      {members.length === 0 && <p className="py-2 text-sm text-slate-500">No members yet: add them one by one or paste a list.</p>}
      <RowError errors={listErrors} />
      <p className="mt-1 text-xs text-slate-500">Weight 0–256: 0 drains (no new flows, existing flows continue).</p>
      <div className="mt-3 flex flex-wrap gap-2">
        <Button size="sm" variant="secondary" onClick={() => onChange([...members, emptyMember()])}>
          + Add member
        </Button>
        <PasteMembers onPaste={(pasted) => onChange([...members.filter((m) => m.address.trim() || m.port.trim()), ...pasted])} />
      </div>
    </div>
  );
}

/** "Paste many": one member per line, added below the current ones. */
export function PasteMembers({ onPaste, defaultOpen = false }: { onPaste: (members: MemberDraft[]) => void; defaultOpen?: boolean }) {
  const [open, setOpen] = useState(defaultOpen);
  const [text, setText] = useState("");
  const id = useId();
  const parsed = parseMemberLines(text);
  if (!open) {
    return (
      <Button size="sm" variant="ghost" onClick={() => setOpen(true)}>
        Paste many…
      </Button>
    );
  }
  return (
    <div className="w-full rounded-md border border-slate-200 bg-slate-50 p-3">
      <label htmlFor={id} className="block text-sm font-medium text-slate-800">
        Paste members
      </label>
      <p className="text-xs text-slate-500">One per line: address:port, [IPv6]:port, optionally followed by a weight.</p>
      <textarea
        id={id}
        rows={4}
        value={text}
        onChange={(e) => setText(e.target.value)}
        placeholder={"198.18.1.10:8080\n198.18.1.11:8080 50\n[2001:db8::10]:8080"}
        className="mt-1.5 block w-full rounded-md border-0 px-3 py-2 font-mono text-sm ring-1 ring-inset ring-slate-300 focus:ring-2 focus:ring-indigo-600"
        spellCheck={false}
      />
      {parsed.errors.length > 0 && (
        <ul className="mt-1.5 space-y-0.5 text-xs text-red-700" data-field-error>
          {parsed.errors.map((e) => (
            <li key={e}>{e}</li>
          ))}
        </ul>
      )}
      <div className="mt-2 flex gap-2">
        <Button
          size="sm"
          disabled={parsed.members.length === 0 || parsed.errors.length > 0}
          onClick={() => {
            onPaste(parsed.members.map((m) => ({ key: newKey(), address: m.address, port: m.port, weight: m.weight || "100", adminState: "enabled" })));
            setText("");
            setOpen(false);
          }}
        >
          Add {parsed.members.length || ""} member{parsed.members.length === 1 ? "" : "s"}
        </Button>
        <Button size="sm" variant="ghost" onClick={() => setOpen(false)}>
          Cancel
        </Button>
      </div>
    </div>
  );
}

// ---- health monitor --------------------------------------------------------------------------

const monitorTypeLabels: Record<string, string> = {
  none: "None (no health checks)",
  ICMP: "ICMP (ping)",
  TCP: "TCP connect",
  HTTP: "HTTP",
  HTTPS: "HTTPS",
};

export function MonitorFields({
  monitor,
  onChange,
  prefix,
  ctx,
}: {
  monitor: MonitorDraft;
  onChange: (patch: Partial<MonitorDraft>) => void;
  /** e.g. "pools.0.monitor." */
  prefix: string;
  ctx: FormCtx;
}) {
  const f = (k: keyof MonitorDraft, path = k as string) => fieldProps(ctx, prefix + path, String(monitor[k]), (v) => onChange({ [k]: v }));
  const http = monitor.type === "HTTP" || monitor.type === "HTTPS";
  return (
    <fieldset className="space-y-4">
      <legend className="text-sm font-semibold text-slate-900">Health monitor</legend>
      <div className="grid gap-4 sm:grid-cols-3">
        <SelectField label="Type" options={opts(["none", ...MONITOR_TYPES], monitorTypeLabels)} field={f("type")} />
        {monitor.type !== "none" && (
          <>
            <TextField label="Interval (ms)" inputMode="numeric" field={f("intervalMs")} />
            <TextField label="Timeout (ms)" inputMode="numeric" hint="shorter than the interval" field={f("timeoutMs")} />
          </>
        )}
      </div>
      {monitor.type !== "none" && (
        <div className="grid gap-4 sm:grid-cols-3">
          <TextField label="Rise" inputMode="numeric" hint="successes to turn up" field={f("rise")} />
          <TextField label="Fall" inputMode="numeric" hint="failures to turn down" field={f("fall")} />
          <TextField label="Check port" inputMode="numeric" placeholder="member's port" hint="optional; needed for UDP-only pools" field={f("port")} />
        </div>
      )}
      {http && (
        <div className="grid gap-4 sm:grid-cols-4">
          <SelectField label="HTTP method" options={opts(["GET", "HEAD", "OPTIONS"])} field={f("method", "http.method")} />
          <TextField label="Path" field={f("path", "http.path")} spellCheck={false} />
          <TextField label="Host header" placeholder="optional" field={f("host", "http.host")} spellCheck={false} />
          <TextField label="Expected codes" hint="e.g. 200,204 or 200-299" field={f("expectedCodes", "http.expectedCodes")} spellCheck={false} />
        </div>
      )}
      {monitor.type === "HTTPS" && <TlsFields monitor={monitor} f={f} />}
      <ErrorsOf errors={ctx.errs(prefix.replace(/\.$/, ""))} />
      <ErrorsOf errors={ctx.errs(prefix + "http")} />
      <ErrorsOf errors={ctx.errs(prefix + "tls")} />
    </fieldset>
  );
}

const tlsVerifyLabels: Record<string, string> = {
  off: "No (accept any certificate)",
  system: "Yes, against the system CAs",
  ca: "Yes, against a CA certificate",
};

/** HTTPS monitor: verification of the backends' certificates, against a CA certificate of the tenant. */
function TlsFields({ monitor, f }: { monitor: MonitorDraft; f: (k: keyof MonitorDraft, path?: string) => FieldProps }) {
  const trpc = useTRPC();
  const tenant = useTenant();
  const cas = useQuery(trpc.certs.list.queryOptions({ tenantId: tenant.id }, { enabled: monitor.tlsVerify === "ca" }));
  const caOptions = (cas.data ?? []).filter((c) => c.kind === "ca").map((c) => ({ value: c.id, label: c.name }));
  return (
    <div className="grid gap-4 sm:grid-cols-3">
      <SelectField label="Verify certificate" options={opts(["off", "system", "ca"], tlsVerifyLabels)} field={f("tlsVerify", "tls.verify")} />
      {monitor.tlsVerify === "ca" && (
        <SelectField
          label="CA certificate"
          options={[{ value: "", label: cas.isLoading ? "Loading…" : caOptions.length ? "Choose…" : "No CA certificates uploaded" }, ...caOptions]}
          field={f("caCertificate", "tls.caCertificate")}
        />
      )}
      <TextField label="SNI name" placeholder="optional" hint="server name sent and verified" field={f("sni", "tls.sni")} spellCheck={false} />
    </div>
  );
}

function ErrorsOf({ errors }: { errors: string[] | undefined }) {
  return <RowError errors={errors} />;
}

// ---- pool settings ---------------------------------------------------------------------------

export function PoolSettingsFields({
  pool,
  onChange,
  prefix,
  ctx,
}: {
  pool: Pick<PoolDraft, "minKind" | "minValue" | "allDownPolicy">;
  onChange: (patch: Partial<PoolDraft>) => void;
  /** e.g. "pools.0." */
  prefix: string;
  ctx: FormCtx;
}) {
  const minErrors = [...(ctx.errs(prefix + "minHealthy.value") ?? []), ...(ctx.errs(prefix + "minHealthy") ?? [])];
  return (
    <div className="grid gap-4 sm:grid-cols-3">
      <TextField
        label="Minimum healthy"
        inputMode="numeric"
        field={{
          ...fieldProps(ctx, prefix + "minHealthy.value", pool.minValue, (v) => onChange({ minValue: v })),
          errors: minErrors.length ? minErrors : undefined,
        }}
      />
      <SelectField
        label="Counted as"
        options={[
          { value: "count", label: "members" },
          { value: "percent", label: "% of members" },
        ]}
        field={fieldProps(ctx, prefix + "minHealthy.kind", pool.minKind, (v) => onChange({ minKind: v as PoolDraft["minKind"] }))}
      />
      <SelectField
        label="When all are down"
        options={opts(ALL_DOWN_POLICIES, { withdraw: "Withdraw the VIP", "fail-open": "Fail open (send to every member)" })}
        field={fieldProps(ctx, prefix + "allDownPolicy", pool.allDownPolicy, (v) => onChange({ allDownPolicy: v as PoolDraft["allDownPolicy"] }))}
      />
    </div>
  );
}

// ---- listener --------------------------------------------------------------------------------

export function ListenerFields({
  listener,
  onChange,
  prefix,
  ctx,
  poolNames,
  title,
  actions,
}: {
  listener: ListenerDraft;
  onChange: (patch: Partial<ListenerDraft>) => void;
  /** e.g. "listeners.1." */
  prefix: string;
  ctx: FormCtx;
  poolNames: string[];
  title?: string;
  actions?: ReactNode;
}) {
  const f = (k: keyof ListenerDraft, deep = false) => fieldProps(ctx, prefix + k, String(listener[k]), (v) => onChange({ [k]: v }), deep);
  const poolOptions = [
    ...(listener.pool && !poolNames.includes(listener.pool) ? [{ value: listener.pool, label: `${listener.pool} (missing)` }] : []),
    ...(listener.pool ? [] : [{ value: "", label: "Choose a pool…" }]),
    ...poolNames.map((n) => ({ value: n, label: n })),
  ];
  return (
    <fieldset className="space-y-4" aria-label={title}>
      {(title || actions) && (
        <div className="flex items-center justify-between gap-2">
          {title && <h3 className="text-sm font-semibold text-slate-900">{title}</h3>}
          {actions}
        </div>
      )}
      <div className="grid gap-4 sm:grid-cols-4">
        <SelectField label="Protocol" options={opts(PROTOCOLS)} field={f("protocol")} />
        <TextField label="Port" inputMode="numeric" placeholder="443" field={f("port")} />
        <TextField label="Range end" inputMode="numeric" placeholder="single port" hint="optional, for a port range" field={f("portEnd")} />
        <SelectField label="Pool" options={poolOptions} field={f("pool")} />
      </div>
      <div className="grid gap-4 sm:grid-cols-[1fr_14rem]">
        <TextField
          label="Allowed source CIDRs"
          placeholder="everyone (e.g. 198.18.0.0/15, 2001:db8::/32)"
          hint="comma or space separated; empty = any source"
          spellCheck={false}
          field={f("allowedCidrs", true)}
        />
        <SelectField label="Flow affinity" options={opts(AFFINITIES, { "5-tuple": "5-tuple (per connection)", "source-ip": "Source IP (sticky)" })} field={f("affinity")} />
      </div>
      <RowError errors={ctx.errs(prefix + "name")} />
    </fieldset>
  );
}
