// HTTPS health monitors that verify backends against a tenant's CA certificate, end to end:
// the API resolves and checks the reference (same tenant, a CA), the hub's desired state carries
// the current CA bundle, and the agent's health engine verifies a real TLS server on loopback
// with it (and refuses the same server under another CA or another SNI name).
import { createServer, type Server } from "node:https";
import type { AddressInfo, Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openWorld, type Caller, type World } from "../testing/world";
import { expectCode, fieldErrors } from "../testing/expect";
import { healthMonitor } from "../db/schema";
import { CertFactory, type Issued } from "../domain/certs/test-fixtures";
import { configureMasterKey, masterKeyFromBase64 } from "../domain/certs/envelope";
import { desiredVip, loadLbTrees } from "./desired";
import { desiredVip as desiredVipSchema } from "../protocol/agent";
import { probeTargetsOf } from "../../agent/reconcile/health-target";
import { HealthEngine } from "../../agent/health/engine";
import type { HealthTransition } from "../../agent/health/types";

const T = "shop";
let w: World;
let op: Caller;
let rival: Caller;
let f: CertFactory;
let ca: Issued;
let otherCa: Issued;
let server: Server;
let port = 0;
const sockets = new Set<Socket>();

beforeAll(async () => {
  configureMasterKey(masterKeyFromBase64("dGVuYmluLXRlc3QtbWFzdGVyLWtleS0zMi1ieXRlcyE="));
  f = new CertFactory();
  ca = f.issue({ cn: "Backend CA", ca: true });
  otherCa = f.issue({ cn: "Someone else's CA", ca: true });
  const leaf = f.issue({ cn: "api.shop.test", sans: ["DNS:api.shop.test", "IP:127.0.0.1"], issuer: ca });
  server = createServer({ key: leaf.key, cert: leaf.cert }, (_req, res) => res.writeHead(200).end());
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  server.on("tlsClientError", () => {}); // probes that reject the certificate hang up mid-handshake
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as AddressInfo).port;

  w = await openWorld();
  const region = await w.admin.regions.create({ name: "r1" });
  await w.admin.ipPools.create({ regionId: region.id, name: "v4", cidr: "198.19.0.0/24" });
  await w.admin.tenants.create({ slug: T, name: "Shop" });
  await w.admin.tenants.create({ slug: "rival", name: "Rival" });
  op = (await w.user("op@shop.test")).caller;
  rival = (await w.user("admin@rival.test")).caller;
  await w.admin.members.add({ tenantId: T, email: "op@shop.test", role: "operator" });
  await w.admin.members.add({ tenantId: "rival", email: "admin@rival.test", role: "admin" });
});

afterAll(async () => {
  for (const s of sockets) s.destroy();
  if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  await w?.close();
  f?.cleanup();
});

type TlsInput = { sni?: string; verify?: boolean; caCertificate?: string } | null;
const httpsPool = (tls: TlsInput, name = "api") => ({
  name,
  members: [{ address: "127.0.0.1", port: 443 }],
  monitor: { type: "HTTPS" as const, intervalMs: 1000, timeoutMs: 900, rise: 1, fall: 1, http: { path: "/" }, tls },
});

