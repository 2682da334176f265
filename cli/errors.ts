// CLI errors and the one mapping from failures (API errors, bad input, network) to exit codes.
import { TRPCClientError } from "@trpc/client";
import type { ZodError } from "zod";

export const EXIT = {
  ok: 0,
  unexpected: 1,
  usage: 2,
  notFound: 3,
  conflict: 4,
  auth: 5,
  unreachable: 6,
} as const;

export const EXIT_CODES_HELP = `Exit codes:
  0  ok
  1  unexpected error
  2  usage error or invalid input (bad flags, client-side validation, BAD_REQUEST)
  3  not found (load balancer, listener, pool or member)
  4  conflict or precondition failed (stale revision, duplicate, quota, in use, deletion protection)
  5  not signed in, token refused, or forbidden
  6  server unreachable or not answering`;

export type FieldErrors = Record<string, string[]>;

/** A failure with a clear one-line message, an API-style code and the process exit code. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly exitCode: number,
    readonly fieldErrors: FieldErrors | null = null,
  ) {
    super(message);
  }
}

export const usageError = (message: string, fieldErrors: FieldErrors | null = null) =>
  new CliError(message, "BAD_REQUEST", EXIT.usage, fieldErrors);

/** Client-side validation failure from one of the shared zod schemas. */
export function invalidInput(err: ZodError, prefix = ""): CliError {
  const fieldErrors: FieldErrors = {};
  for (const issue of err.issues) {
    const key = [prefix, ...issue.path.map(String)].filter(Boolean).join(".") || "_";
    (fieldErrors[key] ??= []).push(issue.message);
  }
  const summary = Object.entries(fieldErrors)
    .map(([k, v]) => `${k}: ${v.join(", ")}`)
    .join("; ");
  return new CliError(`invalid input: ${summary}`, "BAD_REQUEST", EXIT.usage, fieldErrors);
}

const EXIT_BY_CODE: Record<string, number> = {
  BAD_REQUEST: EXIT.usage,
  PARSE_ERROR: EXIT.usage,
  UNPROCESSABLE_CONTENT: EXIT.usage,
  PAYLOAD_TOO_LARGE: EXIT.usage,
  NOT_FOUND: EXIT.notFound,
  CONFLICT: EXIT.conflict,
  PRECONDITION_FAILED: EXIT.conflict,
  TOO_MANY_REQUESTS: EXIT.conflict,
  UNAUTHORIZED: EXIT.auth,
  FORBIDDEN: EXIT.auth,
  TIMEOUT: EXIT.unreachable,
};

const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ETIMEDOUT",
  "EPIPE",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_SOCKET",
  "UND_ERR_HEADERS_TIMEOUT",
]);

/** Walks an error's `cause` chain looking for a network failure (refused, DNS, reset, timeout). */
function networkFailure(err: unknown): string | null {
  for (let e = err, depth = 0; e && depth < 6; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && NETWORK_CODES.has(code)) return code;
    const name = (e as { name?: unknown }).name;
    if (name === "TimeoutError" || name === "AbortError") return "timeout";
    // fetch() failing before any answer (blocked port, TLS failure…): report the innermost reason.
    if (e instanceof TypeError && e.message === "fetch failed") {
      let inner: unknown = e;
      while ((inner as { cause?: unknown }).cause) inner = (inner as { cause?: unknown }).cause;
      const code = (inner as { code?: unknown }).code;
      if (typeof code === "string" && NETWORK_CODES.has(code)) return code;
      return inner instanceof Error && inner !== e ? inner.message : "fetch failed";
    }
  }
  return null;
}

/** Turns anything thrown while talking to the server into a CliError. */
export function toCliError(err: unknown, url: string | null): CliError {
  if (err instanceof CliError) return err;
  const net = networkFailure(err);
  if (net) {
    const why = net === "timeout" ? "did not answer in time" : `is unreachable (${net})`;
    return new CliError(`server ${url ?? ""} ${why}`.replace("  ", " "), "UNREACHABLE", EXIT.unreachable);
  }
  if (err instanceof TRPCClientError) {
    const data = (err as TRPCClientError<never>).data as
      | { code?: string; httpStatus?: number; fieldErrors?: FieldErrors | null }
      | undefined;
    const code = data?.code;
    if (code) {
      return new CliError(err.message, code, EXIT_BY_CODE[code] ?? EXIT.unexpected, data?.fieldErrors ?? null);
    }
    // No tRPC error shape: the URL answered, but not as a Tenbin API (wrong URL, proxy page).
    return new CliError(
      `${url ?? "the server"} did not answer as a Tenbin API (${err.message}); check --url`,
      "BAD_RESPONSE",
      EXIT.unexpected,
    );
  }
  const message = err instanceof Error ? err.message : String(err);
  return new CliError(message, "INTERNAL", EXIT.unexpected);
}
