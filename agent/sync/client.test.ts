// The sync client against a fake hub on 127.0.0.1: hello, snapshot, update + tombstone, acks,
// malformed messages, reconnect backoff, persisted desired state, join token exchange.
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import type { AddressInfo } from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { CloseCode, PROTOCOL_VERSION } from "../../server/protocol/agent";
import { FakeDatapath } from "../reconcile/test-support";
import { obtainCredential } from "./join";
import { Outbox } from "./outbox";
import { StateStore } from "./state-store";
import { FakeHub, makeAgent, NODE, testVip, type TestAgent } from "./test-support";

const tmpDirs: string[] = [];
const tmp = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), "tb-agent-sync-"));
  tmpDirs.push(d);
  return d;
};

afterAll(() => {
  for (const d of tmpDirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

describe("sync client ⇄ hub", () => {
  let hub: FakeHub;
  const agents: TestAgent[] = [];
  const agent = (o: Partial<Parameters<typeof makeAgent>[0]> = {}) => {
    const a = makeAgent({ hubUrl: hub.url, stateDir: o.stateDir ?? tmp(), ...o });
    agents.push(a);
    return a;
  };

  beforeAll(async () => {
    hub = await FakeHub.start();
  });
  afterEach(async () => {
    for (const a of agents.splice(0)) await a.stop();
    hub.connections.length = 0;
    hub.onConnection = null;
  });
  afterAll(async () => {
    await hub.close();
  });

  it("says hello with its credential, cursor and restored summary, then applies a snapshot and acks every VIP", async () => {
    const a = agent({ credential: "tbn_secret" });
    a.client.start();
    const c = await hub.connection(0);
    expect(c.headers.authorization).toBe("Bearer tbn_secret");
    const hello = await c.next("hello");
    expect(hello).toEqual({ type: "hello", protocolVersion: PROTOCOL_VERSION, agentVersion: "test", lastAppliedRevision: 0, restored: { vips: 0, backends: 0 } });

    c.send({
      type: "snapshot",
      revision: 5,
      node: NODE,
      vips: [
        testVip("lb-a", 4, "198.19.0.1", { "198.18.1.1": 100, "198.18.1.2": 100 }),
        testVip("lb-b", 5, "198.19.0.2", { "198.18.2.1": 0 }), // only a drained member
      ],
    });
    const ack = await c.next("ack", (m) => m.results.length === 2);
    const byId = Object.fromEntries(ack.results.map((r) => [r.lbId, r]));
    expect(byId["lb-a"]).toEqual({ lbId: "lb-a", revision: 4, ok: true, error: null, advertised: true });
    expect(byId["lb-b"]).toMatchObject({ lbId: "lb-b", revision: 5, ok: true, advertised: false });
    expect(byId["lb-b"]!.error).toMatch(/withdraw|no enabled backend/);

    // In the (fake) maps: both members of lb-a share the table; lb-b's drained member is kept
    // for existing flows but gets no slots.
    const view = a.dp.view("198.19.0.1", "tcp", 80)!;
    expect(view.backends).toEqual(["198.18.1.1", "198.18.1.2"]);
    expect(view.shares["198.18.1.1"]! + view.shares["198.18.1.2"]!).toBe(a.dp.tableSize);
    expect(Math.abs(view.shares["198.18.1.1"]! - view.shares["198.18.1.2"]!)).toBeLessThan(a.dp.tableSize * 0.2);
    expect(a.dp.view("198.19.0.2", "tcp", 80)).toEqual({ backends: ["198.18.2.1"], shares: {} });
    expect(a.controller.lastAppliedRevision).toBe(5);
    // Health checks follow the pools' monitors.
    expect(a.health.targets.map((t) => `${t.address}:${t.port}`).sort()).toEqual(["198.18.1.1:80", "198.18.1.2:80", "198.18.2.1:80"]);
  });

  it("applies updates and tombstones, acks them, and ignores stale revisions", async () => {
    const a = agent();
    a.client.start();
    const c = await hub.connection(0);
    await c.next("hello");
    c.send({ type: "snapshot", revision: 3, node: NODE, vips: [testVip("lb-a", 2, "198.19.0.1", { "198.18.1.1": 100 }), testVip("lb-b", 3, "198.19.0.2", { "198.18.2.1": 100 })] });
    await c.next("ack", (m) => m.results.length === 2);

    c.send({
      type: "update",
      revision: 6,
      vips: [testVip("lb-a", 6, "198.19.0.1", { "198.18.1.1": 100, "198.18.1.9": 50 })],
      tombstones: [{ lbId: "lb-b", revision: 5 }],
    });
    const ack = await c.next("ack", (m) => m.results.some((r) => r.revision === 6));
    const byId = Object.fromEntries(ack.results.map((r) => [r.lbId, r]));
    expect(byId["lb-a"]).toEqual({ lbId: "lb-a", revision: 6, ok: true, error: null, advertised: true });
    expect(byId["lb-b"]).toEqual({ lbId: "lb-b", revision: 5, ok: true, error: null, advertised: false });
    expect(a.dp.view("198.19.0.1", "tcp", 80)!.backends).toEqual(["198.18.1.1", "198.18.1.9"]);
    expect(a.dp.view("198.19.0.2", "tcp", 80)).toBeUndefined();
    expect(a.dp.listBackends().map((b) => b.address).sort()).toEqual(["198.18.1.1", "198.18.1.9"]);

    // An older state of lb-a (revision 4 < 6) changes nothing.
    c.send({ type: "update", revision: 6, vips: [testVip("lb-a", 4, "198.19.0.1", { "198.18.7.7": 100 })], tombstones: [] });
    c.send({ type: "update", revision: 7, vips: [testVip("lb-c", 7, "198.19.0.3", { "198.18.3.1": 100 })], tombstones: [] });
    await c.next("ack", (m) => m.results.some((r) => r.lbId === "lb-c"));
    expect(a.dp.view("198.19.0.1", "tcp", 80)!.backends).toEqual(["198.18.1.1", "198.18.1.9"]);
    expect(a.controller.lastAppliedRevision).toBe(7);
  });

  it("closes on a malformed hub message, applies nothing of it, and reconnects", async () => {
    const a = agent();
    a.client.start();
    const c0 = await hub.connection(0);
    await c0.next("hello");
    c0.send({ type: "snapshot", revision: 2, node: NODE, vips: [testVip("lb-a", 2, "198.19.0.1", { "198.18.1.1": 100 })] });
    await c0.next("ack");

    // A snapshot that would remove lb-a, but one VIP in it is invalid (weight 999).
    const bad = testVip("lb-x", 3, "198.19.0.9", { "198.18.9.1": 999 });
    c0.send({ type: "snapshot", revision: 3, node: NODE, vips: [bad] });
    const closed = await c0.waitClosed();
    expect(closed.code).toBe(CloseCode.malformed);
    expect(closed.reason).toMatch(/invalid message: vips\.0\.pools\.0\.members\.0\.weight/);
    expect(a.dp.view("198.19.0.1", "tcp", 80)?.backends).toEqual(["198.18.1.1"]); // untouched
    expect(a.dp.view("198.19.0.9", "tcp", 80)).toBeUndefined();

    const c1 = await hub.connection(1);
    const hello = await c1.next("hello");
    expect(hello.lastAppliedRevision).toBe(2);
    // On a new connection the agent re-sends where every VIP stands.
    const ack = await c1.next("ack");
    expect(ack.results).toEqual([{ lbId: "lb-a", revision: 2, ok: true, error: null, advertised: true }]);

    c1.send("this is not json");
    expect((await c1.waitClosed()).reason).toBe("message is not valid JSON");
    await hub.connection(2);
    expect(a.client.stats.malformed).toBe(2);
  });

  it("reconnects with jittered exponential backoff, capped", async () => {
    hub.onConnection = (c) => c.ws.close(1011, "go away");
    let r = 0;
    const randoms = [0, 0.99, 0.5, 0, 0.99, 0.5, 0.2];
    const a = agent({ reconnectMinMs: 20, reconnectMaxMs: 160, random: () => randoms[r++ % randoms.length]! });
    a.client.start();
    await hub.connection(5, 10_000);
    const delays = a.client.reconnectDelays.slice(0, 5);
    // attempt n waits min·2^(n-1), capped at max, times a factor in [0.5, 1)
    const caps = [20, 40, 80, 160, 160];
    delays.forEach((d, i) => {
      expect(d).toBeGreaterThanOrEqual(caps[i]! / 2);
      expect(d).toBeLessThanOrEqual(caps[i]!);
    });
    expect(delays).toEqual([10, 40, 60, 80, 159]);
    expect(a.client.lastClose).toEqual({ code: 1011, reason: "go away" });
  });

  it("persists the desired state; a restarted agent without a hub forwards it and says so in hello", async () => {
    const stateDir = tmp();
    const a = agent({ stateDir });
    a.client.start();
    const c = await hub.connection(0);
    await c.next("hello");
    c.send({ type: "snapshot", revision: 9, node: NODE, vips: [testVip("lb-a", 9, "198.19.0.1", { "198.18.1.1": 100, "198.18.1.2": 100 })] });
    await c.next("ack");
    const persisted = new StateStore(stateDir).loadDesired();
    expect(persisted.problem).toBeNull();
    expect(persisted.state).toMatchObject({ format: 1, revision: 9, node: NODE });
    expect(persisted.state!.vips.map((v) => v.lbId)).toEqual(["lb-a"]);
    expect(fs.statSync(path.join(stateDir, "desired-state.json")).mode & 0o777).toBe(0o600);
    await a.stop();

    // Restart on a fresh (empty) data plane, hub unreachable: the persisted state is applied.
    const b = agent({ stateDir });
    await b.controller.restore(new StateStore(stateDir).loadDesired().state!);
    expect(b.dp.view("198.19.0.1", "tcp", 80)!.backends).toEqual(["198.18.1.1", "198.18.1.2"]);
    expect(b.controller.lastAppliedRevision).toBe(9);
    b.client.start();
    const c1 = await hub.connection(1);
    expect((await c1.next("hello")).lastAppliedRevision).toBe(9);
  });

  it("reports a VIP the maps cannot hold as failed with a clear reason, and applies the others", async () => {
    const a = agent({ dp: new FakeDatapath(64, 4) });
    a.client.start();
    const c = await hub.connection(0);
    await c.next("hello");
    const members = Object.fromEntries([1, 2, 3, 4, 5].map((i) => [`198.18.5.${i}`, 100]));
    c.send({ type: "snapshot", revision: 2, node: NODE, vips: [testVip("lb-big", 2, "198.19.0.5", members), testVip("lb-ok", 2, "198.19.0.6", { "198.18.6.1": 100 })] });
    const ack = await c.next("ack", (m) => m.results.length === 2);
    const byId = Object.fromEntries(ack.results.map((r) => [r.lbId, r]));
    expect(byId["lb-big"]).toMatchObject({ ok: false, advertised: false });
    expect(byId["lb-big"]!.error).toMatch(/too many backends for the map: this VIP needs 5 more backend id\(s\), 4 of 4 are free/);
    expect(byId["lb-ok"]).toMatchObject({ ok: true, advertised: true });
    expect(a.dp.view("198.19.0.5", "tcp", 80)).toBeUndefined(); // nothing half-applied
    expect(a.controller.status("lb-big").datapath).toMatchObject({ state: "failed", terminal: true });
    // A terminal failure does not hold the cursor back (retrying cannot help).
    expect(a.controller.lastAppliedRevision).toBe(2);
  });

  it("reports health transitions in batches and takes a down member out of new flows", async () => {
    const a = agent();
    a.client.start();
    const c = await hub.connection(0);
    await c.next("hello");
    c.send({ type: "snapshot", revision: 1, node: NODE, vips: [testVip("lb-a", 1, "198.19.0.1", { "198.18.1.1": 100, "198.18.1.2": 100 })] });
    await c.next("ack");
    const key = a.health.targets.find((t) => t.address === "198.18.1.2")!.key;
    a.controller.onHealthTransitions([{ key, from: "unknown", to: "down", at: 1234, reason: "connect ECONNREFUSED" }]);
    const h = await c.next("health");
    expect(h.transitions).toEqual([{ lbId: "lb-a", poolId: "lb-a-p", address: "198.18.1.2", port: 80, state: "down", reason: "connect ECONNREFUSED", at: 1234 }]);
    await a.controller.idle();
    const view = a.dp.view("198.19.0.1", "tcp", 80)!;
    expect(view.backends).toEqual(["198.18.1.1", "198.18.1.2"]); // kept for existing flows
    expect(view.shares).toEqual({ "198.18.1.1": a.dp.tableSize }); // no new flows to .2

    // The last member goes down too: withdraw policy → no longer advertised, ack says why.
    const key1 = a.health.targets.find((t) => t.address === "198.18.1.1")!.key;
    a.controller.onHealthTransitions([{ key: key1, from: "up", to: "down", at: 1300, reason: "timeout after 500 ms" }]);
    const ack = await c.next("ack", (m) => m.results.some((r) => !r.advertised));
    expect(ack.results[0]).toMatchObject({ lbId: "lb-a", ok: true, advertised: false });
    expect(ack.results[0]!.error).toMatch(/0 healthy of 2, minimum 1 \(all-down policy: withdraw\)/);
  });
});

describe("outbox", () => {
  it("coalesces by key and stays bounded while nothing can be sent", () => {
    const o = new Outbox({ maxAcks: 3, maxHealth: 2, maxMetricKeys: 10, acksPerMessage: 2, healthPerMessage: 10, metricsPerMessage: 10 });
    for (let rev = 1; rev <= 100; rev++) o.addAcks([{ lbId: "a", revision: rev, ok: true, error: null, advertised: true }]);
    o.addAcks(["b", "c", "d"].map((lbId) => ({ lbId, revision: 1, ok: true, error: null, advertised: false })));
    for (let i = 0; i < 5; i++) o.addMetrics({ at: 1000 + i, intervalMs: 1000, listeners: [{ lbId: "a", listenerId: "l", packets: 10, bytes: 100, newFlows: 1, drops: 0 }], backends: [] });
    o.setHeartbeat({ at: 1, bgp: { peersUp: 0, peersTotal: 1 }, advertised: 0 });
    o.setHeartbeat({ at: 2, bgp: { peersUp: 1, peersTotal: 1 }, advertised: 3 });
    expect(o.dropped).toBe(1); // "a" was the oldest of 4 ack keys with a bound of 3
    const sent = [];
    for (let m = o.next(); m; m = o.next()) sent.push(m);
    expect(sent.map((m) => m.type)).toEqual(["ack", "ack", "heartbeat", "metrics"]);
    expect(sent.flatMap((m) => (m.type === "ack" ? m.results.map((r) => r.lbId) : []))).toEqual(["b", "c", "d"]);
    expect(sent[2]).toEqual({ type: "heartbeat", at: 2, bgp: { peersUp: 1, peersTotal: 1 }, advertised: 3 });
    expect(sent[3]).toEqual({ type: "metrics", at: 1004, intervalMs: 5000, listeners: [{ lbId: "a", listenerId: "l", packets: 50, bytes: 500, newFlows: 5, drops: 0 }], backends: [] });
    expect(o.size).toBe(0);
  });
});

describe("join token", () => {
  it("exchanges the token once, stores the credential 0600, and reuses it", async () => {
    const calls: unknown[] = [];
    const server = http.createServer((req, res) => {
      let body = "";
      req.on("data", (d: Buffer) => (body += d.toString()));
      req.on("end", () => {
        calls.push({ method: req.method, url: req.url, body: JSON.parse(body) as unknown });
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ nodeId: "n1", nodeName: "lb-a1", credential: "tbn_xyz" }));
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const store = new StateStore(tmp());
      const src = { serverUrl: url, joinToken: "tbj_once", agentVersion: "1.2.3", store };
      expect(await obtainCredential(src)).toBe("tbn_xyz");
      expect(calls).toEqual([{ method: "POST", url: "/api/agent/join", body: { joinToken: "tbj_once", agentVersion: "1.2.3" } }]);
      expect(fs.statSync(store.credentialPath).mode & 0o777).toBe(0o600);
      expect(store.loadCredential()).toEqual({ nodeId: "n1", nodeName: "lb-a1", credential: "tbn_xyz" });
      expect(await obtainCredential(src)).toBe("tbn_xyz");
      expect(calls).toHaveLength(1); // the stored credential is used; the token is not sent again
      await expect(obtainCredential({ serverUrl: url, agentVersion: "1", store: new StateStore(tmp()) })).rejects.toThrow(/no node credential/);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
