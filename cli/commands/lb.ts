// tenbin lb create|list|show|delete|history
import readline from "node:readline/promises";
import { Option, type Command } from "commander";
import { z } from "zod";
import { createLbInput, lbNameSchema, tagsSchema } from "../../lib/lb-schemas";
import { invalidInput, usageError } from "../errors";
import { table, when } from "../format";
import { parseTags, readTextFile } from "../parse";
import { lbDetail, lbListTable } from "../views";
import { action, collect, expectedRevisionOption, intOption, resolveLbRef } from "./common";

interface CreateOpts {
  address?: string;
  family?: number;
  pool?: string;
  replicas?: number;
  tag?: string[];
  description?: string;
  deletionProtection?: boolean;
  idempotencyKey?: string;
  file?: string;
}

function readTree(file: string): Record<string, unknown> {
  const text = readTextFile(file);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw usageError(`${file} is not valid JSON: ${(err as Error).message}`);
  }
  if (!raw || typeof raw !== "object" || Array.isArray(raw)) throw usageError(`${file}: expected a JSON object (a load balancer tree)`);
  return raw as Record<string, unknown>;
}

/** What `lb update` may change: the same rules as the API's lb.update. */
const updateLbInput = z.object({
  name: lbNameSchema.optional(),
  description: z.string().max(500).optional(),
  replicas: z.number().int().min(1, "1–8").max(8, "1–8").optional(),
  adminEnabled: z.boolean().optional(),
  deletionProtection: z.boolean().optional(),
  tags: tagsSchema.optional(),
});

async function confirm(question: string): Promise<boolean> {
  const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}

