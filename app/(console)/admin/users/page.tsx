"use client";
// Platform admins: every user with their memberships; create users; grant or take the
// platform-admin role.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { useId, useState } from "react";
import { PASSWORD_MIN, createUserInput } from "@/lib/schemas";
import { describeError, useZodForm } from "@/components/forms";
import { useMe } from "@/components/shell/session";
import { type RouterOutputs, useTRPC } from "@/components/trpc";
import { Button } from "@/components/ui/button";
import { ConfirmDialog } from "@/components/ui/dialog";
import { Alert, EmptyState, ErrorState, Loading } from "@/components/ui/feedback";
import { TextField } from "@/components/ui/field";
import { UsersIcon } from "@/components/ui/icons";
import { Badge, Card, PageHeader, Table, roleTone, td, th } from "@/components/ui/layout";
import { Time } from "@/components/ui/time";

type User = RouterOutputs["users"]["list"][number];

export default function UsersAdminPage() {
  const trpc = useTRPC();
  const me = useMe();
  const users = useQuery(trpc.users.list.queryOptions());
  const [toggling, setToggling] = useState<User | null>(null);
  return (
    <>
      <PageHeader
        title="Users"
        description="Everyone with an account. Add people to a tenant from that tenant's Members page."
      />
      <div className="grid items-start gap-6 lg:grid-cols-[1fr_20rem]">
        <Card title="All users" bodyClassName="">
          {users.isPending ? (
            <Loading label="Loading users…" />
          ) : users.isError ? (
            <div className="p-4">
              <ErrorState message={describeError(users.error).message} onRetry={() => void users.refetch()} />
            </div>
          ) : users.data.length === 0 ? (
            <div className="p-4">
              <EmptyState icon={<UsersIcon className="size-10" />} title="No users" />
            </div>
          ) : (
            <Table label="Users">
              <thead className="bg-slate-50">
                <tr>
                  <th scope="col" className={th}>User</th>
                  <th scope="col" className={th}>Tenants</th>
                  <th scope="col" className={th}>Joined</th>
                  <th scope="col" className={th}>
                    <span className="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody className="divide-y divide-slate-100">
                {users.data.map((u) => (
                  <tr key={u.id} data-user={u.email}>
                    <td className={td}>
                      <p className="font-medium text-slate-900">
                        {u.name}
                        {u.id === me.id && <span className="ml-1.5 text-xs font-normal text-slate-500">(you)</span>}
                      </p>
                      <p className="text-xs text-slate-500">{u.email}</p>
                      {u.platformAdmin && (
                        <p className="mt-1">
                          <Badge tone="amber">platform admin</Badge>
                        </p>
                      )}
                    </td>
                    <td className={td}>
                      {u.tenants.length === 0 ? (
                        <span className="text-slate-400">none</span>
                      ) : (
                        <ul className="flex flex-wrap gap-1.5">
                          {u.tenants.map((t) => (
                            <li key={t.id}>
                              <Link href={`/t/${t.slug}/members`} className="inline-flex items-center gap-1 rounded-md bg-slate-50 px-1.5 py-0.5 text-xs ring-1 ring-slate-200 hover:bg-slate-100">
                                <span className="font-mono">{t.slug}</span>
                                <Badge tone={roleTone[t.role]}>{t.role}</Badge>
                              </Link>
                            </li>
                          ))}
                        </ul>
                      )}
                    </td>
                    <td className={td}>
                      <Time date={u.createdAt} />
                    </td>
                    <td className={`${td} text-right`}>
                      <Button size="sm" variant={u.platformAdmin ? "dangerGhost" : "ghost"} onClick={() => setToggling(u)}>
                        {u.platformAdmin ? "Revoke platform admin" : "Make platform admin"}
                      </Button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </Table>
          )}
        </Card>
        <CreateUser />
      </div>
      <TogglePlatformAdmin user={toggling} onDone={() => setToggling(null)} />
    </>
  );
}

function TogglePlatformAdmin({ user, onDone }: { user: User | null; onDone: () => void }) {
  const trpc = useTRPC();
  const me = useMe();
  const queryClient = useQueryClient();
  const toggle = useMutation(
    trpc.users.setPlatformAdmin.mutationOptions({
      onSuccess: async () => {
        await Promise.all([
          queryClient.invalidateQueries(trpc.users.pathFilter()),
          queryClient.invalidateQueries(trpc.me.pathFilter()),
        ]);
        onDone();
      },
    }),
  );
  const grant = user ? !user.platformAdmin : true;
  return (
    <ConfirmDialog
      open={user !== null}
      title={grant ? "Make platform admin?" : "Revoke platform admin?"}
      confirmLabel={grant ? "Make platform admin" : "Revoke platform admin"}
      danger={!grant}
      pending={toggle.isPending}
      error={toggle.error ? describeError(toggle.error).message : null}
      onCancel={() => {
        toggle.reset();
        onDone();
      }}
      onConfirm={() => user && toggle.mutate({ userId: user.id, platformAdmin: grant })}
    >
      {user &&
        (grant ? (
          <p>
            <strong className="font-medium text-slate-900">{user.email}</strong> will manage every tenant, user and
            node of the platform.
          </p>
        ) : (
          <p>
            <strong className="font-medium text-slate-900">{user.email}</strong> keeps their tenant roles but no longer
            manages the platform.{user.id === me.id && " That is you: you lose these pages at once."}
          </p>
        ))}
    </ConfirmDialog>
  );
}

function CreateUser() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const checkboxId = useId();
  const [created, setCreated] = useState<User | null>(null);
  const form = useZodForm(createUserInput, { name: "", email: "", password: "", platformAdmin: false as boolean });
  const create = useMutation(
    trpc.users.create.mutationOptions({
      onSuccess: async (u) => {
        setCreated(u);
        form.reset();
        await queryClient.invalidateQueries(trpc.users.pathFilter());
      },
      onError: (err) => form.showServerError(err),
    }),
  );
  const onSubmit = form.submit((data) => {
    setCreated(null);
    create.mutate(data);
  });
  return (
    <Card title="Create a user" description="Give them the initial password through a safe channel.">
      <form ref={form.formRef} onSubmit={onSubmit} noValidate className="space-y-4">
        {form.formError && <Alert>{form.formError}</Alert>}
        {created && <Alert tone="success">{created.email} can sign in now.</Alert>}
        <TextField label="Name" autoComplete="off" field={form.field("name")} />
        <TextField label="Email" type="email" autoComplete="off" field={form.field("email")} />
        <TextField
          label="Initial password"
          type="password"
          autoComplete="new-password"
          hint={`At least ${PASSWORD_MIN} characters, letters mixed with digits or symbols.`}
          field={form.field("password")}
        />
        <div className="flex items-start gap-2">
          <input
            id={checkboxId}
            type="checkbox"
            checked={form.values.platformAdmin}
            onChange={(e) => form.set("platformAdmin", e.target.checked)}
            className="mt-0.5 size-4 rounded border-slate-300 accent-indigo-600"
          />
          <label htmlFor={checkboxId} className="text-sm text-slate-700">
            Platform admin <span className="block text-xs text-slate-500">Manages all tenants and users.</span>
          </label>
        </div>
        <Button type="submit" loading={create.isPending} className="w-full">
          Create user
        </Button>
      </form>
    </Card>
  );
}
