// tenbin member add|remove|set|enable|disable|drain|list VIP PROTOCOL PORT [ADDR:PORT ...]
// Members are addressed by natural keys only: the VIP address, the listener's protocol and port,
// then each member's address and port. No id lookups.
import type { Command } from "commander";
import { addressSchema, memberSchema } from "../../lib/lb-schemas";
import type { Context } from "../client";
import { invalidInput, usageError } from "../errors";
import { hostPort } from "../format";
import { collectMembers, parseHostPort, parsePortNumber, parseProtocol, validateMemberKeys, validateMembers, type Protocol } from "../parse";
import { membersTable } from "../views";
import { action, expectedRevisionOption, intOption, poolOfListener, type LbView } from "./common";

/** The fields `member update` may change, validated as the API does. */
const memberUpdateSchema = memberSchema.pick({ weight: true, monitorAddress: true, monitorPort: true }).partial();

interface Target {
  address: string;
  protocol: Protocol;
  port: number;
}

function parseTarget(vip: string, protocol: string, port: string): Target {
  const a = addressSchema.safeParse(vip);
  if (!a.success) throw invalidInput(a.error, "vip");
  return { address: a.data, protocol: parseProtocol(protocol), port: parsePortNumber(port) };
}

interface MemberOpts {
  file?: string;
  weight?: number;
  expectedRevision?: number;
  allowEmpty?: boolean;
}

const FILE_HELP = `
Members come from the arguments (ADDR:PORT, IPv6 as [2001:db8::5]:80) and/or --file:
  a JSON array  [{"address": "198.18.10.1", "port": 80, "weight": 50}, …]
  or text/CSV   one "address,port[,weight]" per line; '#' starts a comment
Use --file - to read standard input.`;

function withTarget(cmd: Command, what: string) {
  return cmd
    .argument("<vip>", "VIP address of the load balancer")
    .argument("<protocol>", "listener protocol: TCP or UDP")
    .argument("<port>", "listener port (any port of a range)")
    .addHelpText("after", what);
}

/** Prints the pool after a change: a summary line and its members. */
function report(ctx: Context, view: LbView, t: Target, summary: string) {
  const { pool } = poolOfListener(view, t.protocol, t.port);
  ctx.out.result(view, () => {
    ctx.out.line(`${summary} in pool ${pool.name} of ${view.address} (revision ${view.revision})`);
    ctx.out.line(membersTable(pool));
  });
}

const plural = (n: number) => `${n} member${n === 1 ? "" : "s"}`;

