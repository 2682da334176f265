// Helpers shared by the platform inventory pages.
import { z } from "zod";

/** A number typed into a text input: digits only, then the real rule (e.g. asnSchema). */
export const wholeNumberText = (what = "a whole number") =>
  z
    .string()
    .trim()
    .regex(/^\d+$/, what)
    .transform(Number);

/** "12 s ago", "3 min ago", "2 h ago", "5 d ago"; null = never. */
export function ago(date: Date | null, now = Date.now()): string {
  if (!date) return "never";
  const s = Math.max(0, Math.round((now - date.getTime()) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}
