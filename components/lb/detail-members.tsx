"use client";
// Members tab: one table per pool with checkboxes for bulk enable / disable / drain / remove
// (confirmed in a dialog that names the members), adding members (one by one or pasted), and
// editing a member's weight in place. Members are addressed by natural key (address, port).
import { useMutation } from "@tanstack/react-query";
import { type FormEvent, useMemo, useState } from "react";
import { z } from "zod";
import { memberSchema } from "@/lib/lb-schemas";
import { type FieldErrors, describeError } from "../forms";
import { useTenant } from "../shell/tenant";
import { useTRPC } from "../trpc";
import { Button } from "../ui/button";
import { cx } from "../ui/cx";
import { ConfirmDialog } from "../ui/dialog";
import { EmptyState } from "../ui/feedback";
import { Card, Table, td, th } from "../ui/layout";
import { ChangeError, type MemberView, type PoolView, useApplyChange, useLb } from "./context";
import { type MemberDraft, emptyMember, memberInput, mergeErrors, zodErrors } from "./draft";
import { MembersEditor, makeFormCtx } from "./editors";
import { memberText } from "./format";
import { AdminStateBadge, StatusWithReason } from "./status";
import { WideDialog } from "./wide-dialog";

type BulkAction = "enabled" | "disabled" | "draining" | "remove";

const actionWords: Record<BulkAction, { verb: string; button: string; explain: string }> = {
  enabled: { verb: "Enable", button: "Enable", explain: "They take new flows again (once healthy)." },
  disabled: { verb: "Disable", button: "Disable", explain: "They get no traffic at all; their flows move to the other members." },
  draining: { verb: "Drain", button: "Drain", explain: "They take no new flows; existing flows continue until they end." },
  remove: { verb: "Remove", button: "Remove", explain: "They are deleted from the pool; their flows move to the other members." },
};

export function MembersTab() {
  const { lb } = useLb();
  if (lb.pools.length === 0) return <EmptyState title="No pools">Members belong to pools: add a pool first (Pools tab).</EmptyState>;
  return (
    <div className="space-y-6">
      {lb.pools.map((p) => (
        <PoolMembers key={p.id} pool={p} />
      ))}
    </div>
  );
}

const keyOf = (m: { address: string; port: number }) => `${m.address}|${m.port}`;

