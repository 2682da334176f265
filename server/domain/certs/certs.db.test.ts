// Certificates through the API: upload, validation, encryption at rest, expiry, rotation,
// "in use by", master-key rotation, no key material in any output, tenant isolation — on PGlite
// and on real PostgreSQL.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TRPCError } from "@trpc/server";
import { eq, sql } from "drizzle-orm";
import { ZodError } from "zod";
import { openWorld, type Caller, type World } from "../../testing/world";
import { auditLog, backendPool, certificate, certificateVersion, healthMonitor, listener, listenerCertificate } from "../../db/schema";
import { appRouter } from "../../api/root";
import { CertFactory, type Issued, days, encryptKey } from "./test-fixtures";
import { configureMasterKey, generateMasterKey, masterKeyFromBase64, openPrivateKey, unwrapDataKey } from "./envelope";
import { recordExpiryTransitions } from "./expiry";
import { rewrapDataKeys } from "./rotate-master";

// A fixed master key, as the brief for tests says.
const MASTER = masterKeyFromBase64("dGVuYmluLXRlc3QtbWFzdGVyLWtleS0zMi1ieXRlcyE=");
let w: World;
let op: Caller; // operator of tenant "shop"
let viewer: Caller;
let other: Caller; // admin of tenant "rival"
const T = "shop";
let f: CertFactory;
let chain: { root: Issued; intermediate: Issued; leaf: Issued };
/** Every output of every certificate procedure, checked for key material at the end. */
const outputs: unknown[] = [];
const keep = <T>(x: T): T => {
  outputs.push(x);
  return x;
};

beforeAll(async () => {
  configureMasterKey(MASTER);
  f = new CertFactory();
  chain = f.chain();
  w = await openWorld();
  const region = await w.admin.regions.create({ name: "r1" });
  await w.admin.ipPools.create({ regionId: region.id, name: "v4", cidr: "198.19.0.0/24" });
  await w.admin.tenants.create({ slug: T, name: "Shop" });
  await w.admin.tenants.create({ slug: "rival", name: "Rival" });
  op = (await w.user("op@shop.test")).caller;
  viewer = (await w.user("viewer@shop.test")).caller;
  other = (await w.user("admin@rival.test")).caller;
  await w.admin.members.add({ tenantId: T, email: "op@shop.test", role: "operator" });
  await w.admin.members.add({ tenantId: T, email: "viewer@shop.test", role: "viewer" });
  await w.admin.members.add({ tenantId: "rival", email: "admin@rival.test", role: "admin" });
});
afterAll(async () => {
  await w?.close();
  f?.cleanup();
});

async function expectCode(p: Promise<unknown>, code: TRPCError["code"], message?: RegExp) {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err, `expected ${code}`).toBeInstanceOf(TRPCError);
  expect((err as TRPCError).code, (err as Error).message).toBe(code);
  if (message) expect((err as TRPCError).message).toMatch(message);
  return err as TRPCError;
}
const fieldErrors = (e: TRPCError): Record<string, string[]> => {
  if (e.cause instanceof ZodError) {
    const out: Record<string, string[]> = {};
    for (const i of e.cause.issues) (out[i.path.join(".")] ??= []).push(i.message);
    return out;
  }
  return (e.cause as { fieldErrors?: Record<string, string[]> } | undefined)?.fieldErrors ?? {};
};
const auditCount = async () => (await w.database.db.select({ n: sql<number>`count(*)::int` }).from(auditLog))[0]!.n;
const certCount = async () => (await w.database.db.select({ n: sql<number>`count(*)::int` }).from(certificate))[0]!.n;

