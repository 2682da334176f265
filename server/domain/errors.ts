// Domain errors carry a stable code (mapped once to tRPC/HTTP in server/api/trpc.ts) and,
// for bad input, the offending fields so forms can show them next to the input.
export type DomainErrorCode =
  | "BAD_REQUEST"
  | "UNAUTHORIZED"
  | "FORBIDDEN"
  | "NOT_FOUND"
  | "CONFLICT"
  | "PRECONDITION_FAILED"
  | "TOO_MANY_REQUESTS";

export class DomainError extends Error {
  constructor(
    readonly code: DomainErrorCode,
    message: string,
    readonly fieldErrors?: Record<string, string[]>,
  ) {
    super(message);
    this.name = "DomainError";
  }
}

export const notFound = (what: string) => new DomainError("NOT_FOUND", `${what} not found`);
export const badField = (field: string, message: string) =>
  new DomainError("BAD_REQUEST", message, { [field]: [message] });
export const conflict = (message: string, field?: string) =>
  new DomainError("CONFLICT", message, field ? { [field]: [message] } : undefined);
