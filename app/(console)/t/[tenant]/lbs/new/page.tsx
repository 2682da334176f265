"use client";
// Create a load balancer: the whole tree (VIP, pools with members and monitor, listeners) in one go.
import { hasRole, useTenant } from "@/components/shell/tenant";
import { CreateWizard } from "@/components/lb/wizard";
import { ButtonLink } from "@/components/ui/button";
import { EmptyState } from "@/components/ui/feedback";
import { PageHeader } from "@/components/ui/layout";

export default function NewLoadBalancerPage() {
  const tenant = useTenant();
  const base = `/t/${encodeURIComponent(tenant.slug)}/lbs`;
  if (!hasRole(tenant, "operator")) {
    return (
      <EmptyState title="Operators create load balancers" action={<ButtonLink href={base}>Back to the list</ButtonLink>}>
        Your role in {tenant.name} is {tenant.role}: you can look, not change. Ask a tenant admin for the operator role.
      </EmptyState>
    );
  }
  return (
    <>
      <PageHeader title="Create a load balancer" description={<>In tenant <span className="font-mono">{tenant.slug}</span>. Nothing is created until the last step.</>} />
      <CreateWizard />
    </>
  );
}
