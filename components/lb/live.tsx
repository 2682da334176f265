"use client";
// A load balancer's live view: one tRPC subscription (SSE) per open page. "state" pushes carry
// the load balancer's new view (statuses, placements, member health: what lb.get answers);
// "metrics" pushes carry the current rates and the seconds completed since the last push,
// merged here into the charts; "gone" (deleted) refetches, which shows the not-found page.
import { useQueryClient } from "@tanstack/react-query";
import { useSubscription } from "@trpc/tanstack-react-query";
import { createContext, useContext, useState, type ReactNode } from "react";
import type { LiveLbEvent } from "@/server/api/routers/live";
import type { LbMetricsView } from "@/server/metrics/views";
import { useTenant } from "../shell/tenant";
import { useTRPC } from "../trpc";
import { Badge, type BadgeTone, Card, Table, td, th } from "../ui/layout";
import { Time } from "../ui/time";
import { cx } from "../ui/cx";
import { bytesRateText, siText, TimeChart } from "./charts";
import { useLb } from "./context";
import { memberText } from "./format";

/** Seconds of history the charts show. */
export const LIVE_SECONDS = 300;

type Series = (number | null)[];

function append(prev: Series, next: Series, gap: number, max: number): Series {
  const out = prev.concat(Array<null>(Math.max(0, Math.min(gap, max))).fill(null), next);
  return out.length > max ? out.slice(out.length - max) : out;
}

/** Merges a push into what the page holds: whole on `full`, else the new seconds appended. */
export function mergeLbMetrics(prev: LbMetricsView | null, full: boolean, m: LbMetricsView, max = LIVE_SECONDS): LbMetricsView {
  if (!prev || full || prev.lbId !== m.lbId) return m;
  const fresh = m.window.to >= m.window.from;
  // Seconds the page missed (a reconnect) are gaps, not zeros.
  const gap = fresh ? m.window.from - prev.window.to - 1 : 0;
  const to = fresh ? m.window.to : prev.window.to;
  const merge = (a: Series, b: Series) => (fresh ? append(a, b, gap, max) : a);
  const total = {
    packets: merge(prev.total.packets, m.total.packets),
    bytes: merge(prev.total.bytes, m.total.bytes),
    newFlows: merge(prev.total.newFlows, m.total.newFlows),
    drops: merge(prev.total.drops, m.total.drops),
  };
  const before = new Map(prev.members.map((x) => [x.address, x]));
  const members = m.members.map((x) => {
    const p = before.get(x.address);
    return p ? { ...x, packets: merge(p.packets, x.packets), bytes: merge(p.bytes, x.bytes) } : x;
  });
  return { ...m, window: { from: to - total.packets.length + 1, to }, total, members };
}

interface LiveState {
  metrics: LbMetricsView | null;
  /** Connected and receiving. */
  live: boolean;
  error: string | null;
}

const Ctx = createContext<LiveState>({ metrics: null, live: false, error: null });
export const useLive = () => useContext(Ctx);

/** Subscribes for the page's lifetime; state cues refetch the load balancer's view once. */
export function LiveProvider({ lbRef, children }: { lbRef: string; children: ReactNode }) {
  const trpc = useTRPC();
  const tenant = useTenant();
  const queryClient = useQueryClient();
  const [metrics, setMetrics] = useState<LbMetricsView | null>(null);
  const sub = useSubscription(
    trpc.live.lb.subscriptionOptions(
      { tenantId: tenant.id, lb: lbRef, seconds: LIVE_SECONDS },
      {
        onData: (e: LiveLbEvent) => {
          if (e.type === "metrics") setMetrics((prev) => mergeLbMetrics(prev, e.full, e.metrics));
          // The new view comes with the cue: no refetch round trip.
          else if (e.type === "state") queryClient.setQueryData(trpc.lb.get.queryKey({ tenantId: tenant.id, lb: lbRef }), e.view);
          else void queryClient.invalidateQueries(trpc.lb.get.queryFilter({ tenantId: tenant.id, lb: lbRef }));
        },
      },
    ),
  );
  const value: LiveState = { metrics, live: sub.status === "pending" && metrics !== null, error: sub.error ? sub.error.message : null };
  return <Ctx.Provider value={value}>{children}</Ctx.Provider>;
}

