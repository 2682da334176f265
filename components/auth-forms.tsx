"use client";
// Sign-in and sign-up forms (better-auth email + password), validated as you type with the
// same schemas as the server.
import { useQuery, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { useRouter } from "next/navigation";
import { useEffect, useState } from "react";
import { z } from "zod";
import { PASSWORD_MIN, signInInput, signUpInput } from "@/lib/schemas";
import { signIn, signUp } from "./auth-client";
import { useZodForm } from "./forms";
import { useTRPC } from "./trpc";
import { Button } from "./ui/button";
import { Alert } from "./ui/feedback";
import { TextField } from "./ui/field";

/** Where to go after signing in: the page that sent us here, if it is one of ours. */
function returnPath(): string {
  const next = new URLSearchParams(window.location.search).get("next");
  return next && next.startsWith("/") && !next.startsWith("//") ? next : "/";
}

/** Already signed in: skip the form. */
function useRedirectWhenSignedIn() {
  const trpc = useTRPC();
  const router = useRouter();
  const me = useQuery(trpc.me.get.queryOptions());
  useEffect(() => {
    if (me.data) router.replace(returnPath());
  }, [me.data, router]);
}

function useAfterAuth() {
  const router = useRouter();
  const queryClient = useQueryClient();
  return async () => {
    // Everything cached so far belongs to "signed out".
    await queryClient.resetQueries();
    router.replace(returnPath());
  };
}

export function SignInForm() {
  useRedirectWhenSignedIn();
  const afterAuth = useAfterAuth();
  const [pending, setPending] = useState(false);
  const form = useZodForm(signInInput, { email: "", password: "" });
  const onSubmit = form.submit((data) => {
    setPending(true);
    signIn(data)
      .then(afterAuth)
      .catch((err: unknown) => {
        form.showServerError(err);
        setPending(false);
      });
  });
  return (
    <>
      <h1 className="text-lg font-semibold text-slate-900">Sign in</h1>
      <p className="mt-1 text-sm text-slate-500">to the Tenbin console</p>
      <form ref={form.formRef} onSubmit={onSubmit} noValidate className="mt-6 space-y-4">
        {form.formError && <Alert>{form.formError}</Alert>}
        <TextField label="Email" type="email" autoComplete="username" autoFocus field={form.field("email")} />
        <TextField label="Password" type="password" autoComplete="current-password" field={form.field("password")} />
        <Button type="submit" className="w-full" loading={pending}>
          Sign in
        </Button>
      </form>
      <p className="mt-6 text-center text-sm text-slate-500">
        No account yet?{" "}
        <Link href="/sign-up" className="font-medium text-indigo-700 hover:underline">
          Sign up
        </Link>
      </p>
    </>
  );
}

const signUpForm = signUpInput
  .extend({ confirm: z.string() })
  .refine((v) => v.password === v.confirm, { message: "the passwords do not match", path: ["confirm"] });

export function SignUpForm() {
  useRedirectWhenSignedIn();
  const afterAuth = useAfterAuth();
  const [pending, setPending] = useState(false);
  const form = useZodForm(signUpForm, { name: "", email: "", password: "", confirm: "" });
  const onSubmit = form.submit(({ name, email, password }) => {
    setPending(true);
    signUp({ name, email, password })
      .then(afterAuth)
      .catch((err: unknown) => {
        form.showServerError(err);
        setPending(false);
      });
  });
  return (
    <>
      <h1 className="text-lg font-semibold text-slate-900">Create your account</h1>
      <p className="mt-1 text-sm text-slate-500">An admin adds you to your team&apos;s tenant afterwards.</p>
      <form ref={form.formRef} onSubmit={onSubmit} noValidate className="mt-6 space-y-4">
        {form.formError && <Alert>{form.formError}</Alert>}
        <TextField label="Name" autoComplete="name" autoFocus field={form.field("name")} />
        <TextField label="Email" type="email" autoComplete="email" field={form.field("email")} />
        <TextField
          label="Password"
          type="password"
          autoComplete="new-password"
          hint={`At least ${PASSWORD_MIN} characters, letters mixed with digits or symbols.`}
          field={form.field("password")}
        />
        <TextField label="Confirm password" type="password" autoComplete="new-password" field={form.field("confirm")} />
        <Button type="submit" className="w-full" loading={pending}>
          Create account
        </Button>
      </form>
      <p className="mt-6 text-center text-sm text-slate-500">
        Have an account?{" "}
        <Link href="/sign-in" className="font-medium text-indigo-700 hover:underline">
          Sign in
        </Link>
      </p>
    </>
  );
}
