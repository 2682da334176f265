import { describe, expect, it } from "vitest";
import type { DesiredVip } from "../../server/protocol/agent";
import { probeTargetsOf } from "./health-target";
import { notAdvertisedReason, planVip, PlanError, shouldAdvertise, type HealthLookup, type HealthVerdict } from "./plan";

type Member = DesiredVip["pools"][number]["members"][number];
const member = (id: string, address: string, extra: Partial<Member> = {}): Member => ({
  id,
  address,
  port: 80,
  weight: 100,
  adminState: "enabled",
  monitorAddress: null,
  monitorPort: null,
  ...extra,
});

function vip(members: Member[], pool: Partial<DesiredVip["pools"][number]> = {}, extra: Partial<DesiredVip> = {}): DesiredVip {
  return {
    lbId: "lb1",
    revision: 7,
    address: "198.19.0.10",
    family: 4,
    adminEnabled: true,
    listeners: [
      { id: "l-http", protocol: "TCP", portStart: 80, portEnd: 80, allowedCidrs: [], affinity: "5-tuple", poolId: "p1", adminEnabled: true },
    ],
    pools: [
      {
        id: "p1",
        minHealthy: { kind: "count", value: 1 },
        allDownPolicy: "withdraw",
        monitor: { type: "HTTP", intervalMs: 1000, timeoutMs: 500, rise: 2, fall: 3, port: null, http: { method: "GET", path: "/healthz", expectedCodes: "200" } },
        members,
        ...pool,
      },
    ],
    ...extra,
  };
}

const allUp: HealthLookup = () => "up";
const health = (states: Record<string, HealthVerdict>): HealthLookup => (_lb, _pool, id) => states[id];
const weights = (v: DesiredVip, h: HealthLookup = allUp) =>
  Object.fromEntries(planVip(v, h).listeners[0]!.backends.map((b) => [b.address, b.weight]));

