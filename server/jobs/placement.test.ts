import { describe, expect, it } from "vitest";
import fc from "fast-check";
import {
  DEFAULT_REPLICAS,
  place,
  shouldSuspendFailover,
  type PlacementNode,
  type PlacementNodeState,
  type PlacementResult,
  type PlacementVip,
} from "./placement";

// ---------------------------------------------------------------------------------------------
// helpers

const node = (
  id: string,
  az: string,
  state: PlacementNodeState = "active",
  capacity = 1000,
): PlacementNode => ({
  id,
  az,
  state,
  capacity,
});
const vip = (id: string, replicas: number | undefined, current: string[] = []): PlacementVip => ({
  id,
  replicas,
  current,
});

function loads(nodes: readonly PlacementNode[], result: PlacementResult): Map<string, number> {
  const load = new Map(nodes.map((n) => [n.id, 0]));
  for (const ids of result.assignments.values())
    for (const id of ids) load.set(id, (load.get(id) ?? 0) + 1);
  return load;
}

function activeSpread(nodes: readonly PlacementNode[], result: PlacementResult): number {
  const load = loads(nodes, result);
  const active = nodes
    .filter((n) => n.state === "active" && n.capacity > 0)
    .map((n) => load.get(n.id)!);
  return active.length === 0 ? 0 : Math.max(...active) - Math.min(...active);
}

const azsOf = (nodes: readonly PlacementNode[], ids: readonly string[]): Set<string> => {
  const byId = new Map(nodes.map((n) => [n.id, n.az]));
  return new Set(ids.map((id) => byId.get(id)!));
};

const withCurrent = (vips: readonly PlacementVip[], result: PlacementResult): PlacementVip[] =>
  vips.map((v) => ({ ...v, current: result.assignments.get(v.id)! }));

// ---------------------------------------------------------------------------------------------
// generators

const stateArb = fc.constantFrom<PlacementNodeState>(
  "active",
  "active",
  "active",
  "cordoned",
  "draining",
  "down",
);

/** Any fleet: 1-4 AZs, uneven sizes, mixed states and capacities. */
const anyFleetArb = fc
  .array(
    fc.record({
      az: fc.integer({ min: 0, max: 3 }),
      state: stateArb,
      capacity: fc.oneof(fc.integer({ min: 0, max: 12 }), fc.constant(Infinity)),
    }),
    { minLength: 0, maxLength: 14 },
  )
  .map((specs) =>
    specs.map((s, i) => node(`n${String(i).padStart(2, "0")}`, `az-${s.az}`, s.state, s.capacity)),
  );

/** VIPs with current placements drawn from the fleet's ids (and a few unknown ids). */
const vipsArb = (nodeIds: readonly string[]): fc.Arbitrary<PlacementVip[]> =>
  fc
    .array(
      fc.record({
        replicas: fc.option(fc.integer({ min: 0, max: 4 }), { nil: undefined }),
        current: fc.subarray([...nodeIds, "gone-1", "gone-2"], {
          maxLength: Math.min(5, nodeIds.length + 2),
        }),
      }),
      { maxLength: 30 },
    )
    .map((specs) =>
      specs.map((s, i) => vip(`v${String(i).padStart(3, "0")}`, s.replicas, s.current)),
    );

const anyCaseArb = anyFleetArb.chain((nodes) =>
  vipsArb(nodes.map((n) => n.id)).map((vips) => ({ nodes, vips })),
);

/** A healthy fleet: k AZs of equal size, all active, ample capacity; fresh VIPs. */
const evenFleetCaseArb = fc
  .record({
    azCount: fc.integer({ min: 1, max: 4 }),
    perAz: fc.integer({ min: 1, max: 6 }),
    replicas: fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 60 }),
  })
  .map(({ azCount, perAz, replicas }) => {
    const nodes: PlacementNode[] = [];
    for (let a = 0; a < azCount; a++)
      for (let i = 0; i < perAz; i++) nodes.push(node(`az${a}-n${i}`, `az-${a}`));
    const vips = replicas.map((r, i) => vip(`v${String(i).padStart(3, "0")}`, r));
    return { nodes, vips };
  });

const shuffledArb = <T>(items: readonly T[]): fc.Arbitrary<T[]> =>
  fc.array(fc.nat(), { minLength: items.length, maxLength: items.length }).map((keys) =>
    items
      .map((item, i) => ({ item, key: keys[i]! }))
      .sort((a, b) => a.key - b.key)
      .map((x) => x.item),
  );

// ---------------------------------------------------------------------------------------------
// properties

