"use client";
// The load balancer a detail page shows, shared by its tabs: the current view, who may change
// it, and how a change's answer (the new tree) replaces it without a refetch.
import { useQueryClient } from "@tanstack/react-query";
import { createContext, useContext, type ReactNode } from "react";
import { describeError, errorCode } from "../forms";
import { hasRole, useTenant } from "../shell/tenant";
import { type RouterOutputs, useTRPC } from "../trpc";
import { Alert } from "../ui/feedback";

export type LbView = RouterOutputs["lb"]["get"];
export type PoolView = LbView["pools"][number];
export type MemberView = PoolView["members"][number];
export type ListenerView = LbView["listeners"][number];

interface LbCtx {
  lb: LbView;
  /** What the URL named the load balancer by (its id). */
  lbRef: string;
  canEdit: boolean;
  /** Fetches the latest version; resolves to its revision. */
  reload: () => Promise<number | undefined>;
}

const Ctx = createContext<LbCtx | null>(null);

export function LbProvider({ value, children }: { value: LbCtx; children: ReactNode }) {
  return <Ctx.Provider value={value}>{children}</Ctx.Provider>;
}

export function useLb(): LbCtx {
  const c = useContext(Ctx);
  if (!c) throw new Error("useLb outside <LbProvider>");
  return c;
}

/** After a change: show the tree the server answered with, and refresh history and lists. */
export function useApplyChange() {
  const trpc = useTRPC();
  const tenant = useTenant();
  const queryClient = useQueryClient();
  const { lbRef } = useLb();
  return async (view: LbView) => {
    queryClient.setQueryData(trpc.lb.get.queryKey({ tenantId: tenant.id, lb: lbRef }), view);
    await Promise.all([
      queryClient.invalidateQueries(trpc.lb.history.pathFilter()),
      queryClient.invalidateQueries(trpc.lb.list.pathFilter()),
      queryClient.invalidateQueries(trpc.quotas.get.pathFilter()),
    ]);
  };
}

export const useCanEdit = () => hasRole(useTenant(), "operator");

/** True when the error is a stale-revision conflict (someone changed the LB meanwhile). */
export const isStale = (error: unknown) => errorCode(error) === "CONFLICT" && /revision/i.test(describeError(error).message);

/**
 * A failed change, in words. A stale revision says what happened and offers to load the latest
 * version (the form keeps what was typed, so it can be sent again on top of it).
 */
export function ChangeError({ error, onReload, className }: { error: unknown; onReload?: () => void; className?: string }) {
  if (!error) return null;
  const { message } = describeError(error);
  if (isStale(error)) {
    return (
      <Alert className={className} title="Changed meanwhile by someone else">
        <p>{message}</p>
        {onReload && (
          <button type="button" onClick={onReload} className="mt-2 font-medium underline underline-offset-2 hover:no-underline">
            Reload the latest version
          </button>
        )}
      </Alert>
    );
  }
  return <Alert className={className}>{message}</Alert>;
}
