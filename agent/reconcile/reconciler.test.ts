import { afterEach, describe, expect, it } from "vitest";
import { backoffDelay, Reconciler, type Outcome, type ReconcileTarget } from "./reconciler";

/** An in-memory target that records calls and fails on demand. */
class FakeTarget implements ReconcileTarget<{ v: number }> {
  readonly name = "fake";
  held = new Map<string, { v: number }>();
  updates: string[][] = [];
  deletes: string[][] = [];
  prunes: string[][] = [];
  fail = new Map<string, Outcome & { ok: false }>();
  throwOnUpdate: Error | null = null;

  update(objects: ReadonlyMap<string, { v: number }>): Map<string, Outcome> {
    this.updates.push([...objects.keys()].sort());
    if (this.throwOnUpdate) throw this.throwOnUpdate;
    const out = new Map<string, Outcome>();
    for (const [id, d] of objects) {
      const f = this.fail.get(id);
      if (f) out.set(id, f);
      else this.held.set(id, d);
    }
    return out;
  }
  delete(ids: readonly string[]): Map<string, Outcome> {
    this.deletes.push([...ids].sort());
    for (const id of ids) this.held.delete(id);
    return new Map();
  }
  prune(keep: ReadonlySet<string>): void {
    this.prunes.push([...this.held.keys()].filter((id) => !keep.has(id)).sort());
    for (const id of [...this.held.keys()]) if (!keep.has(id)) this.held.delete(id);
  }
}

