"use client";
// The create wizard: basics → pools (members, monitor) → listeners → review → create, building
// the whole tree for one fully populated `lb.create`. Validation as you type with the shared
// schemas; the server's field errors come back to the step and input they are about.
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useRouter } from "next/navigation";
import { useMemo, useRef, useState, type ReactNode } from "react";
import { createLbInput } from "@/lib/lb-schemas";
import { type FieldErrors, describeError } from "../forms";
import { useTenant } from "../shell/tenant";
import { useTRPC } from "../trpc";
import { Button, ButtonLink } from "../ui/button";
import { cx } from "../ui/cx";
import { Alert } from "../ui/feedback";
import { SelectField, TextField } from "../ui/field";
import { Card } from "../ui/layout";
import {
  type LbDraft,
  type ListenerDraft,
  type PoolDraft,
  emptyLbDraft,
  emptyListener,
  emptyPool,
  lbInput,
  mergeErrors,
  monitorInput,
  stepOf,
  treeErrors,
  zodErrors,
} from "./draft";
import { ListenerFields, MembersEditor, MonitorFields, PoolSettingsFields, RowError, fieldProps, makeFormCtx } from "./editors";
import { listenersText, memberText, msText, parseTags, portsText } from "./format";

const STEPS = ["Basics", "Pools", "Listeners", "Review"] as const;

export function CreateWizard() {
  const tenant = useTenant();
  const trpc = useTRPC();
  const router = useRouter();
  const queryClient = useQueryClient();
  const [draft, setDraft] = useState<LbDraft>(emptyLbDraft);
  const [step, setStep] = useState(0);
  const [attempted, setAttempted] = useState<Set<number>>(new Set());
  const [touched, setTouched] = useState<Set<string>>(new Set());
  const [serverErrors, setServerErrors] = useState<FieldErrors>({});
  const [formError, setFormError] = useState<string | null>(null);
  // One key per wizard: a create retried after a lost answer returns the first result.
  // getRandomValues, not randomUUID: the latter exists only in secure contexts (HTTPS or
  // localhost), and a console reached over plain HTTP by address must work too.
  const [idempotencyKey] = useState(() => `console-${Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("")}`);
  const top = useRef<HTMLDivElement>(null);
  const base = `/t/${encodeURIComponent(tenant.slug)}/lbs`;

  const clientErrors = useMemo(() => {
    const parsed = createLbInput.safeParse(lbInput(tenant.id, draft));
    return mergeErrors(parsed.success ? {} : zodErrors(parsed.error), treeErrors(draft));
  }, [draft, tenant.id]);

  const ctx = makeFormCtx(
    clientErrors,
    serverErrors,
    (path) => touched.has(path) || attempted.has(stepOf(path)),
    (path) => setTouched((t) => (t.has(path) ? t : new Set(t).add(path))),
  );

  /** Changes the draft; server errors of the changed step are answered by the change. */
  const update = (section: 0 | 1 | 2, fn: (d: LbDraft) => void) => {
    setDraft((prev) => {
      const next = structuredClone(prev);
      fn(next);
      return next;
    });
    setServerErrors((e) => Object.fromEntries(Object.entries(e).filter(([k]) => stepOf(k) !== section)));
  };

  const stepErrors = (s: number) => Object.keys(clientErrors).filter((k) => stepOf(k) === s && k !== "tenantId");

  const goTo = (s: number) => {
    setStep(s);
    top.current?.scrollIntoView({ block: "start" });
  };

  const next = () => {
    setAttempted((a) => new Set(a).add(step));
    if (stepErrors(step).length) {
      // Focus the first input that needs attention (after the errors render).
      requestAnimationFrame(() => top.current?.parentElement?.querySelector<HTMLElement>("[aria-invalid=true]")?.focus());
      return;
    }
    goTo(step + 1);
  };

  const create = useMutation(
    trpc.lb.create.mutationOptions({
      onSuccess: async (lb) => {
        await queryClient.invalidateQueries(trpc.lb.list.pathFilter());
        router.push(`${base}/${lb.id}`);
      },
      onError: (error) => {
        const { message, fieldErrors } = describeError(error);
        setServerErrors(fieldErrors);
        setFormError(message);
        const first = Object.keys(fieldErrors)[0];
        if (first !== undefined) goTo(stepOf(first));
      },
    }),
  );

  const submit = () => {
    setAttempted(new Set([0, 1, 2, 3]));
    setFormError(null);
    const firstBad = [0, 1, 2].find((s) => stepErrors(s).length);
    if (firstBad !== undefined) {
      setFormError(`Some fields need attention in “${STEPS[firstBad]}”.`);
      goTo(firstBad);
      return;
    }
    const parsed = createLbInput.parse(lbInput(tenant.id, draft, idempotencyKey));
    create.mutate(parsed);
  };

  const poolNames = draft.pools.map((p) => p.name.trim()).filter(Boolean);

  return (
    <div ref={top} className="scroll-mt-20">
      <Stepper step={step} errorSteps={[0, 1, 2].filter((s) => attempted.has(s) && stepErrors(s).length > 0)} onStep={(s) => s < step && goTo(s)} />
      {formError && (
        <Alert className="mb-4" title="The load balancer was not created">
          {formError}
        </Alert>
      )}
      {step === 0 && <BasicsStep draft={draft} update={update} ctx={ctx} />}
      {step === 1 && <PoolsStep draft={draft} update={update} ctx={ctx} />}
      {step === 2 && <ListenersStep draft={draft} update={update} ctx={ctx} poolNames={poolNames} />}
      {step === 3 && <ReviewStep draft={draft} onEdit={goTo} />}
      <div className="mt-6 flex flex-wrap items-center justify-between gap-3">
        <ButtonLink href={base} variant="ghost">
          Cancel
        </ButtonLink>
        <div className="flex gap-2">
          {step > 0 && (
            <Button variant="secondary" onClick={() => goTo(step - 1)} disabled={create.isPending}>
              ← Back
            </Button>
          )}
          {step < 3 ? (
            <Button onClick={next}>Next: {STEPS[step + 1]} →</Button>
          ) : (
            <Button onClick={submit} loading={create.isPending}>
              Create load balancer
            </Button>
          )}
        </div>
      </div>
    </div>
  );
}

