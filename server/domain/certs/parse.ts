// Parsing and validating certificate material before anything is stored: PEM chains, (encrypted)
// PEM private keys and PKCS#12 bundles. Every problem becomes a field error on the input that
// caused it (`certificate`, `privateKey`, `pkcs12`, `passphrase`); a valid upload comes out
// with the chain in order (leaf first) and the key as unencrypted PKCS#8 PEM, ready to be sealed.
import { X509Certificate, createPrivateKey, type KeyObject } from "node:crypto";
import forge from "node-forge";
import type { CertKind } from "../../../lib/cert-schemas";
import { DomainError } from "../errors";

export interface KeyInfo {
  keyType: "RSA" | "ECDSA" | "Ed25519" | "other";
  /** RSA modulus bits; EC curve size; 256 for Ed25519. */
  keyBits: number | null;
  curve: string | null;
  /** "RSA 2048", "ECDSA P-256", "Ed25519". */
  keyDescription: string;
}

export interface CertInfo extends KeyInfo {
  subject: string;
  commonName: string | null;
  sans: string[];
  issuer: string;
  serial: string;
  notBefore: Date;
  notAfter: Date;
  fingerprintSha256: string;
  isCa: boolean;
  selfSigned: boolean;
}

export interface ParsedMaterial {
  kind: CertKind;
  /** Server: the certificate matching the key. CA bundle: the first certificate. */
  leaf: CertInfo;
  /** Server: leaf first, then each issuer. CA bundle: as given. */
  chain: CertInfo[];
  chainPem: string;
  /** The chain ends at a self-signed root. */
  chainComplete: boolean;
  /** What the chain lacks, in words (null when complete). */
  missing: string | null;
  warnings: string[];
  /** Validity window the expiry state is computed from (CA bundle: its earliest expiry). */
  notBefore: Date;
  notAfter: Date;
  expired: boolean;
  notYetValid: boolean;
  /** Unencrypted PKCS#8 PEM. Sealed before storing; never returned by any procedure. */
  keyPem: string | null;
}

export interface MaterialInput {
  kind: CertKind;
  certificate?: string | undefined;
  privateKey?: string | undefined;
  pkcs12?: string | undefined;
  passphrase?: string | undefined;
  allowExpired?: boolean | undefined;
}

const DAY_MS = 86_400_000;
const KEY_TYPES = new Set(["PRIVATE KEY", "ENCRYPTED PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY"]);
const SUPPORTED = "supported: RSA ≥ 2048 bits, ECDSA P-256 or P-384, Ed25519";

/** Collects field errors so one answer reports every broken field. */
class Problems {
  readonly fields: Record<string, string[]> = {};
  add(field: string, message: string) {
    (this.fields[field] ??= []).push(message);
  }
  has(field?: string) {
    return field ? field in this.fields : Object.keys(this.fields).length > 0;
  }
  throwIfAny() {
    if (!this.has()) return;
    const summary = Object.entries(this.fields)
      .map(([f, m]) => `${f}: ${m.join("; ")}`)
      .join(" · ");
    throw new DomainError("BAD_REQUEST", summary, this.fields);
  }
}

interface PemBlock {
  type: string;
  text: string;
}

/** Splits PEM text into blocks; text around blocks (openssl's "Bag Attributes") is ignored. */
function splitPem(text: string, field: string, problems: Problems): PemBlock[] {
  const blocks: PemBlock[] = [];
  const re = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END ([A-Z0-9 ]+)-----/g;
  for (const m of text.matchAll(re)) {
    if (m[1] !== m[2]) {
      problems.add(field, `a "BEGIN ${m[1]}" block ends with "END ${m[2]}": truncated or mixed up`);
      return [];
    }
    blocks.push({ type: m[1]!, text: m[0] });
  }
  const begins = (text.match(/-----BEGIN /g) ?? []).length;
  const ends = (text.match(/-----END /g) ?? []).length;
  if (begins !== blocks.length || ends !== blocks.length) {
    problems.add(field, "truncated PEM: a -----BEGIN …----- line has no matching -----END …----- line (or the reverse)");
    return [];
  }
  if (blocks.length === 0) {
    problems.add(
      field,
      text.trim()
        ? "not PEM: expected text starting with -----BEGIN " + (field === "privateKey" ? "PRIVATE KEY-----" : "CERTIFICATE-----")
        : "required",
    );
  }
  return blocks;
}

