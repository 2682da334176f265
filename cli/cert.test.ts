// `tenbin cert …` (the real binary) against a real API server: upload, list, show, rotate,
// delete, clear errors and exit codes.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import fs from "node:fs";
import path from "node:path";
import { TENANT, runTenbin, startTestServer, tempDir, type RunResult, type TestServer } from "./test-support";
import { CertFactory, type Issued, days, encryptKey } from "../server/domain/certs/test-fixtures";
import { configureMasterKey, generateMasterKey } from "../server/domain/certs/envelope";

let server: TestServer;
let work: string;
let f: CertFactory;
let chain: { root: Issued; intermediate: Issued; leaf: Issued };

beforeAll(async () => {
  server = await startTestServer();
  // The server runs in this process: give it a master key (tests never use a key file).
  configureMasterKey(generateMasterKey());
  work = tempDir("tenbin-cert-cli-");
  f = new CertFactory();
  chain = f.chain("www.shop.test");
}, 120_000);
afterAll(async () => {
  await server?.close();
  f?.cleanup();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

const file = (name: string, content: string | Buffer) => {
  const p = path.join(work, name);
  fs.writeFileSync(p, content);
  return p;
};
const show = (r: RunResult) => `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;
const tenbin = (args: string[], input?: string) =>
  runTenbin(args, {
    env: { HOME: work, XDG_CONFIG_HOME: path.join(work, "cfg"), TENBIN_URL: server.url, TENBIN_TOKEN: server.adminToken, TENBIN_TENANT: TENANT },
    ...(input !== undefined ? { input } : {}),
  });

describe("tenbin cert", { timeout: 120_000 }, () => {
  it("uploads a shuffled chain with an encrypted key and shows the parsed chain", async () => {
    const chainFile = file("chain.pem", chain.root.cert + chain.leaf.cert + chain.intermediate.cert);
    const keyFile = file("key.pem", encryptKey(chain.leaf.key, "pass-1234"));
    const noPass = await tenbin(["cert", "upload", "www", "--cert", chainFile, "--key", keyFile]);
    expect(noPass.code, show(noPass)).toBe(2);
    expect(noPass.stderr).toContain("passphrase: the private key is encrypted: enter its passphrase");
    const up = await tenbin(["cert", "upload", "www", "--cert", chainFile, "--key", keyFile, "--passphrase-file", "-"], "pass-1234\n");
    expect(up.code, show(up)).toBe(0);
    expect(up.stdout).toMatch(/^uploaded www: CN=www.shop.test, valid, 36\d days left/);
    expect(up.stdout).toMatch(/SANs: +DNS:www.shop.test, DNS:shop.test, IP:198.18.0.10/);
    expect(up.stdout).toMatch(/key: +ECDSA P-256/);
    const chainLines = up.stdout.split("Chain:")[1]!.split("Versions:")[0]!.split("\n").filter((l) => /^\d /.test(l));
    expect(chainLines.map((l) => /CN=[^ ]+( \d+)?/.exec(l)![0])).toEqual(["CN=www.shop.test", `CN=${chain.intermediate.cn}`, `CN=${chain.root.cn}`]);
    expect(up.stdout).not.toContain("PRIVATE KEY");
  });

  it("uploads PKCS#12 and a CA bundle; lists by expiry with states; bad input exits 2 with the field", async () => {
    const soon = f.issue({ cn: "soon.shop.test", to: days(12), key: "ed25519" });
    const p12 = file("soon.p12", Buffer.from(f.pkcs12([soon.cert], soon.key, "p12pw"), "base64"));
    const pw = file("pw.txt", "p12pw\n");
    const a = await tenbin(["cert", "upload", "soon", "--pkcs12", p12, "--passphrase-file", pw]);
    expect(a.code, show(a)).toBe(0);
    const ca = await tenbin(["cert", "upload", "backend-ca", "--ca", "--cert", file("ca.pem", chain.root.cert)]);
    expect(ca.code, show(ca)).toBe(0);
    const list = await tenbin(["cert", "list", "--sort", "expiry"]);
    expect(list.code, show(list)).toBe(0);
    const rows = list.stdout.trim().split("\n");
    expect(rows[0]).toMatch(/^NAME +KIND +STATE +DAYS LEFT +EXPIRES/);
    expect(rows.slice(1).map((r) => r.split(/\s+/).slice(0, 3))).toEqual([
      ["soon", "server", "expiring"],
      ["www", "server", "valid"],
      ["backend-ca", "ca", "valid"],
    ]);
    const json = await tenbin(["--json", "cert", "list", "--state", "expiring"]);
    expect(JSON.parse(json.stdout).map((c: { name: string }) => c.name)).toEqual(["soon"]);

    const garbage = await tenbin(["--json", "cert", "upload", "bad", "--cert", file("junk.pem", "not a certificate"), "--key", file("k.pem", chain.leaf.key)]);
    expect(garbage.code, show(garbage)).toBe(2);
    expect(JSON.parse(garbage.stderr).error.fieldErrors.certificate[0]).toMatch(/not PEM/);
    const missing = await tenbin(["cert", "upload", "bad"]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("give the certificate: --cert FILE (PEM) or --pkcs12 FILE");
  });

  it("rotates in place, shows versions, deletes an old version, refuses unknown refs", async () => {
    const next = f.issue({ cn: "www.shop.test", sans: ["DNS:www.shop.test"], issuer: chain.intermediate, key: "rsa2048" });
    const r = await tenbin(["cert", "rotate", "www", "--cert", file("next.pem", next.cert + chain.intermediate.cert), "--key", file("next.key", next.key)]);
    expect(r.code, show(r)).toBe(0);
    expect(r.stdout).toMatch(/^www is now at version 2: CN=www.shop.test/);
    expect(r.stdout).toMatch(/2 \(current\)/);
    const del = await tenbin(["cert", "delete", "www", "--old-version", "1", "--yes"]);
    expect(del.code, show(del)).toBe(0);
    expect(del.stdout).toContain("deleted version 1 of www; versions left: 2");
    const shown = await tenbin(["--json", "cert", "show", "www"]);
    const view = JSON.parse(shown.stdout);
    expect(view).toMatchObject({ currentVersion: 2, keyDescription: "RSA 2048", versionCount: 1 });
    expect(shown.stdout).not.toContain("PRIVATE KEY");
    const nope = await tenbin(["cert", "show", "nope"]);
    expect(nope.code, show(nope)).toBe(3);
    const gone = await tenbin(["cert", "delete", "soon", "--yes"]);
    expect(gone.code, show(gone)).toBe(0);
    expect((await tenbin(["cert", "show", "soon"])).code).toBe(3);
  });
});
