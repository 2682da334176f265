// Rotates the certificate master key: re-wraps every data key from the current master key
// (TENBIN_MASTER_KEY, or the key file in the data dir) to a new one. Idempotent: run it again
// after an interruption, or after servers that still had the old key uploaded something.
//
//   openssl rand -base64 32 > new-master-key
//   npx tsx scripts/rotate-master-key.ts --new-key-file new-master-key
//   (or TENBIN_NEW_MASTER_KEY=… npx tsx scripts/rotate-master-key.ts)
//
// With the embedded PGlite database, stop the server first (one process owns the directory).
import fs from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { loadEnv } from "../server/env";
import { openDatabase } from "../server/db/client";
import { masterKeyFromBase64 } from "../server/domain/certs/envelope";
import { loadMasterKey, masterKeyFile, writeMasterKeyFile } from "../server/domain/certs/master-key";
import { rewrapDataKeys } from "../server/domain/certs/rotate-master";

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { "new-key-file": { type: "string" }, help: { type: "boolean", short: "h" } } });
  if (values.help) {
    console.log("usage: npx tsx scripts/rotate-master-key.ts --new-key-file FILE   (or env TENBIN_NEW_MASTER_KEY)");
    return 0;
  }
  const env = loadEnv();
  const newText = values["new-key-file"] ? fs.readFileSync(values["new-key-file"], "utf8") : env.TENBIN_NEW_MASTER_KEY;
  if (!newText) {
    console.error("no new master key: pass --new-key-file FILE or set TENBIN_NEW_MASTER_KEY (make one with `openssl rand -base64 32`)");
    return 2;
  }
  const to = masterKeyFromBase64(newText);
  if (!env.TENBIN_MASTER_KEY && !fs.existsSync(masterKeyFile(env))) {
    console.error(`no current master key: TENBIN_MASTER_KEY is unset and ${masterKeyFile(env)} does not exist`);
    return 2;
  }
  const from = loadMasterKey(env);
  console.log(`current master key ${from.key.id} (from ${from.source === "environment" ? "TENBIN_MASTER_KEY" : from.file}); new master key ${to.id}`);
  const database = await openDatabase(env.DATABASE_URL ? { url: env.DATABASE_URL } : { dataDir: path.join(env.TENBIN_DATA_DIR, "pglite") });
  try {
    const r = await rewrapDataKeys(database.db, from.key, to, (done, total) => console.log(`re-wrapped ${done}/${total} data keys`));
    console.log(`done: ${r.rewrapped} re-wrapped, ${r.alreadyNew} already under ${to.id}, ${r.total} sealed keys in all`);
  } finally {
    await database.close();
  }
  if (from.source === "environment") {
    console.log("now set TENBIN_MASTER_KEY to the new key on every server and restart them; then run this again to catch stragglers");
  } else if (from.file && from.key.id !== to.id) {
    writeMasterKeyFile(from.file, to);
    console.log(`wrote the new master key to ${from.file}`);
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`rotation failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