function PoolMembers({ pool }: { pool: PoolView }) {
  const { lb, lbRef, canEdit, reload } = useLb();
  const tenant = useTenant();
  const trpc = useTRPC();
  const apply = useApplyChange();
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [action, setAction] = useState<{ kind: BulkAction; members: MemberView[]; revision: number } | null>(null);
  const [adding, setAdding] = useState(false);

  // Keep only selections that still exist (another change may have removed members).
  const present = new Set(pool.members.map(keyOf));
  const chosen = pool.members.filter((m) => selected.has(keyOf(m)));
  const allChosen = pool.members.length > 0 && chosen.length === pool.members.length;

  const done = async (view: Parameters<typeof apply>[0]) => {
    await apply(view);
    setAction(null);
    setSelected(new Set());
  };
  const setState = useMutation(trpc.poolMembers.setState.mutationOptions({ onSuccess: done }));
  const remove = useMutation(trpc.poolMembers.remove.mutationOptions({ onSuccess: done }));
  const pending = setState.isPending || remove.isPending;
  const error = setState.error ?? remove.error;

  const open = (kind: BulkAction) => {
    setState.reset();
    remove.reset();
    setAction({ kind, members: chosen, revision: lb.revision });
  };
  const confirm = () => {
    if (!action) return;
    const target = { lb: lbRef, pool: pool.name };
    const members = action.members.map((m) => ({ address: m.address, port: m.port }));
    if (action.kind === "remove") remove.mutate({ tenantId: tenant.id, target, members, expectedRevision: action.revision });
    else setState.mutate({ tenantId: tenant.id, target, members, state: action.kind, expectedRevision: action.revision });
  };

  return (
    <Card
      title={`Pool ${pool.name}`}
      description={`${pool.members.length} member${pool.members.length === 1 ? "" : "s"}`}
      bodyClassName=""
      actions={
        canEdit && (
          <Button size="sm" onClick={() => setAdding(true)} aria-label={`Add members to ${pool.name}`}>
            Add members
          </Button>
        )
      }
    >
      {canEdit && pool.members.length > 0 && (
        <div role="toolbar" aria-label={`Bulk actions for ${pool.name}`} className="flex flex-wrap items-center gap-2 border-b border-slate-200 bg-slate-50 px-4 py-2 sm:px-5">
          <span className="mr-2 text-xs text-slate-600" aria-live="polite">
            {chosen.length ? `${chosen.length} selected` : "Select members for bulk actions"}
          </span>
          {(["enabled", "disabled", "draining", "remove"] as const).map((k) => (
            <Button key={k} size="sm" variant={k === "remove" ? "dangerGhost" : "secondary"} disabled={chosen.length === 0} onClick={() => open(k)}>
              {actionWords[k].button}
            </Button>
          ))}
        </div>
      )}
      {pool.members.length === 0 ? (
        <div className="p-4">
          <EmptyState title="No members">Traffic for this pool has nowhere to go until members are added.</EmptyState>
        </div>
      ) : (
        <Table label={`Members of ${pool.name}`}>
          <thead className="bg-slate-50">
            <tr>
              {canEdit && (
                <th scope="col" className={cx(th, "w-10")}>
                  <input
                    type="checkbox"
                    aria-label={`Select all members of ${pool.name}`}
                    checked={allChosen}
                    ref={(el) => {
                      if (el) el.indeterminate = chosen.length > 0 && !allChosen;
                    }}
                    onChange={() => setSelected(allChosen ? new Set() : new Set(pool.members.map(keyOf)))}
                    className="size-4 rounded text-indigo-600"
                  />
                </th>
              )}
              <th scope="col" className={th}>Member</th>
              <th scope="col" className={th}>Weight</th>
              <th scope="col" className={th}>Admin state</th>
              <th scope="col" className={th}>Operating</th>
            </tr>
          </thead>
          <tbody className="divide-y divide-slate-100">
            {pool.members.map((m) => {
              const k = keyOf(m);
              return (
                <tr key={m.id} data-member={memberText(m)} className={cx(selected.has(k) && "bg-indigo-50/50")}>
                  {canEdit && (
                    <td className={td}>
                      <input
                        type="checkbox"
                        aria-label={`Select ${memberText(m)}`}
                        checked={selected.has(k)}
                        onChange={() =>
                          setSelected((s) => {
                            const n = new Set([...s].filter((x) => present.has(x)));
                            if (n.has(k)) n.delete(k);
                            else n.add(k);
                            return n;
                          })
                        }
                        className="size-4 rounded text-indigo-600"
                      />
                    </td>
                  )}
                  <td className={cx(td, "whitespace-nowrap font-mono text-slate-900")}>
                    {memberText(m)}
                    {(m.monitorAddress || m.monitorPort) && (
                      <p className="font-sans text-xs text-slate-500">
                        checked at {m.monitorAddress ?? m.address}:{m.monitorPort ?? m.port}
                      </p>
                    )}
                  </td>
                  <td className={td}>{canEdit ? <WeightEditor pool={pool} member={m} /> : m.weight}</td>
                  <td className={td}>
                    <AdminStateBadge state={m.adminState} />
                  </td>
                  <td className={td}>
                    <StatusWithReason axis="operating" status={m.operating.status} reason={m.operating.reason} />
                  </td>
                </tr>
              );
            })}
          </tbody>
        </Table>
      )}
      <ConfirmDialog
        open={action !== null}
        title={action ? `${actionWords[action.kind].verb} ${action.members.length} member${action.members.length === 1 ? "" : "s"}?` : ""}
        confirmLabel={action ? `${actionWords[action.kind].verb} ${action.members.length === 1 ? "member" : "members"}` : "Confirm"}
        danger={action?.kind === "remove" || action?.kind === "disabled"}
        pending={pending}
        error={null}
        onCancel={() => setAction(null)}
        onConfirm={confirm}
      >
        {action && (
          <>
            <p>
              In pool <strong className="font-medium text-slate-900">{pool.name}</strong> of {lb.name} ({lb.address}):
            </p>
            <ul className="mt-2 max-h-48 space-y-0.5 overflow-y-auto rounded-md bg-slate-50 px-3 py-2 font-mono text-xs text-slate-900" aria-label="Members to change">
              {action.members.map((m) => (
                <li key={m.id}>{memberText(m)}</li>
              ))}
            </ul>
            <p className="mt-2">{actionWords[action.kind].explain}</p>
            <ChangeError
              className="mt-3"
              error={error}
              onReload={() =>
                void reload().then((r) => {
                  if (r !== undefined) setAction((a) => (a ? { ...a, revision: r } : a));
                  setState.reset();
                  remove.reset();
                })
              }
            />
          </>
        )}
      </ConfirmDialog>
      <WideDialog open={adding} onClose={() => setAdding(false)} title={`Add members to ${pool.name}`}>
        {adding && <AddMembersForm pool={pool} onDone={() => setAdding(false)} />}
      </WideDialog>
    </Card>
  );
}

const weightSchema = memberSchema.shape.weight.unwrap();

