// Drafts of load-balancer objects as the forms hold them (text as typed), their conversion to
// API input, and validation as you type: the shared zod schemas (lib/lb-schemas.ts) plus the
// same cross-object rules the server applies to a whole tree (overlapping ports, duplicate
// members, listeners naming missing pools...). Errors are keyed by the API's field paths
// ("listeners.1.port", "pools.0.members.3.port") so server errors land on the same inputs.
import type { z } from "zod";
import type { ALL_DOWN_POLICIES, AFFINITIES, MEMBER_STATES, MONITOR_TYPES, PROTOCOLS } from "@/lib/lb-schemas";
import type { FieldErrors } from "../forms";
import { memberText, parseTags } from "./format";

export type Protocol = (typeof PROTOCOLS)[number];
export type MonitorType = (typeof MONITOR_TYPES)[number];
export type MemberState = (typeof MEMBER_STATES)[number];
export type Affinity = (typeof AFFINITIES)[number];
export type AllDownPolicy = (typeof ALL_DOWN_POLICIES)[number];

let seq = 0;
/** Stable React keys for rows that can be added and removed. */
export const newKey = () => `k${++seq}`;

export interface MemberDraft {
  key: string;
  address: string;
  port: string;
  weight: string;
  adminState: MemberState;
}

export interface MonitorDraft {
  type: MonitorType | "none";
  intervalMs: string;
  timeoutMs: string;
  rise: string;
  fall: string;
  port: string;
  method: "GET" | "HEAD" | "OPTIONS";
  path: string;
  host: string;
  expectedCodes: string;
  /** HTTPS: "off" (any certificate), "system" (system CAs) or "ca" (a CA certificate of the tenant). */
  tlsVerify: "off" | "system" | "ca";
  /** Id or name of the CA certificate when tlsVerify is "ca". */
  caCertificate: string;
  sni: string;
}

export interface PoolDraft {
  key: string;
  name: string;
  members: MemberDraft[];
  monitor: MonitorDraft;
  minKind: "count" | "percent";
  minValue: string;
  allDownPolicy: AllDownPolicy;
}

export interface ListenerDraft {
  key: string;
  protocol: Protocol;
  port: string;
  portEnd: string;
  pool: string;
  allowedCidrs: string;
  affinity: Affinity;
}

export interface BasicsDraft {
  name: string;
  description: string;
  addressMode: "auto" | "requested";
  address: string;
  family: "4" | "6";
  replicas: string;
  tags: string;
  deletionProtection: boolean;
}

export interface LbDraft {
  basics: BasicsDraft;
  pools: PoolDraft[];
  listeners: ListenerDraft[];
}

export const emptyMember = (): MemberDraft => ({ key: newKey(), address: "", port: "", weight: "100", adminState: "enabled" });

export const defaultMonitor = (): MonitorDraft => ({
  type: "TCP",
  intervalMs: "5000",
  timeoutMs: "2000",
  rise: "2",
  fall: "3",
  port: "",
  method: "GET",
  path: "/",
  host: "",
  expectedCodes: "200",
  tlsVerify: "off",
  caCertificate: "",
  sni: "",
});

export const emptyPool = (name = "web"): PoolDraft => ({
  key: newKey(),
  name,
  members: [emptyMember()],
  monitor: defaultMonitor(),
  minKind: "count",
  minValue: "1",
  allDownPolicy: "withdraw",
});

export const emptyListener = (pool = ""): ListenerDraft => ({
  key: newKey(),
  protocol: "TCP",
  port: "",
  portEnd: "",
  pool,
  allowedCidrs: "",
  affinity: "5-tuple",
});

export const emptyLbDraft = (): LbDraft => ({
  basics: {
    name: "",
    description: "",
    addressMode: "auto",
    address: "",
    family: "4",
    replicas: "2",
    tags: "",
    deletionProtection: false,
  },
  pools: [emptyPool()],
  listeners: [emptyListener("web")],
});

