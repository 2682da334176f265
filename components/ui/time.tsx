"use client";
// Times: relative for scanning, exact (ISO, UTC) on hover for precision.
const units: [Intl.RelativeTimeFormatUnit, number][] = [
  ["year", 365 * 86400],
  ["month", 30 * 86400],
  ["day", 86400],
  ["hour", 3600],
  ["minute", 60],
  ["second", 1],
];
const rtf = new Intl.RelativeTimeFormat("en", { numeric: "auto" });

export function relativeTime(date: Date, now = Date.now()): string {
  const diff = (date.getTime() - now) / 1000;
  for (const [unit, secs] of units) {
    if (Math.abs(diff) >= secs || unit === "second") {
      const n = Math.round(diff / secs);
      if (unit === "second" && Math.abs(n) < 10) return "just now";
      return rtf.format(n, unit);
    }
  }
  return date.toISOString();
}

export function Time({ date }: { date: Date }) {
  const iso = date.toISOString();
  return (
    <time dateTime={iso} title={iso.replace("T", " ").replace(/\.\d+Z$/, " UTC")} className="whitespace-nowrap" suppressHydrationWarning>
      {relativeTime(date)}
    </time>
  );
}
