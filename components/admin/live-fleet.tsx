"use client";
// The node fleet, live (platform admins): one subscription per open page. "state" pushes carry
// the node list (state, VIP counts, heartbeats), swapped in without a refetch; "metrics" pushes
// carry each node's current traffic and the seconds completed since the last push.
import { useQueryClient } from "@tanstack/react-query";
import { useSubscription } from "@trpc/tanstack-react-query";
import { useState } from "react";
import type { LiveNodesEvent } from "@/server/api/routers/live";
import type { FleetMetricsView } from "@/server/metrics/views";
import { bytesRateText, siText, TimeChart } from "@/components/lb/charts";
import { useTRPC } from "@/components/trpc";
import { Card } from "@/components/ui/layout";
import { cx } from "@/components/ui/cx";

const FLEET_SECONDS = 300;
type Series = (number | null)[];

function append(prev: Series, next: Series, gap: number): Series {
  const out = prev.concat(Array<null>(Math.max(0, Math.min(gap, FLEET_SECONDS))).fill(null), next);
  return out.length > FLEET_SECONDS ? out.slice(out.length - FLEET_SECONDS) : out;
}

function merge(prev: FleetMetricsView | null, full: boolean, m: FleetMetricsView): FleetMetricsView {
  if (!prev || full) return m;
  const fresh = m.window.to >= m.window.from;
  if (!fresh) return { ...m, window: prev.window, nodes: m.nodes.map((n) => ({ ...n, ...pick(prev, n.nodeId) })) };
  const gap = m.window.from - prev.window.to - 1;
  const nodes = m.nodes.map((n) => {
    const p = pick(prev, n.nodeId);
    return p ? { ...n, packets: append(p.packets, n.packets, gap), bytes: append(p.bytes, n.bytes, gap) } : n;
  });
  const len = Math.max(0, ...nodes.map((n) => n.bytes.length));
  return { ...m, window: { from: m.window.to - len + 1, to: m.window.to }, nodes };
}

function pick(v: FleetMetricsView, nodeId: string) {
  const n = v.nodes.find((x) => x.nodeId === nodeId);
  return n ? { packets: n.packets, bytes: n.bytes } : undefined;
}

export interface LiveFleet {
  metrics: FleetMetricsView | null;
  live: boolean;
  error: string | null;
}

export function useLiveFleet(): LiveFleet {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [metrics, setMetrics] = useState<FleetMetricsView | null>(null);
  const sub = useSubscription(
    trpc.live.nodes.subscriptionOptions(
      { seconds: FLEET_SECONDS },
      {
        onData: (e: LiveNodesEvent) => {
          if (e.type === "metrics") setMetrics((prev) => merge(prev, e.full, e.metrics));
          else {
            // The new list comes with the cue (the page lists nodes.list({})).
            queryClient.setQueryData(trpc.nodes.list.queryKey({}), e.nodes);
            void queryClient.invalidateQueries(trpc.agents.failover.pathFilter());
          }
        },
      },
    ),
  );
  return { metrics, live: sub.status === "pending" && metrics !== null, error: sub.error ? sub.error.message : null };
}

/** A node's traffic now, or "no data" when its agent has not reported for a few seconds. */
export function NodeTrafficCell({ fleet, nodeId }: { fleet: LiveFleet; nodeId: string }) {
  const n = fleet.metrics?.nodes.find((x) => x.nodeId === nodeId);
  if (!n?.latest) {
    return (
      <div data-traffic="none">
        <span className="text-slate-400" title="No metrics from this node's agent for a few seconds: unknown, not zero.">
          no data
        </span>
      </div>
    );
  }
  return (
    <div className="whitespace-nowrap text-xs tabular-nums" data-traffic="live">
      <p className="text-slate-900" data-cell="packets">{siText(n.latest.packets)} pkt/s</p>
      <p className="text-slate-500" data-cell="bytes">{bytesRateText(n.latest.bytes)}</p>
      <p className="text-slate-500">{siText(n.latest.newFlows)} new flows/s</p>
    </div>
  );
}

export function FleetTrafficCard({ fleet }: { fleet: LiveFleet }) {
  const m = fleet.metrics;
  return (
    <Card
      title="Fleet traffic"
      description="Bytes per second each node forwards, last 5 minutes (this server replica's agents). Gaps: the node did not report."
      actions={
        <span data-live={fleet.live ? "on" : "off"} title={fleet.error ?? undefined} className="inline-flex items-center gap-1.5 text-xs text-slate-500">
          <span className={cx("size-2 rounded-full", fleet.live ? "bg-emerald-500" : fleet.error ? "bg-red-500" : "bg-slate-300")} aria-hidden />
          {fleet.live ? "live" : fleet.error ? "live updates interrupted — reconnecting" : "connecting…"}
        </span>
      }
    >
      {!m ? (
        <p className="text-sm text-slate-500">Waiting for the first figures…</p>
      ) : m.nodes.length === 0 ? (
        <p className="text-sm text-slate-500">No nodes.</p>
      ) : (
        <TimeChart label="Fleet throughput" from={m.window.from} units={["bytes/s"]} series={m.nodes.map((n) => ({ label: n.nodeName, values: n.bytes }))} />
      )}
    </Card>
  );
}
