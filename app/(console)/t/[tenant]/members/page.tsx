"use client";
// Tenant members: everyone in the tenant sees the list; admins add, re-role and remove.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { z } from "zod";
import { ROLE_VALUES, emailSchema, roleSchema } from "@/lib/schemas";
import { describeError, useZodForm } from "@/components/forms";
import { useMe } from "@/components/shell/session";
import { type Role, hasRole, useTenant } from "@/components/shell/tenant";
import { type RouterOutputs, useTRPC } from "@/components/trpc";
import { Button } from "@/components/ui/button";
import { ConfirmDialog } from "@/components/ui/dialog";
import { Alert, EmptyState, ErrorState, Loading } from "@/components/ui/feedback";
import { InlineSelect, SelectField, TextField } from "@/components/ui/field";
import { Badge, Card, PageHeader, Table, roleTone, td, th } from "@/components/ui/layout";
import { Time } from "@/components/ui/time";

type Member = RouterOutputs["members"]["list"][number];

const roleOptions = ROLE_VALUES.map((r) => ({ value: r, label: r[0]!.toUpperCase() + r.slice(1) }));
const roleHelp: Record<Role, string> = {
  viewer: "reads everything in the tenant",
  operator: "also changes load balancers",
  admin: "also manages members",
};

export default function MembersPage() {
  const tenant = useTenant();
  const trpc = useTRPC();
  const isAdmin = hasRole(tenant, "admin");
  const members = useQuery(trpc.members.list.queryOptions({ tenantId: tenant.id }));

  return (
    <>
      <PageHeader
        title="Members"
        description={isAdmin ? "People who can use this tenant, and what they may do." : "People who can use this tenant. Only tenant admins change members."}
      />
      <div className="grid items-start gap-6 lg:grid-cols-[1fr_20rem]">
        <Card title="Members" bodyClassName="">
          {members.isPending ? (
            <Loading label="Loading members…" />
          ) : members.isError ? (
            <div className="p-4">
              <ErrorState message={describeError(members.error).message} onRetry={() => void members.refetch()} />
            </div>
          ) : members.data.length === 0 ? (
            <div className="p-4">
              <EmptyState title="No members yet">
                {isAdmin ? "Add the first member with the form." : "Nobody has been added to this tenant yet."}
              </EmptyState>
            </div>
          ) : (
            <MemberTable members={members.data} canManage={isAdmin} />
          )}
        </Card>
        {isAdmin ? (
          <AddMember />
        ) : (
          <Card title="Roles">
            <RoleLegend />
          </Card>
        )}
      </div>
    </>
  );
}

function RoleLegend() {
  return (
    <dl className="space-y-2 text-sm">
      {ROLE_VALUES.map((r) => (
        <div key={r} className="flex items-baseline gap-2">
          <dt>
            <Badge tone={roleTone[r]}>{r}</Badge>
          </dt>
          <dd className="text-slate-600">{roleHelp[r]}</dd>
        </div>
      ))}
    </dl>
  );
}

function useInvalidateMembers() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const tenant = useTenant();
  return () =>
    Promise.all([
      queryClient.invalidateQueries({ queryKey: trpc.members.list.queryKey({ tenantId: tenant.id }) }),
      queryClient.invalidateQueries(trpc.tenants.pathFilter()),
      queryClient.invalidateQueries(trpc.me.pathFilter()),
    ]);
}

function MemberTable({ members, canManage }: { members: Member[]; canManage: boolean }) {
  const [removing, setRemoving] = useState<Member | null>(null);
  return (
    <>
      <Table label="Tenant members">
        <thead className="bg-slate-50">
          <tr>
            <th scope="col" className={th}>Member</th>
            <th scope="col" className={th}>Role</th>
            <th scope="col" className={th}>Since</th>
            {canManage && (
              <th scope="col" className={th}>
                <span className="sr-only">Actions</span>
              </th>
            )}
          </tr>
        </thead>
        <tbody className="divide-y divide-slate-100">
          {members.map((m) => (
            <MemberRow key={`${m.userId}:${m.role}`} member={m} canManage={canManage} onRemove={() => setRemoving(m)} />
          ))}
        </tbody>
      </Table>
      <RemoveMember member={removing} onDone={() => setRemoving(null)} />
    </>
  );
}

