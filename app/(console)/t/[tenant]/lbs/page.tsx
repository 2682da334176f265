"use client";
// A tenant's load balancers: address, listeners, members, both status axes with their reasons,
// tags; search by name/address and filter by tag (k=v).
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { useEffect, useState } from "react";
import { describeError } from "@/components/forms";
import { listenersText } from "@/components/lb/format";
import { StatusWithReason, TagList } from "@/components/lb/status";
import { hasRole, useTenant } from "@/components/shell/tenant";
import { type RouterOutputs, useTRPC } from "@/components/trpc";
import { Button, ButtonLink } from "@/components/ui/button";
import { cx } from "@/components/ui/cx";
import { EmptyState, ErrorState, Loading } from "@/components/ui/feedback";
import { BalanceIcon } from "@/components/ui/icons";
import { Card, PageHeader, Table, td, th } from "@/components/ui/layout";

type Summary = RouterOutputs["lb"]["list"][number];

/** The typed value, settled: the list asks the server once typing pauses. */
function useSettled(value: string, ms = 300) {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    const t = setTimeout(() => setSettled(value), ms);
    return () => clearTimeout(t);
  }, [value, ms]);
  return settled;
}

export default function LoadBalancersPage() {
  const tenant = useTenant();
  const trpc = useTRPC();
  const [search, setSearch] = useState("");
  const [tag, setTag] = useState("");
  const q = useSettled(search.trim());
  const t = useSettled(tag.trim());
  const tagValid = t === "" || /^[^=\s]+(=.*)?$/.test(t);
  const lbs = useQuery({
    ...trpc.lb.list.queryOptions({ tenantId: tenant.id, ...(q ? { search: q } : {}), ...(t && tagValid ? { tag: t } : {}) }),
    placeholderData: keepPreviousData,
    // Statuses move as nodes apply revisions: keep the list fresh while it is open.
    refetchInterval: 10_000,
  });
  const base = `/t/${encodeURIComponent(tenant.slug)}/lbs`;
  const canCreate = hasRole(tenant, "operator");
  const filtered = Boolean(q || t);

  return (
    <>
      <PageHeader
        title="Load balancers"
        description="Virtual IPs with their listeners and backend pools."
        actions={
          canCreate && (
            <ButtonLink href={`${base}/new`} variant="primary">
              Create load balancer
            </ButtonLink>
          )
        }
      />
      <Card
        title="All load balancers"
        bodyClassName=""
        actions={
          <form role="search" className="flex w-full flex-wrap gap-2 sm:w-auto" onSubmit={(e) => e.preventDefault()}>
            <label className="sr-only" htmlFor="lb-search">
              Search load balancers
            </label>
            <input
              id="lb-search"
              type="search"
              value={search}
              onChange={(e) => setSearch(e.target.value)}
              placeholder="Search name or address"
              className="min-w-0 flex-1 rounded-md border-0 px-2.5 py-1.5 text-sm ring-1 ring-inset ring-slate-300 focus:ring-2 focus:ring-indigo-600 sm:w-52 sm:flex-none"
            />
            <label className="sr-only" htmlFor="lb-tag">
              Filter by tag
            </label>
            <input
              id="lb-tag"
              value={tag}
              onChange={(e) => setTag(e.target.value)}
              placeholder="tag k=v"
              aria-invalid={!tagValid || undefined}
              spellCheck={false}
              className={cx(
                "min-w-0 flex-1 rounded-md border-0 px-2.5 py-1.5 font-mono text-sm ring-1 ring-inset focus:ring-2 sm:w-40 sm:flex-none",
                tagValid ? "ring-slate-300 focus:ring-indigo-600" : "ring-red-400 focus:ring-red-600",
              )}
            />
            {filtered && (
              <Button
                size="sm"
                variant="ghost"
                onClick={() => {
                  setSearch("");
                  setTag("");
                }}
              >
                Clear
              </Button>
            )}
          </form>
        }
      >
        {lbs.isPending ? (
          <Loading label="Loading load balancers…" />
        ) : lbs.isError ? (
          <div className="p-4">
            <ErrorState message={describeError(lbs.error).message} onRetry={() => void lbs.refetch()} />
          </div>
        ) : lbs.data.length === 0 ? (
          <div className="p-4">
            {filtered ? (
              <EmptyState title="No load balancer matches">Nothing matches {[q && `“${q}”`, t && `tag ${t}`].filter(Boolean).join(" and ")}.</EmptyState>
            ) : (
              <EmptyState
                icon={<BalanceIcon className="size-10" />}
                title="No load balancers yet"
                action={
                  canCreate && (
                    <ButtonLink href={`${base}/new`} variant="primary">
                      Create load balancer
                    </ButtonLink>
                  )
                }
              >
                A load balancer is a virtual IP with listeners (ports) that spread traffic over a pool of backends.
              </EmptyState>
            )}
          </div>
        ) : (
          <div className={cx(lbs.isPlaceholderData && "opacity-60 transition-opacity")}>
            <div className="hidden md:block">
              <LbTable lbs={lbs.data} base={base} />
            </div>
            <ul className="divide-y divide-slate-100 md:hidden" aria-label="Load balancers">
              {lbs.data.map((lb) => (
                <LbCard key={lb.id} lb={lb} base={base} />
              ))}
            </ul>
          </div>
        )}
      </Card>
    </>
  );
}

