"use client";
// Certificate building blocks: the expiry badge, the parsed chain, and the material form
// (paste or drop PEM files, or pick a PKCS#12 bundle) shared by upload and rotate.
import { useId, useState, type DragEvent, type ReactNode } from "react";
import type { RouterOutputs } from "@/components/trpc";
import type { FieldErrors } from "@/components/forms";
import { Badge, type BadgeTone } from "@/components/ui/layout";
import { cx } from "@/components/ui/cx";

type CertInfo = RouterOutputs["certs"]["get"]["chain"][number];

const stateTone: Record<string, BadgeTone> = { valid: "green", expiring: "amber", expired: "red" };

export function ExpiryBadge({ state, daysLeft, notYetValid }: { state: string; daysLeft: number; notYetValid?: boolean }) {
  const text = state === "expired" ? `expired ${-daysLeft}d ago` : `${state} · ${daysLeft}d left`;
  return (
    <span className="inline-flex flex-wrap gap-1" data-testid="expiry-badge">
      <Badge tone={stateTone[state] ?? "slate"}>{text}</Badge>
      {notYetValid && <Badge tone="amber">not yet valid</Badge>}
    </span>
  );
}

const day = (d: Date) => d.toISOString().slice(0, 10);

export function ChainView({ chain, missing, warnings }: { chain: CertInfo[]; missing: string | null; warnings: string[] }) {
  return (
    <div className="space-y-3">
      <ol className="space-y-2" aria-label="Certificate chain">
        {chain.map((c, i) => (
          <li key={c.fingerprintSha256} className="rounded-md border border-slate-200 p-3 text-sm" style={{ marginLeft: `${i * 1}rem` }}>
            <div className="flex flex-wrap items-center gap-2">
              <span className="font-medium text-slate-900">{c.subject}</span>
              <Badge tone={i === 0 ? "indigo" : "slate"}>{i === 0 ? "leaf" : c.selfSigned ? "root" : "intermediate"}</Badge>
              {c.isCa && <Badge>CA</Badge>}
            </div>
            <dl className="mt-2 grid grid-cols-[8rem_1fr] gap-x-3 gap-y-1 text-xs text-slate-600">
              <dt>Issuer</dt>
              <dd>{c.selfSigned ? "self-signed" : c.issuer}</dd>
              {c.sans.length > 0 && (
                <>
                  <dt>SANs</dt>
                  <dd>{c.sans.join(", ")}</dd>
                </>
              )}
              <dt>Valid</dt>
              <dd>
                {day(c.notBefore)} → {day(c.notAfter)}
              </dd>
              <dt>Key</dt>
              <dd>{c.keyDescription}</dd>
              <dt>Serial</dt>
              <dd className="break-all font-mono">{c.serial}</dd>
              <dt>SHA-256</dt>
              <dd className="break-all font-mono">{c.fingerprintSha256}</dd>
            </dl>
          </li>
        ))}
      </ol>
      {missing && !warnings.some((w) => w.includes(missing)) && <p className="text-xs text-amber-800">Not included: {missing}</p>}
      {warnings.map((w) => (
        <p key={w} className="text-xs text-amber-800">
          ⚠ {w}
        </p>
      ))}
    </div>
  );
}

export interface MaterialValues {
  certificate: string;
  privateKey: string;
  pkcs12: string;
  pkcs12Name: string;
  passphrase: string;
  allowExpired: boolean;
}
export const emptyMaterial: MaterialValues = { certificate: "", privateKey: "", pkcs12: "", pkcs12Name: "", passphrase: "", allowExpired: false };

/** The API input for the values (only what was given). */
export function materialInput(v: MaterialValues) {
  return {
    ...(v.pkcs12 ? { pkcs12: v.pkcs12 } : { certificate: v.certificate, ...(v.privateKey.trim() ? { privateKey: v.privateKey } : {}) }),
    ...(v.passphrase ? { passphrase: v.passphrase } : {}),
    allowExpired: v.allowExpired,
  };
}

const readBase64 = async (file: File) => {
  const bytes = new Uint8Array(await file.arrayBuffer());
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
};

function Errors({ list }: { list: string[] | undefined }) {
  if (!list?.length) return null;
  return (
    <p className="mt-1.5 text-xs text-red-700" data-field-error>
      {list.join("; ")}
    </p>
  );
}

