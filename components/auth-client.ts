"use client";
// Calls to better-auth's endpoints (/api/auth/*), with its error codes turned into messages
// and field errors the forms can show.
import type { FieldErrors } from "./forms";

export class AuthError extends Error {
  constructor(
    message: string,
    readonly fieldErrors: FieldErrors = {},
  ) {
    super(message);
  }
}

const FIELD_OF_CODE: Record<string, string> = {
  USER_ALREADY_EXISTS: "email",
  USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL: "email",
  INVALID_EMAIL: "email",
  PASSWORD_TOO_SHORT: "password",
  PASSWORD_TOO_LONG: "password",
};

async function post(path: string, body: unknown): Promise<void> {
  let res: Response;
  try {
    res = await fetch(`/api/auth/${path}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
      credentials: "same-origin",
    });
  } catch {
    throw new AuthError("cannot reach the server; check your connection and try again");
  }
  if (res.ok) return;
  const data = (await res.json().catch(() => ({}))) as { code?: string; message?: string };
  if (res.status === 429) {
    const wait = res.headers.get("x-retry-after");
    throw new AuthError(`too many attempts; wait ${wait ? `${wait} seconds` : "a minute"} and try again`);
  }
  let message = data.message ?? `request failed (HTTP ${res.status})`;
  if (data.code === "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL" || data.code === "USER_ALREADY_EXISTS") {
    message = "an account with this email already exists; sign in instead";
  }
  const field = data.code ? FIELD_OF_CODE[data.code] : undefined;
  throw new AuthError(message, field ? { [field]: [message] } : {});
}

export const signIn = (input: { email: string; password: string }) => post("sign-in/email", input);
export const signUp = (input: { email: string; name: string; password: string }) => post("sign-up/email", input);
export const signOut = () => post("sign-out", {});