describe("desired state → data-plane plan", () => {
  it("enabled healthy members get their weight; draining and weight 0 stay at 0; disabled are gone", () => {
    const v = vip([
      member("a", "198.18.1.1", { weight: 50 }),
      member("b", "198.18.1.2", { adminState: "draining" }),
      member("c", "198.18.1.3", { weight: 0 }),
      member("d", "198.18.1.4", { adminState: "disabled" }),
    ]);
    expect(weights(v)).toEqual({ "198.18.1.1": 50, "198.18.1.2": 0, "198.18.1.3": 0 });
    const plan = planVip(v, allUp);
    expect(plan.forwarding).toBe(true);
    expect(plan.listeners[0]).toMatchObject({ protocol: "tcp", port: 80, portEnd: 80, affinity: "flow" });
  });

  it("health down → weight 0 for new flows; unknown and unprobed count as up", () => {
    const v = vip([member("a", "198.18.1.1"), member("b", "198.18.1.2"), member("c", "198.18.1.3")]);
    expect(weights(v, health({ a: "down", b: "unknown" }))).toEqual({ "198.18.1.1": 0, "198.18.1.2": 100, "198.18.1.3": 100 });
  });

  it("below minHealthy with withdraw: no weights, not forwarding, reason in the ack", () => {
    const v = vip([member("a", "198.18.1.1"), member("b", "198.18.1.2"), member("c", "198.18.1.3")], {
      minHealthy: { kind: "count", value: 2 },
    });
    const plan = planVip(v, health({ a: "down", b: "down" }));
    expect(plan.listeners[0]!.backends.map((b) => b.weight)).toEqual([0, 0, 0]);
    expect(plan.forwarding).toBe(false);
    expect(plan.pools[0]).toEqual({ poolId: "p1", healthy: 1, eligible: 3, required: 2, policy: "withdraw" });
    expect(shouldAdvertise(plan, true, "active")).toBe(false);
    expect(notAdvertisedReason(plan, true, "active")).toBe("pool p1: 1 healthy of 3, minimum 2 (all-down policy: withdraw)");
  });

  it("below minHealthy with fail-open: every enabled member at its weight; draining stays 0", () => {
    const v = vip(
      [member("a", "198.18.1.1", { weight: 10 }), member("b", "198.18.1.2", { weight: 20 }), member("c", "198.18.1.3", { adminState: "draining" })],
      { allDownPolicy: "fail-open" },
    );
    const plan = planVip(v, health({ a: "down", b: "down" }));
    expect(weights(v, health({ a: "down", b: "down" }))).toEqual({ "198.18.1.1": 10, "198.18.1.2": 20, "198.18.1.3": 0 });
    expect(plan.pools[0]!.policy).toBe("fail-open");
    expect(plan.forwarding).toBe(true);
  });

  it("percent minimum is taken of the enabled members; all down always triggers the policy", () => {
    const members = [1, 2, 3, 4].map((i) => member(`m${i}`, `198.18.1.${i}`));
    const p50 = vip(members, { minHealthy: { kind: "percent", value: 50 } });
    expect(planVip(p50, health({ m1: "down", m2: "down" })).forwarding).toBe(true); // 2 of 4 ≥ 50 %
    expect(planVip(p50, health({ m1: "down", m2: "down", m3: "down" })).forwarding).toBe(false);
    const zero = vip(members, { minHealthy: { kind: "count", value: 0 } });
    const allDown = health({ m1: "down", m2: "down", m3: "down", m4: "down" });
    expect(planVip(zero, allDown).pools[0]!.policy).toBe("withdraw");
  });

  it("two members with one address are one backend (DSR forwards by address)", () => {
    const v = vip([member("a", "198.18.1.1", { port: 80, weight: 10 }), member("b", "198.18.1.1", { port: 8080, weight: 30 })]);
    expect(weights(v)).toEqual({ "198.18.1.1": 30 });
  });

  it("canonicalizes addresses and maps listener options", () => {
    const v: DesiredVip = {
      ...vip([member("a", "2001:DB8:0:0::5")]),
      address: "2001:db8:19:0::10",
      family: 6,
      listeners: [
        { id: "l1", protocol: "UDP", portStart: 5000, portEnd: 5100, allowedCidrs: ["2001:db8:100::/48"], affinity: "source-ip", poolId: "p1", adminEnabled: true },
        { id: "l0", protocol: "TCP", portStart: 443, portEnd: 443, allowedCidrs: [], affinity: "5-tuple", poolId: "p1", adminEnabled: false },
      ],
    };
    const plan = planVip(v, allUp);
    expect(plan.address).toBe("2001:db8:19::10");
    expect(plan.listeners).toEqual([
      {
        listenerId: "l1",
        protocol: "udp",
        port: 5000,
        portEnd: 5100,
        allowedCidrs: ["2001:db8:100::/48"],
        affinity: "source-ip",
        poolId: "p1",
        backends: [{ address: "2001:db8::5", weight: 100 }],
      },
    ]); // the admin-disabled listener is not in the map
  });

  it("rejects desired states that make no sense with a clear PlanError", () => {
    const base = vip([member("a", "198.18.1.1")]);
    const badPool = { ...base, listeners: [{ ...base.listeners[0]!, poolId: "nope" }] };
    expect(() => planVip(badPool, allUp)).toThrow(PlanError);
    expect(() => planVip(badPool, allUp)).toThrow(/pool nope/);
    const overlap = { ...base, listeners: [base.listeners[0]!, { ...base.listeners[0]!, id: "l2", portStart: 70, portEnd: 90 }] };
    expect(() => planVip(overlap, allUp)).toThrow(/overlap/);
    const wrongFamily = { ...base, listeners: [{ ...base.listeners[0]!, allowedCidrs: ["2001:db8::/32"] }] };
    expect(() => planVip(wrongFamily, allUp)).toThrow(/not IPv4/);
  });

  it("advertises only applied, forwarding, admin-enabled VIPs on a node that is not draining", () => {
    const plan = planVip(vip([member("a", "198.18.1.1")]), allUp);
    expect(shouldAdvertise(plan, true, "active")).toBe(true);
    expect(shouldAdvertise(plan, true, "cordoned")).toBe(true);
    expect(shouldAdvertise(plan, true, "draining")).toBe(false);
    expect(shouldAdvertise(plan, false, "active")).toBe(false);
    expect(shouldAdvertise(undefined, true, "active")).toBe(false);
    const drained = planVip(vip([member("a", "198.18.1.1", { adminState: "draining" })]), allUp);
    expect(shouldAdvertise(drained, true, "active")).toBe(false);
    expect(notAdvertisedReason(drained, true, "active")).toMatch(/withdraw|no enabled backend/);
  });

  it("health targets: one per enabled or draining member, with address and port overrides", () => {
    const v = vip(
      [
        member("a", "198.18.1.1"),
        member("b", "198.18.1.2", { adminState: "draining", monitorAddress: "198.18.9.2", monitorPort: 9000 }),
        member("c", "198.18.1.3", { adminState: "disabled" }),
      ],
      { monitor: { type: "TCP", intervalMs: 2000, timeoutMs: 1000, rise: 1, fall: 2, port: 8081, http: null } },
    );
    const t = probeTargetsOf(v);
    expect(t.map((x) => [x.key, x.address, x.port])).toEqual([
      ["lb1/p1/a", "198.18.1.1", 8081],
      ["lb1/p1/b", "198.18.9.2", 9000],
    ]);
    expect(t[1]!.member).toEqual({ lbId: "lb1", poolId: "p1", memberId: "b", address: "198.18.1.2", port: 80 });
    expect(probeTargetsOf(vip([member("a", "198.18.1.1")], { monitor: null }))).toEqual([]);
  });
});
