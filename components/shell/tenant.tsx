"use client";
// The tenant of a /t/<tenant>/... page, with the caller's role in it. An unknown tenant and one
// the caller is not a member of look the same (the API answers NOT_FOUND for both).
import { useQuery } from "@tanstack/react-query";
import { useParams } from "next/navigation";
import { createContext, useContext, useEffect, type ReactNode } from "react";
import type { ROLE_VALUES } from "@/lib/schemas";
import { describeError, errorCode } from "../forms";
import { type TenantView, useTRPC } from "../trpc";
import { ButtonLink } from "../ui/button";
import { EmptyState, ErrorState, Loading } from "../ui/feedback";
import { rememberTenant } from "./last-tenant";

const TenantContext = createContext<TenantView | null>(null);

export function useTenant(): TenantView {
  const t = useContext(TenantContext);
  if (!t) throw new Error("useTenant outside <TenantGate>");
  return t;
}

export type Role = (typeof ROLE_VALUES)[number];

const rank: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };
export const hasRole = (t: TenantView, min: Role) => rank[t.role] >= rank[min];

export function TenantGate({ children }: { children: ReactNode }) {
  const trpc = useTRPC();
  const params = useParams<{ tenant: string }>();
  const ref = decodeURIComponent(params.tenant);
  const tenant = useQuery(trpc.tenants.get.queryOptions({ tenantId: ref }));

  useEffect(() => {
    if (tenant.data) rememberTenant(tenant.data.slug);
  }, [tenant.data]);

  if (tenant.isPending) return <Loading label="Loading tenant…" />;
  if (tenant.isError) {
    if (errorCode(tenant.error) === "NOT_FOUND") {
      return (
        <EmptyState title={`No tenant “${ref}”`} action={<ButtonLink href="/">Go to your tenants</ButtonLink>}>
          It does not exist, or you are not one of its members.
        </EmptyState>
      );
    }
    return <ErrorState message={describeError(tenant.error).message} onRetry={() => void tenant.refetch()} />;
  }
  return <TenantContext.Provider value={tenant.data}>{children}</TenantContext.Provider>;
}
