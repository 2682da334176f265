// Short, readable text for load-balancer objects: "TCP 80, 443 · UDP 53", "198.18.0.1:80".
import { parseAddress } from "@/lib/ip";

export interface ListenerLike {
  protocol: "TCP" | "UDP";
  port: number;
  portEnd: number;
}

export const portsText = (port: number, portEnd: number) => (portEnd > port ? `${port}–${portEnd}` : String(port));

/** Listeners grouped by protocol: "TCP 80, 443 · UDP 53, 5000–5010". */
export function listenersText(listeners: readonly ListenerLike[]): string {
  const by = new Map<string, ListenerLike[]>();
  for (const l of [...listeners].sort((a, b) => a.port - b.port)) {
    const list = by.get(l.protocol);
    if (list) list.push(l);
    else by.set(l.protocol, [l]);
  }
  return [...by.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([proto, ls]) => `${proto} ${ls.map((l) => portsText(l.port, l.portEnd)).join(", ")}`)
    .join(" · ");
}

/** "198.18.0.1:80", "[2001:db8::1]:80". */
export const memberText = (m: { address: string; port: number }) =>
  m.address.includes(":") ? `[${m.address}]:${m.port}` : `${m.address}:${m.port}`;

export const tagsText = (tags: Record<string, string>) =>
  Object.entries(tags)
    .map(([k, v]) => `${k}=${v}`)
    .join(", ");

/** "env=prod, team=web" (commas or new lines) → tags; malformed entries are reported. */
export function parseTags(text: string): { tags: Record<string, string>; errors: string[] } {
  const tags: Record<string, string> = {};
  const errors: string[] = [];
  for (const raw of text.split(/[,\n]/)) {
    const part = raw.trim();
    if (!part) continue;
    const eq = part.indexOf("=");
    if (eq <= 0) {
      errors.push(`“${part}” is not key=value`);
      continue;
    }
    const key = part.slice(0, eq).trim();
    if (key in tags) errors.push(`tag “${key}” is given twice`);
    tags[key] = part.slice(eq + 1).trim();
  }
  return { tags, errors };
}

export interface PastedMember {
  address: string;
  port: string;
  weight: string;
}

/**
 * Lines of "addr:port", "[v6]:port" or "addr port", optionally followed by a weight
 * ("198.18.1.10:8080 50"). Blank lines and # comments are skipped; bad lines are reported.
 */
export function parseMemberLines(text: string): { members: PastedMember[]; errors: string[] } {
  const members: PastedMember[] = [];
  const errors: string[] = [];
  text.split("\n").forEach((raw, i) => {
    const line = raw.replace(/#.*$/, "").trim();
    if (!line) return;
    const m =
      /^\[([0-9a-fA-F:.]+)\]:(\d+)(?:[\s,]+(\d+))?$/.exec(line) ??
      /^([0-9.]+):(\d+)(?:[\s,]+(\d+))?$/.exec(line) ??
      /^([0-9a-fA-F:.]+)[\s,]+(\d+)(?:[\s,]+(\d+))?$/.exec(line);
    if (!m || !parseAddress(m[1]!)) {
      errors.push(`line ${i + 1}: “${line}” is not address:port (e.g. 198.18.1.10:8080 or [2001:db8::10]:8080)`);
      return;
    }
    members.push({ address: m[1]!, port: m[2]!, weight: m[3] ?? "" });
  });
  return { members, errors };
}

export const msText = (ms: number) => (ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`);