function Stepper({ step, errorSteps, onStep }: { step: number; errorSteps: number[]; onStep: (s: number) => void }) {
  return (
    <nav aria-label="Wizard steps" className="mb-6">
      <ol className="grid grid-cols-4 gap-2">
        {STEPS.map((label, i) => {
          const state = i === step ? "current" : i < step ? "done" : "todo";
          const bad = errorSteps.includes(i);
          return (
            <li key={label}>
              <button
                type="button"
                onClick={() => onStep(i)}
                disabled={i >= step}
                aria-current={i === step ? "step" : undefined}
                className={cx(
                  "flex w-full flex-col items-start border-t-4 pt-2 text-left disabled:cursor-default",
                  bad ? "border-red-500" : state === "todo" ? "border-slate-200" : "border-indigo-600",
                )}
              >
                <span className={cx("text-xs font-medium", bad ? "text-red-700" : state === "todo" ? "text-slate-400" : "text-indigo-700")}>
                  Step {i + 1}
                </span>
                <span className={cx("text-sm font-medium", state === "todo" ? "text-slate-500" : "text-slate-900")}>{label}</span>
              </button>
            </li>
          );
        })}
      </ol>
    </nav>
  );
}

type Update = (section: 0 | 1 | 2, fn: (d: LbDraft) => void) => void;
type Ctx = ReturnType<typeof makeFormCtx>;

