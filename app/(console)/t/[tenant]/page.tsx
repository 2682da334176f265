"use client";
// Tenant overview. Load balancers are the next feature; until then this says so plainly.
import Link from "next/link";
import type { ReactNode } from "react";
import { hasRole, useTenant } from "@/components/shell/tenant";
import { EmptyState } from "@/components/ui/feedback";
import { BalanceIcon } from "@/components/ui/icons";
import { Badge, Card, PageHeader, roleTone } from "@/components/ui/layout";
import { Time } from "@/components/ui/time";

export default function TenantOverviewPage() {
  const tenant = useTenant();
  const base = `/t/${encodeURIComponent(tenant.slug)}`;
  return (
    <>
      <PageHeader title={tenant.name} description={<>Tenant <span className="font-mono">{tenant.slug}</span></>} />
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
          <span className="text-slate-400" title="Load balancers come next">—</span>
        </Stat>
        <Stat label="Created">
          <Time date={tenant.createdAt} />
        </Stat>
      </dl>
      <Card title="Load balancers">
        <EmptyState icon={<BalanceIcon className="size-10" />} title="No load balancers yet">
          Load balancers (VIPs with listeners, pools and health monitors) come next in Tenbin.
          {hasRole(tenant, "operator")
            ? " Meanwhile you can create an API token for the CLI and for automation."
            : " You will see this tenant's load balancers here."}
        </EmptyState>
      </Card>
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
