// Where the master key comes from: TENBIN_MASTER_KEY, else a key generated once into the data
// directory (fine for development; production should pass the key from a secret store).
import fs from "node:fs";
import path from "node:path";
import type { Env } from "../../env";
import { type MasterKey, generateMasterKey, masterKeyFromBase64 } from "./envelope";

export const MASTER_KEY_FILE = "master-key";

export interface LoadedMasterKey {
  key: MasterKey;
  source: "environment" | "data-dir" | "generated";
  file: string | null;
}

export function masterKeyFile(env: Pick<Env, "TENBIN_DATA_DIR">): string {
  return path.join(env.TENBIN_DATA_DIR, MASTER_KEY_FILE);
}

export function loadMasterKey(env: Pick<Env, "TENBIN_MASTER_KEY" | "TENBIN_DATA_DIR">): LoadedMasterKey {
  if (env.TENBIN_MASTER_KEY) {
    try {
      return { key: masterKeyFromBase64(env.TENBIN_MASTER_KEY), source: "environment", file: null };
    } catch (err) {
      throw new Error(`TENBIN_MASTER_KEY: ${(err as Error).message}`);
    }
  }
  const file = masterKeyFile(env);
  let text: string | null = null;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch {
    // not there yet: generated below
  }
  if (text !== null) {
    try {
      return { key: masterKeyFromBase64(text), source: "data-dir", file };
    } catch (err) {
      throw new Error(`${file}: ${(err as Error).message}`);
    }
  }
  fs.mkdirSync(env.TENBIN_DATA_DIR, { recursive: true });
  const key = generateMasterKey();
  fs.writeFileSync(file, key.key.toString("base64") + "\n", { mode: 0o600, flag: "wx" });
  return { key, source: "generated", file };
}

/** Replaces the key file in the data dir atomically (after a rotation). */
export function writeMasterKeyFile(file: string, key: MasterKey): void {
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, key.key.toString("base64") + "\n", { mode: 0o600 });
  fs.renameSync(tmp, file);
}