function describeKey(k: KeyObject): KeyInfo {
  const d = k.asymmetricKeyDetails ?? {};
  switch (k.asymmetricKeyType) {
    case "rsa":
      return { keyType: "RSA", keyBits: d.modulusLength ?? null, curve: null, keyDescription: `RSA ${d.modulusLength ?? "?"}` };
    case "ec": {
      const curve = d.namedCurve === "prime256v1" ? "P-256" : d.namedCurve === "secp384r1" ? "P-384" : d.namedCurve === "secp521r1" ? "P-521" : (d.namedCurve ?? "unknown");
      const bits = /(\d+)/.exec(curve)?.[1];
      return { keyType: "ECDSA", keyBits: bits ? Number(bits) : null, curve, keyDescription: `ECDSA ${curve}` };
    }
    case "ed25519":
      return { keyType: "Ed25519", keyBits: 256, curve: null, keyDescription: "Ed25519" };
    default:
      return { keyType: "other", keyBits: null, curve: null, keyDescription: k.asymmetricKeyType ?? "unknown" };
  }
}

/** Null when the key may serve TLS; otherwise why not. */
function unsupportedKey(info: KeyInfo): string | null {
  if (info.keyType === "RSA") return (info.keyBits ?? 0) >= 2048 ? null : `RSA ${info.keyBits} bits is too weak (${SUPPORTED})`;
  if (info.keyType === "ECDSA") return info.curve === "P-256" || info.curve === "P-384" ? null : `ECDSA ${info.curve} is not supported (${SUPPORTED})`;
  if (info.keyType === "Ed25519") return null;
  return `key type ${info.keyDescription} is not supported (${SUPPORTED})`;
}

const oneLine = (dn: string) => dn.split("\n").filter(Boolean).join(", ");

function certInfo(c: X509Certificate): CertInfo {
  const cn = /^CN=(.*)$/m.exec(c.subject)?.[1] ?? null;
  const sans = (c.subjectAltName ?? "")
    .split(/,\s*/)
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => s.replace(/^IP Address:/, "IP:"));
  return {
    subject: oneLine(c.subject),
    commonName: cn,
    sans,
    issuer: oneLine(c.issuer),
    serial: c.serialNumber.toUpperCase(),
    notBefore: new Date(c.validFrom),
    notAfter: new Date(c.validTo),
    fingerprintSha256: c.fingerprint256,
    isCa: c.ca,
    selfSigned: selfSigned(c),
    ...describeKey(c.publicKey),
  };
}

/** `child` was issued by `parent`: names/key ids link and the signature verifies. */
function issuedBy(child: X509Certificate, parent: X509Certificate): boolean {
  try {
    return child.checkIssued(parent) && child.verify(parent.publicKey);
  } catch {
    return false;
  }
}

/** Signed by its own key. (checkIssued would also demand keyCertSign, which leaves lack.) */
function selfSigned(c: X509Certificate): boolean {
  try {
    return c.subject === c.issuer && c.verify(c.publicKey);
  } catch {
    return false;
  }
}

interface RawMaterial {
  certs: X509Certificate[];
  key: KeyObject | null;
}

