// The typed tRPC client and the per-invocation context every command receives.
import { createTRPCClient, httpLink, type TRPCClient } from "@trpc/client";
import superjson from "superjson";
import type { AppRouter } from "../server/api/root";
import { CliError, EXIT, toCliError, usageError } from "./errors";
import { resolveSettings, type Settings } from "./config";
import type { Output } from "./format";

export type ApiClient = TRPCClient<AppRouter>;

/** How long one API call may take before the server counts as not answering. */
const REQUEST_TIMEOUT_MS = 30_000;

export function createApiClient(url: string, headers: Record<string, string>): ApiClient {
  return createTRPCClient<AppRouter>({
    links: [
      httpLink({
        url: `${url}/api/trpc`,
        transformer: superjson,
        headers,
        fetch: (input, init) => {
          const timeout = AbortSignal.timeout(REQUEST_TIMEOUT_MS);
          const signal = init?.signal ? AbortSignal.any([init.signal, timeout]) : timeout;
          return fetch(input, { ...init, signal } as RequestInit);
        },
      }),
    ],
  });
}

export type Me = NonNullable<Awaited<ReturnType<ApiClient["me"]["get"]["query"]>>>;

/** me.get answers null for a refused token; tokens.list then tells why (revoked, expired…). */
export async function whoIs(client: ApiClient, url: string): Promise<Me> {
  let me: Me | null;
  try {
    me = await client.me.get.query();
  } catch (err) {
    throw toCliError(err, url);
  }
  if (me) return me;
  try {
    await client.tokens.list.query();
  } catch (err) {
    const e = toCliError(err, url);
    if (e.exitCode === EXIT.auth) throw new CliError(`the server refused the token: ${e.message}`, e.code, EXIT.auth);
    throw e;
  }
  throw new CliError("the server refused the token", "UNAUTHORIZED", EXIT.auth);
}

export interface GlobalFlags {
  json?: boolean;
  url?: string;
  token?: string;
  tenant?: string;
}

/** Everything a command needs: settings, output, and lazily the client and the tenant. */
export class Context {
  readonly settings: Settings;
  private apiClient: ApiClient | null = null;
  private tenantRef: string | null = null;

  constructor(
    flags: GlobalFlags,
    readonly out: Output,
  ) {
    this.settings = resolveSettings(flags);
  }

  get url(): string {
    if (!this.settings.url) {
      throw new CliError(
        "no server URL: pass --url, set TENBIN_URL, or run `tenbin configure` / `tenbin login`",
        "UNAUTHORIZED",
        EXIT.auth,
      );
    }
    return this.settings.url;
  }

  get client(): ApiClient {
    if (this.apiClient) return this.apiClient;
    const url = this.url;
    if (!this.settings.token) {
      throw new CliError(
        "not signed in: pass --token, set TENBIN_TOKEN, or run `tenbin login` / `tenbin configure`",
        "UNAUTHORIZED",
        EXIT.auth,
      );
    }
    this.apiClient = createApiClient(url, { authorization: `Bearer ${this.settings.token}` });
    return this.apiClient;
  }

  /** Runs one API call, turning any failure into a CliError with the right exit code. */
  async call<T>(fn: (client: ApiClient) => Promise<T>): Promise<T> {
    const client = this.client;
    try {
      return await fn(client);
    } catch (err) {
      throw toCliError(err, this.settings.url);
    }
  }

  /**
   * The tenant to act in: --tenant / TENBIN_TENANT / config file, or else the caller's only
   * tenant (asking the server once).
   */
  async tenant(): Promise<string> {
    if (this.settings.tenant) return this.settings.tenant;
    if (this.tenantRef) return this.tenantRef;
    const me = await whoIs(this.client, this.url);
    if (me.tenants.length === 1) {
      this.tenantRef = me.tenants[0]!.slug;
      return this.tenantRef;
    }
    if (me.tenants.length === 0) throw usageError(`${me.email} is not a member of any tenant; pass --tenant SLUG`);
    throw usageError(
      `${me.email} belongs to several tenants; pass --tenant (one of: ${me.tenants.map((t) => t.slug).join(", ")})`,
    );
  }
}