// ---- drafts → API input ------------------------------------------------------------------------

/** Typed text → number; empty or malformed text becomes NaN, which the schema reports. */
const num = (s: string) => (/^\s*-?\d+(\.\d+)?\s*$/.test(s) ? Number(s) : Number.NaN);
const optNum = (s: string) => (s.trim() === "" ? undefined : num(s));

export const cidrList = (s: string) =>
  s
    .split(/[\s,]+/)
    .map((c) => c.trim())
    .filter(Boolean);

export function memberInput(m: MemberDraft) {
  return { address: m.address, port: num(m.port), weight: m.weight.trim() === "" ? 100 : num(m.weight), adminState: m.adminState };
}

export function monitorInput(m: MonitorDraft) {
  if (m.type === "none") return null;
  const http = m.type === "HTTP" || m.type === "HTTPS";
  return {
    type: m.type,
    intervalMs: num(m.intervalMs),
    timeoutMs: num(m.timeoutMs),
    rise: num(m.rise),
    fall: num(m.fall),
    port: optNum(m.port) ?? null,
    http: http
      ? { method: m.method, path: m.path, ...(m.host.trim() ? { host: m.host.trim() } : {}), expectedCodes: m.expectedCodes }
      : null,
    tls: m.type === "HTTPS" ? tlsInput(m) : null,
  };
}

function tlsInput(m: MonitorDraft) {
  const sni = m.sni.trim() ? { sni: m.sni.trim() } : {};
  if (m.tlsVerify === "off") return m.sni.trim() ? { verify: false, ...sni } : null;
  return { verify: true, ...sni, ...(m.tlsVerify === "ca" ? { caCertificate: m.caCertificate } : {}) };
}

export function poolSettingsInput(p: Pick<PoolDraft, "minKind" | "minValue" | "allDownPolicy">) {
  return { minHealthy: { kind: p.minKind, value: num(p.minValue) }, allDownPolicy: p.allDownPolicy };
}

export function poolInput(p: PoolDraft) {
  return { name: p.name, members: p.members.map(memberInput), monitor: monitorInput(p.monitor), ...poolSettingsInput(p) };
}

export function listenerInput(l: ListenerDraft) {
  const portEnd = optNum(l.portEnd);
  return {
    protocol: l.protocol,
    port: num(l.port),
    ...(portEnd !== undefined ? { portEnd } : {}),
    pool: l.pool,
    allowedCidrs: cidrList(l.allowedCidrs),
    affinity: l.affinity,
  };
}

export function lbInput(tenantId: string, d: LbDraft, idempotencyKey?: string) {
  const b = d.basics;
  return {
    tenantId,
    name: b.name,
    description: b.description,
    ...(b.addressMode === "requested" ? { address: b.address } : { family: Number(b.family) as 4 | 6 }),
    replicas: num(b.replicas),
    deletionProtection: b.deletionProtection,
    tags: parseTags(b.tags).tags,
    pools: d.pools.map(poolInput),
    listeners: d.listeners.map(listenerInput),
    ...(idempotencyKey ? { idempotencyKey } : {}),
  };
}

// ---- validation ----------------------------------------------------------------------------------

/** zod issues → field errors keyed by path, with friendlier words for numbers left blank. */
export function zodErrors(error: z.ZodError, prefix = ""): FieldErrors {
  const out: FieldErrors = {};
  for (const issue of error.issues) {
    const key = prefix + (issue.path.map(String).join(".") || "_");
    let message = issue.message;
    if (issue.code === "invalid_type" && /number/.test(message)) message = "enter a whole number";
    (out[key] ??= []).push(message);
  }
  return out;
}

export function mergeErrors(...all: FieldErrors[]): FieldErrors {
  const out: FieldErrors = {};
  for (const errs of all) for (const [k, v] of Object.entries(errs)) (out[k] ??= []).push(...v);
  return out;
}