/** "Live" while the subscription delivers; otherwise what is wrong. */
export function LiveBadge() {
  const { live, error } = useLive();
  return (
    <span data-live={live ? "on" : "off"} title={error ?? undefined} className="inline-flex items-center gap-1.5 text-xs text-slate-500">
      <span className={cx("size-2 rounded-full", live ? "bg-emerald-500" : error ? "bg-red-500" : "bg-slate-300")} aria-hidden />
      {live ? "live" : error ? "live updates interrupted — reconnecting" : "connecting…"}
    </span>
  );
}

const healthTone: Record<string, BadgeTone> = { up: "green", down: "red", unknown: "slate" };

/** Per node: advertising (and why not), applied revision, current traffic. */
export function LiveNodesCard() {
  const { lb } = useLb();
  const { metrics } = useLive();
  const traffic = new Map(metrics?.nodes.map((n) => [n.nodeId, n]) ?? []);
  return (
    <Card title="Nodes" description="Where the VIP runs: BGP advertisement, the revision each node applied, and its traffic now." actions={<LiveBadge />} bodyClassName="">
      {lb.placements.length === 0 ? (
        <p className="p-4 text-sm text-slate-500 sm:px-5">Not placed on any node yet: {lb.provisioning.reason}.</p>
      ) : (
        <Table label="Nodes carrying this load balancer">
          <thead className="bg-slate-50">
            <tr>
              <th scope="col" className={th}>Node</th>
              <th scope="col" className={th}>Advertising</th>
              <th scope="col" className={th}>Applied revision</th>
              <th scope="col" className={cx(th, "text-right")}>Packets/s</th>
              <th scope="col" className={cx(th, "text-right")}>Bytes/s</th>
              <th scope="col" className={cx(th, "text-right")}>New flows/s</th>
              <th scope="col" className={cx(th, "text-right")}>Drops/s</th>
            </tr>
          </thead>
          <tbody className="divide-y divide-slate-100">
            {lb.placements.map((p) => {
              const name = p.nodeName ?? p.nodeId.slice(0, 8);
              const t = traffic.get(p.nodeId)?.latest ?? null;
              const why = p.error
                ? p.error
                : p.appliedRevision === null
                  ? "the node has not applied this load balancer yet"
                  : p.advertised
                    ? null
                    : "the node reported no reason";
              return (
                <tr key={p.nodeId} data-node={name} data-advertised={p.advertised ? "yes" : "no"}>
                  <td className={cx(td, "font-mono text-xs")}>{name}</td>
                  <td className={td} data-cell="advertising">
                    {p.advertised ? <Badge tone="green">advertising</Badge> : <Badge tone={p.error ? "red" : "amber"}>not advertising</Badge>}
                    {why && <p className="mt-1 max-w-[18rem] text-xs text-slate-500">{why}</p>}
                  </td>
                  <td className={td} data-cell="revision">
                    {p.appliedRevision === null ? "—" : p.appliedRevision}
                    {p.appliedRevision !== null && p.appliedRevision < lb.revision && <span className="ml-1 text-xs text-amber-700">(behind {lb.revision})</span>}
                  </td>
                  <td className={cx(td, "text-right tabular-nums")} data-cell="packets">{t ? siText(t.packets) : <NoData />}</td>
                  <td className={cx(td, "text-right tabular-nums")} data-cell="bytes">{t ? bytesRateText(t.bytes) : <NoData />}</td>
                  <td className={cx(td, "text-right tabular-nums")} data-cell="flows">{t ? siText(t.newFlows) : <NoData />}</td>
                  <td className={cx(td, "text-right tabular-nums")} data-cell="drops">{t ? siText(t.drops) : <NoData />}</td>
                </tr>
              );
            })}
          </tbody>
        </Table>
      )}
    </Card>
  );
}

function NoData() {
  return (
    <span className="text-slate-400" title="The node has not reported metrics for a few seconds (agent down or disconnected): not zero, unknown.">
      no data
    </span>
  );
}

