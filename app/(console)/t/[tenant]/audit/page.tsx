"use client";
// A tenant's audit log for its admins; everyone else sees their own actions here.
import { type AuditScope, AuditLog } from "@/components/audit-log";
import { useMe } from "@/components/shell/session";
import { hasRole, useTenant } from "@/components/shell/tenant";
import { Alert } from "@/components/ui/feedback";
import { PageHeader } from "@/components/ui/layout";

export default function TenantAuditPage() {
  const tenant = useTenant();
  const me = useMe();
  const isAdmin = hasRole(tenant, "admin");
  const scopes: AuditScope[] = [
    ...(isAdmin
      ? [{ key: "tenant", label: "This tenant", query: { tenantId: tenant.id }, description: `Every change in ${tenant.name}, newest first.` }]
      : []),
    { key: "mine", label: "My actions", query: { mine: true as const }, description: "Changes you made, in any tenant." },
    ...(me.platformAdmin ? [{ key: "all", label: "All tenants", query: {}, description: "Every change on the platform." }] : []),
  ];
  return (
    <>
      <PageHeader title="Audit log" description="Who changed what, when, and how (before → after)." />
      {!isAdmin && (
        <Alert tone="info" className="mb-4">
          The whole tenant&apos;s log is for tenant admins; here are your own actions.
        </Alert>
      )}
      <AuditLog key={tenant.id} scopes={scopes} />
    </>
  );
}
