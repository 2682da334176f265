// tenbin listener create|delete|list  and  tenbin pool create|delete|list
import { Option, type Command } from "commander";
import { AFFINITIES, ALL_DOWN_POLICIES, MONITOR_TYPES, lbNameSchema, listenerSchema, poolSchema } from "../../lib/lb-schemas";
import type { Context } from "../client";
import { invalidInput, usageError } from "../errors";
import { ports } from "../format";
import { parsePortNumber, parsePortRange, parseProtocol } from "../parse";
import { listenersTable, poolsTable } from "../views";
import { action, collect, expectedRevisionOption, intOption, resolveLbRef } from "./common";

const revision = (n: number | undefined) => (n ? { expectedRevision: n } : {});

function checkName(name: string, what: string): string {
  const r = lbNameSchema.safeParse(name);
  if (!r.success) throw invalidInput(r.error, what);
  return r.data;
}

async function target(ctx: Context, ref: string) {
  const tenantId = await ctx.tenant();
  return { tenantId, lb: await resolveLbRef(ctx, ref, tenantId) };
}

export function registerListenerCommands(program: Command) {
  const listener = program.command("listener").description("listeners: a protocol and port (or range) of a VIP, sent to a pool");

  listener
    .command("create")
    .description("add a listener to a load balancer")
    .argument("<lb>", "load balancer: VIP address, id or name")
    .addOption(new Option("--protocol <protocol>", "TCP or UDP").makeOptionMandatory())
    .requiredOption("--port <port|range>", "a port (80) or a range (8000-8010)")
    .requiredOption("--pool <name>", "pool of this load balancer that receives the traffic")
    .option("--allow <cidr>", "allowed source CIDR (repeatable; default: any)", collect)
    .addOption(new Option("--affinity <affinity>", "flow affinity").choices(AFFINITIES))
    .option("--name <name>", 'listener name (default e.g. "tcp-80")')
    .option("--disabled", "create it administratively disabled")
    .option(...expectedRevisionOption)
    .action(
      action(async (ctx, cmd) => {
        const [ref] = cmd.processedArgs as [string];
        const o = cmd.opts<{
          protocol: string;
          port: string;
          pool: string;
          allow?: string[];
          affinity?: string;
          name?: string;
          disabled?: boolean;
          expectedRevision?: number;
        }>();
        const parsed = listenerSchema.safeParse({
          protocol: parseProtocol(o.protocol),
          ...parsePortRange(o.port),
          pool: o.pool,
          ...(o.allow ? { allowedCidrs: o.allow } : {}),
          ...(o.affinity ? { affinity: o.affinity } : {}),
          ...(o.name ? { name: o.name } : {}),
          ...(o.disabled ? { adminEnabled: false } : {}),
        });
        if (!parsed.success) throw invalidInput(parsed.error, "listener");
        const view = await ctx.call(async (c) =>
          c.listeners.create.mutate({ ...(await target(ctx, ref)), listener: parsed.data, ...revision(o.expectedRevision) }),
        );
        const l = parsed.data;
        const created = view.listeners.find((x) => x.protocol === l.protocol && x.port === l.port);
        ctx.out.result(view, () => {
          ctx.out.line(
            `created listener ${created?.name ?? ""} on ${view.address}: ${l.protocol} ${ports(l.port, l.portEnd ?? l.port)} → pool ${l.pool} (revision ${view.revision})`,
          );
        });
      }),
    );

  listener
    .command("delete")
    .description("remove a listener")
    .argument("<lb>", "load balancer: VIP address, id or name")
    .argument("<name>", 'listener name, e.g. "tcp-80"')
    .option(...expectedRevisionOption)
    .action(
      action(async (ctx, cmd) => {
        const [ref, name] = cmd.processedArgs as [string, string];
        const o = cmd.opts<{ expectedRevision?: number }>();
        const listenerName = checkName(name, "name");
        const view = await ctx.call(async (c) =>
          c.listeners.delete.mutate({ ...(await target(ctx, ref)), name: listenerName, ...revision(o.expectedRevision) }),
        );
        ctx.out.result(view, () => ctx.out.line(`deleted listener ${listenerName} of ${view.address} (revision ${view.revision})`));
      }),
    );

  listener
    .command("list")
    .description("list a load balancer's listeners")
    .argument("<lb>", "load balancer: VIP address, id or name")
    .action(
      action(async (ctx, cmd) => {
        const [ref] = cmd.processedArgs as [string];
        const view = await ctx.call(async (c) => c.lb.get.query(await target(ctx, ref)));
        ctx.out.result(view.listeners, () => ctx.out.line(listenersTable(view)));
      }),
    );
}

interface PoolOpts {
  monitor?: string;
  intervalMs?: number;
  timeoutMs?: number;
  rise?: number;
  fall?: number;
  monitorPort?: string;
  httpMethod?: string;
  httpPath?: string;
  httpHost?: string;
  expectedCodes?: string;
  minHealthy?: string;
  allDown?: string;
  expectedRevision?: number;
}

function minHealthy(text: string) {
  const m = /^\s*(\d+)\s*(%?)\s*$/.exec(text);
  if (!m) throw usageError(`--min-healthy is a count (2) or a percentage (50%), not "${text}"`);
  return { kind: m[2] ? ("percent" as const) : ("count" as const), value: Number(m[1]) };
}

