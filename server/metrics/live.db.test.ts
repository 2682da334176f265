// The live views through the API, on a real database (PGlite and PostgreSQL): a tenant sees only
// its own load balancers' traffic (another tenant's answers NOT_FOUND, even on a shared node and
// a shared backend address), node series are for platform admins, and the subscription pushes
// state cues (a mutation's NOTIFY, an agent report) and traffic within 1.5 s.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { appRouter } from "../api/root";
import { type ApiDeps, createCallerFactory } from "../api/trpc";
import { placement } from "../db/schema";
import { CHANGES_CHANNEL } from "../hub/hub";
import { createLogger } from "../log";
import type { Actor } from "../domain/context";
import { expectCode } from "../testing/expect";
import { openWorld, type World } from "../testing/world";
import { LiveFeed } from "./live";

const createCaller = createCallerFactory(appRouter);
type Caller = ReturnType<typeof createCaller>;

let w: World;
let live: LiveFeed;
let deps: ApiDeps;
let shop: Caller; // viewer of tenant "shop"
let rival: Caller; // admin of tenant "rival"
let root: Caller; // platform admin
let nodeId: string;
let lbA: { id: string; revision: number };
let lbB: { id: string; revision: number };

const callerFor = (actor: Actor) => createCaller({ deps, actor, authError: null });

beforeAll(async () => {
  w = await openWorld();
  live = new LiveFeed(w.database, createLogger("silent"));
  await live.start();
  deps = {
    db: w.database.db,
    database: w.database,
    auth: w.auth,
    live,
    onCommitted: (revisions) => void w.database.notify(CHANGES_CHANNEL, String(Math.max(...revisions))),
  };
  const admin = await w.user("ops@platform.test", { platformAdmin: true });
  root = callerFor(admin.actor);
  const region = await root.regions.create({ name: "r1" });
  const az = await root.azs.create({ regionId: region.id, name: "a" });
  await root.ipPools.create({ regionId: region.id, name: "v4", cidr: "198.19.0.0/24" });
  const node = await root.nodes.create({ name: "lb-1", azId: az.id, address: "198.18.0.11", asn: 65001, peers: [{ address: "198.18.0.1", asn: 65000 }], capacity: 10 });
  nodeId = node.id;
  await root.tenants.create({ slug: "shop", name: "Shop" });
  await root.tenants.create({ slug: "rival", name: "Rival" });
  const viewer = await w.user("viewer@shop.test");
  const other = await w.user("admin@rival.test");
  await root.members.add({ tenantId: "shop", email: "viewer@shop.test", role: "viewer" });
  await root.members.add({ tenantId: "rival", email: "admin@rival.test", role: "admin" });
  shop = callerFor(viewer.actor);
  rival = callerFor(other.actor);
  const tree = (tenantId: string, name: string, members: string[]) => ({
    tenantId,
    name,
    replicas: 1,
    pools: [{ name: "web", members: members.map((address) => ({ address, port: 80 })) }],
    listeners: [{ protocol: "TCP" as const, port: 80, pool: "web" }],
  });
  lbA = await root.lb.create(tree("shop", "shop-web", ["198.18.10.1", "198.18.10.2"]));
  // The rival's VIP shares the node and even one backend address with the shop's.
  lbB = await rival.lb.create(tree("rival", "rival-web", ["198.18.10.1", "198.18.20.1"]));
  // What the scheduler does when the node is live: both VIPs on the one node.
  await w.database.db.insert(placement).values([
    { lbId: lbA.id, nodeId },
    { lbId: lbB.id, nodeId },
  ]);
}, 120_000); // generous: password hashing on a busy machine

afterAll(async () => {
  await live?.stop();
  await w?.close();
});

function reportTraffic() {
  live.store.record(nodeId, {
    intervalMs: 1000,
    listeners: [
      { lbId: lbA.id, listenerId: "l-a", packets: 100, bytes: 10_000, newFlows: 5, drops: 0 },
      { lbId: lbB.id, listenerId: "l-b", packets: 999, bytes: 99_900, newFlows: 50, drops: 3 },
    ],
    backends: [
      { lbId: lbA.id, address: "198.18.10.1", packets: 60, bytes: 6000 },
      { lbId: lbB.id, address: "198.18.10.1", packets: 900, bytes: 90_000 },
      { lbId: lbB.id, address: "198.18.20.1", packets: 99, bytes: 9900 },
    ],
  });
}