function MemberRow({ member, canManage, onRemove }: { member: Member; canManage: boolean; onRemove: () => void }) {
  const me = useMe();
  const trpc = useTRPC();
  const tenant = useTenant();
  const invalidate = useInvalidateMembers();
  const [role, setRole] = useState<Role>(member.role);
  const setRoleMutation = useMutation(
    trpc.members.setRole.mutationOptions({
      onSuccess: () => invalidate(),
      onError: () => setRole(member.role),
    }),
  );
  const changed = role !== member.role;
  const error = setRoleMutation.error ? describeError(setRoleMutation.error) : null;
  return (
    <tr data-member={member.email}>
      <td className={td}>
        <p className="font-medium text-slate-900">
          {member.name}
          {member.userId === me.id && <span className="ml-1.5 text-xs font-normal text-slate-500">(you)</span>}
        </p>
        <p className="text-xs text-slate-500">{member.email}</p>
      </td>
      <td className={td}>
        {canManage ? (
          <div>
            <div className="flex flex-wrap items-center gap-2">
              <InlineSelect
                label={`Role of ${member.email}`}
                value={role}
                onChange={(e) => {
                  setRoleMutation.reset();
                  setRole(roleSchema.parse(e.target.value));
                }}
                disabled={setRoleMutation.isPending}
              >
                {roleOptions.map((o) => (
                  <option key={o.value} value={o.value}>
                    {o.label}
                  </option>
                ))}
              </InlineSelect>
              {changed && (
                <>
                  <Button
                    size="sm"
                    loading={setRoleMutation.isPending}
                    onClick={() => setRoleMutation.mutate({ tenantId: tenant.id, userId: member.userId, role })}
                  >
                    Save
                  </Button>
                  <Button size="sm" variant="ghost" onClick={() => setRole(member.role)} disabled={setRoleMutation.isPending}>
                    Cancel
                  </Button>
                </>
              )}
            </div>
            {error && (
              <p role="alert" className="mt-1.5 max-w-xs text-xs text-red-700">
                {error.message}
              </p>
            )}
          </div>
        ) : (
          <Badge tone={roleTone[member.role]}>{member.role}</Badge>
        )}
      </td>
      <td className={td}>
        <Time date={member.since} />
      </td>
      {canManage && (
        <td className={`${td} text-right`}>
          <Button size="sm" variant="dangerGhost" onClick={onRemove} aria-label={`Remove ${member.email}`}>
            Remove
          </Button>
        </td>
      )}
    </tr>
  );
}

function RemoveMember({ member, onDone }: { member: Member | null; onDone: () => void }) {
  const trpc = useTRPC();
  const tenant = useTenant();
  const me = useMe();
  const invalidate = useInvalidateMembers();
  const remove = useMutation(
    trpc.members.remove.mutationOptions({
      onSuccess: async () => {
        await invalidate();
        onDone();
      },
    }),
  );
  const close = () => {
    remove.reset();
    onDone();
  };
  return (
    <ConfirmDialog
      open={member !== null}
      title="Remove member?"
      confirmLabel="Remove member"
      pending={remove.isPending}
      error={remove.error ? describeError(remove.error).message : null}
      onCancel={close}
      onConfirm={() => member && remove.mutate({ tenantId: tenant.id, userId: member.userId })}
    >
      {member && (
        <p>
          <strong className="font-medium text-slate-900">{member.name}</strong> ({member.email}) loses access to{" "}
          <strong className="font-medium text-slate-900">{tenant.name}</strong> at once.
          {member.userId === me.id && " That is you: you will no longer see this tenant."}
        </p>
      )}
    </ConfirmDialog>
  );
}

const addMemberForm = z.object({ email: emailSchema, role: roleSchema });

function AddMember() {
  const trpc = useTRPC();
  const tenant = useTenant();
  const invalidate = useInvalidateMembers();
  const [added, setAdded] = useState<string | null>(null);
  const form = useZodForm(addMemberForm, { email: "", role: "viewer" });
  const add = useMutation(
    trpc.members.add.mutationOptions({
      onSuccess: async (m) => {
        setAdded(`${m.email} is now ${/^[aeiou]/.test(m.role) ? "an" : "a"} ${m.role}.`);
        form.reset();
        await invalidate();
      },
      onError: (err) => form.showServerError(err),
    }),
  );
  const onSubmit = form.submit((data) => {
    setAdded(null);
    add.mutate({ tenantId: tenant.id, ...data });
  });
  return (
    <Card title="Add a member" description="They need an account first: sign-up, or a platform admin creates it.">
      <form ref={form.formRef} onSubmit={onSubmit} noValidate className="space-y-4">
        {form.formError && <Alert>{form.formError}</Alert>}
        {added && <Alert tone="success">{added}</Alert>}
        <TextField label="Email" type="email" autoComplete="off" placeholder="name@example.com" field={form.field("email")} />
        <SelectField label="Role" options={roleOptions} field={form.field("role")} />
        <p className="-mt-2 text-xs text-slate-500">{roleHelp[roleSchema.catch("viewer").parse(form.values.role)]}</p>
        <Button type="submit" loading={add.isPending} className="w-full">
          Add member
        </Button>
      </form>
    </Card>
  );
}
