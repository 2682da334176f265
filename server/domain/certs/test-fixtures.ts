// Test certificates made at run time: keys from node:crypto, certificates signed by the openssl
// CLI (`openssl ca`, which takes explicit validity dates, so expired and not-yet-valid ones too).
import { execFileSync } from "node:child_process";
import { createPrivateKey, generateKeyPairSync } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

export type KeyKind = "rsa2048" | "rsa1024" | "p256" | "p384" | "p521" | "ed25519";
export interface Issued {
  cert: string;
  key: string;
  cn: string;
}
export interface CertOptions {
  cn: string;
  sans?: string[];
  key?: KeyKind;
  /** Signer; omitted = self-signed. */
  issuer?: Issued;
  ca?: boolean;
  from?: Date;
  to?: Date;
}

const DAY = 86_400_000;
const stamp = (d: Date) => d.toISOString().replace(/[-:T]/g, "").slice(0, 14) + "Z";

export function makeKey(kind: KeyKind): string {
  const opts = (() => {
    switch (kind) {
      case "rsa2048":
        return generateKeyPairSync("rsa", { modulusLength: 2048 });
      case "rsa1024":
        return generateKeyPairSync("rsa", { modulusLength: 1024 });
      case "p256":
        return generateKeyPairSync("ec", { namedCurve: "P-256" });
      case "p384":
        return generateKeyPairSync("ec", { namedCurve: "P-384" });
      case "p521":
        return generateKeyPairSync("ec", { namedCurve: "P-521" });
      case "ed25519":
        return generateKeyPairSync("ed25519");
    }
  })();
  return opts.privateKey.export({ type: "pkcs8", format: "pem" }).toString();
}

export class CertFactory {
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), "tb-certs-"));
  private n = 0;
  private rsa: string | null = null;

  constructor() {
    fs.writeFileSync(path.join(this.dir, "index.txt"), "");
    fs.writeFileSync(
      path.join(this.dir, "ca.cnf"),
      [
        "[ca]",
        "default_ca = tb",
        "[tb]",
        `database = ${path.join(this.dir, "index.txt")}`,
        `new_certs_dir = ${this.dir}`,
        "default_md = default",
        "policy = any",
        "unique_subject = no",
        "rand_serial = yes",
        "[any]",
        "commonName = supplied",
      ].join("\n") + "\n",
    );
  }

  key(kind: KeyKind): string {
    // RSA generation is the slow part: one 2048-bit key serves every RSA certificate of a run.
    if (kind === "rsa2048") return (this.rsa ??= makeKey(kind));
    return makeKey(kind);
  }

  private file(name: string, text: string) {
    const f = path.join(this.dir, `${++this.n}-${name}`);
    fs.writeFileSync(f, text);
    return f;
  }

  issue(o: CertOptions): Issued {
    const key = this.key(o.key ?? "p256");
    const keyFile = this.file("key.pem", key);
    const csr = this.file("req.csr", "");
    execFileSync("openssl", ["req", "-new", "-key", keyFile, "-subj", `/CN=${o.cn}`, "-out", csr], { stdio: "pipe" });
    const ext = [
      o.ca ? "basicConstraints = critical,CA:TRUE" : "basicConstraints = CA:FALSE",
      o.ca ? "keyUsage = critical,keyCertSign,cRLSign" : "keyUsage = critical,digitalSignature",
      "subjectKeyIdentifier = hash",
      ...(o.issuer ? ["authorityKeyIdentifier = keyid"] : []),
      ...(o.sans?.length ? [`subjectAltName = ${o.sans.join(",")}`] : []),
    ];
    const extFile = this.file("ext.cnf", ext.join("\n") + "\n");
    const out = this.file("cert.pem", "");
    const from = o.from ?? new Date(Date.now() - DAY);
    const to = o.to ?? new Date(Date.now() + 365 * DAY);
    const signer = o.issuer
      ? ["-cert", this.file("issuer.pem", o.issuer.cert), "-keyfile", this.file("issuer.key", o.issuer.key)]
      : ["-selfsign", "-keyfile", keyFile];
    execFileSync(
      "openssl",
      ["ca", "-batch", "-notext", "-config", path.join(this.dir, "ca.cnf"), ...signer, "-in", csr, "-startdate", stamp(from), "-enddate", stamp(to), "-extfile", extFile, "-out", out],
      { stdio: "pipe" },
    );
    return { cert: fs.readFileSync(out, "utf8"), key, cn: o.cn };
  }

  /** Root CA → intermediate → leaf (all ECDSA P-256 unless `leafKey` says otherwise). */
  chain(cn = "www.shop.test", leafKey: KeyKind = "p256", leafOpts: Partial<CertOptions> = {}) {
    const root = this.issue({ cn: `Root ${this.n}`, ca: true, to: new Date(Date.now() + 3650 * DAY) });
    const intermediate = this.issue({ cn: `Intermediate ${this.n}`, ca: true, issuer: root });
    const leaf = this.issue({ cn, sans: [`DNS:${cn}`, "DNS:shop.test", "IP:198.18.0.10"], key: leafKey, issuer: intermediate, ...leafOpts });
    return { root, intermediate, leaf };
  }

  /** A PKCS#12 bundle (base64) of the key and certificates, protected by `password`. */
  pkcs12(certs: string[], key: string, password: string): string {
    const out = path.join(this.dir, `${++this.n}.p12`);
    const certFile = this.file("p12-certs.pem", certs.join(""));
    const keyFile = this.file("p12-key.pem", key);
    execFileSync("openssl", ["pkcs12", "-export", "-inkey", keyFile, "-in", certFile, "-out", out, "-passout", `pass:${password}`], { stdio: "pipe" });
    return fs.readFileSync(out).toString("base64");
  }

  cleanup() {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** An encrypted PKCS#8 PEM ("BEGIN ENCRYPTED PRIVATE KEY"). */
export const encryptKey = (keyPem: string, passphrase: string) =>
  createPrivateKey(keyPem).export({ type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase }).toString();

export const days = (n: number) => new Date(Date.now() + n * DAY);