describe("live metrics, tenant-scoped", () => {
  it("shows a tenant its own load balancer's traffic per node and per member, nothing of the other tenant's", async () => {
    reportTraffic();
    const m = await shop.live.lbMetrics({ tenantId: "shop", lb: "shop-web", seconds: 10 });
    expect(m.lbId).toBe(lbA.id);
    expect(m.nodes).toEqual([{ nodeId, nodeName: "lb-1", latest: { packets: 100, bytes: 10_000, newFlows: 5, drops: 0 }, lastReportAt: expect.any(Number) }]);
    expect(m.members.map((x) => [x.address, x.latest?.packets])).toEqual([
      ["198.18.10.1", 60], // not 960: the rival's traffic to the same address is the rival's
      ["198.18.10.2", 0],
    ]);
    expect(m.total.packets).toHaveLength(10);
  });

  it("answers NOT_FOUND for another tenant's load balancer, by id, name or through the other tenant", async () => {
    await expectCode(shop.live.lbMetrics({ tenantId: "shop", lb: lbB.id }), "NOT_FOUND");
    await expectCode(shop.live.lbMetrics({ tenantId: "shop", lb: "rival-web" }), "NOT_FOUND");
    await expectCode(shop.live.lbMetrics({ tenantId: "rival", lb: lbB.id }), "NOT_FOUND");
    await expectCode(shop.live.lb({ tenantId: "shop", lb: lbB.id }).then(async (it) => it[Symbol.asyncIterator]().next()), "NOT_FOUND");
    const own = await rival.live.lbMetrics({ tenantId: "rival", lb: lbB.id, seconds: 10 });
    expect(own.nodes[0]!.latest?.packets).toBe(999);
  });

  it("keeps node (fleet) series for platform admins", async () => {
    await expectCode(shop.live.nodes({ seconds: 10 }).then(async (it) => it[Symbol.asyncIterator]().next()), "FORBIDDEN");
    await expectCode(rival.live.nodes({ seconds: 10 }).then(async (it) => it[Symbol.asyncIterator]().next()), "FORBIDDEN");
    reportTraffic();
    const it = (await root.live.nodes({ seconds: 10 }))[Symbol.asyncIterator]();
    try {
      const first = await it.next();
      expect(first.value).toMatchObject({ type: "metrics", full: true });
      const fleet = (first.value as { metrics: { nodes: { nodeName: string; latest: { packets: number } | null }[] } }).metrics;
      // The node's own figures: every VIP it carries, whichever tenant's.
      expect(fleet.nodes.map((n) => [n.nodeName, n.latest?.packets])).toEqual([["lb-1", 1099]]);
    } finally {
      await it.return?.(undefined);
    }
  });
});

type Event = { type: string; view?: { id: string; description: string; revision: number }; metrics?: { nodes: { latest: { packets: number } | null }[]; window: { from: number; to: number }; total: { packets: (number | null)[] } } };

/** Reads events until one matches, failing after `ms`; returns it and what came before it. */
async function until(it: AsyncIterator<unknown>, pred: (e: Event) => boolean, ms: number): Promise<{ hit: Event; before: Event[] }> {
  const deadline = Date.now() + ms;
  const before: Event[] = [];
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`no matching event within ${ms} ms; saw ${before.map((e) => e.type).join(", ")}`);
    const r = await Promise.race([it.next(), new Promise<null>((res) => setTimeout(() => res(null), left))]);
    if (r === null) continue;
    if (r.done) throw new Error("subscription ended");
    const e = r.value as Event;
    if (pred(e)) return { hit: e, before };
    before.push(e);
  }
}

