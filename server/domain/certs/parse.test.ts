// Parsing and validation of certificate material, with keys and certificates made at run time.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { X509Certificate, createPublicKey } from "node:crypto";
import { DomainError } from "../errors";
import { type MaterialInput, parseMaterial } from "./parse";
import { CertFactory, type Issued, days, encryptKey } from "./test-fixtures";
import { generateMasterKey, openPrivateKey, rewrapDataKey, sealPrivateKey } from "./envelope";

let f: CertFactory;
let chain: { root: Issued; intermediate: Issued; leaf: Issued };
beforeAll(() => {
  f = new CertFactory();
  chain = f.chain();
});
afterAll(() => f?.cleanup());

/** The field errors of a refused upload (fails the test when it was accepted). */
function refused(input: MaterialInput): Record<string, string[]> {
  try {
    parseMaterial(input);
  } catch (e) {
    expect(e).toBeInstanceOf(DomainError);
    expect((e as DomainError).code).toBe("BAD_REQUEST");
    return (e as DomainError).fieldErrors ?? {};
  }
  throw new Error("expected the material to be refused");
}
const server = (certificate: string, privateKey: string, extra: Partial<MaterialInput> = {}): MaterialInput => ({
  kind: "server",
  certificate,
  privateKey,
  ...extra,
});

