"use client";
// Labelled inputs with their errors announced and linked (aria-describedby).
import { useId, type InputHTMLAttributes, type ReactNode, type SelectHTMLAttributes } from "react";
import type { FieldProps } from "../forms";
import { cx } from "./cx";

const control =
  "block w-full rounded-md border-0 bg-white px-3 py-2 text-sm text-slate-900 shadow-sm ring-1 ring-inset placeholder:text-slate-400 focus:ring-2 focus:ring-inset focus:outline-none disabled:bg-slate-50 disabled:text-slate-500";

function Errors({ id, errors }: { id: string; errors: string[] | undefined }) {
  if (!errors?.length) return null;
  return (
    <p id={id} className="mt-1.5 text-xs text-red-700" data-field-error>
      {errors.join("; ")}
    </p>
  );
}

export function TextField({
  label,
  hint,
  field,
  className,
  ...input
}: Omit<InputHTMLAttributes<HTMLInputElement>, "name" | "value" | "onChange" | "onBlur"> & {
  label: string;
  hint?: ReactNode;
  field: FieldProps;
}) {
  const id = useId();
  const invalid = Boolean(field.errors?.length);
  const describedBy = [hint ? `${id}-hint` : null, invalid ? `${id}-error` : null].filter(Boolean).join(" ") || undefined;
  return (
    <div className={className}>
      <label htmlFor={id} className="block text-sm font-medium text-slate-800">
        {label}
      </label>
      <input
        id={id}
        name={field.name}
        value={field.value}
        onChange={field.onChange}
        onBlur={field.onBlur}
        aria-invalid={invalid || undefined}
        aria-describedby={describedBy}
        className={cx(control, "mt-1.5", invalid ? "ring-red-400 focus:ring-red-600" : "ring-slate-300 focus:ring-indigo-600")}
        {...input}
      />
      {hint && !invalid && (
        <p id={`${id}-hint`} className="mt-1.5 text-xs text-slate-500">
          {hint}
        </p>
      )}
      <Errors id={`${id}-error`} errors={field.errors} />
    </div>
  );
}

export function SelectField({
  label,
  field,
  options,
  className,
  ...select
}: Omit<SelectHTMLAttributes<HTMLSelectElement>, "name" | "value" | "onChange" | "onBlur"> & {
  label: string;
  field: FieldProps;
  options: readonly { value: string; label: string }[];
}) {
  const id = useId();
  const invalid = Boolean(field.errors?.length);
  return (
    <div className={className}>
      <label htmlFor={id} className="block text-sm font-medium text-slate-800">
        {label}
      </label>
      <select
        id={id}
        name={field.name}
        value={field.value}
        onChange={field.onChange}
        onBlur={field.onBlur}
        aria-invalid={invalid || undefined}
        aria-describedby={invalid ? `${id}-error` : undefined}
        className={cx(control, "mt-1.5 pr-8", invalid ? "ring-red-400" : "ring-slate-300 focus:ring-indigo-600")}
        {...select}
      >
        {options.map((o) => (
          <option key={o.value} value={o.value}>
            {o.label}
          </option>
        ))}
      </select>
      <Errors id={`${id}-error`} errors={field.errors} />
    </div>
  );
}

/** A bare select for inline use (tables), labelled for screen readers. */
export function InlineSelect({
  label,
  className,
  children,
  ...select
}: SelectHTMLAttributes<HTMLSelectElement> & { label: string }) {
  return (
    <select aria-label={label} className={cx(control, "w-auto min-w-[7.5rem] py-1.5 pr-8 ring-slate-300 focus:ring-indigo-600", className)} {...select}>
      {children}
    </select>
  );
}
