"use client";
// Copies a secret to the clipboard; when the clipboard is unavailable the text is selected
// so Ctrl+C works.
import { useRef, useState } from "react";
import { Button } from "./button";

export function SecretWithCopy({ value, label }: { value: string; label: string }) {
  const input = useRef<HTMLInputElement>(null);
  const [state, setState] = useState<"idle" | "copied" | "manual">("idle");
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(value);
      setState("copied");
    } catch {
      input.current?.select();
      setState("manual");
    }
  };
  return (
    <div>
      <div className="flex gap-2">
        <input
          ref={input}
          readOnly
          value={value}
          aria-label={label}
          onFocus={(e) => e.currentTarget.select()}
          className="block w-full min-w-0 rounded-md border-0 bg-slate-900 px-3 py-2 font-mono text-sm text-emerald-300 ring-1 ring-slate-700"
        />
        <Button variant="secondary" onClick={() => void copy()}>
          {state === "copied" ? "Copied" : "Copy"}
        </Button>
      </div>
      <p className="mt-1.5 text-xs text-slate-600" aria-live="polite">
        {state === "copied" && "Copied to the clipboard."}
        {state === "manual" && "The clipboard is not available here: the text is selected, press Ctrl+C (⌘C)."}
      </p>
    </div>
  );
}