function readPem(input: MaterialInput, problems: Problems): RawMaterial {
  const certs: X509Certificate[] = [];
  let keyBlocks: PemBlock[] = [];
  const certBlocks = splitPem(input.certificate ?? "", "certificate", problems);
  for (const b of certBlocks) {
    if (b.type === "CERTIFICATE") continue;
    if (KEY_TYPES.has(b.type) && input.kind === "server" && !input.privateKey?.trim()) {
      keyBlocks.push(b); // a combined PEM (chain + key) pasted into one field
    } else if (KEY_TYPES.has(b.type)) {
      problems.add("certificate", input.kind === "ca" ? "a CA bundle holds certificates only, no private key" : `contains a private key (BEGIN ${b.type}): put it in the private key field only`);
    } else {
      problems.add("certificate", `wrong PEM type "BEGIN ${b.type}": expected BEGIN CERTIFICATE`);
    }
  }
  certBlocks
    .filter((b) => b.type === "CERTIFICATE")
    .forEach((b, i) => {
      try {
        certs.push(new X509Certificate(b.text));
      } catch {
        problems.add("certificate", `certificate ${i + 1} is not a valid X.509 certificate (truncated or corrupted)`);
      }
    });

  if (input.kind === "ca") {
    if (input.privateKey?.trim()) problems.add("privateKey", "a CA bundle takes no private key");
    return { certs, key: null };
  }
  if (input.privateKey?.trim()) keyBlocks = splitPem(input.privateKey, "privateKey", problems);
  else if (keyBlocks.length === 0) problems.add("privateKey", "required: the private key of the certificate");
  const keys: PemBlock[] = [];
  for (const b of keyBlocks) {
    if (KEY_TYPES.has(b.type)) keys.push(b);
    else if (b.type === "EC PARAMETERS") continue; // openssl ecparam writes these before the key
    else if (b.type === "CERTIFICATE") problems.add("privateKey", "this is a certificate, not a private key");
    else if (b.type === "PUBLIC KEY") problems.add("privateKey", "this is a public key: the private key is needed");
    else problems.add("privateKey", `wrong PEM type "BEGIN ${b.type}": expected BEGIN PRIVATE KEY`);
  }
  if (keys.length > 1) problems.add("privateKey", `${keys.length} private keys given: give exactly one`);
  const block = keys[0];
  if (!block || keys.length > 1) return { certs, key: null };
  const encrypted = block.type === "ENCRYPTED PRIVATE KEY" || /Proc-Type:\s*4,ENCRYPTED/.test(block.text);
  if (encrypted && !input.passphrase) {
    problems.add("passphrase", "the private key is encrypted: enter its passphrase");
    return { certs, key: null };
  }
  try {
    const key = createPrivateKey(encrypted ? { key: block.text, format: "pem", passphrase: input.passphrase! } : { key: block.text, format: "pem" });
    return { certs, key };
  } catch (err) {
    const code = (err as { code?: string }).code ?? "";
    if (encrypted && /BAD_DECRYPT|bad decrypt/i.test(code + (err as Error).message)) problems.add("passphrase", "wrong passphrase for the private key");
    else problems.add("privateKey", "not a valid private key (truncated, corrupted or of an unknown type)");
    return { certs, key: null };
  }
}