export function registerPoolCommands(program: Command) {
  const pool = program.command("pool").description("pools: members, one health monitor, minimum healthy and all-down policy");

  pool
    .command("create")
    .description("add a pool (without members: add them with `tenbin member add` or `member set`)")
    .argument("<lb>", "load balancer: VIP address, id or name")
    .argument("<name>", "pool name")
    .addOption(new Option("--monitor <type>", "health monitor type").choices(MONITOR_TYPES))
    .option("--interval-ms <ms>", "probe interval (default 5000)", intOption("interval"))
    .option("--timeout-ms <ms>", "probe timeout, shorter than the interval (default 2000)", intOption("timeout"))
    .option("--rise <n>", "successes to become healthy (default 2)", intOption("rise"))
    .option("--fall <n>", "failures to become unhealthy (default 3)", intOption("fall"))
    .option("--monitor-port <port>", "probe this port instead of each member's (required for UDP pools with TCP/HTTP monitors)")
    .addOption(new Option("--http-method <method>", "HTTP monitor method").choices(["GET", "HEAD", "OPTIONS"]))
    .option("--http-path <path>", "HTTP monitor path (default /)")
    .option("--http-host <host>", "HTTP Host header")
    .option("--expected-codes <codes>", "HTTP status codes, lists and ranges (default 200), e.g. 200-299,301")
    .option("--min-healthy <n|n%>", "minimum healthy members, count or percentage (default 1)")
    .addOption(new Option("--all-down <policy>", "when every member is down").choices(ALL_DOWN_POLICIES))
    .option(...expectedRevisionOption)
    .action(
      action(async (ctx, cmd) => {
        const [ref, name] = cmd.processedArgs as [string, string];
        const o = cmd.opts<PoolOpts>();
        const httpGiven = o.httpMethod ?? o.httpPath ?? o.httpHost ?? o.expectedCodes;
        const monitorGiven = o.intervalMs ?? o.timeoutMs ?? o.rise ?? o.fall ?? o.monitorPort ?? httpGiven;
        if (!o.monitor && monitorGiven !== undefined) throw usageError("monitor settings need --monitor TCP|HTTP|HTTPS|ICMP");
        const isHttp = o.monitor === "HTTP" || o.monitor === "HTTPS";
        const monitor = o.monitor
          ? {
              type: o.monitor,
              ...(o.intervalMs !== undefined ? { intervalMs: o.intervalMs } : {}),
              ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}),
              ...(o.rise !== undefined ? { rise: o.rise } : {}),
              ...(o.fall !== undefined ? { fall: o.fall } : {}),
              ...(o.monitorPort !== undefined ? { port: parsePortNumber(o.monitorPort, "--monitor-port") } : {}),
              ...(isHttp || httpGiven !== undefined
                ? {
                    http: {
                      ...(o.httpMethod ? { method: o.httpMethod } : {}),
                      ...(o.httpPath ? { path: o.httpPath } : {}),
                      ...(o.httpHost ? { host: o.httpHost } : {}),
                      ...(o.expectedCodes ? { expectedCodes: o.expectedCodes } : {}),
                    },
                  }
                : {}),
            }
          : null;
        const parsed = poolSchema.safeParse({
          name,
          monitor,
          ...(o.minHealthy ? { minHealthy: minHealthy(o.minHealthy) } : {}),
          ...(o.allDown ? { allDownPolicy: o.allDown } : {}),
        });
        if (!parsed.success) throw invalidInput(parsed.error, "pool");
        const view = await ctx.call(async (c) =>
          c.pools.create.mutate({ ...(await target(ctx, ref)), pool: parsed.data, ...revision(o.expectedRevision) }),
        );
        ctx.out.result(view, () => ctx.out.line(`created pool ${parsed.data.name} in ${view.name} (${view.address}, revision ${view.revision})`));
      }),
    );

  pool
    .command("delete")
    .description("remove a pool (refused while a listener uses it)")
    .argument("<lb>", "load balancer: VIP address, id or name")
    .argument("<name>", "pool name")
    .option(...expectedRevisionOption)
    .action(
      action(async (ctx, cmd) => {
        const [ref, name] = cmd.processedArgs as [string, string];
        const o = cmd.opts<{ expectedRevision?: number }>();
        const poolName = checkName(name, "pool");
        const view = await ctx.call(async (c) =>
          c.pools.delete.mutate({ ...(await target(ctx, ref)), pool: poolName, ...revision(o.expectedRevision) }),
        );
        ctx.out.result(view, () => ctx.out.line(`deleted pool ${poolName} of ${view.name} (revision ${view.revision})`));
      }),
    );

  pool
    .command("list")
    .description("list a load balancer's pools")
    .argument("<lb>", "load balancer: VIP address, id or name")
    .action(
      action(async (ctx, cmd) => {
        const [ref] = cmd.processedArgs as [string];
        const view = await ctx.call(async (c) => c.lb.get.query(await target(ctx, ref)));
        ctx.out.result(view.pools, () => ctx.out.line(poolsTable(view)));
      }),
    );
}
