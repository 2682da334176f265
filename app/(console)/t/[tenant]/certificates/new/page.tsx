"use client";
// Upload a certificate (chain + key, PEM or PKCS#12) or a CA bundle. "Check" parses it first and
// shows what Tenbin read; nothing is stored until "Upload".
import { useMutation } from "@tanstack/react-query";
import { useRouter } from "next/navigation";
import { useState } from "react";
import { ChainView, ExpiryBadge, MaterialFields, emptyMaterial, materialInput } from "@/components/certs/parts";
import { describeError, type FieldErrors } from "@/components/forms";
import { useTenant } from "@/components/shell/tenant";
import { useTRPC } from "@/components/trpc";
import { Button } from "@/components/ui/button";
import { Alert } from "@/components/ui/feedback";
import { Card, PageHeader } from "@/components/ui/layout";

export default function UploadCertificatePage() {
  const tenant = useTenant();
  const trpc = useTRPC();
  const router = useRouter();
  const [name, setName] = useState("");
  const [kind, setKind] = useState<"server" | "ca">("server");
  const [values, setValues] = useState(emptyMaterial);
  const [error, setError] = useState<{ message: string; fieldErrors: FieldErrors } | null>(null);
  const inspect = useMutation(trpc.certs.inspect.mutationOptions());
  const upload = useMutation(trpc.certs.upload.mutationOptions());
  const input = () => ({ tenantId: tenant.id, kind, ...materialInput(values) });

  const check = () => {
    setError(null);
    inspect.mutate(input(), { onError: (e) => setError(describeError(e)) });
  };
  const submit = () => {
    setError(null);
    upload.mutate(
      { ...input(), name },
      {
        onSuccess: (c) => router.push(`/t/${encodeURIComponent(tenant.slug)}/certificates/${encodeURIComponent(c.name)}`),
        onError: (e) => setError(describeError(e)),
      },
    );
  };
  const preview = inspect.data;
  return (
    <>
      <PageHeader title="Upload certificate" description="Validated before anything is stored; the private key is encrypted at rest and never shown again." />
      <div className="grid gap-6 lg:grid-cols-2">
        <Card title="Material">
          <form
            className="space-y-4"
            onSubmit={(e) => {
              e.preventDefault();
              submit();
            }}
          >
            <div>
              <label htmlFor="cert-name" className="block text-sm font-medium text-slate-800">
                Name
              </label>
              <input
                id="cert-name"
                value={name}
                onChange={(e) => setName(e.target.value)}
                className="mt-1.5 block w-full rounded-md border-0 px-3 py-2 text-sm ring-1 ring-inset ring-slate-300 focus:ring-2 focus:ring-indigo-600"
              />
              {error?.fieldErrors.name && <p className="mt-1.5 text-xs text-red-700">{error.fieldErrors.name.join("; ")}</p>}
            </div>
            <fieldset className="flex gap-4 text-sm">
              <legend className="sr-only">Kind</legend>
              <label className="flex items-center gap-2">
                <input type="radio" checked={kind === "server"} onChange={() => setKind("server")} /> Certificate with private key
              </label>
              <label className="flex items-center gap-2">
                <input type="radio" checked={kind === "ca"} onChange={() => setKind("ca")} /> CA bundle
              </label>
            </fieldset>
            <MaterialFields kind={kind} values={values} onChange={setValues} errors={error?.fieldErrors ?? {}} />
            {error && <Alert>{error.message}</Alert>}
            <div className="flex gap-2">
              <Button type="button" variant="secondary" onClick={check} loading={inspect.isPending}>
                Check
              </Button>
              <Button type="submit" loading={upload.isPending}>
                Upload
              </Button>
            </div>
          </form>
        </Card>
        <Card title="What Tenbin reads" description="Press Check to parse without storing.">
          {preview ? (
            <div className="space-y-3" data-testid="cert-preview">
              <ExpiryBadge state={preview.state} daysLeft={preview.daysLeft} notYetValid={preview.notYetValid} />
              <ChainView chain={preview.chain} missing={preview.missing} warnings={preview.warnings} />
            </div>
          ) : (
            <p className="text-sm text-slate-500">Nothing checked yet.</p>
          )}
        </Card>
      </div>
    </>
  );
}
