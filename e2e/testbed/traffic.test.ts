// Traffic through a real testbed (issue 6, "End-to-end tests" 2, 3, 4, 5, 7, 8): a Tenbin server in
// this process and the testbed around it — a router running FRR with ECMP, 3 LB nodes in 2 AZs
// each running the real tenbin-agent (XDP, pinned maps, its own FRR), 3 backends (tb_decap, HTTP
// and UDP servers on the VIPs) and 2 clients, all in network namespaces. Every check is something
// a user would notice: which backend answered, whether a transfer or a long-lived connection
// survived, whether a source got an answer at all; plus counters where "never" needs proof.
// Traffic is bounded in count and time everywhere.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import fs from "node:fs";
import path from "node:path";
import { agentLogFile, killAgent, REPO_ROOT, startAgent, startBackendHttp, stopBackendHttp } from "./daemons";
import { InProcessServer } from "./in-process-server";
import {
  httpFromClient,
  linkCounters,
  nodeMaps,
  routerNexthops,
  startConversations,
  transferFromClient,
  udpFlowsFromClient,
  type NodeMaps,
} from "./probe";
import { sleep, waitFor } from "./sys";
import { down, up, type Testbed } from "./testbed";
import { buildTopology, testTopology, type LbNodeSpec, type TopologyOptions } from "./topology";
import type { ApiClient } from "./api";

const isRoot = process.getuid?.() === 0;

const TOPOLOGY: TopologyOptions = testTopology("tb-tr-", 252);
const TENANT = "tb-traffic";
const INTERVAL_MS = 500;
const FALL = 2;
const RISE = 2;

