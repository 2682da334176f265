import type { ReactNode } from "react";
import { BalanceIcon } from "@/components/ui/icons";

export default function AuthLayout({ children }: { children: ReactNode }) {
  return (
    <div className="flex min-h-screen flex-col items-center justify-center bg-gradient-to-b from-slate-50 to-slate-100 px-4 py-12">
      <div className="mb-6 flex items-center gap-2">
        <span className="grid size-9 place-items-center rounded-lg bg-indigo-600 text-white" aria-hidden="true">
          <BalanceIcon className="size-5.5" />
        </span>
        <span className="text-xl font-semibold tracking-tight text-slate-900">Tenbin</span>
      </div>
      <main className="w-full max-w-sm rounded-xl border border-slate-200 bg-white p-6 shadow-sm sm:p-8">{children}</main>
      <p className="mt-6 text-xs text-slate-500">Load balancers as a service</p>
    </div>
  );
}
