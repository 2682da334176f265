// Live console views over SSE (tRPC subscriptions): a load balancer's state cues and traffic
// (tenant scope), and the node fleet's traffic (platform admins). The first message carries the
// whole window of points; later ones only the seconds completed since (plus current values),
// so a viewer costs a few hundred bytes a second. On a change cue the load balancer's stream
// pushes its new view ("state", shaped like lb.get) and the fleet's the node list (shaped like
// nodes.list, at most every 500 ms); nobody polls the database per viewer.
import { TRPCError } from "@trpc/server";
import { z } from "zod";
import { lbRefSchema } from "../../../lib/lb-schemas";
import { DomainError } from "../../domain/errors";
import { listNodes } from "../../domain/inventory/nodes";
import { getLb } from "../../domain/lb/verbs";
import type { FeedEvent, LiveFeed } from "../../metrics/live";
import { WINDOW_SECONDS } from "../../metrics/store";
import { type FleetMetricsView, type LbMetricsView, fleetMetrics, fleetScope, lbMetrics, lbScope } from "../../metrics/views";
import type { ApiDeps } from "../trpc";
import { platformProcedure, router, tenantProcedure } from "../trpc";
import { nodeOut } from "./inventory";
import { lbOut } from "./lb";

/** Gathers events arriving together (several nodes report within a few ms of each other). */
const COALESCE_MS = 100;
/** Node lists pushed at most this often per viewer (every heartbeat is a cue). */
const NODE_LIST_GAP_MS = 500;

function requireLive(deps: ApiDeps): LiveFeed {
  if (!deps.live || deps.live.isStopped) {
    throw new TRPCError({ code: "PRECONDITION_FAILED", message: "live views are not running on this server" });
  }
  return deps.live;
}

/**
 * Errors thrown inside a subscription's generator pass no middleware: map domain errors here,
 * as the procedures' error mapping would (NOT_FOUND stays NOT_FOUND, not an internal error).
 */
async function domain<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof DomainError) throw new TRPCError({ code: err.code, message: err.message, cause: err });
    throw err;
  }
}

const secondsInput = z.number().int().min(10, "10–599 seconds").max(WINDOW_SECONDS - 1, "10–599 seconds").default(300);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The seconds completed since `lastTo` (none: an empty window), bounded by the viewer's window. */
function nextWindow(live: LiveFeed, lastTo: number, max: number): [seconds: number, to: number] {
  const to = live.store.window().to;
  return [Math.max(0, Math.min(max, to - lastTo)), to];
}

export type LiveLbEvent =
  | { type: "metrics"; full: boolean; metrics: LbMetricsView }
  /** The load balancer changed: its new view, exactly what lb.get answers (no extra round trip). */
  | { type: "state"; view: z.infer<typeof lbOut> }
  | { type: "gone" };
export type LiveNodesEvent =
  | { type: "metrics"; full: boolean; metrics: FleetMetricsView }
  /** The node list changed: what nodes.list({}) answers, so the console needs no refetch. */
  | { type: "state"; nodes: z.infer<typeof nodeOut>[] };

export const liveRouter = router({
  /** A load balancer's current traffic and the last `seconds` of it (one answer, no stream). */
  lbMetrics: tenantProcedure("viewer")
    .input(z.object({ lb: lbRefSchema, seconds: secondsInput }))
    .query(async ({ ctx, input }) => lbMetrics(requireLive(ctx.deps).store, await lbScope(ctx.tenantCtx, input.lb), input.seconds)),

  lb: tenantProcedure("viewer")
    .input(z.object({ lb: lbRefSchema, seconds: secondsInput }))
    .subscription(async function* ({ ctx, input, signal }): AsyncGenerator<LiveLbEvent> {
      const live = requireLive(ctx.deps);
      let scope = await domain(() => lbScope(ctx.tenantCtx, input.lb));
      const watch = live.watch(signal);
      try {
        let metrics = lbMetrics(live.store, scope, input.seconds);
        yield { type: "metrics", full: true, metrics };
        while (!signal?.aborted && !live.isStopped) {
          const first = await watch.next();
          if (!first.length) continue;
          const ours = (e: FeedEvent) => e.type === "lb" && (e.lbIds === "all" || e.lbIds.has(scope.lbId));
          // A change of ours goes out at once; traffic waits a moment for the other nodes' reports.
          if (!first.some(ours)) await sleep(COALESCE_MS);
          const events = [...first, ...(await watch.next(0))];
          if (signal?.aborted || live.isStopped) break;
          const changed = events.some(ours);
          let full = false;
          if (changed) {
            let view: z.infer<typeof lbOut>;
            try {
              const before = scope.nodes.map((n) => n.id).join() + "|" + scope.addresses.join();
              scope = await domain(() => lbScope(ctx.tenantCtx, input.lb));
              // New nodes or members: their history has to be sent whole.
              full = before !== scope.nodes.map((n) => n.id).join() + "|" + scope.addresses.join();
              // Output-shaped like lb.get, so only its fields ever leave the server.
              view = lbOut.parse(await domain(() => getLb(ctx.tenantCtx, scope.lbId)));
            } catch (err) {
              if (err instanceof TRPCError && err.code === "NOT_FOUND") {
                yield { type: "gone" };
                return;
              }
              throw err;
            }
            yield { type: "state", view };
          }
          const nodeIds = new Set(scope.nodes.map((n) => n.id));
          if (full || events.some((e) => e.type === "tick" || (e.type === "metrics" && nodeIds.has(e.nodeId)))) {
            const [seconds, to] = full ? [input.seconds, undefined] : nextWindow(live, metrics.window.to, input.seconds);
            metrics = lbMetrics(live.store, scope, seconds, to);
            yield { type: "metrics", full, metrics };
          }
        }
      } finally {
        watch.close();
      }
    }),

  nodes: platformProcedure
    .input(z.object({ seconds: secondsInput }))
    .subscription(async function* ({ ctx, input, signal }): AsyncGenerator<LiveNodesEvent> {
      const live = requireLive(ctx.deps);
      let scope = await domain(() => fleetScope(ctx.domain));
      const watch = live.watch(signal);
      try {
        let metrics = fleetMetrics(live.store, scope, input.seconds);
        let lastList = 0;
        yield { type: "metrics", full: true, metrics };
        while (!signal?.aborted && !live.isStopped) {
          const first = await watch.next();
          if (!first.length) continue;
          await sleep(COALESCE_MS);
          const events = [...first, ...(await watch.next(0))];
          if (signal?.aborted || live.isStopped) break;
          let full = false;
          if (events.some((e) => e.type === "nodes")) {
            const wait = lastList + NODE_LIST_GAP_MS - Date.now();
            if (wait > 0) await sleep(wait);
            lastList = Date.now();
            const before = scope.nodes.map((n) => n.id).join();
            scope = await domain(() => fleetScope(ctx.domain));
            full = before !== scope.nodes.map((n) => n.id).join();
            yield { type: "state", nodes: z.array(nodeOut).parse(await domain(() => listNodes(ctx.domain, {}))) };
          }
          if (full || events.some((e) => e.type === "tick" || e.type === "metrics")) {
            const [seconds, to] = full ? [input.seconds, undefined] : nextWindow(live, metrics.window.to, input.seconds);
            metrics = fleetMetrics(live.store, scope, seconds, to);
            yield { type: "metrics", full, metrics };
          }
        }
      } finally {
        watch.close();
      }
    }),
});