function BasicsStep({ draft, update, ctx }: { draft: LbDraft; update: Update; ctx: Ctx }) {
  const b = draft.basics;
  const set = (k: keyof typeof b) => (v: string) => update(0, (d) => void ((d.basics as unknown as Record<string, unknown>)[k] = v));
  return (
    <Card title="Basics" description="The VIP: its name, address and how many LB nodes carry it.">
      <div className="space-y-5">
        <div className="grid gap-4 sm:grid-cols-2">
          <TextField label="Name" placeholder="web-frontend" autoComplete="off" spellCheck={false} field={fieldProps(ctx, "name", b.name, set("name"))} />
          <TextField label="Description" placeholder="optional" field={fieldProps(ctx, "description", b.description, set("description"))} />
        </div>
        <fieldset>
          <legend className="text-sm font-medium text-slate-800">VIP address</legend>
          <div className="mt-2 flex flex-wrap gap-x-6 gap-y-2 text-sm">
            {(["auto", "requested"] as const).map((mode) => (
              <label key={mode} className="flex items-center gap-2">
                <input
                  type="radio"
                  name="addressMode"
                  checked={b.addressMode === mode}
                  onChange={() => update(0, (d) => void (d.basics.addressMode = mode))}
                  className="size-4 text-indigo-600"
                />
                {mode === "auto" ? "Allocate one from an IP pool" : "Request a specific address"}
              </label>
            ))}
          </div>
          <div className="mt-3 grid gap-4 sm:grid-cols-2">
            {b.addressMode === "auto" ? (
              <SelectField
                label="IP family"
                options={[
                  { value: "4", label: "IPv4" },
                  { value: "6", label: "IPv6" },
                ]}
                field={fieldProps(ctx, "family", b.family, set("family"))}
              />
            ) : (
              <TextField
                label="Requested address"
                placeholder="198.18.10.5 or 2001:db8::5"
                hint="must be inside an IP pool available to this tenant and not in use"
                spellCheck={false}
                field={fieldProps(ctx, "address", b.address, set("address"))}
              />
            )}
            <TextField label="Replicas" inputMode="numeric" hint="LB nodes carrying the VIP, spread over AZs (1–8)" field={fieldProps(ctx, "replicas", b.replicas, set("replicas"))} />
          </div>
          <RowError errors={ctx.errs("ipPoolId")} />
        </fieldset>
        <TextField
          label="Tags"
          placeholder="env=prod, team=web"
          hint="key=value pairs, comma separated"
          spellCheck={false}
          field={fieldProps(ctx, "tags", b.tags, set("tags"), true)}
        />
        <label className="flex items-start gap-3 text-sm">
          <input
            type="checkbox"
            checked={b.deletionProtection}
            onChange={(e) => update(0, (d) => void (d.basics.deletionProtection = e.target.checked))}
            className="mt-0.5 size-4 rounded text-indigo-600"
          />
          <span>
            <span className="font-medium text-slate-800">Deletion protection</span>
            <span className="block text-xs text-slate-500">Deleting is refused until it is turned off.</span>
          </span>
        </label>
      </div>
    </Card>
  );
}

function PoolsStep({ draft, update, ctx }: { draft: LbDraft; update: Update; ctx: Ctx }) {
  const setPool = (i: number, patch: Partial<PoolDraft>) =>
    update(1, (d) => {
      const old = d.pools[i]!;
      // Renaming a pool keeps the listeners pointing at it.
      if (patch.name !== undefined) for (const l of d.listeners) if (l.pool === old.name) l.pool = patch.name;
      Object.assign(old, patch);
    });
  return (
    <div className="space-y-6">
      <RowError errors={ctx.errs("pools")} />
      {draft.pools.map((p, i) => (
        <Card
          key={p.key}
          title={`Pool ${i + 1}${p.name ? ` · ${p.name}` : ""}`}
          description="Backends that share a health monitor; listeners send traffic to a pool."
          actions={
            draft.pools.length > 1 && (
              <Button size="sm" variant="dangerGhost" onClick={() => update(1, (d) => void d.pools.splice(i, 1))}>
                Remove pool
              </Button>
            )
          }
        >
          <div className="space-y-6">
            <TextField
              label="Pool name"
              className="max-w-xs"
              spellCheck={false}
              autoComplete="off"
              field={fieldProps(ctx, `pools.${i}.name`, p.name, (v) => setPool(i, { name: v }))}
            />
            <div>
              <h3 className="mb-2 text-sm font-semibold text-slate-900">Members</h3>
              <MembersEditor
                members={p.members}
                onChange={(members) => setPool(i, { members })}
                prefix={`pools.${i}.members.`}
                ctx={ctx}
                poolLabel={p.name || `pool ${i + 1}`}
              />
            </div>
            <MonitorFields
              monitor={p.monitor}
              onChange={(patch) => setPool(i, { monitor: { ...p.monitor, ...patch } })}
              prefix={`pools.${i}.monitor.`}
              ctx={ctx}
            />
            <PoolSettingsFields pool={p} onChange={(patch) => setPool(i, patch)} prefix={`pools.${i}.`} ctx={ctx} />
          </div>
        </Card>
      ))}
      <Button variant="secondary" onClick={() => update(1, (d) => void d.pools.push(emptyPool(d.pools.some((x) => x.name === "web") ? `pool-${d.pools.length + 1}` : "web")))}>
        + Add pool
      </Button>
    </div>
  );
}