describe.skipIf(!isRoot)(
  `traffic on a real testbed${isRoot ? "" : " (skipped: needs root for network namespaces, XDP and FRR)"}`,
  () => {
    const topo = buildTopology(TOPOLOGY);
    // Logs (the server's, and the agents' copied at the end) outlive the testbed for a failure's
    // diagnosis, in the ignored .test-output.
    const logDir = path.join(REPO_ROOT, ".test-output", `testbed-${TOPOLOGY.prefix.replace(/-+$/, "")}`);
    const server = new InProcessServer({ logFile: path.join(logDir, "server.log") });
    let tb: Testbed;
    let api: ApiClient;
    let lbId = "";
    let vip = "";
    let base = "";

    beforeAll(async () => {
      fs.rmSync(logDir, { recursive: true, force: true });
      fs.mkdirSync(logDir, { recursive: true });
      try {
        tb = await up({ topology: TOPOLOGY, server: (host) => server.start(host), log: (l) => console.log(`[testbed] ${l}`), readyTimeoutMs: 60_000 });
        api = tb.server.api;
        console.log(`[testbed] database: ${server.dbKind}`);
        await api.tenants.create.mutate({ slug: TENANT, name: "Testbed traffic" });
        const lb = await api.lb.create.mutate({
          tenantId: TENANT,
          name: "web",
          replicas: 2,
          pools: [
            {
              name: "web",
              members: tb.topo.backends.map((b) => ({ address: b.link.v4, port: tb.topo.httpPort })),
              monitor: { type: "HTTP", intervalMs: INTERVAL_MS, timeoutMs: 400, rise: RISE, fall: FALL, http: { path: "/", expectedCodes: "200" } },
            },
          ],
          listeners: [{ protocol: "TCP", port: tb.topo.httpPort, pool: "web" }],
        });
        lbId = lb.id;
        vip = lb.address;
        base = `http://${vip}:${tb.topo.httpPort}/`;
        await waitFor(`a first answer from ${base}`, async () => (await httpFromClient(tb.topo.clients[0]!, base, 1)) !== null, 30_000, undefined, 100);
        await waitFor("ACTIVE on both placed nodes, advertised by both", async () => {
          const v = await getLb();
          return v.provisioning.status === "ACTIVE" && (await routerNexthops(tb.topo, `${vip}/32`)).length === 2;
        }, 20_000);
      } catch (err) {
        await down(topo).catch(() => undefined);
        await server.stop();
        throw err;
      }
    }, 150_000);

    afterAll(async () => {
      for (const n of topo.lbNodes) {
        if (fs.existsSync(agentLogFile(n))) fs.copyFileSync(agentLogFile(n), path.join(logDir, `${n.name}-agent.log`));
      }
      // Agents first (down), then the server: nothing is left whatever failed above.
      await down(topo).catch((e: unknown) => console.error(`testbed down failed: ${String(e)}`));
      await server.stop();
    }, 60_000);

    const getLb = () => api.lb.get.query({ tenantId: TENANT, lb: lbId });
    const nodeByName = (name: string): LbNodeSpec => tb.topo.lbNodes.find((n) => n.name === name)!;
    const nodeById = (id: string) => nodeByName(tb.registration.nodes.find((n) => n.nodeId === id)!.name);
    const idOf = (n: LbNodeSpec) => tb.registration.nodes.find((r) => r.name === n.name)!.nodeId;
    const placedNodes = async () => (await getLb()).placements.map((p) => nodeById(p.nodeId));
    const backendNames = () => tb.topo.backends.map((b) => b.name).sort();
    const tcpListener = (m: NodeMaps) => m.listeners.find((l) => l.vip === vip && l.protocol === "tcp");
    const webMember = async (address: string) =>
      (await getLb()).pools.find((p) => p.name === "web")!.members.find((m) => m.address === address)!;
    /** `count` new flows (one curl each, alternating clients); the answering backends (null = no answer). */
    const newFlows = async (count: number) => {
      const answers: (string | null)[] = [];
      for (let i = 0; i < count; i++) answers.push(await httpFromClient(tb.topo.clients[i % tb.topo.clients.length]!, base, 2));
      return answers;
    };
    /** Polls until every placed node's TCP Maglev table satisfies `ok`; returns the elapsed ms. */
    const tablesOnPlaced = async (what: string, ok: (owners: Set<string>) => boolean, timeoutMs = 10_000) => {
      const placed = await placedNodes();
      const owners = (n: LbNodeSpec) => {
        const m = nodeMaps(tb.topo, n);
        const l = tcpListener(m);
        return l ? (m.tableBackends.get(l.id) ?? new Set<string>()) : new Set<string>();
      };
      return waitFor(
        what,
        () => placed.every((n) => ok(owners(n))),
        timeoutMs,
        () => placed.map((n) => `${n.name}: ${[...owners(n)].join(",")}`).join("; "),
        20,
      );
    };
    const setMemberState = (address: string, state: "enabled" | "disabled" | "draining") =>
      api.poolMembers.setState.mutate({ tenantId: TENANT, target: { lb: lbId, pool: "web" }, members: [{ address, port: tb.topo.httpPort }], state });

    it("flows spread over both placed LB nodes (ECMP) and every backend (Maglev); replies never pass an LB node", async () => {
      const placed = await placedNodes();
      expect(placed).toHaveLength(2);
      const routerIfs = {
        toLb: tb.topo.lbNodes.map((n) => n.routerSide.ifname),
        fromBackends: tb.topo.backends.map((b) => b.routerSide.ifname),
        toClients: tb.topo.clients.map((c) => c.routerSide.ifname),
      };
      const sum = async (ifs: string[], field: "rxBytes" | "txBytes") => {
        let s = 0n;
        for (const i of ifs) s += (await linkCounters(tb.topo.router.ns, i))[field];
        return s;
      };
      const snapshot = async () => ({
        maps: placed.map((n) => nodeMaps(tb.topo, n)),
        lbUplinkRx: await Promise.all(tb.topo.lbNodes.map(async (n) => (await linkCounters(n.ns, n.uplink.ifname)).rxBytes)),
        routerToLb: await sum(routerIfs.toLb, "txBytes"),
        routerFromBackends: await sum(routerIfs.fromBackends, "rxBytes"),
        routerToClients: await sum(routerIfs.toClients, "txBytes"),
      });

      // 30 bulk answers of 128 KiB each: new flows from both clients.
      const FLOWS = 30;
      const SIZE = 128 * 1024;
      const before = await snapshot();
      const seen = new Map<string, number>();
      for (let i = 0; i < FLOWS; i++) {
        const t = await transferFromClient(tb.topo.clients[i % 2]!, `${base}bytes?bytes=${SIZE}`, 5);
        expect(t, `flow ${i}`).toMatchObject({ exitCode: 0, bytes: SIZE });
        seen.set(t.backend, (seen.get(t.backend) ?? 0) + 1);
      }
      const after = await snapshot();
      console.log(`[testbed] ${FLOWS} flows answered by ${JSON.stringify(Object.fromEntries(seen))}`);
      expect([...seen.keys()].sort()).toEqual(backendNames());

      // ECMP: each placed node's XDP program took new flows of the listener ...
      const perNode = placed.map((n, i) => tcpListener(after.maps[i]!)!.counters.newFlows - tcpListener(before.maps[i]!)!.counters.newFlows);
      console.log(`[testbed] new flows per LB node: ${placed.map((n, i) => `${n.name} ${perNode[i]}`).join(", ")}`);
      perNode.forEach((d, i) => expect(d, `new flows through ${placed[i]!.name}`).toBeGreaterThan(0n));
      // ... and Maglev: between them, they forwarded packets to every backend.
      for (const b of tb.topo.backends) {
        const forwarded = placed.reduce(
          (s, _n, i) => s + ((after.maps[i]!.backendCounters.get(b.link.v4)?.packets ?? 0n) - (before.maps[i]!.backendCounters.get(b.link.v4)?.packets ?? 0n)),
          0n,
        );
        expect(forwarded, `packets forwarded to ${b.name}`).toBeGreaterThan(0n);
      }

      // DSR: the answers (≥ FLOWS × SIZE bytes) went backend → router → client. What the router
      // sent towards the LB nodes, what the LB nodes received, and what their XDP programs
      // matched are all a small fraction of that (requests, ACKs, BGP, health probes): had the
      // replies passed an LB node, each of these would be at least the answers' size.
      const answers = BigInt(FLOWS * SIZE);
      const fromBackends = after.routerFromBackends - before.routerFromBackends;
      const toClients = after.routerToClients - before.routerToClients;
      const toLb = after.routerToLb - before.routerToLb;
      const lbReceived = after.lbUplinkRx.reduce((s, v, i) => s + v - before.lbUplinkRx[i]!, 0n);
      const xdpMatched = placed.reduce((s, _n, i) => s + tcpListener(after.maps[i]!)!.counters.bytes - tcpListener(before.maps[i]!)!.counters.bytes, 0n);
      console.log(
        `[testbed] bytes: backends → router ${fromBackends}, router → clients ${toClients}, router → LB nodes ${toLb}, ` +
          `LB uplinks received ${lbReceived}, XDP listener matched ${xdpMatched} (answers ${answers})`,
      );
      expect(fromBackends).toBeGreaterThanOrEqual(answers);
      expect(toClients).toBeGreaterThanOrEqual(answers);
      expect(toLb * 10n, "bytes the router sent to LB nodes").toBeLessThan(answers);
      expect(lbReceived * 10n, "bytes the LB nodes received").toBeLessThan(answers);
      expect(xdpMatched * 10n, "bytes the XDP programs matched").toBeLessThan(answers);
      expect(xdpMatched).toBeGreaterThan(0n);
    }, 60_000);

    it("a disabled member gets no new flow within 1 s; a draining member keeps its established connections", async () => {
      // Disable: the victim answers new flows before (so the check after can fail) ...
      const victim = tb.topo.backends[0]!;
      const beforeDisable = await newFlows(15);
      expect(beforeDisable.filter((a) => a === null)).toEqual([]);
      expect(beforeDisable).toContain(victim.name);
      try {
        const t0 = performance.now();
        await setMemberState(victim.link.v4, "disabled");
        const callMs = performance.now() - t0;
        await tablesOnPlaced(`${victim.name} out of the tables`, (o) => !o.has(victim.link.v4));
        const sinceDisable = performance.now() - t0;
        console.log(`[testbed] ${victim.name} disabled → out of both placed nodes' tables ${Math.round(sinceDisable)} ms after the API call started (the call took ${Math.round(callMs)} ms)`);
        expect(sinceDisable).toBeLessThanOrEqual(1000);
        // ... and none after: 15 new flows, all answered, never by the victim.
        const afterDisable = await newFlows(15);
        expect(afterDisable.filter((a) => a === null)).toEqual([]);
        expect(afterDisable).not.toContain(victim.name);
        expect((await webMember(victim.link.v4)).operating.status).toBe("OFFLINE");
      } finally {
        await setMemberState(victim.link.v4, "enabled");
      }
      await tablesOnPlaced(`${victim.name} back in the tables`, (o) => o.has(victim.link.v4));

      // Drain, both ways a user can: adminState "draining", then weight 0.
      await drainKeepsEstablished("draining");
      await drainKeepsEstablished("weight 0");
    }, 90_000);

    /**
     * 8 long-lived connections (a request every 200 ms for 6 s each); the backend most of them
     * landed on is drained while they talk: new flows avoid it within 1 s, every established
     * connection keeps talking to its backend until the end. Then the member is restored.
     */
    async function drainKeepsEstablished(how: "draining" | "weight 0") {
      const DURATION_MS = 6000;
      let drained: (typeof tb.topo.backends)[number] | undefined;
      const conv = startConversations(tb.topo.clients[0]!, vip, tb.topo.httpPort, { connections: 8, intervalMs: 200, durationMs: DURATION_MS });
      const drain = async (address: string, on: boolean) => {
        if (how === "draining") return setMemberState(address, on ? "draining" : "enabled");
        const expectedRevision = (await getLb()).revision;
        const member = { address, port: tb.topo.httpPort };
        return api.poolMembers.update.mutate({ tenantId: TENANT, target: { lb: lbId, pool: "web" }, member, expectedRevision, weight: on ? 0 : 100 });
      };
      try {
        const startedAt = performance.now();
        const firsts = await conv.started;
        expect(firsts.filter((f) => f === null), "every connection answered").toEqual([]);
        const counts = new Map<string, number>();
        for (const f of firsts) counts.set(f!, (counts.get(f!) ?? 0) + 1);
        const target = tb.topo.backends.find((b) => b.name === [...counts].sort((a, b) => b[1] - a[1])[0]![0])!;
        drained = target;
        const t0 = performance.now();
        await drain(target.link.v4, true);
        await tablesOnPlaced(`${target.name} out of the tables (${how})`, (o) => !o.has(target.link.v4) && o.size > 0);
        const drainMs = performance.now() - t0;
        const drainedAt = performance.now() - startedAt;
        console.log(`[testbed] ${target.name} (${counts.get(target.name)} of 8 connections) ${how} → no new flows after ${Math.round(drainMs)} ms`);
        expect(drainMs).toBeLessThanOrEqual(1000);
        expect(drainedAt, "the drain must land well before the conversations end").toBeLessThan(DURATION_MS - 2500);
        expect((await webMember(target.link.v4)).operating.status).toBe("DRAINING");
        // New flows avoid it ...
        const newAnswers = await newFlows(12);
        expect(newAnswers.filter((a) => a === null)).toEqual([]);
        expect(newAnswers).not.toContain(target.name);
        // ... while every established connection, the drained backend's included, kept talking
        // to its backend until the end (no reset, no gap over 2 s, no other backend).
        const results = await conv.done;
        for (const r of results) expect(r, `connection ${r.conn}`).toMatchObject({ error: null, backend: firsts[r.conn] });
        const onDrained = results.filter((r) => r.backend === target.name);
        expect(onDrained.length).toBeGreaterThan(0);
        // About DURATION_MS / 200 ms exchanges each; most of them after the drain.
        for (const r of onDrained) expect(r.answered, `exchanges on connection ${r.conn}`).toBeGreaterThanOrEqual(12);
      } finally {
        conv.stop();
        if (drained) await drain(drained.link.v4, false);
      }
      const back = drained!;
      await tablesOnPlaced(`${back.name} back in the tables`, (o) => o.has(back.link.v4));
    }

    it("a killed backend server goes down after `fall` probes, gets no new flows, and is back after `rise` once restarted", async () => {
      const victim = tb.topo.backends[2]!;
      const placedIds = (await getLb()).placements.map((p) => p.nodeId);
      const stateOnPlaced = async () => {
        const m = await webMember(victim.link.v4);
        return placedIds.map((id) => m.nodes.find((n) => n.nodeId === id)?.state ?? "unknown");
      };
      const t0 = performance.now();
      expect(await stopBackendHttp(tb.topo, victim)).toBe(true);
      await expect.poll(stateOnPlaced, { timeout: 15_000, interval: 50 }).toEqual(placedIds.map(() => "down"));
      const downMs = performance.now() - t0;
      expect(downMs).toBeGreaterThanOrEqual((FALL - 1) * INTERVAL_MS);
      await tablesOnPlaced(`${victim.name} out of the tables`, (o) => !o.has(victim.link.v4));
      const whileDown = await newFlows(12);
      expect(whileDown.filter((a) => a === null)).toEqual([]);
      expect(whileDown).not.toContain(victim.name);

      // Restarted: it answers directly first, then (≥ rise − 1 intervals later) the nodes mark it up.
      startBackendHttp(tb.topo, victim);
      const direct = `http://${victim.link.v4}:${tb.topo.httpPort}/`;
      await waitFor(`${victim.name} answering directly`, async () => (await httpFromClient(tb.topo.clients[0]!, direct, 1)) === victim.name, 15_000, undefined, 20);
      const t1 = performance.now();
      await expect.poll(stateOnPlaced, { timeout: 15_000, interval: 50 }).toEqual(placedIds.map(() => "up"));
      const upMs = performance.now() - t1;
      console.log(`[testbed] ${victim.name} killed → down after ${Math.round(downMs)} ms; restarted → up ${Math.round(upMs)} ms after it answered (rise ${RISE} × ${INTERVAL_MS} ms)`);
      expect(upMs).toBeGreaterThanOrEqual((RISE - 1) * INTERVAL_MS - 100);
      await tablesOnPlaced(`${victim.name} back in the tables`, (o) => o.has(victim.link.v4));
      const afterRise = await newFlows(24);
      expect(afterRise.filter((a) => a === null)).toEqual([]);
      expect(afterRise).toContain(victim.name);
    }, 60_000);

    it("killing an agent in the middle of a long transfer: the transfer completes, the restarted agent resyncs from its pins", async () => {
      const placed = await placedNodes();
      const SIZE = 2 * 1024 * 1024;
      const transfer = transferFromClient(tb.topo.clients[0]!, `${base}stream?bytes=${SIZE}&ms=7000`, 25);
      // The node carrying it: the only traffic now, so the one whose listener counter moves.
      await sleep(600);
      const p0 = placed.map((n) => tcpListener(nodeMaps(tb.topo, n))!.packets);
      await sleep(600);
      const p1 = placed.map((n) => tcpListener(nodeMaps(tb.topo, n))!.packets);
      const carriers = placed.filter((_n, i) => p1[i]! > p0[i]!);
      expect(carriers.map((n) => n.name), "exactly one node carries the transfer's ACKs").toHaveLength(1);
      const carrier = carriers[0]!;
      const mapsBefore = nodeMaps(tb.topo, carrier);
      const lbBefore = await getLb();
      expect(lbBefore.provisioning.status).toBe("ACTIVE");
      const logBefore = fs.statSync(agentLogFile(carrier)).size;

      // New flows keep being answered throughout (bounded: one every ~100 ms, ≤ 80).
      let probing = true;
      const failures: string[] = [];
      let probes = 0;
      const tKill = performance.now();
      const prober = (async () => {
        for (let i = 0; probing && i < 80; i++, probes++) {
          const t = performance.now();
          if ((await httpFromClient(tb.topo.clients[1]!, base, 2)) === null) failures.push(`#${i} sent ${Math.round(t - tKill)} ms after the kill`);
          await sleep(100);
        }
      })();

      const pid = await killAgent(tb.topo, carrier);
      await sleep(1500); // the node runs without its agent for a while
      startAgent(tb.topo, carrier, tb.server.url, tb.registration.nodes.find((r) => r.name === carrier.name)!.joinToken);
      const done = await transfer;
      console.log(`[testbed] killed agent pid ${pid} on ${carrier.name}; transfer of ${SIZE} bytes from ${done.backend}: exit ${done.exitCode}, ${done.bytes} bytes in ${Math.round(done.ms)} ms`);
      expect(done).toMatchObject({ exitCode: 0, bytes: SIZE });
      expect(backendNames()).toContain(done.backend);

      // The restarted agent restored the data plane from the pins and is connected again.
      await waitFor(
        `the restarted agent of ${carrier.name} to reconnect`,
        () => server.connectedNodes().includes(idOf(carrier)),
        15_000,
        () => fs.readFileSync(agentLogFile(carrier), "utf8").slice(logBefore).slice(-3000),
      );
      const restartLog = fs.readFileSync(agentLogFile(carrier), "utf8").slice(logBefore);
      expect(restartLog).toContain("restored the data plane from pinned maps");
      await expect
        .poll(async () => (await getLb()).provisioning, { timeout: 10_000, interval: 100 })
        .toMatchObject({ status: "ACTIVE", reason: lbBefore.provisioning.reason });
      const lbAfter = await getLb();
      expect(lbAfter.revision).toBe(lbBefore.revision);
      // A restarted agent is not a dead node: its VIPs stay where they were.
      expect(lbAfter.placements.map((p) => p.nodeId).sort()).toEqual(lbBefore.placements.map((p) => p.nodeId).sort());
      probing = false;
      await prober;
      console.log(`[testbed] ${probes} new flows during the agent restart, ${failures.length} unanswered`);
      expect(failures).toEqual([]);
      expect(probes).toBeGreaterThan(10);

      // Same listeners, backends and Maglev tables, slot for slot; nothing dropped meanwhile.
      const mapsAfter = nodeMaps(tb.topo, carrier);
      const shape = (m: NodeMaps) => m.listeners.map((l) => ({ id: l.id, vip: l.vip, protocol: l.protocol, port: l.port, backends: l.backends, table: m.tableDigest.get(l.id) }));
      expect(shape(mapsAfter)).toEqual(shape(mapsBefore));
      const lBefore = tcpListener(mapsBefore)!.counters;
      const lAfter = tcpListener(mapsAfter)!.counters;
      expect(lAfter.packets).toBeGreaterThan(lBefore.packets); // counters kept (pinned), not reset
      for (const c of ["dropDenied", "dropNoBackend", "dropEncap", "dropNoRoute"] as const) expect(lAfter[c] - lBefore[c], c).toBe(0n);
    }, 60_000);

    it("restarting the server: forwarding never stops; agents reconnect and resync at the same revision", async () => {
      await expect.poll(async () => (await getLb()).provisioning.status, { timeout: 10_000, interval: 100 }).toBe("ACTIVE");
      const lbBefore = await getLb();
      const placed = await placedNodes();
      const tablesBefore = placed.map((n) => [...nodeMaps(tb.topo, n).tableDigest.values()]);

      const DOWN_MS = 3000;
      // New flows from both clients, one every ~100 ms, through the whole restart (≤ 200).
      let probing = true;
      const failures: string[] = [];
      let probes = 0;
      let t0 = performance.now();
      const prober = (async () => {
        for (let i = 0; probing && i < 200; i++, probes++) {
          const c = tb.topo.clients[i % 2]!;
          const t = performance.now();
          if ((await httpFromClient(c, base, 2)) === null) failures.push(`${c.name} #${i} sent ${Math.round(t - t0)} ms after the restart began`);
          await sleep(100);
        }
      })();

      await sleep(500);
      const restartAt = new Date();
      t0 = performance.now();
      await server.restart(DOWN_MS); // down for a while, as a real restart is
      expect(server.connectedNodes()).toEqual([]); // a new hub: nobody connected yet
      await waitFor("every agent reconnected to the restarted server", () => server.connectedNodes().length === tb.topo.lbNodes.length, 20_000);
      const reconnectMs = performance.now() - t0;
      await waitFor(
        "every node heartbeating again and at its desired revision",
        async () =>
          (await api.nodes.list.query({})).every(
            (n) =>
              n.lastHeartbeatAt !== null &&
              n.lastHeartbeatAt > restartAt &&
              n.vipsBehind === 0,
          ),
        20_000,
        async () => JSON.stringify(await api.nodes.list.query({})),
      );
      await expect
        .poll(async () => (await getLb()).provisioning, { timeout: 10_000, interval: 100 })
        .toMatchObject({ status: "ACTIVE", reason: lbBefore.provisioning.reason });
      expect((await getLb()).revision).toBe(lbBefore.revision);
      await sleep(1000);
      probing = false;
      await prober;
      console.log(`[testbed] server down ${DOWN_MS} ms; all agents reconnected ${Math.round(reconnectMs - DOWN_MS)} ms after it was back; ${probes} new flows meanwhile, ${failures.length} unanswered`);
      expect(failures).toEqual([]);
      expect(probes).toBeGreaterThan(DOWN_MS / 300);
      expect(placed.map((n) => [...nodeMaps(tb.topo, n).tableDigest.values()])).toEqual(tablesBefore);
    }, 90_000);

    it("a UDP listener answers from every backend; a source outside its allowed CIDRs is refused while the other gets through", async () => {
      const [allowed, denied] = tb.topo.clients as [typeof tb.topo.clients[0], typeof tb.topo.clients[0]];
      const allowedCidr = allowed.link.v4.replace(/\.\d+$/, ".0/24");
      expect(denied.link.v4.startsWith(allowedCidr.replace(/0\/24$/, ""))).toBe(false);
      const lb = await api.lb.create.mutate({
        tenantId: TENANT,
        name: "dns",
        replicas: 2,
        pools: [{ name: "dns", members: tb.topo.backends.map((b) => ({ address: b.link.v4, port: tb.topo.udpPort })) }],
        listeners: [{ protocol: "UDP", port: tb.topo.udpPort, pool: "dns", allowedCidrs: [allowedCidr] }],
      });
      const udpVip = lb.address;
      await waitFor(`a first UDP answer from ${udpVip}`, async () => (await udpFlowsFromClient(allowed, udpVip, tb.topo.udpPort, 1, 500))[0] !== null, 30_000, undefined, 100);
      const placed = (await api.lb.get.query({ tenantId: TENANT, lb: lb.id })).placements.map((p) => nodeById(p.nodeId));
      const denials = () =>
        placed.reduce((s, n) => s + (nodeMaps(tb.topo, n).listeners.find((l) => l.vip === udpVip && l.protocol === "udp")?.counters.dropDenied ?? 0n), 0n);

      // 30 flows (one socket each) from the allowed client: all answered, by every backend.
      const answers = await udpFlowsFromClient(allowed, udpVip, tb.topo.udpPort, 30);
      answers.forEach((a, i) => expect(a, `flow ${i}`).toMatch(new RegExp(`^(${backendNames().join("|")}) flow-${i}$`)));
      expect([...new Set(answers.map((a) => a!.split(" ")[0]))].sort()).toEqual(backendNames());

      // The other client: nothing comes back, and the LB nodes counted its datagrams as denied.
      const deniedBefore = denials();
      const refused = await udpFlowsFromClient(denied, udpVip, tb.topo.udpPort, 8);
      expect(refused).toEqual(new Array(8).fill(null));
      const deniedCount = denials() - deniedBefore;
      console.log(`[testbed] UDP VIP ${udpVip}: ${allowed.name} 30/30 answered; ${denied.name} 0/8 answered, ${deniedCount} datagrams denied by XDP`);
      expect(deniedCount).toBe(8n);
      // ... and the allowed one still gets through right after.
      expect((await udpFlowsFromClient(allowed, udpVip, tb.topo.udpPort, 4)).every((a) => a !== null)).toBe(true);
    }, 60_000);
  },
);
