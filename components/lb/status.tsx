// Status badges for the three axes of ARCHITECTURE §2, always with their reason next to them:
// a status without a reason is what users of other LBaaS products complain about most.
import { cx } from "../ui/cx";
import { Badge, type BadgeTone } from "../ui/layout";

const provisioningTone: Record<string, BadgeTone> = {
  ACTIVE: "green",
  PENDING_CREATE: "amber",
  PENDING_UPDATE: "amber",
  PENDING_DELETE: "amber",
  ERROR: "red",
};
const operatingTone: Record<string, BadgeTone> = {
  ONLINE: "green",
  DEGRADED: "amber",
  ERROR: "red",
  OFFLINE: "slate",
  NO_MONITOR: "slate",
  DRAINING: "violet",
  INITIAL: "indigo",
  UNKNOWN: "slate",
};

export const statusTone = (axis: "provisioning" | "operating", status: string): BadgeTone =>
  (axis === "provisioning" ? provisioningTone : operatingTone)[status] ?? "slate";

/** A badge with its reason: on a second line (`layout="stack"`) or after it (`inline`). */
export function StatusWithReason({
  axis,
  status,
  reason,
  layout = "stack",
  truncate = false,
}: {
  axis: "provisioning" | "operating";
  status: string;
  reason: string;
  layout?: "stack" | "inline";
  truncate?: boolean;
}) {
  return (
    <div className={cx("min-w-0", layout === "inline" && "flex flex-wrap items-baseline gap-x-2 gap-y-1")} data-status={status}>
      <span title={reason}>
        <Badge tone={statusTone(axis, status)}>{status}</Badge>
      </span>
      {reason && (
        <p
          className={cx("text-xs text-slate-500", layout === "stack" && "mt-1", truncate && "max-w-[16rem] truncate")}
          title={reason}
        >
          {reason}
        </p>
      )}
    </div>
  );
}

export function AdminStateBadge({ state }: { state: "enabled" | "disabled" | "draining" }) {
  const tone: BadgeTone = state === "enabled" ? "green" : state === "draining" ? "violet" : "slate";
  return <Badge tone={tone}>{state}</Badge>;
}

export function TagList({ tags }: { tags: Record<string, string> }) {
  const entries = Object.entries(tags);
  if (!entries.length) return <span className="text-slate-400">—</span>;
  return (
    <ul className="flex flex-wrap gap-1" aria-label="Tags">
      {entries.map(([k, v]) => (
        <li key={k} className="rounded bg-slate-100 px-1.5 py-0.5 font-mono text-[11px] text-slate-700 ring-1 ring-inset ring-slate-200">
          {k}={v}
        </li>
      ))}
    </ul>
  );
}