describe("live subscription", () => {
  it("pushes state cues for its own load balancer only, and traffic, within 1.5 s", async () => {
    const it = (await shop.live.lb({ tenantId: "shop", lb: lbA.id, seconds: 30 }))[Symbol.asyncIterator]();
    try {
      const first = await until(it, () => true, 1500);
      expect(first.hit).toMatchObject({ type: "metrics", full: true });
      expect(first.hit.metrics!.total.packets).toHaveLength(30);

      // Another tenant's change on the same node: ticks keep coming, no state cue for us.
      const b = await rival.lb.update({ tenantId: "rival", lb: lbB.id, expectedRevision: lbB.revision, description: "changed" });
      lbB = b;
      live.agentReported(nodeId, [lbB.id]);
      const quiet = await until(it, (e) => e.type === "metrics" && !!e.metrics && e.metrics.window.to > first.hit.metrics!.window.to + 1, 4000);
      expect([...quiet.before, quiet.hit].filter((e) => e.type === "state")).toEqual([]);

      // A mutation of ours (NOTIFY tenbin_changes → one revision read) → a state cue.
      let t0 = Date.now();
      lbA = await root.lb.update({ tenantId: "shop", lb: lbA.id, expectedRevision: lbA.revision, description: "live" });
      const state = await until(it, (e) => e.type === "state", 1500);
      // The cue carries the new view (what lb.get answers), so the console needs no round trip.
      expect(state.hit.view).toMatchObject({ id: lbA.id, description: "live", revision: lbA.revision });
      expect(Date.now() - t0).toBeLessThan(1500);

      // An agent report stored by a hub (acks, health) → NOTIFY tenbin_live → a state cue.
      t0 = Date.now();
      live.agentReported(nodeId, [lbA.id]);
      await until(it, (e) => e.type === "state", 1500);
      expect(Date.now() - t0).toBeLessThan(1500);

      // Traffic: the next push carries the node's current rate.
      t0 = Date.now();
      reportTraffic();
      const traffic = await until(it, (e) => e.type === "metrics" && e.metrics!.nodes[0]!.latest?.packets === 100, 1500);
      expect(Date.now() - t0).toBeLessThan(1500);
      // Increments only: a push after the first carries the seconds completed since, not the window.
      expect(traffic.hit.metrics!.total.packets.length).toBeLessThanOrEqual(3);
    } finally {
      await it.return?.(undefined);
    }
  });

  it("bounds what a viewer that stops reading holds: a backlog collapses into one 'everything changed'", async () => {
    const watch = live.watch();
    try {
      for (let i = 0; i < 5000; i++) live.store.record(`node-${i % 50}`, { intervalMs: 1000, listeners: [], backends: [] });
      const events = await watch.next(0);
      expect(events.length).toBeLessThanOrEqual(1000);
      expect(events).toContainEqual({ type: "lb", lbIds: "all" });
      // Reading again starts afresh.
      live.store.record(nodeId, { intervalMs: 1000, listeners: [], backends: [] });
      const again = await watch.next(0);
      expect(again).toContainEqual({ type: "metrics", nodeId });
      expect(again).not.toContainEqual({ type: "lb", lbIds: "all" });
    } finally {
      watch.close();
    }
  });

  it("ends open subscriptions when the feed stops (the server drains)", async () => {
    const feed = new LiveFeed(w.database, createLogger("silent"));
    await feed.start();
    const c = createCaller({ deps: { ...deps, live: feed }, actor: (await w.user("late@shop.test")).actor, authError: null });
    await root.members.add({ tenantId: "shop", email: "late@shop.test", role: "viewer" });
    const it = (await c.live.lb({ tenantId: "shop", lb: lbA.id, seconds: 10 }))[Symbol.asyncIterator]();
    await it.next();
    await feed.stop();
    const end = await Promise.race([
      (async () => {
        for (;;) if ((await it.next()).done) return "ended";
      })(),
      new Promise((r) => setTimeout(() => r("still open"), 2000)),
    ]);
    expect(end).toBe("ended");
    await expectCode(c.live.lbMetrics({ tenantId: "shop", lb: lbA.id, seconds: 10 }), "PRECONDITION_FAILED");
  });
});