function PemArea({ label, hint, value, onChange, errors, placeholder }: { label: string; hint: ReactNode; value: string; onChange: (v: string) => void; errors: string[] | undefined; placeholder: string }) {
  const id = useId();
  const [over, setOver] = useState(false);
  const onDrop = (e: DragEvent) => {
    e.preventDefault();
    setOver(false);
    const file = e.dataTransfer.files[0];
    if (file) void file.text().then(onChange);
  };
  return (
    <div>
      <label htmlFor={id} className="block text-sm font-medium text-slate-800">
        {label}
      </label>
      <textarea
        id={id}
        value={value}
        onChange={(e) => onChange(e.target.value)}
        onDragOver={(e) => {
          e.preventDefault();
          setOver(true);
        }}
        onDragLeave={() => setOver(false)}
        onDrop={onDrop}
        rows={6}
        spellCheck={false}
        placeholder={placeholder}
        aria-invalid={errors?.length ? true : undefined}
        className={cx(
          "mt-1.5 block w-full rounded-md border-0 px-3 py-2 font-mono text-xs ring-1 ring-inset focus:ring-2",
          over ? "bg-indigo-50 ring-indigo-500" : errors?.length ? "ring-red-400" : "ring-slate-300 focus:ring-indigo-600",
        )}
      />
      {!errors?.length && <p className="mt-1.5 text-xs text-slate-500">{hint}</p>}
      <Errors list={errors} />
    </div>
  );
}

export function MaterialFields({
  kind,
  values,
  onChange,
  errors,
}: {
  kind: "server" | "ca";
  values: MaterialValues;
  onChange: (v: MaterialValues) => void;
  errors: FieldErrors;
}) {
  const set = (patch: Partial<MaterialValues>) => onChange({ ...values, ...patch });
  const p12Id = useId();
  const passId = useId();
  return (
    <div className="space-y-4">
      {!values.pkcs12 && (
        <PemArea
          label={kind === "ca" ? "CA certificates (PEM)" : "Certificate chain (PEM)"}
          hint="Paste or drop the PEM file here. Any order: the chain is put in order for you."
          value={values.certificate}
          onChange={(certificate) => set({ certificate })}
          errors={errors.certificate}
          placeholder="-----BEGIN CERTIFICATE-----"
        />
      )}
      {kind === "server" && !values.pkcs12 && (
        <PemArea
          label="Private key (PEM)"
          hint="Stored encrypted; never shown again. An encrypted key needs its passphrase below."
          value={values.privateKey}
          onChange={(privateKey) => set({ privateKey })}
          errors={errors.privateKey}
          placeholder="-----BEGIN PRIVATE KEY-----"
        />
      )}
      {kind === "server" && (
        <div>
          <label htmlFor={p12Id} className="block text-sm font-medium text-slate-800">
            …or a PKCS#12 file (.p12, .pfx)
          </label>
          <input
            id={p12Id}
            type="file"
            accept=".p12,.pfx,application/x-pkcs12"
            className="mt-1.5 block text-sm"
            onChange={(e) => {
              const file = e.target.files?.[0];
              if (!file) return set({ pkcs12: "", pkcs12Name: "" });
              void readBase64(file).then((pkcs12) => set({ pkcs12, pkcs12Name: file.name }));
            }}
          />
          {values.pkcs12Name && <p className="mt-1 text-xs text-slate-500">Using {values.pkcs12Name} instead of PEM.</p>}
          <Errors list={errors.pkcs12} />
        </div>
      )}
      {kind === "server" && (
        <div>
          <label htmlFor={passId} className="block text-sm font-medium text-slate-800">
            Passphrase (encrypted key or PKCS#12)
          </label>
          <input
            id={passId}
            type="password"
            autoComplete="off"
            value={values.passphrase}
            onChange={(e) => set({ passphrase: e.target.value })}
            className="mt-1.5 block w-full max-w-sm rounded-md border-0 px-3 py-2 text-sm ring-1 ring-inset ring-slate-300 focus:ring-2 focus:ring-indigo-600"
          />
          <Errors list={errors.passphrase} />
        </div>
      )}
      <label className="flex items-center gap-2 text-sm text-slate-700">
        <input type="checkbox" checked={values.allowExpired} onChange={(e) => set({ allowExpired: e.target.checked })} />
        Store it even if it has expired
      </label>
    </div>
  );
}
