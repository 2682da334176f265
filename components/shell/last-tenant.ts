"use client";
// The tenant the user last worked in, remembered per browser so "/" and the account pages
// come back to it.
import { useSyncExternalStore } from "react";

const KEY = "tenbin:last-tenant";
const listeners = new Set<() => void>();

export function rememberTenant(slug: string) {
  try {
    if (localStorage.getItem(KEY) === slug) return;
    localStorage.setItem(KEY, slug);
  } catch {
    return; // storage disabled: nothing to remember
  }
  for (const l of listeners) l();
}

export function readLastTenant(): string | null {
  try {
    return localStorage.getItem(KEY);
  } catch {
    return null;
  }
}

export function useLastTenant(): string | null {
  return useSyncExternalStore(
    (onChange) => {
      listeners.add(onChange);
      window.addEventListener("storage", onChange);
      return () => {
        listeners.delete(onChange);
        window.removeEventListener("storage", onChange);
      };
    },
    readLastTenant,
    () => null,
  );
}