describe("upload and read", () => {
  it("uploads a shuffled chain with its key, shows the parsed chain in order", async () => {
    const c = keep(
      await op.certs.upload({
        tenantId: T,
        name: "www",
        certificate: chain.root.cert + chain.leaf.cert + chain.intermediate.cert,
        privateKey: chain.leaf.key,
        description: "shop front",
      }),
    );
    expect(c).toMatchObject({
      name: "www",
      kind: "server",
      state: "valid",
      commonName: "www.shop.test",
      sans: ["DNS:www.shop.test", "DNS:shop.test", "IP:198.18.0.10"],
      issuer: `CN=${chain.intermediate.cn}`,
      keyDescription: "ECDSA P-256",
      currentVersion: 1,
      hasPrivateKey: true,
      chainComplete: true,
      usedBy: [],
    });
    expect(c.daysLeft).toBeGreaterThanOrEqual(363);
    expect(c.chain.map((x) => x.commonName)).toEqual(["www.shop.test", chain.intermediate.cn, chain.root.cn]);
    expect(c.versions).toHaveLength(1);
    expect(keep(await viewer.certs.get({ tenantId: T, cert: c.id })).name).toBe("www");
    expect(keep(await viewer.certs.get({ tenantId: T, cert: "www" })).id).toBe(c.id);
    const [entry] = await w.database.db.select().from(auditLog).where(eq(auditLog.entityId, c.id));
    expect(entry).toMatchObject({ action: "certificate.create", actorLabel: "op@shop.test" });
  });

  it("accepts an encrypted key with its passphrase and a PKCS#12 bundle", async () => {
    const rsa = f.issue({ cn: "api.shop.test", key: "rsa2048", sans: ["DNS:api.shop.test"] });
    const a = keep(
      await op.certs.upload({ tenantId: T, name: "api", certificate: rsa.cert, privateKey: encryptKey(rsa.key, "pass-phrase-1"), passphrase: "pass-phrase-1" }),
    );
    expect(a.keyDescription).toBe("RSA 2048");
    const ed = f.issue({ cn: "ed.shop.test", key: "ed25519" });
    const b = keep(await op.certs.upload({ tenantId: T, name: "ed", pkcs12: f.pkcs12([ed.cert], ed.key, "p12-pw"), passphrase: "p12-pw" }));
    expect(b.keyDescription).toBe("Ed25519");
  });

  it("inspects material without storing anything", async () => {
    const before = [await auditCount(), await certCount()];
    const i = keep(await viewer.certs.inspect({ tenantId: T, certificate: chain.intermediate.cert + chain.leaf.cert, privateKey: chain.leaf.key }));
    expect(i).toMatchObject({ state: "valid", chainComplete: false, hasPrivateKey: true });
    expect(i.missing).toMatch(/Root/);
    expect([await auditCount(), await certCount()]).toEqual(before);
  });

  it("stores the private key only sealed, under the master key it names", async () => {
    const [row] = await w.database.db
      .select()
      .from(certificateVersion)
      .innerJoin(certificate, eq(certificate.id, certificateVersion.certificateId))
      .where(eq(certificate.name, "www"));
    const v = row!.certificate_version;
    expect(v.masterKeyId).toBe(MASTER.id);
    expect(v.keyCiphertext).not.toContain("PRIVATE KEY");
    const stored = JSON.stringify(v);
    expect(stored).not.toContain(keyBody(chain.leaf.key));
    expect(openPrivateKey(MASTER, v.id, { keyCiphertext: v.keyCiphertext!, wrappedDataKey: v.wrappedDataKey!, masterKeyId: v.masterKeyId! })).toBe(chain.leaf.key);
  });
});

/** The base64 body of a PEM key (what would leak). */
const keyBody = (pem: string) => pem.split("\n").filter((l) => l && !l.startsWith("-----")).join("");

