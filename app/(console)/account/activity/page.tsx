"use client";
import { AuditLog } from "@/components/audit-log";
import { PageHeader } from "@/components/ui/layout";

export default function MyActivityPage() {
  return (
    <>
      <PageHeader title="My activity" description="Every change you made, through the console, the API or the CLI." />
      <AuditLog scopes={[{ key: "mine", label: "My actions", query: { mine: true }, description: "Newest first." }]} />
    </>
  );
}