/** Runs the agent's health engine on the probes the hub would send for `lbId`; one verdict per member. */
async function agentVerdicts(lbId: string): Promise<HealthTransition[]> {
  const tree = (await loadLbTrees(w.database.db, [lbId])).get(lbId)!;
  // Through the wire contract, as the agent receives it.
  const vip = desiredVipSchema.parse(JSON.parse(JSON.stringify(desiredVip(tree))));
  const targets = probeTargetsOf(vip).map((t) => ({ key: t.key, address: t.address, port, monitor: t.monitor }));
  const verdicts = new Map<string, HealthTransition>();
  const engine = new HealthEngine({ onTransitions: (b) => b.forEach((x) => verdicts.set(x.key, x)), batchWindowMs: 0, maxInitialDelayMs: 0 });
  try {
    engine.setTargets(targets);
    const deadline = Date.now() + 5000;
    while (verdicts.size < targets.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    return [...verdicts.values()];
  } finally {
    await engine.close();
  }
}

describe("HTTPS monitors with a CA certificate", () => {
  let lbId = "";
  let caId = "";

  it("refuses references to a missing, foreign or non-CA certificate, and TLS settings that do not apply", async () => {
    caId = (await op.certs.upload({ tenantId: T, name: "backend-ca", kind: "ca", certificate: ca.cert })).id;
    const server = f.chain("www.shop.test");
    await op.certs.upload({ tenantId: T, name: "www", certificate: server.leaf.cert + server.intermediate.cert, privateKey: server.leaf.key });
    await rival.certs.upload({ tenantId: "rival", name: "rival-ca", kind: "ca", certificate: otherCa.cert });
    const create = (tls: TlsInput) => op.lb.create({ tenantId: T, name: "bad", pools: [httpsPool(tls)], listeners: [{ protocol: "TCP", port: 443, pool: "api" }] });

    let e = await expectCode(create({ caCertificate: "nope" }), "BAD_REQUEST", /no certificate "nope" in this tenant/);
    expect(fieldErrors(e)["pools.0.monitor.tls.caCertificate"]).toBeDefined();
    // Another tenant's CA is invisible, by name and by id.
    const rivalCa = (await rival.certs.list({ tenantId: "rival" }))[0]!;
    await expectCode(create({ caCertificate: "rival-ca" }), "BAD_REQUEST", /no certificate "rival-ca"/);
    await expectCode(create({ caCertificate: rivalCa.id }), "BAD_REQUEST", /no certificate/);
    await expectCode(create({ caCertificate: "www" }), "BAD_REQUEST", /www is a server certificate/);
    e = await expectCode(create({ verify: false, caCertificate: "backend-ca" }), "BAD_REQUEST");
    expect(fieldErrors(e)["pools.0.monitor.tls.caCertificate"]?.join()).toMatch(/only used when verification is on/);
    await expectCode(create({ sni: "127.0.0.1" }), "BAD_REQUEST", /not an IP address/);
    e = await expectCode(
      op.lb.create({
        tenantId: T,
        name: "bad",
        pools: [{ ...httpsPool(null), monitor: { type: "HTTP" as const, http: { path: "/" }, tls: { verify: true } } }],
        listeners: [{ protocol: "TCP", port: 80, pool: "api" }],
      }),
      "BAD_REQUEST",
    );
    expect(JSON.stringify(fieldErrors(e))).toMatch(/TLS settings only apply to HTTPS monitors/);
    expect(await op.lb.list({ tenantId: T })).toEqual([]);
  });

  it("stores the reference by id, lists the monitor as a user of the CA, and is idempotent by name or id", async () => {
    const lb = await op.lb.create({
      tenantId: T,
      name: "api",
      pools: [httpsPool({ sni: "API.shop.test", caCertificate: "backend-ca" })],
      listeners: [{ protocol: "TCP", port: 443, pool: "api" }],
    });
    lbId = lb.id;
    expect(lb.pools[0]!.monitor!.tls).toEqual({ sni: "api.shop.test", verify: true, caCertificate: caId });
    const [row] = await w.database.db.select().from(healthMonitor);
    expect(row!.tls).toEqual({ sni: "api.shop.test", verify: true, caCertificateId: caId });
    expect((await op.certs.get({ tenantId: T, cert: "backend-ca" })).usedBy).toMatchObject([{ kind: "monitor", lbName: "api", name: "api" }]);
    await expectCode(op.certs.delete({ tenantId: T, cert: "backend-ca" }), "PRECONDITION_FAILED", /monitor api of load balancer api/);

    // Setting the same monitor again, naming the CA by name: nothing changes, no new revision.
    const again = await op.pools.update({
      tenantId: T,
      lb: lbId,
      pool: "api",
      expectedRevision: lb.revision,
      monitor: httpsPool({ sni: "api.shop.test", caCertificate: "backend-ca" }).monitor,
    });
    expect(again.revision).toBe(lb.revision);
  });

  it("the agent verifies the backend with the CA bundle the hub sends, and the SNI name", async () => {
    const tree = (await loadLbTrees(w.database.db, [lbId])).get(lbId)!;
    expect(desiredVip(tree).pools[0]!.monitor!.tls).toEqual({ sni: "api.shop.test", verify: true, ca: ca.cert });
    expect(await agentVerdicts(lbId)).toMatchObject([{ to: "up", reason: "HTTP 200" }]);
  });

  it("fails the check when the backend's certificate does not match the SNI name or the CA", async () => {
    const update = async (tls: TlsInput) => {
      const { revision } = await op.lb.get({ tenantId: T, lb: lbId });
      return op.pools.update({ tenantId: T, lb: lbId, pool: "api", expectedRevision: revision, monitor: httpsPool(tls).monitor });
    };
    await update({ sni: "other.shop.test", caCertificate: "backend-ca" });
    expect(await agentVerdicts(lbId)).toMatchObject([{ to: "down", reason: "tls ERR_TLS_CERT_ALTNAME_INVALID" }]);

    // Rotating the CA bundle to an unrelated CA: the new revision carries it, and verification fails.
    await update({ sni: "api.shop.test", caCertificate: "backend-ca" });
    const before = await op.lb.get({ tenantId: T, lb: lbId });
    await op.certs.rotate({ tenantId: T, cert: "backend-ca", certificate: otherCa.cert });
    const after = await op.lb.get({ tenantId: T, lb: lbId });
    expect(after.revision).toBeGreaterThan(before.revision);
    const tree = (await loadLbTrees(w.database.db, [lbId])).get(lbId)!;
    expect(desiredVip(tree).pools[0]!.monitor!.tls!.ca).toBe(otherCa.cert);
    expect(await agentVerdicts(lbId)).toMatchObject([{ to: "down", reason: expect.stringMatching(/^tls /) }]);

    // Without TLS settings an HTTPS monitor accepts any certificate (like HAProxy's verify none).
    await update(null);
    expect(await agentVerdicts(lbId)).toMatchObject([{ to: "up", reason: "HTTP 200" }]);
  });
});