describe("bad input: clear field errors, nothing stored", () => {
  const cases: [string, () => object, string, RegExp][] = [
    ["garbage", () => ({ certificate: "garbage", privateKey: chain.leaf.key }), "certificate", /not PEM/],
    ["oversized", () => ({ certificate: chain.leaf.cert + "x".repeat(65 * 1024), privateKey: chain.leaf.key }), "certificate", /at most 64 KiB/],
    ["truncated", () => ({ certificate: chain.leaf.cert.slice(0, 200), privateKey: chain.leaf.key }), "certificate", /truncated/],
    ["key in the wrong field", () => ({ certificate: chain.leaf.cert, privateKey: chain.leaf.cert }), "privateKey", /not a private key/],
    ["mismatched key", () => ({ certificate: chain.leaf.cert, privateKey: chain.root.key }), "privateKey", /does not match/],
    ["wrong passphrase", () => ({ certificate: chain.leaf.cert, privateKey: encryptKey(chain.leaf.key, "right-one"), passphrase: "wrong" }), "passphrase", /wrong passphrase/],
    ["expired", () => {
      const old = f.issue({ cn: "old.shop.test", from: days(-100), to: days(-1) });
      return { certificate: old.cert, privateKey: old.key };
    }, "certificate", /expired on .* refused unless allowExpired/],
    ["bad name", () => ({ name: "-bad-", certificate: chain.leaf.cert, privateKey: chain.leaf.key }), "name", /letters, digits/],
  ];
  it.each(cases)("%s", async (_name, input, field, message) => {
    const before = [await auditCount(), await certCount()];
    const e = await expectCode(op.certs.upload({ tenantId: T, name: "bad", ...input() }), "BAD_REQUEST");
    expect(fieldErrors(e)[field]?.join(), JSON.stringify(fieldErrors(e))).toMatch(message);
    expect([await auditCount(), await certCount()]).toEqual(before);
  });

  it("a duplicate name conflicts", async () => {
    const e = await expectCode(op.certs.upload({ tenantId: T, name: "www", certificate: chain.leaf.cert, privateKey: chain.leaf.key }), "CONFLICT");
    expect(fieldErrors(e).name).toEqual(["already exists"]);
  });
});

describe("expiry", () => {
  it("computes valid / expiring / expired at read time, with the threshold per certificate, sortable", async () => {
    const soon = f.issue({ cn: "soon.shop.test", to: days(10) });
    const s = keep(await op.certs.upload({ tenantId: T, name: "soon", certificate: soon.cert, privateKey: soon.key }));
    expect(s).toMatchObject({ state: "expiring", daysLeft: 9 });
    const relaxed = keep(await op.certs.update({ tenantId: T, cert: "soon", expiringDays: 5 }));
    expect(relaxed.state).toBe("valid");
    await op.certs.update({ tenantId: T, cert: "soon", expiringDays: 30 });
    const old = f.issue({ cn: "old.shop.test", from: days(-100), to: days(-1) });
    const e = keep(await op.certs.upload({ tenantId: T, name: "old", certificate: old.cert, privateKey: old.key, allowExpired: true }));
    expect(e).toMatchObject({ state: "expired", daysLeft: -1 });
    const future = f.issue({ cn: "future.shop.test", from: days(3) });
    expect(keep(await op.certs.upload({ tenantId: T, name: "future", certificate: future.cert, privateKey: future.key })).notYetValid).toBe(true);
    const byExpiry = keep(await viewer.certs.list({ tenantId: T, sort: "expiry" }));
    expect(byExpiry.slice(0, 2).map((c) => c.name)).toEqual(["old", "soon"]);
    expect(keep(await viewer.certs.list({ tenantId: T, state: "expiring" })).map((c) => c.name)).toEqual(["soon"]);
    expect(keep(await viewer.certs.list({ tenantId: T })).map((c) => c.name)).toEqual(["api", "ed", "future", "old", "soon", "www"]);
  });

  it("records one audit event when a certificate crosses into expiring, and one into expired", async () => {
    const c = f.issue({ cn: "cross.shop.test", to: days(40) });
    const up = keep(await op.certs.upload({ tenantId: T, name: "cross", certificate: c.cert, privateKey: c.key }));
    expect(up.state).toBe("valid");
    const events = async () =>
      (await w.database.db.select().from(auditLog).where(eq(auditLog.entityId, up.id))).map((e) => e.action).filter((a) => a !== "certificate.create");
    await recordExpiryTransitions(w.database.db, days(1));
    expect(await events()).toEqual([]);
    const first = await recordExpiryTransitions(w.database.db, days(15));
    expect(first.find((x) => x.name === "cross")).toMatchObject({ from: "valid", to: "expiring" });
    await recordExpiryTransitions(w.database.db, days(16));
    expect(await events()).toEqual(["certificate.expiring"]);
    await recordExpiryTransitions(w.database.db, days(41));
    expect(await events()).toEqual(["certificate.expiring", "certificate.expired"]);
    await recordExpiryTransitions(w.database.db, days(42));
    expect(await events()).toEqual(["certificate.expiring", "certificate.expired"]);
  });
});