/** Per member and per node: health state, last transition, reason; and the member's traffic. */
export function MemberHealthCard() {
  const { lb } = useLb();
  const { metrics } = useLive();
  const names = new Map(lb.placements.map((p) => [p.nodeId, p.nodeName ?? p.nodeId.slice(0, 8)]));
  const traffic = new Map(metrics?.members.map((m) => [m.address, m.latest]) ?? []);
  const rows = lb.pools.flatMap((pool) => pool.members.map((m) => ({ pool: pool.name, monitored: pool.monitor !== null, m })));
  return (
    <Card title="Member health" description="Each node checks every member itself: its verdict, since when, and why." bodyClassName="">
      {rows.length === 0 ? (
        <p className="p-4 text-sm text-slate-500 sm:px-5">No members.</p>
      ) : (
        <Table label="Member health per node">
          <thead className="bg-slate-50">
            <tr>
              <th scope="col" className={th}>Member</th>
              <th scope="col" className={cx(th, "text-right")}>Traffic</th>
              <th scope="col" className={th}>Node</th>
              <th scope="col" className={th}>Health</th>
              <th scope="col" className={th}>Since</th>
              <th scope="col" className={th}>Reason</th>
            </tr>
          </thead>
          <tbody className="divide-y divide-slate-100">
            {rows.map(({ pool, monitored, m }) => {
              const key = memberText(m);
              const t = traffic.get(m.address);
              // One row per node the VIP is placed on, reported or not.
              const nodeIds = [...new Set([...lb.placements.map((p) => p.nodeId), ...m.nodes.map((n) => n.nodeId)])];
              const span = Math.max(1, nodeIds.length);
              const first = (
                <>
                  <td className={td} rowSpan={span}>
                    <p className="font-mono text-xs text-slate-900">{key}</p>
                    <p className="text-xs text-slate-500">
                      pool {pool} · {m.adminState}
                    </p>
                  </td>
                  <td className={cx(td, "text-right text-xs tabular-nums")} rowSpan={span} data-cell="member-traffic">
                    {t ? (
                      <>
                        <p>{siText(t.packets)} pkt/s</p>
                        <p className="text-slate-500">{bytesRateText(t.bytes)}</p>
                      </>
                    ) : (
                      <NoData />
                    )}
                  </td>
                </>
              );
              if (nodeIds.length === 0) {
                return (
                  <tr key={key} data-member={key}>
                    {first}
                    <td className={cx(td, "text-slate-500")} colSpan={4}>
                      not placed on a node yet
                    </td>
                  </tr>
                );
              }
              return nodeIds.map((nodeId, i) => {
                const h = m.nodes.find((n) => n.nodeId === nodeId);
                const name = names.get(nodeId) ?? nodeId.slice(0, 8);
                return (
                  <tr key={`${key}-${nodeId}`} data-member={key} data-node={name} data-health={h?.state ?? "none"}>
                    {i === 0 && first}
                    <td className={cx(td, "font-mono text-xs")}>{name}</td>
                    <td className={td}>
                      {h ? <Badge tone={healthTone[h.state] ?? "slate"}>{h.state}</Badge> : <Badge>no report</Badge>}
                    </td>
                    <td className={cx(td, "text-xs")}>{h ? <Time date={h.since} /> : "—"}</td>
                    <td className={cx(td, "max-w-[22rem] text-xs text-slate-600")} data-cell="reason">
                      {h ? h.reason || "—" : monitored ? "the node has not reported this member yet" : "no monitor: members count as up when enabled"}
                    </td>
                  </tr>
                );
              });
            })}
          </tbody>
        </Table>
      )}
    </Card>
  );
}

/** Throughput over the last minutes: the whole load balancer, and per member. */
export function ThroughputCard() {
  const { lb } = useLb();
  const { metrics } = useLive();
  const minutes = Math.round(LIVE_SECONDS / 60);
  return (
    <Card title="Throughput" description={`Last ${minutes} minutes, one point a second, from the nodes' counters. Gaps: a node did not report.`} actions={<LiveBadge />}>
      {!metrics ? (
        <p className="text-sm text-slate-500">Waiting for the first figures…</p>
      ) : (
        <div className="grid gap-6 xl:grid-cols-2">
          <div className="min-w-0">
            <h3 className="mb-2 text-xs font-medium text-slate-500">{lb.name} (all nodes)</h3>
            <TimeChart
              label="Load balancer throughput"
              from={metrics.window.from}
              units={["bytes/s", "packets/s"]}
              series={[
                { label: "bytes/s", values: metrics.total.bytes },
                { label: "packets/s", values: metrics.total.packets, axis: 1 },
                { label: "new flows/s", values: metrics.total.newFlows, axis: 1 },
              ]}
            />
          </div>
          <div className="min-w-0">
            <h3 className="mb-2 text-xs font-medium text-slate-500">Per member (bytes/s sent to it)</h3>
            {metrics.members.length === 0 ? (
              <p className="text-sm text-slate-500">No members.</p>
            ) : (
              <TimeChart
                label="Member throughput"
                from={metrics.window.from}
                units={["bytes/s"]}
                series={metrics.members.map((m) => ({ label: m.address, values: m.bytes }))}
              />
            )}
          </div>
        </div>
      )}
    </Card>
  );
}
