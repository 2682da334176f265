// Assertions shared by the API tests: a call fails with this tRPC code (and message), and the
// field errors the API would return for it.
import { expect } from "vitest";
import { TRPCError } from "@trpc/server";
import { ZodError } from "zod";

export async function expectCode(p: Promise<unknown>, code: TRPCError["code"], message?: RegExp): Promise<TRPCError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err, `expected ${code}`).toBeInstanceOf(TRPCError);
  expect((err as TRPCError).code, (err as Error).message).toBe(code);
  if (message) expect((err as TRPCError).message).toMatch(message);
  return err as TRPCError;
}

/** Field errors as the API returns them (data.fieldErrors): from zod issues or a domain error. */
export function fieldErrors(e: TRPCError): Record<string, string[]> {
  if (e.cause instanceof ZodError) {
    const out: Record<string, string[]> = {};
    for (const i of e.cause.issues) (out[i.path.join(".")] ??= []).push(i.message);
    return out;
  }
  return (e.cause as { fieldErrors?: Record<string, string[]> } | undefined)?.fieldErrors ?? {};
}