describe("rotation, versions and in use by", () => {
  let lbId: string;
  let caId: string;
  it("rotates in place: same id, version 2, previous versions listed until removed", async () => {
    const next = f.issue({ cn: "www.shop.test", sans: ["DNS:www.shop.test"], issuer: chain.intermediate, key: "p384" });
    const r = keep(await op.certs.rotate({ tenantId: T, cert: "www", certificate: next.cert + chain.intermediate.cert, privateKey: next.key }));
    const before = keep(await viewer.certs.get({ tenantId: T, cert: "www" }));
    expect(r.id).toBe(before.id);
    expect(r).toMatchObject({ currentVersion: 2, keyDescription: "ECDSA P-384", versionCount: 2 });
    expect(r.versions.map((v) => [v.version, v.current])).toEqual([
      [2, true],
      [1, false],
    ]);
    // Same material again: nothing changes.
    const n = await auditCount();
    expect(keep(await op.certs.rotate({ tenantId: T, cert: "www", certificate: next.cert, privateKey: next.key })).currentVersion).toBe(2);
    expect(await auditCount()).toBe(n);
    await expectCode(op.certs.deleteVersion({ tenantId: T, cert: "www", version: 2 }), "PRECONDITION_FAILED", /current version/);
    const pruned = keep(await op.certs.deleteVersion({ tenantId: T, cert: "www", version: 1 }));
    expect(pruned.versions.map((v) => v.version)).toEqual([2]);
    await expectCode(op.certs.deleteVersion({ tenantId: T, cert: "www", version: 1 }), "NOT_FOUND");
    // A rotation is validated like an upload: a mismatched key changes nothing.
    const e = await expectCode(op.certs.rotate({ tenantId: T, cert: "www", certificate: next.cert, privateKey: chain.leaf.key }), "BAD_REQUEST");
    expect(fieldErrors(e).privateKey?.join()).toMatch(/does not match/);
  });

  it("lists the monitors and listeners using a certificate, refuses deletion with the list, moves them on rotation", async () => {
    const ca = keep(await op.certs.upload({ tenantId: T, name: "backend-ca", kind: "ca", certificate: chain.root.cert }));
    caId = ca.id;
    expect(ca).toMatchObject({ kind: "ca", hasPrivateKey: false, keyDescription: "ECDSA P-256" });
    const lb = await op.lb.create({
      tenantId: T,
      name: "web",
      pools: [{ name: "https", members: [{ address: "198.18.10.1", port: 443 }], monitor: { type: "HTTPS", http: { method: "GET", path: "/", expectedCodes: "200" } } }],
      listeners: [{ protocol: "TCP", port: 443, pool: "https" }],
    });
    lbId = lb.id;
    const db = w.database.db;
    const [pool] = await db.select().from(backendPool).where(eq(backendPool.lbId, lb.id));
    await db.update(healthMonitor).set({ tls: { sni: "api.shop.test", verify: true, caCertificateId: ca.id } }).where(eq(healthMonitor.poolId, pool!.id));
    const [lst] = await db.select().from(listener).where(eq(listener.lbId, lb.id));
    const www = await viewer.certs.get({ tenantId: T, cert: "www" });
    await db.insert(listenerCertificate).values({ listenerId: lst!.id, certificateId: www.id, tenantId: await tenantId(), sniHosts: ["www.shop.test"], isDefault: true });

    const used = keep(await viewer.certs.get({ tenantId: T, cert: "backend-ca" }));
    expect(used.usedBy).toEqual([{ kind: "monitor", lbId: lb.id, lbName: "web", lbAddress: lb.address, name: "https", sniHosts: [] }]);
    expect(keep(await viewer.certs.get({ tenantId: T, cert: "www" })).usedBy).toEqual([
      { kind: "listener", lbId: lb.id, lbName: "web", lbAddress: lb.address, name: "tcp-443", sniHosts: ["www.shop.test"] },
    ]);
    const e = await expectCode(op.certs.delete({ tenantId: T, cert: "backend-ca" }), "PRECONDITION_FAILED");
    expect(e.message).toBe(`certificate backend-ca is in use by monitor https of load balancer web (${lb.address}): remove those references first`);
    await expectCode(op.certs.delete({ tenantId: T, cert: "www" }), "PRECONDITION_FAILED", /listener tcp-443 of load balancer web/);

    // Rotating the CA moves the load balancer using it to a new revision.
    const lbBefore = await viewer.lb.get({ tenantId: T, lb: lb.id });
    const root2 = f.issue({ cn: "Root two", ca: true });
    keep(await op.certs.rotate({ tenantId: T, cert: "backend-ca", certificate: root2.cert + chain.root.cert }));
    const lbAfter = await viewer.lb.get({ tenantId: T, lb: lb.id });
    expect(lbAfter.revision).toBeGreaterThan(lbBefore.revision);
    const history = await viewer.lb.history({ tenantId: T, lb: lb.id });
    expect(history[0]).toMatchObject({ action: "lb.certificate-rotated", after: { certificate: "backend-ca", version: 2 } });
  });

  it("deletes a certificate once nothing uses it", async () => {
    const db = w.database.db;
    await db.delete(listenerCertificate);
    await db.update(healthMonitor).set({ tls: null });
    expect(keep(await op.certs.delete({ tenantId: T, cert: caId }))).toEqual({ deleted: true });
    await expectCode(viewer.certs.get({ tenantId: T, cert: caId }), "NOT_FOUND");
    expect(lbId).toBeTruthy();
  });
});

