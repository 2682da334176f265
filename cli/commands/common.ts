// Helpers shared by the command modules.
import { InvalidArgumentError, type Command } from "commander";
import type { inferRouterOutputs } from "@trpc/server";
import type { AppRouter } from "../../server/api/root";
import { parseAddress } from "../../lib/ip";
import { Context, type GlobalFlags } from "../client";
import { CliError, EXIT } from "../errors";
import { Output } from "../format";
import type { Protocol } from "../parse";

type Outputs = inferRouterOutputs<AppRouter>;
export type LbView = Outputs["lb"]["get"];
export type LbSummary = Outputs["lb"]["list"][number];

/** Wraps a command action: builds the Context from the global flags and hands over the command. */
export function action(fn: (ctx: Context, cmd: Command) => Promise<void>) {
  return async (...args: unknown[]) => {
    const cmd = args[args.length - 1] as Command;
    const flags = cmd.optsWithGlobals<GlobalFlags>();
    await fn(new Context(flags, new Output(flags.json === true)), cmd);
  };
}

/** Option parser for whole numbers (commander reports it as a usage error). */
export const intOption =
  (what: string, min = Number.MIN_SAFE_INTEGER) =>
  (value: string) => {
    if (!/^-?\d+$/.test(value.trim()) || Number(value) < min) throw new InvalidArgumentError(`${what} must be a whole number${min > 0 ? ` ≥ ${min}` : ""}`);
    return Number(value);
  };

/** Option parser for repeatable options (--tag a=b --tag c=d). */
export const collect = (value: string, previous: string[] | undefined) => [...(previous ?? []), value];

export const expectedRevisionOption = [
  "--expected-revision <n>",
  "fail with a conflict (exit 4) unless the load balancer is still at this revision",
  intOption("revision", 1),
] as const;

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * A load balancer reference as the API takes it: an id or a VIP address pass through; a name is
 * looked up (one list call) for people who remember names, not addresses.
 */
export async function resolveLbRef(ctx: Context, ref: string, tenant: string): Promise<string> {
  const r = ref.trim();
  if (UUID_RE.test(r)) return r;
  const addr = parseAddress(r);
  if (addr) return addr.text;
  const found = await ctx.call((c) => c.lb.list.query({ tenantId: tenant, search: r }));
  const match = found.find((lb) => lb.name === r);
  if (!match) throw new CliError(`no load balancer named "${r}" (give its name, VIP address or id)`, "NOT_FOUND", EXIT.notFound);
  return match.id;
}

/** The pool a listener natural key (protocol, port) points to, in an LB view. */
export function poolOfListener(lb: LbView, protocol: Protocol, port: number) {
  const l = lb.listeners.find((x) => x.protocol === protocol && x.port <= port && port <= (x.portEnd || x.port));
  if (!l) throw new CliError(`no ${protocol} listener on port ${port} of ${lb.address}`, "NOT_FOUND", EXIT.notFound);
  const pool = lb.pools.find((p) => p.name === l.pool);
  if (!pool) throw new CliError(`listener ${l.name} points to a missing pool "${l.pool}"`, "NOT_FOUND", EXIT.notFound);
  return { listener: l, pool };
}
