"use client";
// "/": go to the tenant used last (or the first one); without any tenant, say what to do.
import { useQuery } from "@tanstack/react-query";
import { useRouter } from "next/navigation";
import { useEffect } from "react";
import { describeError } from "@/components/forms";
import { readLastTenant } from "@/components/shell/last-tenant";
import { useMe } from "@/components/shell/session";
import { useTRPC } from "@/components/trpc";
import { ButtonLink } from "@/components/ui/button";
import { EmptyState, ErrorState, Loading } from "@/components/ui/feedback";
import { BuildingIcon } from "@/components/ui/icons";
import { PageHeader } from "@/components/ui/layout";

export default function HomePage() {
  const trpc = useTRPC();
  const router = useRouter();
  const me = useMe();
  const tenants = useQuery({
    ...trpc.tenants.list.queryOptions(),
    // Waiting to be added to a tenant: look again now and then.
    refetchInterval: (q) => (q.state.data?.length === 0 ? 15_000 : false),
  });
  const target = tenants.data ? (tenants.data.find((t) => t.slug === readLastTenant()) ?? tenants.data[0]) : undefined;

  useEffect(() => {
    if (target) router.replace(`/t/${encodeURIComponent(target.slug)}`);
  }, [target, router]);

  if (tenants.isPending || target) return <Loading label="Opening your tenant…" />;
  if (tenants.isError) return <ErrorState message={describeError(tenants.error).message} onRetry={() => void tenants.refetch()} />;
  return (
    <>
      <PageHeader title={`Welcome, ${me.name}`} />
      {me.platformAdmin ? (
        <EmptyState
          icon={<BuildingIcon className="size-10" />}
          title="No tenants yet"
          action={<ButtonLink href="/admin/tenants" variant="primary">Create a tenant</ButtonLink>}
        >
          Tenants own load balancers and have members. Create the first one, then add its members.
        </EmptyState>
      ) : (
        <EmptyState
          icon={<BuildingIcon className="size-10" />}
          title="You are not in any tenant yet"
          action={<ButtonLink href="/account/tokens">Manage your API tokens</ButtonLink>}
        >
          Ask a tenant admin or a platform admin to add <strong className="font-medium text-slate-700">{me.email}</strong> to
          your team&apos;s tenant. It shows up here as soon as they do.
        </EmptyState>
      )}
    </>
  );
}
