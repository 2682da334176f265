// Node failover after a server restart: the new leader waits one heartbeat timeout for the
// agents to reconnect before judging them, so a restart neither trips the circuit breaker nor
// marks reconnecting nodes down; a node that stays silent is still marked down afterwards.
import { Writable } from "node:stream";
import pino from "pino";
import { eq, inArray } from "drizzle-orm";
import { afterAll, beforeAll, expect, it } from "vitest";
import { openWorld, type World } from "../testing/world";
import { lbNode } from "../db/schema";
import { Jobs } from "./scheduler";

let w: World;
let jobs: Jobs | undefined;
const logs: { level: number; msg: string }[] = [];
const log = pino(
  { level: "info" },
  new Writable({
    write(chunk: Buffer, _enc, done) {
      logs.push(JSON.parse(chunk.toString()) as { level: number; msg: string });
      done();
    },
  }),
);

beforeAll(async () => {
  w = await openWorld();
});
afterAll(async () => {
  await jobs?.stop();
  await w?.close();
});

it("after a restart, waits a heartbeat timeout before failover: no breaker trip, only the node that stays silent goes down", async () => {
  const region = await w.admin.regions.create({ name: "r1" });
  const azs = [await w.admin.azs.create({ regionId: region.id, name: "a" }), await w.admin.azs.create({ regionId: region.id, name: "b" })];
  const db = w.database.db;
  const hourAgo = new Date(Date.now() - 3_600_000);
  const names = ["n1", "n2", "n3", "n4"];
  for (const [i, name] of names.entries()) {
    const node = await w.admin.nodes.create({ name, azId: azs[i % 2]!.id, address: `198.18.0.${10 + i}`, asn: 65001, peers: [], capacity: 10 });
    // Joined before the restart; the last heartbeat is as old as the outage.
    await db.update(lbNode).set({ credentialHash: `hash-${name}`, lastHeartbeatAt: hourAgo }).where(eq(lbNode.id, node.id));
  }
  const timeoutMs = 1000;
  jobs = new Jobs(w.database, w.auth, log, { intervalMs: 100, heartbeatTimeoutMs: timeoutMs });
  jobs.start();
  const started = Date.now();
  // Three agents reconnect within the grace period and keep beating; n4 never comes back.
  await new Promise((r) => setTimeout(r, 400));
  const beat = async () => db.update(lbNode).set({ lastHeartbeatAt: new Date() }).where(inArray(lbNode.name, ["n1", "n2", "n3"]));
  const beats = setInterval(() => void beat().catch(() => {}), 100);
  try {
    await beat();
    const state = async () => Object.fromEntries((await db.select().from(lbNode)).map((n) => [n.name, n.state]));
    const deadline = started + timeoutMs * 4;
    while ((await state()).n4 !== "down" && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(await state()).toEqual({ n1: "active", n2: "active", n3: "active", n4: "down" });
    expect(Date.now() - started).toBeGreaterThanOrEqual(timeoutMs);
    expect(logs.filter((l) => /failover suspended/.test(l.msg))).toEqual([]);
    expect(logs.filter((l) => /marked down/.test(l.msg)).length).toBe(1);
  } finally {
    clearInterval(beats);
  }
});