export function registerLbCommands(program: Command) {
  const lb = program.command("lb").description("load balancers (VIPs): create, list, show, delete, history");

  lb.command("create")
    .description("create a load balancer, optionally with its whole tree (pools, members, monitors, listeners) from a file")
    .argument("[name]", "name (letters, digits, '.', '_', '-'); may come from --file instead")
    .option("--address <ip>", "request this VIP address (checked against the IP pools); default: allocated")
    .option("--family <4|6>", "address family to allocate from", intOption("family"))
    .option("--pool <ip-pool-id>", "allocate from this IP pool")
    .option("--replicas <n>", "how many LB nodes carry the VIP (default 2)", intOption("replicas"))
    .option("--tag <key=value>", "a tag (repeatable)", collect)
    .option("--description <text>", "free text")
    .option("--deletion-protection", "refuse deletes until turned off")
    .option("--idempotency-key <key>", "repeat-safe create: the same key returns the first result (8–128 characters)")
    .option("--file <tree.json>", "JSON with the fully populated tree as lb.create takes it ('-' = stdin); flags override it")
    .addHelpText(
      "after",
      `
Example tree file:
  {"name": "shop-web", "tags": {"env": "prod"},
   "pools": [{"name": "web", "members": [{"address": "198.18.10.1", "port": 80}],
              "monitor": {"type": "HTTP", "intervalMs": 2000, "timeoutMs": 1000, "http": {"path": "/healthz"}}}],
   "listeners": [{"protocol": "TCP", "port": 80, "pool": "web"}]}`,
    )
    .action(
      action(async (ctx, cmd) => {
        const [name] = cmd.processedArgs as [string | undefined];
        const o = cmd.opts<CreateOpts>();
        const tree = o.file ? readTree(o.file) : {};
        const input: Record<string, unknown> = { ...tree };
        if (name !== undefined) input.name = name;
        if (input.name === undefined) throw usageError("name the load balancer (tenbin lb create NAME) or put a name in --file");
        if (o.address !== undefined) input.address = o.address;
        if (o.family !== undefined) input.family = o.family;
        if (o.pool !== undefined) input.ipPoolId = o.pool;
        if (o.replicas !== undefined) input.replicas = o.replicas;
        if (o.description !== undefined) input.description = o.description;
        if (o.deletionProtection) input.deletionProtection = true;
        if (o.idempotencyKey !== undefined) input.idempotencyKey = o.idempotencyKey;
        if (o.tag) input.tags = { ...((tree.tags as Record<string, string> | undefined) ?? {}), ...parseTags(o.tag) };
        input.tenantId = await ctx.tenant();
        const parsed = createLbInput.safeParse(input);
        if (!parsed.success) throw invalidInput(parsed.error);
        const created = await ctx.call((c) => c.lb.create.mutate(parsed.data));
        ctx.out.result(created, () => {
          ctx.out.line(`created load balancer ${created.name} at ${created.address} (revision ${created.revision})`);
          ctx.out.line();
          ctx.out.line(lbDetail(created));
        });
      }),
    );

  lb.command("list")
    .description("list load balancers")
    .option("--search <text>", "match name, address or description")
    .option("--tag <key[=value]>", "only those with this tag (repeatable: all must match)", collect)
    .action(
      action(async (ctx, cmd) => {
        const o = cmd.opts<{ search?: string; tag?: string[] }>();
        const tenantId = await ctx.tenant();
        const [first, ...rest] = o.tag ?? [];
        let lbs = await ctx.call((c) => c.lb.list.query({ tenantId, ...(o.search ? { search: o.search } : {}), ...(first ? { tag: first } : {}) }));
        // The API filters by one tag; further tags are applied here.
        for (const t of rest) {
          const [k, v] = Object.entries(parseTags([t]))[0]!;
          lbs = lbs.filter((lb) => k in lb.tags && (!t.includes("=") || lb.tags[k] === v));
        }
        ctx.out.result(lbs, () => ctx.out.line(lbListTable(lbs)));
      }),
    );

  lb.command("show")
    .description("show a load balancer: listeners, pools, members, monitors, statuses with reasons")
    .argument("<ref>", "VIP address, id or name")
    .action(
      action(async (ctx, cmd) => {
        const [ref] = cmd.processedArgs as [string];
        const tenantId = await ctx.tenant();
        const lbRef = await resolveLbRef(ctx, ref, tenantId);
        const view = await ctx.call((c) => c.lb.get.query({ tenantId, lb: lbRef }));
        ctx.out.result(view, () => ctx.out.line(lbDetail(view)));
      }),
    );

  lb.command("delete")
    .description("delete a load balancer and everything in it")
    .argument("<ref>", "VIP address, id or name")
    .option("-y, --yes", "do not ask for confirmation (required when not on a terminal)")
    .option(...expectedRevisionOption)
    .action(
      action(async (ctx, cmd) => {
        const [ref] = cmd.processedArgs as [string];
        const o = cmd.opts<{ yes?: boolean; expectedRevision?: number }>();
        const tenantId = await ctx.tenant();
        const lbRef = await resolveLbRef(ctx, ref, tenantId);
        if (!o.yes) {
          if (!process.stdin.isTTY) throw usageError(`refusing to delete ${ref} without confirmation: pass --yes`);
          if (!(await confirm(`Delete load balancer ${ref} with all its listeners, pools and members? [y/N] `))) {
            throw usageError("not deleted");
          }
        }
        const r = await ctx.call((c) =>
          c.lb.delete.mutate({ tenantId, lb: lbRef, ...(o.expectedRevision ? { expectedRevision: o.expectedRevision } : {}) }),
        );
        ctx.out.result({ lb: ref, ...r }, () =>
          ctx.out.line(r.pending ? `deleting ${ref}: its LB nodes are removing it` : `deleted ${ref}`),
        );
      }),
    );

  lb.command("update")
    .description("change a load balancer's name, description, replicas, admin state, deletion protection or tags")
    .argument("<ref>", "VIP address, id or name")
    .option("--name <name>", "new name")
    .option("--description <text>", "free text")
    .option("--replicas <n>", "how many LB nodes carry the VIP", intOption("replicas"))
    .addOption(new Option("--admin <state>", "admin state").choices(["enabled", "disabled"]))
    .addOption(new Option("--deletion-protection <on|off>", "refuse deletes while on").choices(["on", "off"]))
    .option("--tag <key=value>", "replace all tags with these (repeatable)", collect)
    .option("--clear-tags", "remove all tags")
    .option("--expected-revision <n>", "base the change on this revision (default: the current one)", intOption("revision", 1))
    .action(
      action(async (ctx, cmd) => {
        const [ref] = cmd.processedArgs as [string];
        const o = cmd.opts<{
          name?: string;
          description?: string;
          replicas?: number;
          admin?: string;
          deletionProtection?: string;
          tag?: string[];
          clearTags?: boolean;
          expectedRevision?: number;
        }>();
        if (o.tag && o.clearTags) throw usageError("--tag and --clear-tags contradict each other");
        const tenantId = await ctx.tenant();
        const lbRef = await resolveLbRef(ctx, ref, tenantId);
        const raw = {
          ...(o.name !== undefined ? { name: o.name } : {}),
          ...(o.description !== undefined ? { description: o.description } : {}),
          ...(o.replicas !== undefined ? { replicas: o.replicas } : {}),
          ...(o.admin ? { adminEnabled: o.admin === "enabled" } : {}),
          ...(o.deletionProtection ? { deletionProtection: o.deletionProtection === "on" } : {}),
          ...(o.tag ? { tags: parseTags(o.tag) } : o.clearTags ? { tags: {} } : {}),
        };
        const changes = updateLbInput.safeParse(raw);
        if (!changes.success) throw invalidInput(changes.error);
        // Only send what was asked for (a schema default must not clear the tags).
        if (!("tags" in raw)) delete changes.data.tags;
        if (Object.keys(raw).length === 0) throw usageError("nothing to change: pass at least one option (see --help)");
        const expectedRevision = o.expectedRevision ?? (await ctx.call((c) => c.lb.get.query({ tenantId, lb: lbRef }))).revision;
        const view = await ctx.call((c) => c.lb.update.mutate({ tenantId, lb: lbRef, expectedRevision, ...changes.data }));
        ctx.out.result(view, () => ctx.out.line(`updated ${view.name} (${view.address}, revision ${view.revision})`));
      }),
    );

  lb.command("history")
    .description("revisions and audit entries of a load balancer, newest first")
    .argument("<ref>", "VIP address, id or name")
    .option("--limit <n>", "at most this many entries (default 100)", intOption("limit", 1))
    .action(
      action(async (ctx, cmd) => {
        const [ref] = cmd.processedArgs as [string];
        const o = cmd.opts<{ limit?: number }>();
        const tenantId = await ctx.tenant();
        const lbRef = await resolveLbRef(ctx, ref, tenantId);
        const rows = await ctx.call((c) => c.lb.history.query({ tenantId, lb: lbRef, ...(o.limit ? { limit: o.limit } : {}) }));
        ctx.out.result(rows, () =>
          ctx.out.line(
            rows.length === 0
              ? "no history"
              : table(
                  ["REVISION", "AT", "ACTOR", "VIA", "ACTION"],
                  rows.map((r) => [r.revision ?? "-", when(r.at), r.actor, r.via, r.action]),
                ),
          ),
        );
      }),
    );
}