function readPkcs12(input: MaterialInput, problems: Problems): RawMaterial {
  if (input.certificate?.trim() || input.privateKey?.trim()) {
    problems.add("pkcs12", "give either a PKCS#12 file or PEM certificate and key, not both");
    return { certs: [], key: null };
  }
  const text = input.pkcs12!.replace(/\s+/g, "");
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text)) {
    problems.add("pkcs12", "not base64: a PKCS#12 (.p12/.pfx) file must be sent base64-encoded");
    return { certs: [], key: null };
  }
  let p12: forge.pkcs12.Pkcs12Pfx;
  try {
    const asn = forge.asn1.fromDer(forge.util.createBuffer(Buffer.from(text, "base64").toString("binary")));
    p12 = forge.pkcs12.pkcs12FromAsn1(asn, false, input.passphrase ?? "");
  } catch (err) {
    const msg = (err as Error).message;
    if (/password|MAC could not be verified|decrypt/i.test(msg)) {
      problems.add("passphrase", input.passphrase ? "wrong password for the PKCS#12 file" : "the PKCS#12 file is protected: enter its password");
    } else {
      problems.add("pkcs12", "not a valid PKCS#12 file (truncated, corrupted or not PKCS#12)");
    }
    return { certs: [], key: null };
  }
  const certs: X509Certificate[] = [];
  const keys: KeyObject[] = [];
  const der = (a: forge.asn1.Asn1) => Buffer.from(forge.asn1.toDer(a).getBytes(), "binary");
  try {
    for (const sc of p12.safeContents) {
      for (const bag of sc.safeBags) {
        if (bag.type === forge.pki.oids.certBag) {
          const a = bag.asn1 ?? (bag.cert ? forge.pki.certificateToAsn1(bag.cert) : null);
          if (a) certs.push(new X509Certificate(der(a)));
        } else if (bag.type === forge.pki.oids.keyBag || bag.type === forge.pki.oids.pkcs8ShroudedKeyBag) {
          const a = bag.asn1 ?? (bag.key ? forge.pki.wrapRsaPrivateKey(forge.pki.privateKeyToAsn1(bag.key as forge.pki.rsa.PrivateKey)) : null);
          if (a) keys.push(createPrivateKey({ key: der(a), format: "der", type: "pkcs8" }));
        }
      }
    }
  } catch {
    problems.add("pkcs12", "the PKCS#12 file holds an entry that cannot be read (corrupted?)");
    return { certs: [], key: null };
  }
  if (certs.length === 0) problems.add("pkcs12", "the PKCS#12 file holds no certificate");
  if (input.kind === "server" && keys.length === 0) problems.add("pkcs12", "the PKCS#12 file holds no private key");
  if (keys.length > 1) problems.add("pkcs12", `the PKCS#12 file holds ${keys.length} private keys: give exactly one`);
  if (input.kind === "ca" && keys.length) problems.add("pkcs12", "a CA bundle takes no private key");
  return { certs, key: keys.length === 1 ? keys[0]! : null };
}

const daysBetween = (a: Date, b: Date) => Math.floor((b.getTime() - a.getTime()) / DAY_MS);
const iso = (d: Date) => d.toISOString().slice(0, 10);

/** Orders a server chain from the leaf up; reports foreign certificates and what is missing. */
function orderChain(leaf: X509Certificate, certs: X509Certificate[], problems: Problems) {
  const ordered = [leaf];
  const rest = certs.filter((c) => c !== leaf);
  for (;;) {
    const top = ordered[ordered.length - 1]!;
    if (selfSigned(top)) break;
    const i = rest.findIndex((c) => issuedBy(top, c));
    if (i < 0) break;
    ordered.push(rest.splice(i, 1)[0]!);
  }
  const top = ordered[ordered.length - 1]!;
  const complete = selfSigned(top);
  const missing = complete ? null : `the certificate of "${oneLine(top.issuer)}" (issuer of "${oneLine(top.subject)}")`;
  if (rest.length) {
    const names = rest.map((c) => `"${oneLine(c.subject)}"`).join(", ");
    problems.add(
      "certificate",
      complete
        ? `${names} ${rest.length > 1 ? "do" : "does"} not belong to the chain of "${oneLine(leaf.subject)}": remove ${rest.length > 1 ? "them" : "it"}`
        : `the chain is broken: missing ${missing}, so ${names} cannot be linked to "${oneLine(leaf.subject)}"`,
    );
  }
  return { ordered, complete, missing };
}

