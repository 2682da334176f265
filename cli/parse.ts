// Parsing of command-line values and member files into the API's input shapes. Validation of
// the values themselves reuses the shared zod schemas (lib/lb-schemas) so the CLI refuses
// exactly what the server would refuse, before any request.
import fs from "node:fs";
import { z } from "zod";
import { memberKeySchema, memberSchema, PROTOCOLS } from "../lib/lb-schemas";
import { invalidInput, usageError } from "./errors";

export type Protocol = (typeof PROTOCOLS)[number];

export function parseProtocol(text: string): Protocol {
  const p = text.trim().toUpperCase();
  if (!(PROTOCOLS as readonly string[]).includes(p)) throw usageError(`protocol must be TCP or UDP, not "${text}"`);
  return p as Protocol;
}

export function parsePortNumber(text: string, what = "port"): number {
  const t = text.trim();
  if (!/^\d{1,5}$/.test(t) || Number(t) < 1 || Number(t) > 65535) throw usageError(`${what} must be a number 1–65535, not "${text}"`);
  return Number(t);
}

/** "80" or "8000-8010". */
export function parsePortRange(text: string): { port: number; portEnd?: number } {
  const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(text);
  if (!m) throw usageError(`ports must be a port (80) or a range (8000-8010), not "${text}"`);
  const port = parsePortNumber(m[1]!);
  if (m[2] === undefined) return { port };
  return { port, portEnd: parsePortNumber(m[2], "last port") };
}

export function parseInteger(text: string, what: string): number {
  const t = text.trim();
  if (!/^-?\d+$/.test(t)) throw usageError(`${what} must be a whole number, not "${text}"`);
  return Number(t);
}

/** ["env=prod", "team=web", "canary"] → {env: "prod", team: "web", canary: ""}. */
export function parseTags(items: string[]): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const item of items) {
    const i = item.indexOf("=");
    const key = (i < 0 ? item : item.slice(0, i)).trim();
    if (!key) throw usageError(`a tag is key=value, not "${item}"`);
    tags[key] = i < 0 ? "" : item.slice(i + 1);
  }
  return tags;
}

/** "198.18.0.5:80" or "[2001:db8::5]:80" → {address, port}. */
export function parseHostPort(text: string): { address: string; port: number } {
  const t = text.trim();
  const v6 = /^\[([^\]]+)\]:(\d+)$/.exec(t);
  if (v6) return { address: v6[1]!, port: parsePortNumber(v6[2]!, `port of ${t}`) };
  const parts = t.split(":");
  if (parts.length > 2) throw usageError(`write IPv6 members with brackets, e.g. [2001:db8::5]:80, not "${t}"`);
  if (parts.length !== 2 || !parts[0]) throw usageError(`a member is ADDRESS:PORT (e.g. 198.18.0.5:80), not "${t}"`);
  return { address: parts[0], port: parsePortNumber(parts[1]!, `port of ${t}`) };
}

/** A member as written in a file or on the command line, before validation. */
export type RawMember = Record<string, unknown> & { address: unknown; port: unknown };

/**
 * Members from a file: a JSON array of member objects ({address, port, weight?, adminState?,
 * monitorAddress?, monitorPort?}), or text/CSV with one `address,port[,weight]` per line
 * (commas or spaces; `#` starts a comment; an `address,port,weight` header line is skipped).
 */
export function parseMembersText(text: string, name: string): RawMember[] {
  const trimmed = text.trim();
  if (trimmed.startsWith("[") || trimmed.startsWith("{")) {
    let raw: unknown;
    try {
      raw = JSON.parse(trimmed);
    } catch (err) {
      throw usageError(`${name} is not valid JSON: ${(err as Error).message}`);
    }
    const members = Array.isArray(raw) ? raw : (raw as { members?: unknown }).members;
    if (!Array.isArray(members)) throw usageError(`${name}: expected a JSON array of members ([{"address": …, "port": …}])`);
    return members.map((m, i) => {
      if (!m || typeof m !== "object") throw usageError(`${name}: member ${i + 1} is not an object`);
      return m as RawMember;
    });
  }
  const members: RawMember[] = [];
  text.split(/\r?\n/).forEach((rawLine, i) => {
    const line = rawLine.replace(/#.*/, "").trim();
    if (!line) return;
    const cols = line.split(/\s*,\s*|\s+/).filter((c) => c !== "");
    if (members.length === 0 && /^address$/i.test(cols[0] ?? "")) return; // header
    const where = `${name} line ${i + 1}`;
    if (cols.length < 2 || cols.length > 3) throw usageError(`${where}: expected address,port[,weight], got "${line}"`);
    const address = cols[0]!.replace(/^\[(.*)\]$/, "$1");
    const member: RawMember = { address, port: parsePortNumber(cols[1]!, `${where}: port`) };
    if (cols[2] !== undefined) member.weight = parseInteger(cols[2], `${where}: weight`);
    members.push(member);
  });
  return members;
}

export function readTextFile(file: string): string {
  try {
    return fs.readFileSync(file === "-" ? 0 : file, "utf8");
  } catch (err) {
    throw usageError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/** Members named on the command line plus those in --file, with a default weight. */
export function collectMembers(args: string[], file: string | undefined, weight: number | undefined): RawMember[] {
  const members: RawMember[] = args.map((a) => parseHostPort(a));
  if (file) members.push(...parseMembersText(readTextFile(file), file === "-" ? "stdin" : file));
  if (weight !== undefined) for (const m of members) m.weight ??= weight;
  return members;
}

const memberList = z.array(memberSchema).max(1000, "at most 1000 members per call");
const memberKeyList = z.array(memberKeySchema).max(1000, "at most 1000 members per call");

/** Full members (add, set), validated with the API's own schema. */
export function validateMembers(raw: RawMember[]): z.input<typeof memberSchema>[] {
  const r = memberList.safeParse(raw);
  if (!r.success) throw invalidInput(r.error, "members");
  return r.data;
}

/** Member keys (remove, enable, disable, drain): only address and port matter. */
export function validateMemberKeys(raw: RawMember[]): { address: string; port: number }[] {
  const r = memberKeyList.safeParse(raw.map((m) => ({ address: m.address, port: m.port })));
  if (!r.success) throw invalidInput(r.error, "members");
  return r.data;
}