export function registerMemberCommands(program: Command) {
  const member = program
    .command("member")
    .description("pool members by natural key: VIP PROTOCOL PORT, then ADDR:PORT; bulk from a file");

  withTarget(member.command("add").description("add members (repeating an identical add changes nothing)"), FILE_HELP)
    .argument("[members...]", "ADDR:PORT of each member")
    .option("--file <file>", "read members from a JSON or text/CSV file")
    .option("--weight <w>", "weight 0–256 for members without one (default 100; 0 drains)", intOption("weight"))
    .option(...expectedRevisionOption)
    .action(
      action(async (ctx, cmd) => {
        const [vip, proto, port, args] = cmd.processedArgs as [string, string, string, string[]];
        const o = cmd.opts<MemberOpts>();
        const t = parseTarget(vip, proto, port);
        const members = validateMembers(collectMembers(args, o.file, o.weight));
        if (members.length === 0) throw usageError("name at least one member (ADDR:PORT or --file)");
        const tenantId = await ctx.tenant();
        const rev = o.expectedRevision ? { expectedRevision: o.expectedRevision } : {};
        const view = await ctx.call((c) => c.poolMembers.add.mutate({ tenantId, target: t, members, ...rev }));
        report(ctx, view, t, `added ${plural(members.length)}`);
      }),
    );

  withTarget(member.command("remove").description("remove members"), FILE_HELP)
    .argument("[members...]", "ADDR:PORT of each member")
    .option("--file <file>", "read members from a JSON or text/CSV file")
    .option(...expectedRevisionOption)
    .action(
      action(async (ctx, cmd) => {
        const [vip, proto, port, args] = cmd.processedArgs as [string, string, string, string[]];
        const o = cmd.opts<MemberOpts>();
        const t = parseTarget(vip, proto, port);
        const members = validateMemberKeys(collectMembers(args, o.file, undefined));
        if (members.length === 0) throw usageError("name at least one member (ADDR:PORT or --file)");
        const tenantId = await ctx.tenant();
        const rev = o.expectedRevision ? { expectedRevision: o.expectedRevision } : {};
        const view = await ctx.call((c) => c.poolMembers.remove.mutate({ tenantId, target: t, members, ...rev }));
        report(ctx, view, t, `removed ${plural(members.length)}`);
      }),
    );

  withTarget(
    member
      .command("set")
      .description("replace the pool's whole member list (declarative: members not named are removed, named ones get exactly these settings)"),
    FILE_HELP,
  )
    .argument("[members...]", "ADDR:PORT of each member")
    .option("--file <file>", "read members from a JSON or text/CSV file")
    .option("--weight <w>", "weight 0–256 for members without one (default 100)", intOption("weight"))
    .option("--allow-empty", "allow an empty list (removes every member)")
    .option(...expectedRevisionOption)
    .action(
      action(async (ctx, cmd) => {
        const [vip, proto, port, args] = cmd.processedArgs as [string, string, string, string[]];
        const o = cmd.opts<MemberOpts>();
        const t = parseTarget(vip, proto, port);
        const members = validateMembers(collectMembers(args, o.file, o.weight));
        if (members.length === 0 && !o.allowEmpty) throw usageError("no members named: pass --allow-empty to remove every member");
        const tenantId = await ctx.tenant();
        const rev = o.expectedRevision ? { expectedRevision: o.expectedRevision } : {};
        const view = await ctx.call((c) => c.poolMembers.set.mutate({ tenantId, target: t, members, ...rev }));
        report(ctx, view, t, `set ${plural(members.length)}`);
      }),
    );

  const states = [
    ["enable", "enabled", "enable members (take new flows again)", "enabled"],
    ["disable", "disabled", "disable members (no traffic)", "disabled"],
    ["drain", "draining", "drain members (no new flows; existing flows continue)", "set draining"],
  ] as const;
  for (const [verb, state, description, done] of states) {
    withTarget(member.command(verb).description(description), FILE_HELP)
      .argument("[members...]", "ADDR:PORT of each member")
      .option("--file <file>", "read members from a JSON or text/CSV file")
      .option(...expectedRevisionOption)
      .action(
        action(async (ctx, cmd) => {
          const [vip, proto, port, args] = cmd.processedArgs as [string, string, string, string[]];
          const o = cmd.opts<MemberOpts>();
          const t = parseTarget(vip, proto, port);
          const members = validateMemberKeys(collectMembers(args, o.file, undefined));
          if (members.length === 0) throw usageError("name at least one member (ADDR:PORT or --file)");
          const tenantId = await ctx.tenant();
          const rev = o.expectedRevision ? { expectedRevision: o.expectedRevision } : {};
          const view = await ctx.call((c) => c.poolMembers.setState.mutate({ tenantId, target: t, members, state, ...rev }));
          report(ctx, view, t, `${done} ${members.length === 1 ? hostPort(members[0]!.address, members[0]!.port) : plural(members.length)}`);
        }),
      );
  }

  withTarget(member.command("update").description("change one member's weight or monitor address/port"), "")
    .argument("<member>", "ADDR:PORT of the member")
    .option("--weight <w>", "weight 0–256 (0 drains)", intOption("weight"))
    .option("--monitor-address <ip>", "probe this address instead of the member's ('none' to clear)")
    .option("--monitor-port <port>", "probe this port instead of the member's ('none' to clear)")
    .option("--expected-revision <n>", "base the change on this revision (default: the current one)", intOption("revision", 1))
    .action(
      action(async (ctx, cmd) => {
        const [vip, proto, port, who] = cmd.processedArgs as [string, string, string, string];
        const o = cmd.opts<{ weight?: number; monitorAddress?: string; monitorPort?: string; expectedRevision?: number }>();
        const t = parseTarget(vip, proto, port);
        const [key] = validateMemberKeys([parseHostPort(who)]);
        const raw = {
          ...(o.weight !== undefined ? { weight: o.weight } : {}),
          ...(o.monitorAddress !== undefined ? { monitorAddress: o.monitorAddress === "none" ? null : o.monitorAddress } : {}),
          ...(o.monitorPort !== undefined
            ? { monitorPort: o.monitorPort === "none" ? null : parsePortNumber(o.monitorPort, "--monitor-port") }
            : {}),
        };
        if (Object.keys(raw).length === 0) throw usageError("nothing to change: pass --weight, --monitor-address or --monitor-port");
        const changes = memberUpdateSchema.safeParse(raw);
        if (!changes.success) throw invalidInput(changes.error, "member");
        const tenantId = await ctx.tenant();
        const expectedRevision = o.expectedRevision ?? (await ctx.call((c) => c.lb.get.query({ tenantId, lb: t.address }))).revision;
        // Only what was asked for: the schema's defaults (weight 100) must not reset anything.
        const given = Object.fromEntries(Object.entries(changes.data).filter(([k]) => k in raw)) as typeof changes.data;
        const view = await ctx.call((c) =>
          c.poolMembers.update.mutate({ tenantId, target: t, member: key!, expectedRevision, ...given }),
        );
        report(ctx, view, t, `updated ${hostPort(key!.address, key!.port)}`);
      }),
    );

  withTarget(member.command("list").description("list the members of the pool behind a listener"), "")
    .action(
      action(async (ctx, cmd) => {
        const [vip, proto, port] = cmd.processedArgs as [string, string, string];
        const t = parseTarget(vip, proto, port);
        const tenantId = await ctx.tenant();
        const view = await ctx.call((c) => c.lb.get.query({ tenantId, lb: t.address }));
        const { pool } = poolOfListener(view, t.protocol, t.port);
        ctx.out.result(pool.members, () => {
          ctx.out.line(`pool ${pool.name} of ${view.address} (revision ${view.revision})`);
          ctx.out.line(membersTable(pool));
        });
      }),
    );
}
