"use client";
// Platform-admin pages: others get a clear answer instead of a wall of API errors.
import type { ReactNode } from "react";
import { ButtonLink } from "../ui/button";
import { EmptyState } from "../ui/feedback";
import { useMe } from "./session";

export function PlatformOnly({ children }: { children: ReactNode }) {
  const me = useMe();
  if (!me.platformAdmin) {
    return (
      <EmptyState title="Platform admins only" action={<ButtonLink href="/">Back to your tenants</ButtonLink>}>
        This page manages the whole platform. Ask a platform admin if you need something here.
      </EmptyState>
    );
  }
  return <>{children}</>;
}