describe("place: invariants on any fleet", () => {
  it("puts each VIP on distinct, eligible, known nodes, at most `replicas` of them, within capacity", () => {
    fc.assert(
      fc.property(anyCaseArb, ({ nodes, vips }) => {
        const result = place(nodes, vips);
        const byId = new Map(nodes.map((n) => [n.id, n]));
        expect([...result.assignments.keys()].sort()).toEqual(vips.map((v) => v.id).sort());
        for (const v of vips) {
          const ids = result.assignments.get(v.id)!;
          expect(new Set(ids).size).toBe(ids.length);
          expect(ids.length).toBeLessThanOrEqual(v.replicas ?? DEFAULT_REPLICAS);
          for (const id of ids) {
            expect(byId.get(id)?.state).toBe("active");
          }
        }
        for (const [id, count] of loads(nodes, result))
          expect(count).toBeLessThanOrEqual(byId.get(id)!.capacity);
      }),
      { numRuns: 300 },
    );
  });

  it("places as many replicas as possible and reports every shortfall with a reason", () => {
    fc.assert(
      fc.property(anyCaseArb, ({ nodes, vips }) => {
        const result = place(nodes, vips);
        const load = loads(nodes, result);
        const short = new Map(result.unplaced.map((u) => [u.vipId, u.reason]));
        for (const v of vips) {
          const ids = result.assignments.get(v.id)!;
          const want = v.replicas ?? DEFAULT_REPLICAS;
          if (ids.length < want) {
            expect(short.get(v.id)).toMatch(
              new RegExp(`placed ${ids.length} of ${want} replicas: .+`),
            );
            // Maximal: every eligible node without this VIP is full.
            for (const n of nodes) {
              if (n.state === "active" && !ids.includes(n.id))
                expect(load.get(n.id)).toBeGreaterThanOrEqual(n.capacity);
            }
          } else {
            expect(short.has(v.id)).toBe(false);
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it("spreads VIPs with >= 2 replicas over >= 2 AZs whenever >= 2 AZs have room, else says why", () => {
    fc.assert(
      fc.property(anyCaseArb, ({ nodes, vips }) => {
        const result = place(nodes, vips);
        const eligibleAzs = new Set(
          nodes.filter((n) => n.state === "active" && n.capacity > 0).map((n) => n.az),
        );
        const flagged = new Set(result.spreadShortfall.map((s) => s.vipId));
        for (const v of vips) {
          const ids = result.assignments.get(v.id)!;
          const singleAz = ids.length >= 2 && azsOf(nodes, ids).size < 2;
          expect(flagged.has(v.id)).toBe(singleAz && eligibleAzs.size >= 2);
        }
        // With unlimited capacity, a shortfall in spread can never happen.
        const unlimited = nodes.map((n) => ({ ...n, capacity: Infinity }));
        expect(place(unlimited, vips).spreadShortfall).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });

  it("is deterministic: the same input in any order gives the same output", () => {
    const arb = anyCaseArb.chain(({ nodes, vips }) =>
      fc.record({
        nodes: fc.constant(nodes),
        vips: fc.constant(vips),
        n2: shuffledArb(nodes),
        v2: shuffledArb(vips),
      }),
    );
    fc.assert(
      fc.property(arb, ({ nodes, vips, n2, v2 }) => {
        const a = place(nodes, vips);
        const b = place(n2, v2);
        expect([...b.assignments]).toEqual([...a.assignments]);
        expect(b.moved).toBe(a.moved);
        expect(b.unplaced).toEqual(a.unplaced);
        expect(b.spreadShortfall).toEqual(a.spreadShortfall);
      }),
      { numRuns: 200 },
    );
  });

  it("is sticky: placing its own output again moves and adds nothing", () => {
    fc.assert(
      fc.property(anyCaseArb, ({ nodes, vips }) => {
        const first = place(nodes, vips);
        const again = place(nodes, withCurrent(vips, first));
        expect(again.moved).toBe(0);
        expect(again.added).toBe(0);
        expect([...again.assignments]).toEqual([...first.assignments]);
      }),
      { numRuns: 300 },
    );
  });
});

describe("place: a fresh placement on an even, healthy fleet", () => {
  it("balances to max - min <= 1 VIPs per node and spreads every VIP over as many AZs as it can", () => {
    fc.assert(
      fc.property(evenFleetCaseArb, ({ nodes, vips }) => {
        const result = place(nodes, vips);
        expect(activeSpread(nodes, result)).toBeLessThanOrEqual(1);
        const azCount = new Set(nodes.map((n) => n.az)).size;
        for (const v of vips) {
          const ids = result.assignments.get(v.id)!;
          expect(ids.length).toBe(Math.min(v.replicas!, nodes.length));
          expect(azsOf(nodes, ids).size).toBe(Math.min(ids.length, azCount));
        }
        expect(result.moved).toBe(0);
      }),
      { numRuns: 300 },
    );
  });

  it("moves only the lost node's VIPs (plus a bounded rebalance) when one node goes down", () => {
    const arb = evenFleetCaseArb.chain((c) =>
      fc.record({ c: fc.constant(c), lost: fc.nat({ max: c.nodes.length - 1 }) }),
    );
    fc.assert(
      fc.property(arb, ({ c: { nodes, vips }, lost }) => {
        const before = place(nodes, vips);
        const lostId = nodes[lost]!.id;
        const orphaned = vips.filter((v) => before.assignments.get(v.id)!.includes(lostId)).length;
        const fleet = nodes.map((n) => (n.id === lostId ? { ...n, state: "down" as const } : n));
        const after = place(fleet, withCurrent(vips, before));

        // Every replica on the lost node moved; restoring balance costs at most two more moves
        // per lost replica (a chain of moves when AZ spread forbids a direct one).
        expect(after.moved).toBeGreaterThanOrEqual(orphaned);
        expect(after.moved).toBeLessThanOrEqual(3 * orphaned);
        for (const ids of after.assignments.values()) expect(ids).not.toContain(lostId);
        // Nothing else was disturbed beyond that bound: count VIPs whose other replicas changed.
        let disturbed = 0;
        for (const v of vips) {
          const was = before.assignments.get(v.id)!.filter((id) => id !== lostId);
          const now = after.assignments.get(v.id)!;
          disturbed += was.filter((id) => !now.includes(id)).length;
        }
        expect(disturbed).toBeLessThanOrEqual(2 * orphaned);
        // Removing the node outright (not just marking it down) gives the same answer.
        const removed = place(
          nodes.filter((n) => n.id !== lostId),
          withCurrent(vips, before),
        );
        expect([...removed.assignments]).toEqual([...after.assignments]);
      }),
      { numRuns: 300 },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// examples: behaviour an operator would notice

describe("place: examples", () => {
  const fleet = [
    node("a1", "a"),
    node("a2", "a"),
    node("b1", "b"),
    node("b2", "b"),
    node("c1", "c"),
  ];

  it("defaults to 2 replicas in 2 AZs", () => {
    const r = place(fleet, [vip("v1", undefined)]);
    const ids = r.assignments.get("v1")!;
    expect(ids).toHaveLength(2);
    expect(azsOf(fleet, ids).size).toBe(2);
  });

  it("keeps placements on eligible nodes and re-places those on cordoned, draining or down nodes", () => {
    for (const state of ["cordoned", "draining", "down"] as const) {
      const nodes = fleet.map((n) => (n.id === "b1" ? { ...n, state } : n));
      const r = place(nodes, [vip("v1", 2, ["a1", "b1"])]);
      const ids = r.assignments.get("v1")!;
      expect(ids).toContain("a1");
      expect(ids).not.toContain("b1");
      expect(azsOf(nodes, ids).size).toBe(2); // replacement goes to another AZ than a
      expect(r.moved).toBe(1);
      expect(r.added).toBe(1);
    }
  });

  it("moves one replica out when both sit in one AZ and another AZ has room", () => {
    const r = place(fleet, [vip("v1", 2, ["a1", "a2"])]);
    const ids = r.assignments.get("v1")!;
    expect(azsOf(fleet, ids).size).toBe(2);
    expect(r.moved).toBe(1);
  });

  it("reports a shortfall when the fleet is too small, and places what it can", () => {
    const nodes = [node("a1", "a"), node("b1", "b", "cordoned")];
    const r = place(nodes, [vip("v1", 3)]);
    expect(r.assignments.get("v1")).toEqual(["a1"]);
    expect(r.unplaced).toEqual([
      { vipId: "v1", reason: "placed 1 of 3 replicas: only 1 eligible (active) node(s)" },
    ]);

    const none = place([node("a1", "a", "down")], [vip("v1", 2, ["a1"])]);
    expect(none.assignments.get("v1")).toEqual([]);
    expect(none.unplaced[0]!.reason).toMatch(/no eligible node/);
    expect(none.moved).toBe(1);
  });

  it("under scarce capacity gives every VIP its first replica before any VIP its second", () => {
    const nodes = [node("a1", "a", "active", 2), node("b1", "b", "active", 2)];
    const r = place(nodes, [vip("v1", 2), vip("v2", 2), vip("v3", 2)]);
    for (const id of ["v1", "v2", "v3"])
      expect(r.assignments.get(id)!.length).toBeGreaterThanOrEqual(1);
    // 4 slots for 6 wanted replicas: v1 gets both, v2 and v3 one each.
    expect(r.unplaced).toEqual([
      { vipId: "v2", reason: "placed 1 of 2 replicas: the other eligible nodes are at capacity" },
      { vipId: "v3", reason: "placed 1 of 2 replicas: the other eligible nodes are at capacity" },
    ]);
  });

  it("sheds replicas when `replicas` is lowered, keeping the AZ spread", () => {
    const r = place(fleet, [vip("v1", 2, ["a1", "a2", "b1"])]);
    const ids = r.assignments.get("v1")!;
    expect(ids).toHaveLength(2);
    expect(ids).toContain("b1");
    expect(r.moved).toBe(1);
    expect(r.added).toBe(0);
  });

  it("sheds VIPs from a node whose capacity was lowered", () => {
    const nodes = [node("a1", "a", "active", 1), node("b1", "b"), node("b2", "b"), node("c1", "c")];
    const r = place(nodes, [vip("v1", 1, ["a1"]), vip("v2", 1, ["a1"])]);
    const onA1 = [...r.assignments.values()].filter((ids) => ids.includes("a1")).length;
    expect(onA1).toBe(1);
    expect(r.moved).toBe(1);
  });

  it("fills a joining node by rebalancing, or leaves placements alone with a looser tolerance", () => {
    const nodes = [node("a1", "a"), node("b1", "b")];
    const vips = Array.from({ length: 10 }, (_, i) => vip(`v${i}`, 1));
    const before = place(nodes, vips);
    const grown = [...nodes, node("c1", "c")];
    const balanced = place(grown, withCurrent(vips, before));
    expect(activeSpread(grown, balanced)).toBeLessThanOrEqual(1);
    expect(balanced.moved).toBe(3); // 5/5/0 -> 4/3/3 or 3/4/3: three moves, no more
    const sticky = place(grown, withCurrent(vips, before), { maxImbalance: 10 });
    expect(sticky.moved).toBe(0);
  });

  it("rejects malformed input with a clear error", () => {
    expect(() => place([node("a", "x"), node("a", "y")], [])).toThrow(/duplicate node id "a"/);
    expect(() => place([], [vip("v", 1), vip("v", 1)])).toThrow(/duplicate VIP id "v"/);
    expect(() => place([], [vip("v", -1)])).toThrow(/replicas must be an integer from 0 to 1024/);
    expect(() => place([], [vip("v", 2 ** 32)])).toThrow(/replicas must be an integer/);
    expect(() => place([node("a", "x", "active", -1)], [])).toThrow(/capacity/);
    expect(() => place([], [], { maxImbalance: 0 })).toThrow(/maxImbalance/);
  });
});

describe("shouldSuspendFailover", () => {
  it("lets ordinary failures fail over", () => {
    expect(shouldSuspendFailover(300, 0).suspend).toBe(false);
    expect(shouldSuspendFailover(300, 10).suspend).toBe(false);
    expect(shouldSuspendFailover(300, 90).suspend).toBe(false); // exactly 30%
    // A single dead node in a tiny fleet still fails over.
    expect(shouldSuspendFailover(2, 1).suspend).toBe(false);
    expect(shouldSuspendFailover(3, 1).suspend).toBe(false);
  });

  it("suspends when too large a share goes silent at once, and says why", () => {
    const d = shouldSuspendFailover(300, 91);
    expect(d.suspend).toBe(true);
    expect(d.reason).toMatch(
      /91 of 300 nodes went silent \(30\.3% > 30%\).*suspect the control plane/,
    );
    expect(shouldSuspendFailover(3, 2).suspend).toBe(true);
    expect(shouldSuspendFailover(10, 5, { maxSilentFraction: 0.5 }).suspend).toBe(false);
  });

  it("suspends past an absolute count when one is set", () => {
    const d = shouldSuspendFailover(1000, 21, { maxSilentNodes: 20 });
    expect(d.suspend).toBe(true);
    expect(d.reason).toMatch(/more than 20/);
    expect(shouldSuspendFailover(1000, 20, { maxSilentNodes: 20 }).suspend).toBe(false);
  });

  it("rejects impossible counts", () => {
    expect(() => shouldSuspendFailover(3, 4)).toThrow(RangeError);
    expect(() => shouldSuspendFailover(-1, 0)).toThrow(RangeError);
    expect(() => shouldSuspendFailover(10, 1, { maxSilentFraction: 2 })).toThrow(RangeError);
  });
});
