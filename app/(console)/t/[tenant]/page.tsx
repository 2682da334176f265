"use client";
// Tenant overview: how many load balancers and in what state, and the tenant's quota usage.
import { useQuery } from "@tanstack/react-query";
import Link from "next/link";
import type { ReactNode } from "react";
import { describeError } from "@/components/forms";
import { listenersText } from "@/components/lb/format";
import { StatusWithReason } from "@/components/lb/status";
import { Usage } from "@/components/lb/usage";
import { hasRole, useTenant } from "@/components/shell/tenant";
import { useTRPC } from "@/components/trpc";
import { ButtonLink } from "@/components/ui/button";
import { EmptyState, ErrorState, Loading } from "@/components/ui/feedback";
import { BalanceIcon } from "@/components/ui/icons";
import { Badge, Card, PageHeader, roleTone } from "@/components/ui/layout";
import { Time } from "@/components/ui/time";

export default function TenantOverviewPage() {
  const tenant = useTenant();
  const trpc = useTRPC();
  const base = `/t/${encodeURIComponent(tenant.slug)}`;
  const lbs = useQuery(trpc.lb.list.queryOptions({ tenantId: tenant.id }));
  const quota = useQuery(trpc.quotas.get.queryOptions({ tenantId: tenant.id }));
  const canCreate = hasRole(tenant, "operator");
  const counts = new Map<string, number>();
  for (const lb of lbs.data ?? []) counts.set(lb.provisioning.status, (counts.get(lb.provisioning.status) ?? 0) + 1);

  return (
    <>
      <PageHeader
        title={tenant.name}
        description={<>Tenant <span className="font-mono">{tenant.slug}</span></>}
        actions={
          canCreate && (lbs.data?.length ?? 0) > 0 && (
            <ButtonLink href={`${base}/lbs/new`} variant="primary">
              Create load balancer
            </ButtonLink>
          )
        }
      />
      <dl className="mb-6 grid grid-cols-2 gap-3 sm:grid-cols-4">
        <Stat label="Your role">
          <Badge tone={roleTone[tenant.role]}>{tenant.role}</Badge>
        </Stat>
        <Stat label="Members">
          <Link href={`${base}/members`} className="text-indigo-700 hover:underline">
            {tenant.memberCount}
          </Link>
        </Stat>
        <Stat label="Load balancers">
          {lbs.data ? (
            <Link href={`${base}/lbs`} className="text-indigo-700 hover:underline" aria-label={`${lbs.data.length} load balancers`}>
              {lbs.data.length}
            </Link>
          ) : (
            <span className="text-slate-400">…</span>
          )}
          {counts.size > 0 && (
            <span className="mt-1 block text-xs font-normal text-slate-500">
              {[...counts.entries()].map(([s, n]) => `${n} ${s.toLowerCase().replace("_", " ")}`).join(" · ")}
            </span>
          )}
        </Stat>
        <Stat label="Created">
          <Time date={tenant.createdAt} />
        </Stat>
      </dl>
      <div className="grid items-start gap-6 lg:grid-cols-[1fr_20rem]">
        <Card
          title="Load balancers"
          bodyClassName={lbs.data?.length ? "" : undefined}
          actions={
            (lbs.data?.length ?? 0) > 0 && (
              <Link href={`${base}/lbs`} className="text-sm font-medium text-indigo-700 hover:underline">
                All load balancers →
              </Link>
            )
          }
        >
          {lbs.isPending ? (
            <Loading label="Loading load balancers…" />
          ) : lbs.isError ? (
            <ErrorState message={describeError(lbs.error).message} onRetry={() => void lbs.refetch()} />
          ) : lbs.data.length === 0 ? (
            <EmptyState
              icon={<BalanceIcon className="size-10" />}
              title="No load balancers yet"
              action={
                canCreate && (
                  <ButtonLink href={`${base}/lbs/new`} variant="primary">
                    Create load balancer
                  </ButtonLink>
                )
              }
            >
              A load balancer is a virtual IP with listeners that spread traffic over pools of backends.
              {canCreate ? " Create the first one: the wizard builds the whole tree in one go." : " You will see this tenant's load balancers here."}
            </EmptyState>
          ) : (
            <ul className="divide-y divide-slate-100">
              {lbs.data.slice(0, 8).map((lb) => (
                <li key={lb.id} className="flex flex-col gap-2 px-4 py-3 sm:flex-row sm:items-start sm:justify-between sm:px-5">
                  <div className="min-w-0">
                    <Link href={`${base}/lbs/${lb.id}`} className="font-mono font-medium text-indigo-700 hover:underline">
                      {lb.address}
                    </Link>{" "}
                    <span className="text-sm text-slate-600">{lb.name}</span>
                    <p className="text-xs text-slate-500">{listenersText(lb.listeners) || "no listeners"}</p>
                  </div>
                  <div className="sm:w-64">
                    <StatusWithReason axis="provisioning" status={lb.provisioning.status} reason={lb.provisioning.reason} truncate />
                  </div>
                </li>
              ))}
            </ul>
          )}
        </Card>
        <Card title="Quota" description={quota.data?.isDefault ? "Platform defaults" : "Set for this tenant by a platform admin"}>
          {quota.isPending ? (
            <Loading label="Loading quota…" />
          ) : quota.isError ? (
            <ErrorState message={describeError(quota.error).message} onRetry={() => void quota.refetch()} />
          ) : (
            <div className="space-y-4">
              <Usage label="Load balancers" used={quota.data.usage.vips} max={quota.data.maxVips} />
              <Usage label="Listeners" used={quota.data.usage.listeners} max={quota.data.maxListeners} />
              <Usage label="Members" used={quota.data.usage.members} max={quota.data.maxMembers} />
            </div>
          )}
        </Card>
      </div>
    </>
  );
}

function Stat({ label, children }: { label: string; children: ReactNode }) {
  return (
    <div className="rounded-lg border border-slate-200 bg-white px-4 py-3">
      <dt className="text-xs font-medium text-slate-500">{label}</dt>
      <dd className="mt-1 text-lg font-semibold text-slate-900">{children}</dd>
    </div>
  );
}