function ListenersStep({ draft, update, ctx, poolNames }: { draft: LbDraft; update: Update; ctx: Ctx; poolNames: string[] }) {
  const setListener = (i: number, patch: Partial<ListenerDraft>) => update(2, (d) => void Object.assign(d.listeners[i]!, patch));
  return (
    <Card title="Listeners" description="Ports the VIP answers on (TCP or UDP, one port or a range), each sent to a pool.">
      <div className="space-y-6 divide-y divide-slate-100">
        <RowError errors={ctx.errs("listeners")} />
        {draft.listeners.map((l, i) => (
          <div key={l.key} className={cx(i > 0 && "pt-6")}>
            <ListenerFields
              listener={l}
              onChange={(patch) => setListener(i, patch)}
              prefix={`listeners.${i}.`}
              ctx={ctx}
              poolNames={poolNames}
              title={`Listener ${i + 1}`}
              actions={
                <Button size="sm" variant="dangerGhost" onClick={() => update(2, (d) => void d.listeners.splice(i, 1))} aria-label={`Remove listener ${i + 1}`}>
                  Remove
                </Button>
              }
            />
          </div>
        ))}
        {draft.listeners.length === 0 && <p className="text-sm text-slate-500">No listeners: the VIP would answer on no port.</p>}
      </div>
      <Button className="mt-5" variant="secondary" onClick={() => update(2, (d) => void d.listeners.push(emptyListener(poolNames[0] ?? "")))}>
        + Add listener
      </Button>
    </Card>
  );
}

function ReviewStep({ draft, onEdit }: { draft: LbDraft; onEdit: (s: number) => void }) {
  const b = draft.basics;
  const tags = parseTags(b.tags).tags;
  const edit = (s: number) => (
    <Button size="sm" variant="ghost" onClick={() => onEdit(s)}>
      Edit
    </Button>
  );
  const listeners = draft.listeners.map((l) => ({
    protocol: l.protocol,
    port: Number(l.port),
    portEnd: l.portEnd.trim() ? Number(l.portEnd) : Number(l.port),
  }));
  return (
    <div className="space-y-6" aria-label="Review">
      <Card title="Basics" actions={edit(0)}>
        <dl className="grid gap-x-6 gap-y-3 text-sm sm:grid-cols-3">
          <Item label="Name">{b.name}</Item>
          <Item label="Address">{b.addressMode === "auto" ? `allocated (IPv${b.family})` : b.address}</Item>
          <Item label="Replicas">{b.replicas}</Item>
          <Item label="Listeners">{listenersText(listeners) || "none"}</Item>
          <Item label="Tags">{Object.keys(tags).length ? Object.entries(tags).map(([k, v]) => `${k}=${v}`).join(", ") : "none"}</Item>
          <Item label="Deletion protection">{b.deletionProtection ? "on" : "off"}</Item>
        </dl>
      </Card>
      <Card title="Pools" actions={edit(1)}>
        <ul className="space-y-4 text-sm">
          {draft.pools.map((p) => {
            const mon = monitorInput(p.monitor);
            return (
              <li key={p.key}>
                <p className="font-medium text-slate-900">
                  {p.name} · {p.members.length} member{p.members.length === 1 ? "" : "s"}
                </p>
                <p className="text-slate-600">
                  {mon
                    ? `${mon.type} monitor every ${msText(mon.intervalMs)}, timeout ${msText(mon.timeoutMs)}, rise ${mon.rise} / fall ${mon.fall}${mon.http ? `, ${mon.http.method} ${mon.http.path} expects ${mon.http.expectedCodes}` : ""}`
                    : "no health monitor"}
                  {` · min healthy ${p.minValue}${p.minKind === "percent" ? "%" : ""} · all down: ${p.allDownPolicy}`}
                </p>
                <p className="mt-1 font-mono text-xs text-slate-500">
                  {p.members.map((m) => `${memberText({ address: m.address, port: Number(m.port) })} w${m.weight || 100}${m.adminState !== "enabled" ? ` (${m.adminState})` : ""}`).join(", ")}
                </p>
              </li>
            );
          })}
        </ul>
      </Card>
      <Card title="Listeners" actions={edit(2)}>
        <ul className="space-y-1 text-sm">
          {draft.listeners.map((l) => (
            <li key={l.key}>
              <span className="font-medium text-slate-900">
                {l.protocol} {portsText(Number(l.port), l.portEnd.trim() ? Number(l.portEnd) : Number(l.port))}
              </span>{" "}
              → pool {l.pool} <span className="text-slate-500">· {l.affinity}{l.allowedCidrs.trim() ? ` · from ${l.allowedCidrs}` : " · any source"}</span>
            </li>
          ))}
        </ul>
      </Card>
      <p className="text-sm text-slate-500">
        After creating, the VIP is placed on LB nodes; it shows <span className="font-medium">PENDING_CREATE</span> until the nodes have applied it.
      </p>
    </div>
  );
}

function Item({ label, children }: { label: string; children: ReactNode }) {
  return (
    <div>
      <dt className="text-xs font-medium text-slate-500">{label}</dt>
      <dd className="mt-0.5 break-words text-slate-900">{children}</dd>
    </div>
  );
}