describe("key types and parsed fields", () => {
  it.each([
    ["rsa2048", "RSA 2048", "RSA"],
    ["p256", "ECDSA P-256", "ECDSA"],
    ["p384", "ECDSA P-384", "ECDSA"],
    ["ed25519", "Ed25519", "Ed25519"],
  ] as const)("accepts %s and shows subject, SANs, issuer, serial, validity, key and fingerprint", (kind, description, type) => {
    const c = f.issue({ cn: `${kind}.shop.test`, key: kind, sans: [`DNS:${kind}.shop.test`, "DNS:alt.shop.test", "IP:198.18.0.7"] });
    const p = parseMaterial(server(c.cert, c.key));
    const x = new X509Certificate(c.cert);
    expect(p.leaf).toMatchObject({
      subject: `CN=${kind}.shop.test`,
      commonName: `${kind}.shop.test`,
      sans: [`DNS:${kind}.shop.test`, "DNS:alt.shop.test", "IP:198.18.0.7"],
      issuer: `CN=${kind}.shop.test`,
      serial: x.serialNumber.toUpperCase(),
      fingerprintSha256: x.fingerprint256,
      keyDescription: description,
      keyType: type,
      selfSigned: true,
      isCa: false,
    });
    expect(p.notAfter.getTime()).toBe(new Date(x.validTo).getTime());
    expect(p.expired).toBe(false);
    expect(p.chainComplete).toBe(true);
    // The key comes out as unencrypted PKCS#8 of the same key pair.
    expect(p.keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(createPublicKey(p.keyPem!).export({ type: "spki", format: "pem" })).toBe(x.publicKey.export({ type: "spki", format: "pem" }));
  });

  it.each([
    ["rsa1024", /RSA 1024 bits is too weak/],
    ["p521", /ECDSA P-521 is not supported/],
  ] as const)("refuses a %s key", (kind, message) => {
    const c = f.issue({ cn: "weak.test", key: kind });
    expect(refused(server(c.cert, c.key)).privateKey?.join()).toMatch(message);
  });

  it("refuses a key that does not match the certificate, naming both", () => {
    const other = f.issue({ cn: "other.test", key: "ed25519" });
    const errs = refused(server(chain.leaf.cert, other.key));
    expect(errs.privateKey?.join()).toMatch(/private key \(Ed25519\) does not match the certificate \(leaf "CN=www.shop.test", ECDSA P-256\)/);
  });
});

describe("chains", () => {
  it("puts a shuffled chain in order, leaf first, up to the root", () => {
    const shuffled = chain.root.cert + chain.leaf.cert + chain.intermediate.cert;
    const p = parseMaterial(server(shuffled, chain.leaf.key));
    expect(p.chain.map((c) => c.commonName)).toEqual(["www.shop.test", chain.intermediate.cn, chain.root.cn]);
    expect(p.chainComplete).toBe(true);
    expect(p.missing).toBeNull();
    expect(p.chainPem.indexOf(chain.leaf.cert.trim())).toBe(0);
  });

  it("a chain without its root is stored with a note saying exactly which issuer is not included", () => {
    const p = parseMaterial(server(chain.intermediate.cert + chain.leaf.cert, chain.leaf.key));
    expect(p.chain.map((c) => c.commonName)).toEqual(["www.shop.test", chain.intermediate.cn]);
    expect(p.chainComplete).toBe(false);
    expect(p.missing).toBe(`the certificate of "CN=${chain.root.cn}" (issuer of "CN=${chain.intermediate.cn}")`);
    expect(p.warnings.join()).toMatch(/fine if that is a root CA clients trust/);
  });

  it("a missing intermediate is named when the rest cannot be linked", () => {
    const errs = refused(server(chain.leaf.cert + chain.root.cert, chain.leaf.key));
    expect(errs.certificate?.join()).toBe(
      `the chain is broken: missing the certificate of "CN=${chain.intermediate.cn}" (issuer of "CN=www.shop.test"), so "CN=${chain.root.cn}" cannot be linked to "CN=www.shop.test"`,
    );
  });

  it("names the CA whose key was given instead of the leaf's", () => {
    const errs = refused(server(chain.root.cert + chain.leaf.cert + chain.intermediate.cert, chain.root.key));
    expect(errs.privateKey).toEqual([`the private key belongs to "CN=${chain.root.cn}", a CA certificate, not to the leaf "CN=www.shop.test"`]);
  });

  it("refuses a certificate that does not belong to the chain", () => {
    const stranger = f.issue({ cn: "stranger.test", ca: true });
    const errs = refused(server(chain.leaf.cert + chain.intermediate.cert + chain.root.cert + stranger.cert, chain.leaf.key));
    expect(errs.certificate?.join()).toMatch(/"CN=stranger.test" does not belong to the chain of "CN=www.shop.test"/);
  });

  it("CA bundles hold CA certificates only and no key", () => {
    const p = parseMaterial({ kind: "ca", certificate: chain.root.cert + chain.intermediate.cert });
    expect(p.chain.map((c) => c.isCa)).toEqual([true, true]);
    expect(p.keyPem).toBeNull();
    expect(refused({ kind: "ca", certificate: chain.root.cert + chain.leaf.cert }).certificate?.join()).toMatch(
      /certificate 2 \("CN=www.shop.test"\) is not a CA certificate/,
    );
    expect(refused({ kind: "ca", certificate: chain.root.cert, privateKey: chain.root.key }).privateKey).toEqual(["a CA bundle takes no private key"]);
  });
});

describe("validity", () => {
  it("refuses an expired certificate unless allowExpired, and says when it expired", () => {
    const old = f.issue({ cn: "old.test", from: days(-400), to: days(-10) });
    expect(refused(server(old.cert, old.key)).certificate?.join()).toMatch(/^expired on \d{4}-\d\d-\d\d \(10 days ago\): refused unless allowExpired/);
    const p = parseMaterial(server(old.cert, old.key, { allowExpired: true }));
    expect(p.expired).toBe(true);
    expect(p.warnings.join()).toMatch(/expired on/);
  });

  it("flags a certificate that is not valid yet", () => {
    const future = f.issue({ cn: "future.test", from: days(5), to: days(100) });
    const p = parseMaterial(server(future.cert, future.key));
    expect(p.notYetValid).toBe(true);
    expect(p.warnings.join()).toMatch(/not valid yet: valid from/);
  });
});

describe("encrypted keys and PKCS#12", () => {
  it("encrypted PEM key: needs the passphrase, names a wrong one, works with the right one", () => {
    const enc = encryptKey(chain.leaf.key, "s3cret-pass");
    expect(enc).toMatch(/BEGIN ENCRYPTED PRIVATE KEY/);
    expect(refused(server(chain.leaf.cert, enc))).toEqual({ passphrase: ["the private key is encrypted: enter its passphrase"] });
    expect(refused(server(chain.leaf.cert, enc, { passphrase: "wrong" }))).toEqual({ passphrase: ["wrong passphrase for the private key"] });
    const p = parseMaterial(server(chain.leaf.cert, enc, { passphrase: "s3cret-pass" }));
    expect(p.keyPem).toMatch(/BEGIN PRIVATE KEY/);
  });

  it("PKCS#12 with a chain: parsed and ordered; wrong or missing password and garbage are field errors", () => {
    const p12 = f.pkcs12([chain.leaf.cert, chain.intermediate.cert], chain.leaf.key, "p12-pass");
    const p = parseMaterial({ kind: "server", pkcs12: p12, passphrase: "p12-pass" });
    expect(p.chain.map((c) => c.commonName)).toEqual(["www.shop.test", chain.intermediate.cn]);
    expect(p.keyPem).toMatch(/BEGIN PRIVATE KEY/);
    expect(refused({ kind: "server", pkcs12: p12, passphrase: "nope" })).toEqual({ passphrase: ["wrong password for the PKCS#12 file"] });
    expect(refused({ kind: "server", pkcs12: p12 })).toEqual({ passphrase: ["the PKCS#12 file is protected: enter its password"] });
    expect(refused({ kind: "server", pkcs12: "%%% not base64 %%%" }).pkcs12?.join()).toMatch(/not base64/);
    expect(refused({ kind: "server", pkcs12: Buffer.from("garbage garbage").toString("base64") }).pkcs12?.join()).toMatch(/not a valid PKCS#12 file/);
    expect(refused({ kind: "server", pkcs12: p12, certificate: chain.leaf.cert }).pkcs12?.join()).toMatch(/not both/);
  });

  it("PKCS#12 with an Ed25519 key", () => {
    const ed = f.issue({ cn: "ed.test", key: "ed25519" });
    const p = parseMaterial({ kind: "server", pkcs12: f.pkcs12([ed.cert], ed.key, "pw-ed"), passphrase: "pw-ed" });
    expect(p.leaf.keyDescription).toBe("Ed25519");
  });
});

describe("bad input", () => {
  const cert = () => chain.leaf.cert;
  const key = () => chain.leaf.key;
  const cases: [string, () => MaterialInput, string, RegExp][] = [
    ["garbage", () => server("hello, this is not a certificate", key()), "certificate", /^not PEM: expected text starting with -----BEGIN CERTIFICATE-----$/],
    ["empty certificate", () => server("", key()), "certificate", /^required$/],
    ["truncated certificate", () => server(cert().slice(0, cert().length / 2), key()), "certificate", /truncated PEM/],
    ["corrupted certificate body", () => server(cert().replace(/\n[A-Za-z0-9+/]{20}/, "\nAAAAAAAAAAAAAAAAAAAA"), key()), "certificate", /certificate 1 is not a valid X.509 certificate/],
    ["a CSR as certificate", () => server("-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n", key()), "certificate", /wrong PEM type "BEGIN CERTIFICATE REQUEST"/],
    ["a certificate as key", () => server(cert(), cert()), "privateKey", /this is a certificate, not a private key/],
    ["a public key as key", () => server(cert(), createPublicKey(key()).export({ type: "spki", format: "pem" }).toString()), "privateKey", /this is a public key/],
    ["truncated key", () => server(cert(), key().slice(0, 60)), "privateKey", /truncated PEM/],
    ["corrupted key", () => server(cert(), "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), "privateKey", /not a valid private key/],
    ["missing key", () => ({ kind: "server", certificate: cert() }), "privateKey", /required/],
    ["mismatched BEGIN/END", () => server("-----BEGIN CERTIFICATE-----\nAAAA\n-----END PRIVATE KEY-----\n", key()), "certificate", /ends with "END PRIVATE KEY"/],
  ];
  it.each(cases)("%s → a clear error on the field", (_name, input, field, message) => {
    const errs = refused(input());
    expect(errs[field]?.join(), JSON.stringify(errs)).toMatch(message);
  });

  it("a combined PEM (chain and key in one field) is accepted", () => {
    const p = parseMaterial({ kind: "server", certificate: chain.intermediate.cert + chain.leaf.cert + chain.leaf.key });
    expect(p.leaf.commonName).toBe("www.shop.test");
  });
});

describe("envelope encryption", () => {
  it("seals with a per-version data key; opens only with the right master key and row", () => {
    const a = generateMasterKey();
    const b = generateMasterKey();
    const sealed = sealPrivateKey(a, "v1", chain.leaf.key);
    expect(sealed.masterKeyId).toBe(a.id);
    expect(sealed.keyCiphertext).not.toContain("PRIVATE KEY");
    expect(Buffer.from(sealed.keyCiphertext, "base64").toString("latin1")).not.toContain("PRIVATE");
    expect(openPrivateKey(a, "v1", sealed)).toBe(chain.leaf.key);
    // Two seals of the same key differ (fresh data key and IVs).
    expect(sealPrivateKey(a, "v1", chain.leaf.key).keyCiphertext).not.toBe(sealed.keyCiphertext);
    expect(() => openPrivateKey(b, "v1", sealed)).toThrow(/wrapped by master key/);
    expect(() => openPrivateKey(a, "v2", sealed)).toThrow(); // bound to its row
    const moved = rewrapDataKey(a, b, "v1", sealed);
    expect(moved.keyCiphertext).toBe(sealed.keyCiphertext);
    expect(moved.masterKeyId).toBe(b.id);
    expect(openPrivateKey(b, "v1", moved)).toBe(chain.leaf.key);
    expect(() => openPrivateKey(a, "v1", { ...moved, masterKeyId: a.id })).toThrow();
  });
});