/** Parses and validates certificate material. Throws a BAD_REQUEST with field errors. */
export function parseMaterial(input: MaterialInput, now = new Date()): ParsedMaterial {
  const problems = new Problems();
  const raw = input.pkcs12?.trim() ? readPkcs12(input, problems) : readPem(input, problems);
  problems.throwIfAny();
  const warnings: string[] = [];
  let chain: X509Certificate[];
  let complete = true;
  let missing: string | null = null;
  let keyPem: string | null = null;

  if (input.kind === "server") {
    const key = raw.key!;
    const info = describeKey(key);
    const why = unsupportedKey(info);
    if (why) problems.add(input.pkcs12 ? "pkcs12" : "privateKey", why);
    const leaf = raw.certs.find((c) => c.checkPrivateKey(key));
    if (!leaf) {
      const guess = raw.certs.find((c) => !c.ca) ?? raw.certs[0];
      problems.add(
        input.pkcs12 ? "pkcs12" : "privateKey",
        `the private key (${info.keyDescription}) does not match ${raw.certs.length > 1 ? "any certificate of the chain" : "the certificate"}${guess ? ` (leaf "${oneLine(guess.subject)}", ${describeKey(guess.publicKey).keyDescription})` : ""}`,
      );
      problems.throwIfAny();
    }
    const endEntity = raw.certs.find((c) => !c.ca);
    if (leaf!.ca && endEntity) {
      // Usually the CA's key pasted by mistake: name both instead of calling the leaf a stranger.
      problems.add(
        input.pkcs12 ? "pkcs12" : "privateKey",
        `the private key belongs to "${oneLine(leaf!.subject)}", a CA certificate, not to the leaf "${oneLine(endEntity.subject)}"`,
      );
      problems.throwIfAny();
    }
    const o = orderChain(leaf!, raw.certs, problems);
    chain = o.ordered;
    complete = o.complete;
    missing = o.missing;
    if (leaf!.ca) warnings.push("the certificate matching the key is a CA certificate (basicConstraints CA:TRUE)");
    if (!complete && !problems.has()) warnings.push(`the chain stops before its root: not included is ${missing} — fine if that is a root CA clients trust, otherwise add the intermediate`);
    keyPem = key.export({ type: "pkcs8", format: "pem" }).toString();
  } else {
    chain = raw.certs;
    chain.forEach((c, i) => {
      if (!c.ca) problems.add("certificate", `certificate ${i + 1} ("${oneLine(c.subject)}") is not a CA certificate (basicConstraints CA:FALSE)`);
    });
  }

  const infos = chain.map(certInfo);
  const leafInfo = infos[0]!;
  const notBefore = input.kind === "server" ? leafInfo.notBefore : new Date(Math.max(...infos.map((c) => c.notBefore.getTime())));
  const notAfter = input.kind === "server" ? leafInfo.notAfter : new Date(Math.min(...infos.map((c) => c.notAfter.getTime())));
  const expired = notAfter.getTime() <= now.getTime();
  const notYetValid = notBefore.getTime() > now.getTime();
  const certField = input.pkcs12 ? "pkcs12" : "certificate";
  if (expired && !input.allowExpired) {
    problems.add(certField, `expired on ${iso(notAfter)} (${daysBetween(notAfter, now)} days ago): refused unless allowExpired is set`);
  } else if (expired) {
    warnings.push(`expired on ${iso(notAfter)} (stored because allowExpired was set)`);
  }
  if (notYetValid) warnings.push(`not valid yet: valid from ${notBefore.toISOString()}`);
  infos.slice(1).forEach((c) => {
    if (c.notAfter.getTime() <= now.getTime()) warnings.push(`chain certificate "${c.subject}" expired on ${iso(c.notAfter)}`);
  });
  problems.throwIfAny();

  return {
    kind: input.kind,
    leaf: leafInfo,
    chain: infos,
    chainPem: chain.map((c) => c.toString().trim()).join("\n") + "\n",
    chainComplete: complete,
    missing,
    warnings,
    notBefore,
    notAfter,
    expired,
    notYetValid,
    keyPem,
  };
}