async function tenantId() {
  return (await w.admin.tenants.list()).find((t) => t.slug === T)!.id;
}

describe("master-key rotation", () => {
  it("re-wraps every data key with the new master key; idempotent; the old key no longer opens them", async () => {
    const next = generateMasterKey();
    const progress: string[] = [];
    const r = await rewrapDataKeys(w.database.db, MASTER, next, (d, t) => progress.push(`${d}/${t}`));
    expect(r.rewrapped).toBeGreaterThanOrEqual(6);
    expect(r.alreadyNew).toBe(0);
    expect(progress.at(-1)).toBe(`${r.rewrapped}/${r.rewrapped}`);
    const rows = await w.database.db.select().from(certificateVersion);
    const sealed = rows.filter((v) => v.wrappedDataKey);
    expect(new Set(sealed.map((v) => v.masterKeyId))).toEqual(new Set([next.id]));
    for (const v of sealed) {
      const s = { keyCiphertext: v.keyCiphertext!, wrappedDataKey: v.wrappedDataKey!, masterKeyId: v.masterKeyId! };
      expect(openPrivateKey(next, v.id, s)).toMatch(/BEGIN PRIVATE KEY/);
      expect(() => openPrivateKey(MASTER, v.id, { ...s, masterKeyId: MASTER.id })).toThrow();
    }
    const again = await rewrapDataKeys(w.database.db, MASTER, next);
    expect(again).toMatchObject({ rewrapped: 0, alreadyNew: r.rewrapped });
    // A third key that wrapped nothing is refused instead of guessing.
    await expect(rewrapDataKeys(w.database.db, generateMasterKey(), generateMasterKey())).rejects.toThrow(/neither the old nor the new master key/);
    const [audit] = await w.database.db.select().from(auditLog).where(eq(auditLog.action, "master-key.rotate"));
    expect(audit).toMatchObject({ entityId: next.id, after: { rewrapped: r.rewrapped } });
    // New uploads use the new key from now on.
    configureMasterKey(next);
    const c = f.issue({ cn: "after.shop.test" });
    keep(await op.certs.upload({ tenantId: T, name: "after", certificate: c.cert, privateKey: c.key }));
    const [row] = await w.database.db.select().from(certificateVersion).innerJoin(certificate, eq(certificate.id, certificateVersion.certificateId)).where(eq(certificate.name, "after"));
    expect(row!.certificate_version.masterKeyId).toBe(next.id);
    rotatedTo = next;
  });
});
let rotatedTo = MASTER;