describe("Reconciler", () => {
  let clock = 1_000_000;
  const now = () => clock;
  const recs: Reconciler<{ v: number }>[] = [];
  const make = (t: FakeTarget) => {
    // onRetryDue is a no-op: tests drive passes and the clock themselves.
    const r = new Reconciler(t, { now, random: () => 0.5, backoff: { baseMs: 1000, maxMs: 8000 }, onRetryDue: () => {} });
    recs.push(r);
    return r;
  };
  afterEach(() => {
    for (const r of recs.splice(0)) r.close();
  });

  it("applies new objects once and is idempotent for equal desired values", async () => {
    const t = new FakeTarget();
    const r = make(t);
    expect(r.set("a", { v: 1 })).toBe(true);
    r.set("b", { v: 2 });
    const res = await r.reconcile();
    expect(res.touched.sort()).toEqual(["a", "b"]);
    expect(t.updates).toEqual([["a", "b"]]);
    expect(r.status("a")).toMatchObject({ state: "ok", error: null, attempts: 0 });

    expect(r.set("a", { v: 1 })).toBe(false); // same value: nothing to do
    await r.reconcile();
    expect(t.updates).toHaveLength(1);

    r.set("a", { v: 3 });
    await r.reconcile();
    expect(t.updates).toEqual([["a", "b"], ["a"]]);
    expect(t.held.get("a")).toEqual({ v: 3 });
  });

  it("records per-object failures and retries retryable ones with exponential backoff", async () => {
    const t = new FakeTarget();
    const r = make(t);
    r.set("ok", { v: 1 });
    r.set("flaky", { v: 1 });
    t.fail.set("flaky", { ok: false, error: "EBUSY", terminal: false });
    await r.reconcile();
    expect(r.status("ok")?.state).toBe("ok");
    const s1 = r.status("flaky")!;
    expect(s1).toMatchObject({ state: "failed", error: "EBUSY", terminal: false, attempts: 1 });
    expect(s1.nextRetryAt).toBe(clock + 750); // 1000 ms × (0.5 + 0.5/2)
    expect(r.unsettled()).toEqual(["flaky"]);

    await r.reconcile(); // backoff not expired: not retried
    expect(t.updates).toHaveLength(1);

    clock += 750;
    await r.reconcile();
    expect(t.updates[1]).toEqual(["flaky"]); // only the failed one
    expect(r.status("flaky")).toMatchObject({ attempts: 2, nextRetryAt: clock + 1500 });

    t.fail.clear();
    clock += 1500;
    await r.reconcile();
    expect(r.status("flaky")).toMatchObject({ state: "ok", attempts: 0, error: null });
    expect(r.unsettled()).toEqual([]);
  });

  it("caps the backoff and jitters it", () => {
    const opts = { baseMs: 500, maxMs: 30_000 };
    expect(backoffDelay(1, opts, () => 0)).toBe(250);
    expect(backoffDelay(1, opts, () => 0.999999)).toBe(500);
    expect(backoffDelay(20, opts, () => 0.999999)).toBe(30_000);
    expect(backoffDelay(20, opts, () => 0)).toBe(15_000);
  });

  it("never retries a terminal error until the desired object changes", async () => {
    const t = new FakeTarget();
    const r = make(t);
    r.set("big", { v: 1 });
    t.fail.set("big", { ok: false, error: "too many backends for the map", terminal: true });
    await r.reconcile();
    expect(r.status("big")).toMatchObject({ state: "failed", terminal: true, nextRetryAt: null });
    expect(r.unsettled()).toEqual([]);
    clock += 3_600_000;
    await r.reconcile();
    expect(t.updates).toHaveLength(1);

    t.fail.clear();
    r.set("big", { v: 1 }); // unchanged: still not retried
    await r.reconcile();
    expect(t.updates).toHaveLength(1);
    r.set("big", { v: 2 }); // changed: applied
    await r.reconcile();
    expect(t.updates).toHaveLength(2);
    expect(r.status("big")?.state).toBe("ok");
  });

  it("a target that throws fails the whole batch as retryable", async () => {
    const t = new FakeTarget();
    const r = make(t);
    t.throwOnUpdate = new Error("map update: EPERM");
    r.set("a", { v: 1 });
    await r.reconcile();
    expect(r.status("a")).toMatchObject({ state: "failed", terminal: false, error: "fake: map update: EPERM" });
  });

  it("never prunes before the first full snapshot, then prunes leftovers", async () => {
    const t = new FakeTarget();
    t.held.set("restored-1", { v: 9 }); // left by an earlier run (e.g. pinned maps)
    t.held.set("restored-2", { v: 9 });
    const r = make(t);
    r.set("restored-1", { v: 9 });
    await r.reconcile();
    await r.reconcile();
    expect(t.prunes).toEqual([]);
    expect(t.held.has("restored-2")).toBe(true);

    r.replaceAll(new Map([["restored-1", { v: 9 }], ["new", { v: 1 }]]));
    const res = await r.reconcile();
    expect(res.pruned).toBe(true);
    expect(t.prunes).toEqual([["restored-2"]]);
    expect([...t.held.keys()].sort()).toEqual(["new", "restored-1"]);
    await r.reconcile();
    expect(t.prunes).toHaveLength(1); // once per snapshot
  });

  it("deletes removed objects and a full snapshot removes what it no longer lists", async () => {
    const t = new FakeTarget();
    const r = make(t);
    r.replaceAll(new Map([["a", { v: 1 }], ["b", { v: 1 }]]));
    await r.reconcile();
    r.remove("a");
    await r.reconcile();
    expect(t.deletes).toEqual([["a"]]);
    expect(r.status("a")).toBeUndefined();
    r.replaceAll(new Map([["c", { v: 1 }]]));
    await r.reconcile();
    expect(t.deletes).toEqual([["a"], ["b"]]);
    expect([...t.held.keys()]).toEqual(["c"]);
  });

  it("serializes passes: calls during a pass queue exactly one more", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const t = new FakeTarget();
    const slow: ReconcileTarget<{ v: number }> = {
      name: "slow",
      update: async (o) => {
        await gate;
        return t.update(o);
      },
      delete: (ids) => t.delete(ids),
      prune: (k) => t.prune(k),
    };
    const r = new Reconciler(slow, { now, onRetryDue: () => {} });
    recs.push(r as Reconciler<{ v: number }>);
    r.set("a", { v: 1 });
    const p1 = r.reconcile();
    r.set("a", { v: 2 }); // changes while the first pass runs
    const p2 = r.reconcile();
    const p3 = r.reconcile();
    release();
    await Promise.all([p1, p2, p3]);
    expect(t.updates).toEqual([["a"], ["a"]]);
    expect(t.held.get("a")).toEqual({ v: 2 });
    expect(r.status("a")?.state).toBe("ok");
  });
});
