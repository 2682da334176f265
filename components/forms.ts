"use client";
// Form state with validation as you type: the same zod schemas as the server (lib/schemas.ts),
// plus the server's own field errors (tRPC `error.data.fieldErrors`) shown next to the inputs.
import { TRPCClientError } from "@trpc/client";
import { useCallback, useMemo, useRef, useState, type FormEvent } from "react";
import type { z } from "zod";

export type FieldErrors = Record<string, string[]>;

/** A readable message and per-field errors from anything a mutation can throw. */
export function describeError(error: unknown): { message: string; fieldErrors: FieldErrors } {
  if (error instanceof TRPCClientError) {
    const data = error.data as { fieldErrors?: FieldErrors | null; httpStatus?: number } | undefined;
    const fieldErrors = data?.fieldErrors ?? {};
    let message = error.message;
    // Bad JSON or a proxy's HTML page: say what happened rather than a parser error.
    if (!data && /JSON|Unexpected token/i.test(message)) message = "the server answered with something unexpected; try again";
    if (/Failed to fetch|NetworkError/i.test(message)) message = "cannot reach the server; check your connection and try again";
    return { message, fieldErrors };
  }
  if (error instanceof Error) {
    const fieldErrors = (error as Error & { fieldErrors?: FieldErrors }).fieldErrors ?? {};
    return { message: error.message, fieldErrors };
  }
  return { message: String(error), fieldErrors: {} };
}

/** The tRPC error code of a failed query (e.g. NOT_FOUND), if any. */
export function errorCode(error: unknown): string | undefined {
  if (error instanceof TRPCClientError) return (error.data as { code?: string } | undefined)?.code;
  return undefined;
}

function zodFieldErrors(error: z.ZodError): FieldErrors {
  const out: FieldErrors = {};
  for (const issue of error.issues) {
    const key = issue.path.map(String).join(".") || "_";
    (out[key] ??= []).push(issue.message);
  }
  return out;
}

type Values = Record<string, string | boolean>;

export interface FieldProps {
  name: string;
  value: string;
  onChange: (e: { target: { value: string } }) => void;
  onBlur: () => void;
  errors: string[] | undefined;
}

/**
 * Controlled form bound to a zod schema. Errors show for a field once it was left (blur) or
 * the form was submitted, and update as you type; server field errors show until that field
 * changes. `submit` only calls `onValid` with the parsed (trimmed, lower-cased...) data.
 */
export function useZodForm<TValues extends Values, TOut>(schema: z.ZodType<TOut>, initial: TValues) {
  const [values, setValues] = useState<TValues>(initial);
  const [touched, setTouched] = useState<Record<string, boolean>>({});
  const [submitted, setSubmitted] = useState(false);
  const [serverErrors, setServerErrors] = useState<FieldErrors>({});
  const [formError, setFormError] = useState<string | null>(null);
  const formRef = useRef<HTMLFormElement>(null);

  const parsed = useMemo(() => schema.safeParse(values), [schema, values]);
  const clientErrors = useMemo(() => (parsed.success ? {} : zodFieldErrors(parsed.error)), [parsed]);

  const errorsFor = useCallback(
    (name: string): string[] | undefined => {
      const server = serverErrors[name];
      if (server?.length) return server;
      if (touched[name] || submitted) return clientErrors[name];
      return undefined;
    },
    [serverErrors, touched, submitted, clientErrors],
  );

  const set = useCallback(<K extends keyof TValues>(name: K, value: TValues[K]) => {
    setValues((v) => ({ ...v, [name]: value }));
    setServerErrors((e) => {
      if (!(name in e)) return e;
      const { [name as string]: _gone, ...rest } = e;
      return rest;
    });
  }, []);

  const field = (name: keyof TValues & string): FieldProps => ({
    name,
    value: String(values[name] ?? ""),
    onChange: (e) => set(name, e.target.value as TValues[typeof name]),
    onBlur: () => setTouched((t) => (t[name] ? t : { ...t, [name]: true })),
    errors: errorsFor(name),
  });

  /** Shows a failed mutation: field errors next to inputs, the message above the form. */
  const showServerError = (error: unknown) => {
    const { message, fieldErrors } = describeError(error);
    setServerErrors(fieldErrors);
    setFormError(message);
  };

  const reset = (next: TValues = initial) => {
    setValues(next);
    setTouched({});
    setSubmitted(false);
    setServerErrors({});
    setFormError(null);
  };

  const submit = (onValid: (data: TOut) => void) => (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    setSubmitted(true);
    setFormError(null);
    if (!parsed.success) {
      // Move focus to the first field that needs attention, for keyboard and screen-reader users.
      const first = Object.keys(clientErrors)[0];
      const el = first ? formRef.current?.querySelector<HTMLElement>(`[name="${CSS.escape(first)}"]`) : null;
      el?.focus();
      return;
    }
    setServerErrors({});
    onValid(parsed.data);
  };

  return { values, set, field, submit, formRef, formError, setFormError, showServerError, reset, errorsFor };
}