/** The server's cross-object rules, checked as you type (the server checks them again). */
export function treeErrors(d: LbDraft): FieldErrors {
  const out: FieldErrors = {};
  const add = (k: string, m: string) => (out[k] ??= []).push(m);
  const tags = parseTags(d.basics.tags);
  if (tags.errors.length) add("tags", tags.errors.join("; "));

  const poolNames = new Map<string, number>();
  d.pools.forEach((p, i) => {
    const name = p.name.trim();
    if (name && poolNames.has(name)) add(`pools.${i}.name`, `duplicate pool name “${name}”`);
    poolNames.set(name, i);
    const seen = new Map<string, number>();
    p.members.forEach((m, j) => {
      const key = `${m.address.trim().toLowerCase()}|${m.port.trim()}`;
      if (!m.address.trim() || !m.port.trim()) return;
      const first = seen.get(key);
      if (first !== undefined) add(`pools.${i}.members.${j}`, `duplicate member ${memberText({ address: m.address.trim(), port: Number(m.port) })} (also member ${first + 1})`);
      else seen.set(key, j);
    });
    const min = num(p.minValue);
    if (p.minKind === "count" && Number.isFinite(min) && min > Math.max(p.members.length, 1)) {
      add(`pools.${i}.minHealthy`, `minimum healthy ${min} is more than the pool's ${p.members.length} members`);
    }
  });

  d.listeners.forEach((l, i) => {
    if (l.pool && !poolNames.has(l.pool)) add(`listeners.${i}.pool`, `no pool named “${l.pool}”`);
    const a = num(l.port);
    const aEnd = optNum(l.portEnd) ?? a;
    if (!Number.isFinite(a) || !Number.isFinite(aEnd)) return;
    d.listeners.forEach((o, j) => {
      if (j >= i || o.protocol !== l.protocol) return;
      const b = num(o.port);
      const bEnd = optNum(o.portEnd) ?? b;
      if (Number.isFinite(b) && Number.isFinite(bEnd) && a <= bEnd && b <= aEnd) {
        add(`listeners.${i}.port`, `${l.protocol} ${a === aEnd ? `port ${a}` : `ports ${a}-${aEnd}`} overlaps listener ${j + 1} (${b === bEnd ? b : `${b}-${bEnd}`})`);
      }
    });
  });

  d.pools.forEach((p, i) => {
    const users = d.listeners.filter((l) => l.pool === p.name);
    const udpOnly = users.length > 0 && users.every((l) => l.protocol === "UDP");
    if (p.monitor.type !== "none" && p.monitor.type !== "ICMP" && udpOnly && !p.monitor.port.trim()) {
      add(`pools.${i}.monitor.port`, `a ${p.monitor.type} monitor on a UDP-only pool needs a check port`);
    }
  });
  return out;
}

/** Which wizard step a field path belongs to: 0 basics, 1 pools, 2 listeners. */
export function stepOf(path: string): number {
  if (path.startsWith("pools")) return 1;
  if (path.startsWith("listeners")) return 2;
  return 0;
}

/**
 * Errors of a path and (for rows) of the whole row: "pools.0.members.3" collects the row's own
 * error; inputs use their exact path.
 */
export function errorsAt(errors: FieldErrors, path: string): string[] | undefined {
  const e = errors[path];
  return e?.length ? e : undefined;
}

/**
 * Server errors about one object of a tree ("listeners.4.port", "pools.2.monitor.port") re-keyed
 * for a form that edits just that object ("port", "monitor.port").
 */
export function rebaseErrors(errors: FieldErrors, kind: "listeners" | "pools" | "listener" | "pool"): FieldErrors {
  const out: FieldErrors = {};
  const re = new RegExp(`^(?:${kind === "listener" || kind === "listeners" ? "listeners\\.\\d+|listener" : "pools\\.\\d+|pool"})\\.(.+)$`);
  for (const [k, v] of Object.entries(errors)) {
    const m = re.exec(k);
    (out[m ? m[1]! : k] ??= []).push(...v);
  }
  return out;
}
