// Envelope encryption of certificate private keys. Each certificate version gets its own random
// data key (AES-256-GCM) that encrypts the key PEM; the data key itself is wrapped (AES-256-GCM)
// by the master key from the environment. Only wrapped keys and ciphertexts reach the database,
// tagged with the id of the master key that wrapped them, so the master key can be rotated by
// re-wrapping data keys without touching the ciphertexts.
import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";

export interface MasterKey {
  /** Public identifier of the key (a hash prefix), stored next to every data key it wraps. */
  id: string;
  key: Buffer;
}

export interface SealedKey {
  /** iv(12) | tag(16) | ciphertext of the private key PEM, base64. */
  keyCiphertext: string;
  /** iv(12) | tag(16) | ciphertext of the data key, base64. */
  wrappedDataKey: string;
  masterKeyId: string;
}

const IV = 12;
const TAG = 16;

/** Parses a base64 master key (exactly 32 bytes). */
export function masterKeyFromBase64(text: string): MasterKey {
  const key = Buffer.from(text.trim(), "base64");
  if (key.length !== 32 || key.toString("base64").replace(/=+$/, "") !== text.trim().replace(/=+$/, "")) {
    throw new Error("a master key must be 32 bytes in base64 (e.g. `openssl rand -base64 32`)");
  }
  return masterKeyFromBytes(key);
}

export function masterKeyFromBytes(key: Buffer): MasterKey {
  if (key.length !== 32) throw new Error("a master key must be 32 bytes");
  const id = "mk-" + createHash("sha256").update("tenbin-master-key-id").update(key).digest("hex").slice(0, 16);
  return { id, key: Buffer.from(key) };
}

export const generateMasterKey = (): MasterKey => masterKeyFromBytes(randomBytes(32));

function seal(key: Buffer, plaintext: Buffer, aad: string): string {
  const iv = randomBytes(IV);
  const c = createCipheriv("aes-256-gcm", key, iv);
  c.setAAD(Buffer.from(aad));
  const ct = Buffer.concat([c.update(plaintext), c.final()]);
  return Buffer.concat([iv, c.getAuthTag(), ct]).toString("base64");
}

function open(key: Buffer, sealed: string, aad: string): Buffer {
  const raw = Buffer.from(sealed, "base64");
  if (raw.length < IV + TAG) throw new Error("sealed value is too short");
  const d = createDecipheriv("aes-256-gcm", key, raw.subarray(0, IV));
  d.setAAD(Buffer.from(aad));
  d.setAuthTag(raw.subarray(IV, IV + TAG));
  return Buffer.concat([d.update(raw.subarray(IV + TAG)), d.final()]);
}

// The associated data binds each ciphertext to its row: a wrapped key copied to another
// certificate version does not decrypt.
const keyAad = (versionId: string) => `tenbin/cert-key/v1/${versionId}`;
const wrapAad = (versionId: string) => `tenbin/data-key/v1/${versionId}`;

/** Encrypts a private key PEM for the certificate version `versionId`. */
export function sealPrivateKey(master: MasterKey, versionId: string, keyPem: string): SealedKey {
  const dataKey = randomBytes(32);
  try {
    return {
      keyCiphertext: seal(dataKey, Buffer.from(keyPem, "utf8"), keyAad(versionId)),
      wrappedDataKey: seal(master.key, dataKey, wrapAad(versionId)),
      masterKeyId: master.id,
    };
  } finally {
    dataKey.fill(0);
  }
}

/** Unwraps a data key (for rotation and decryption). Throws on the wrong master key. */
export function unwrapDataKey(master: MasterKey, versionId: string, sealed: Pick<SealedKey, "wrappedDataKey" | "masterKeyId">): Buffer {
  if (sealed.masterKeyId !== master.id) {
    throw new Error(`data key of version ${versionId} is wrapped by master key ${sealed.masterKeyId}, not ${master.id}`);
  }
  return open(master.key, sealed.wrappedDataKey, wrapAad(versionId));
}

/** Re-wraps one data key under a new master key; the key ciphertext stays as it is. */
export function rewrapDataKey(from: MasterKey, to: MasterKey, versionId: string, sealed: SealedKey): SealedKey {
  const dataKey = unwrapDataKey(from, versionId, sealed);
  try {
    return { ...sealed, wrappedDataKey: seal(to.key, dataKey, wrapAad(versionId)), masterKeyId: to.id };
  } finally {
    dataKey.fill(0);
  }
}

/** Decrypts a private key PEM: only for what an agent serves, never for API output. */
export function openPrivateKey(master: MasterKey, versionId: string, sealed: SealedKey): string {
  const dataKey = unwrapDataKey(master, versionId, sealed);
  try {
    return open(dataKey, sealed.keyCiphertext, keyAad(versionId)).toString("utf8");
  } finally {
    dataKey.fill(0);
  }
}

// The process-wide master key, set at startup (server/services.ts) or by tests. A loader is
// called on first use, so processes that never touch a private key never read or create one.
let current: MasterKey | null = null;
let loader: (() => MasterKey) | null = null;

export function configureMasterKey(key: MasterKey | (() => MasterKey)): void {
  if (typeof key === "function") {
    current = null;
    loader = key;
  } else {
    current = key;
    loader = null;
  }
}

export function currentMasterKey(): MasterKey {
  if (!current && loader) current = loader();
  if (!current) throw new Error("no master key configured (TENBIN_MASTER_KEY)");
  return current;
}