function WeightEditor({ pool, member }: { pool: PoolView; member: MemberView }) {
  const { lb, lbRef } = useLb();
  const tenant = useTenant();
  const trpc = useTRPC();
  const apply = useApplyChange();
  const [value, setValue] = useState(String(member.weight));
  const update = useMutation(trpc.poolMembers.update.mutationOptions({ onSuccess: (view) => apply(view) }));
  const parsed = weightSchema.safeParse(/^\d+$/.test(value.trim()) ? Number(value) : Number.NaN);
  const changed = value.trim() !== String(member.weight);
  const err = !parsed.success ? (Number.isNaN(Number(value)) || value.trim() === "" ? "0–256" : parsed.error.issues[0]?.message) : null;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (!parsed.success || !changed) return;
    update.mutate({
      tenantId: tenant.id,
      target: { lb: lbRef, pool: pool.name },
      member: { address: member.address, port: member.port },
      expectedRevision: lb.revision,
      weight: parsed.data,
    });
  };
  return (
    <form onSubmit={submit} className="flex items-start gap-1.5">
      <div>
        <input
          aria-label={`Weight of ${memberText(member)}`}
          value={value}
          inputMode="numeric"
          onChange={(e) => {
            setValue(e.target.value);
            update.reset();
          }}
          aria-invalid={err ? true : undefined}
          className={cx(
            "w-16 rounded-md border-0 px-2 py-1 text-sm ring-1 ring-inset focus:ring-2",
            err ? "ring-red-400 focus:ring-red-600" : "ring-slate-300 focus:ring-indigo-600",
          )}
        />
        {err && <p className="mt-1 text-xs text-red-700">{err}</p>}
        {update.error && <p className="mt-1 max-w-[14rem] text-xs text-red-700" role="alert">{describeError(update.error).message}</p>}
      </div>
      {changed && !err && (
        <Button type="submit" size="sm" loading={update.isPending}>
          Save
        </Button>
      )}
      {member.weight === 0 && !changed && <span className="pt-1 text-xs text-violet-700">drains</span>}
    </form>
  );
}

const addSchema = z.object({ members: z.array(memberSchema).min(1, "add at least one member") });

function AddMembersForm({ pool, onDone }: { pool: PoolView; onDone: () => void }) {
  const { lb, lbRef, reload } = useLb();
  const tenant = useTenant();
  const trpc = useTRPC();
  const apply = useApplyChange();
  const [members, setMembers] = useState<MemberDraft[]>(() => [emptyMember()]);
  const [baseRevision, setBaseRevision] = useState(lb.revision);
  const [touched, setTouched] = useState<Set<string>>(new Set());
  const [attempted, setAttempted] = useState(false);
  const [serverErrors, setServerErrors] = useState<FieldErrors>({});
  const clientErrors = useMemo(() => {
    const existing = new Set(pool.members.map(keyOf));
    const parsed = addSchema.safeParse({ members: members.map(memberInput) });
    const extra: FieldErrors = {};
    const seen = new Set<string>();
    members.forEach((m, i) => {
      const p = memberSchema.safeParse(memberInput(m));
      if (!p.success) return;
      const k = keyOf(p.data);
      if (existing.has(k)) (extra[`members.${i}`] ??= []).push(`${memberText(p.data)} is already in the pool`);
      else if (seen.has(k)) (extra[`members.${i}`] ??= []).push(`${memberText(p.data)} is listed twice`);
      seen.add(k);
    });
    return mergeErrors(parsed.success ? {} : zodErrors(parsed.error), extra);
  }, [members, pool.members]);

  const ctx = makeFormCtx(
    clientErrors,
    serverErrors,
    (p) => attempted || touched.has(p),
    (p) => setTouched((t) => new Set(t).add(p)),
  );
  const add = useMutation(
    trpc.poolMembers.add.mutationOptions({
      onSuccess: async (view) => {
        await apply(view);
        onDone();
      },
      onError: (err) => setServerErrors(describeError(err).fieldErrors),
    }),
  );
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setAttempted(true);
    if (Object.keys(clientErrors).length) return;
    add.mutate({
      tenantId: tenant.id,
      target: { lb: lbRef, pool: pool.name },
      members: addSchema.parse({ members: members.map(memberInput) }).members,
      expectedRevision: baseRevision,
    });
  };
  return (
    <form onSubmit={submit} noValidate className="space-y-4">
      <ChangeError
        error={add.error}
        onReload={() =>
          void reload().then((r) => {
            if (r !== undefined) setBaseRevision(r);
            add.reset();
          })
        }
      />
      <MembersEditor
        members={members}
        onChange={(m) => {
          setMembers(m);
          setServerErrors({});
        }}
        prefix="members."
        ctx={ctx}
        poolLabel={`new members of ${pool.name}`}
      />
      <div className="flex justify-end gap-2">
        <Button variant="secondary" onClick={onDone} disabled={add.isPending}>
          Cancel
        </Button>
        <Button type="submit" loading={add.isPending}>
          Add {members.length} member{members.length === 1 ? "" : "s"}
        </Button>
      </div>
    </form>
  );
}
