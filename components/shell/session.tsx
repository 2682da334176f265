"use client";
// The signed-in user for every console page. Signed out (or the session expired): go to
// sign-in and come back here afterwards.
import { useQuery } from "@tanstack/react-query";
import { usePathname, useRouter } from "next/navigation";
import { createContext, useContext, useEffect, type ReactNode } from "react";
import { describeError } from "../forms";
import { type Me, useTRPC } from "../trpc";
import { ErrorState, Loading } from "../ui/feedback";

const MeContext = createContext<Me | null>(null);

export function useMe(): Me {
  const me = useContext(MeContext);
  if (!me) throw new Error("useMe outside <SessionGate>");
  return me;
}

export function signInPath(returnTo: string) {
  return returnTo && returnTo !== "/" ? `/sign-in?next=${encodeURIComponent(returnTo)}` : "/sign-in";
}

export function SessionGate({ children }: { children: ReactNode }) {
  const trpc = useTRPC();
  const router = useRouter();
  const pathname = usePathname();
  const me = useQuery(trpc.me.get.queryOptions());
  const signedOut = me.isSuccess && me.data === null;

  useEffect(() => {
    if (signedOut) router.replace(signInPath(pathname));
  }, [signedOut, router, pathname]);

  if (me.isPending) return <FullPage><Loading label="Loading the console…" /></FullPage>;
  if (me.isError)
    return (
      <FullPage>
        <ErrorState title="The console cannot load" message={describeError(me.error).message} onRetry={() => void me.refetch()} />
      </FullPage>
    );
  if (!me.data) return <FullPage><Loading label="Redirecting to sign-in…" /></FullPage>;
  return <MeContext.Provider value={me.data}>{children}</MeContext.Provider>;
}

function FullPage({ children }: { children: ReactNode }) {
  return <div className="mx-auto flex min-h-screen max-w-md flex-col justify-center px-4">{children}</div>;
}
