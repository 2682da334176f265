"use client";
import { AuditLog } from "@/components/audit-log";
import { PageHeader } from "@/components/ui/layout";

export default function PlatformAuditPage() {
  return (
    <>
      <PageHeader title="All activity" description="The platform-wide audit log: every tenant, every user." />
      <AuditLog
        scopes={[
          { key: "all", label: "All tenants", query: {}, description: "Every change on the platform, newest first." },
          { key: "mine", label: "My actions", query: { mine: true }, description: "Changes you made." },
        ]}
      />
    </>
  );
}
