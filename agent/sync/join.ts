// The node credential: given in the config, or stored in the state directory, or obtained once
// by exchanging a one-time join token at POST /api/agent/join ({joinToken, agentVersion} →
// {nodeId, nodeName, credential}) and then stored (mode 0600) so the token is never needed again.
import { z } from "zod";
import type { StateStore, StoredCredential } from "./state-store";

const joinResponse = z.object({ nodeId: z.string(), nodeName: z.string(), credential: z.string().min(1) });

export class JoinError extends Error {
  constructor(
    message: string,
    /** False when retrying cannot help (the token was refused). */
    readonly retryable: boolean,
  ) {
    super(message);
    this.name = "JoinError";
  }
}

export interface CredentialSource {
  serverUrl: string;
  credential?: string;
  joinToken?: string;
  agentVersion: string;
  store: StateStore;
  fetch?: typeof fetch;
}

/** The join endpoint for a server base URL (http(s); ws(s) are mapped to http(s)). */
export function joinUrl(serverUrl: string): string {
  const u = new URL(serverUrl);
  if (u.protocol === "ws:") u.protocol = "http:";
  if (u.protocol === "wss:") u.protocol = "https:";
  u.pathname = "/api/agent/join";
  u.search = "";
  return u.toString();
}

export async function exchangeJoinToken(src: CredentialSource & { joinToken: string }): Promise<StoredCredential> {
  const doFetch = src.fetch ?? fetch;
  let res: Response;
  try {
    res = await doFetch(joinUrl(src.serverUrl), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ joinToken: src.joinToken, agentVersion: src.agentVersion }),
      signal: AbortSignal.timeout(15_000),
    });
  } catch (e) {
    throw new JoinError(`join: cannot reach ${joinUrl(src.serverUrl)}: ${(e as Error).message}`, true);
  }
  const text = await res.text();
  if (!res.ok) {
    const refused = res.status === 400 || res.status === 401 || res.status === 403 || res.status === 404;
    throw new JoinError(`join refused (HTTP ${res.status}): ${text.slice(0, 300)}`, !refused);
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new JoinError("join: the server's answer is not JSON", true);
  }
  const parsed = joinResponse.safeParse(body);
  if (!parsed.success) throw new JoinError("join: the server's answer lacks nodeId, nodeName or credential", true);
  return parsed.data;
}

/**
 * Returns the credential to authenticate with: the configured one, else the stored one, else
 * one obtained with the join token (stored before it is returned).
 */
export async function obtainCredential(src: CredentialSource): Promise<string> {
  if (src.credential) return src.credential;
  const stored = src.store.loadCredential();
  if (stored) return stored.credential;
  if (!src.joinToken) throw new JoinError("no node credential: set one in the config, or a join token to obtain one", false);
  const c = await exchangeJoinToken({ ...src, joinToken: src.joinToken });
  src.store.saveCredential(c);
  return c.credential;
}