describe("tenant isolation and roles (every procedure)", () => {
  type Case = (c: Caller, tenantId: string, cert: string) => Promise<unknown>;
  const material = () => ({ certificate: chain.leaf.cert, privateKey: chain.leaf.key });
  const cases: Record<string, { call: Case; mutation: boolean; byRef: boolean }> = {
    "certs.inspect": { call: (c, t) => c.certs.inspect({ tenantId: t, ...material() }), mutation: false, byRef: false },
    "certs.upload": { call: (c, t) => c.certs.upload({ tenantId: t, name: "iso-new", ...material() }), mutation: true, byRef: false },
    "certs.list": { call: (c, t) => c.certs.list({ tenantId: t }), mutation: false, byRef: false },
    "certs.get": { call: (c, t, cert) => c.certs.get({ tenantId: t, cert }), mutation: false, byRef: true },
    "certs.rotate": { call: (c, t, cert) => c.certs.rotate({ tenantId: t, cert, ...material() }), mutation: true, byRef: true },
    "certs.update": { call: (c, t, cert) => c.certs.update({ tenantId: t, cert, description: "x" }), mutation: true, byRef: true },
    "certs.deleteVersion": { call: (c, t, cert) => c.certs.deleteVersion({ tenantId: t, cert, version: 1 }), mutation: true, byRef: true },
    "certs.delete": { call: (c, t, cert) => c.certs.delete({ tenantId: t, cert }), mutation: true, byRef: true },
  };

  it("covers every procedure of the certificate router", () => {
    const all = Object.keys(appRouter._def.procedures).filter((p) => p.startsWith("certs.")).sort();
    expect(all).toEqual(Object.keys(cases).sort());
  });

  it("another tenant's certificate answers NOT_FOUND (by id or name); viewers cannot mutate", async () => {
    const victim = keep(await op.certs.upload({ tenantId: T, name: "iso-victim", certificate: chain.leaf.cert, privateKey: chain.leaf.key }));
    const before = await auditCount();
    for (const [name, c] of Object.entries(cases)) {
      // Naming our tenant as the rival admin: the tenant itself is not found.
      await expectCode(c.call(other, T, victim.id), "NOT_FOUND").catch((e: unknown) => {
        throw new Error(`${name} in shop as rival: ${String(e)}`);
      });
      if (!c.byRef) continue;
      for (const ref of [victim.id, victim.name]) {
        await expectCode(c.call(other, "rival", ref), "NOT_FOUND").catch((e: unknown) => {
          throw new Error(`${name} via rival with ${ref}: ${String(e)}`);
        });
      }
    }
    expect(keep(await other.certs.list({ tenantId: "rival" }))).toEqual([]);
    for (const [name, c] of Object.entries(cases)) {
      if (!c.mutation) continue;
      await expectCode(c.call(viewer, T, victim.id), "FORBIDDEN").catch((e: unknown) => {
        throw new Error(`${name} as viewer: ${String(e)}`);
      });
    }
    expect(await auditCount()).toBe(before);
  });
});

describe("no key material in any output", () => {
  it("no procedure output nor audit entry contains a private key, a data key or a sealed blob", async () => {
    const names = new Set(Object.keys(appRouter._def.procedures).filter((p) => p.startsWith("certs.")));
    expect(names.size).toBe(8);
    expect(outputs.length).toBeGreaterThan(20);
    const rows = await w.database.db.select().from(certificateVersion);
    const secrets: string[] = [chain.leaf.key, keyBody(chain.leaf.key)];
    for (const v of rows) {
      if (!v.wrappedDataKey) continue;
      const s = { keyCiphertext: v.keyCiphertext!, wrappedDataKey: v.wrappedDataKey, masterKeyId: v.masterKeyId! };
      const dataKey = unwrapDataKey(rotatedTo, v.id, s);
      const pem = openPrivateKey(rotatedTo, v.id, s);
      secrets.push(keyBody(pem), dataKey.toString("base64"), dataKey.toString("hex"), v.keyCiphertext!, v.wrappedDataKey);
    }
    expect(secrets.length).toBeGreaterThan(20);
    const audit = await w.database.db.select().from(auditLog);
    const text = JSON.stringify([...outputs, ...audit]);
    for (const s of secrets) expect(text.includes(s), `leaked ${s.slice(0, 16)}…`).toBe(false);
    expect(text).not.toMatch(/PRIVATE KEY/);
  });
});
