// Durable agent state in the state directory:
//   desired-state.json — the last desired state from the hub (node, revision, every VIP), so an
//                        agent restarted while the server is unreachable keeps forwarding and
//                        announcing what was last correct (static stability);
//   credential.json    — the node credential obtained with a join token (mode 0600).
// Every write is atomic: temp file in the same directory, fsync, rename, fsync the directory.
import fs from "node:fs";
import path from "node:path";
import { z } from "zod";
import { desiredVip } from "../../server/protocol/agent";

export const persistedState = z.object({
  format: z.literal(1),
  revision: z.number().int().nonnegative(),
  node: z.object({ id: z.string(), name: z.string(), state: z.enum(["active", "cordoned", "draining", "down"]) }).nullable(),
  vips: z.array(desiredVip),
  savedAt: z.number(),
});
export type PersistedState = z.infer<typeof persistedState>;

export const storedCredential = z.object({
  nodeId: z.string(),
  nodeName: z.string(),
  credential: z.string().min(1),
});
export type StoredCredential = z.infer<typeof storedCredential>;

let tempCounter = 0;

/** Writes `data` to `file` atomically with the given mode. */
export function writeFileAtomic(file: string, data: string, mode = 0o600): void {
  const dir = path.dirname(file);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const temp = path.join(dir, `.${path.basename(file)}.${process.pid}.${++tempCounter}.tmp`);
  const fd = fs.openSync(temp, "w", mode);
  try {
    fs.writeSync(fd, data);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  try {
    fs.chmodSync(temp, mode); // umask may have narrowed or widened nothing; be explicit
    fs.renameSync(temp, file);
  } catch (e) {
    fs.rmSync(temp, { force: true });
    throw e;
  }
  const dfd = fs.openSync(dir, "r");
  try {
    fs.fsyncSync(dfd);
  } finally {
    fs.closeSync(dfd);
  }
}

export class StateStore {
  readonly desiredPath: string;
  readonly credentialPath: string;

  constructor(readonly dir: string) {
    this.desiredPath = path.join(dir, "desired-state.json");
    this.credentialPath = path.join(dir, "credential.json");
  }

  /** The persisted desired state, or null (absent, or unreadable: `problem` says why). */
  loadDesired(): { state: PersistedState | null; problem: string | null } {
    let text: string;
    try {
      text = fs.readFileSync(this.desiredPath, "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return { state: null, problem: null };
      return { state: null, problem: `cannot read ${this.desiredPath}: ${(e as Error).message}` };
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      return { state: null, problem: `${this.desiredPath} is not valid JSON; ignoring it` };
    }
    const r = persistedState.safeParse(json);
    if (!r.success) {
      const i = r.error.issues[0]!;
      return { state: null, problem: `${this.desiredPath} is invalid (${i.path.join(".")}: ${i.message}); ignoring it` };
    }
    return { state: r.data, problem: null };
  }

  saveDesired(state: Omit<PersistedState, "format" | "savedAt">): void {
    const full: PersistedState = { format: 1, ...state, savedAt: Date.now() };
    writeFileAtomic(this.desiredPath, JSON.stringify(full));
  }

  loadCredential(): StoredCredential | null {
    try {
      const r = storedCredential.safeParse(JSON.parse(fs.readFileSync(this.credentialPath, "utf8")));
      return r.success ? r.data : null;
    } catch {
      return null;
    }
  }

  saveCredential(c: StoredCredential): void {
    writeFileAtomic(this.credentialPath, JSON.stringify(c), 0o600);
  }
}