function LbTable({ lbs, base }: { lbs: Summary[]; base: string }) {
  return (
    <Table label="Load balancers">
      <thead className="bg-slate-50">
        <tr>
          <th scope="col" className={th}>Load balancer</th>
          <th scope="col" className={th}>Listeners</th>
          <th scope="col" className={th}>Members</th>
          <th scope="col" className={th}>Provisioning</th>
          <th scope="col" className={th}>Operating</th>
          <th scope="col" className={th}>Tags</th>
        </tr>
      </thead>
      <tbody className="divide-y divide-slate-100">
        {lbs.map((lb) => (
          <tr key={lb.id} data-lb={lb.name}>
            <td className={td}>
              <Link href={`${base}/${lb.id}`} className="font-mono font-medium text-indigo-700 hover:underline">
                {lb.address}
              </Link>
              <p className="text-xs text-slate-600">{lb.name}</p>
            </td>
            <td className={cx(td, "whitespace-nowrap")}>{listenersText(lb.listeners) || <span className="text-slate-400">none</span>}</td>
            <td className={td}>{lb.memberCount}</td>
            <td className={td}>
              <StatusWithReason axis="provisioning" status={lb.provisioning.status} reason={lb.provisioning.reason} truncate />
            </td>
            <td className={td}>
              <StatusWithReason axis="operating" status={lb.operating.status} reason={lb.operating.reason} truncate />
            </td>
            <td className={td}>
              <TagList tags={lb.tags} />
            </td>
          </tr>
        ))}
      </tbody>
    </Table>
  );
}

function LbCard({ lb, base }: { lb: Summary; base: string }) {
  return (
    <li className="px-4 py-3" data-lb-card={lb.name}>
      <div className="flex items-baseline justify-between gap-2">
        <Link href={`${base}/${lb.id}`} className="min-w-0 truncate font-mono font-medium text-indigo-700 hover:underline">
          {lb.address}
        </Link>
        <span className="truncate text-xs text-slate-600">{lb.name}</span>
      </div>
      <p className="mt-1 text-sm text-slate-700">
        {listenersText(lb.listeners) || "no listeners"} · {lb.memberCount} member{lb.memberCount === 1 ? "" : "s"}
      </p>
      <div className="mt-2 grid grid-cols-1 gap-2 min-[420px]:grid-cols-2">
        <StatusWithReason axis="provisioning" status={lb.provisioning.status} reason={lb.provisioning.reason} />
        <StatusWithReason axis="operating" status={lb.operating.status} reason={lb.operating.reason} />
      </div>
      {Object.keys(lb.tags).length > 0 && (
        <div className="mt-2">
          <TagList tags={lb.tags} />
        </div>
      )}
    </li>
  );
}
