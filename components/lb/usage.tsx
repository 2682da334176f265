// A used / limit line with a bar (quotas, IP pools).
import { cx } from "../ui/cx";

export function Usage({ label, used, max }: { label: string; used: number; max: number }) {
  const pct = max > 0 ? Math.min(100, Math.round((used / max) * 100)) : used > 0 ? 100 : 0;
  return (
    <div>
      <div className="flex justify-between text-sm">
        <span className="text-slate-700">{label}</span>
        <span className="tabular-nums text-slate-900" aria-label={`${label}: ${used} of ${max}`}>
          {used} / {max}
        </span>
      </div>
      <div className="mt-1 h-2 overflow-hidden rounded-full bg-slate-100" role="presentation">
        <div className={cx("h-full rounded-full", pct >= 90 ? "bg-red-500" : pct >= 70 ? "bg-amber-500" : "bg-indigo-500")} style={{ width: `${pct}%` }} />
      </div>
    </div>
  );
}
