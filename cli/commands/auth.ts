// configure, login, whoami: getting the CLI a server URL and an API token.
import os from "node:os";
import type { Command } from "commander";
import { signInInput } from "../../lib/schemas";
import { createApiClient, whoIs, type Context, type Me } from "../client";
import { configPath, writeConfig } from "../config";
import { CliError, EXIT, invalidInput, toCliError, usageError } from "../errors";
import { fields, table } from "../format";
import { action } from "./common";

/** Checks that the user belongs to `tenant` (slug or id) and returns its slug. */
function tenantOf(me: Me, tenant: string): string {
  const t = me.tenants.find((x) => x.slug === tenant || x.id === tenant);
  if (!t) {
    const known = me.tenants.map((x) => x.slug).join(", ") || "none";
    throw new CliError(`${me.email} is not a member of tenant "${tenant}" (member of: ${known})`, "NOT_FOUND", EXIT.notFound);
  }
  return t.slug;
}

function saved(ctx: Context, url: string, me: Me, tenant: string | undefined) {
  const file = configPath();
  ctx.out.result({ url, user: me.email, tenant: tenant ?? null, configPath: file }, () => {
    ctx.out.line(`signed in to ${url} as ${me.email}${tenant ? ` (tenant ${tenant})` : ""}`);
    ctx.out.line(`saved to ${file}`);
  });
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8").replace(/\r?\n$/, "");
}

/** Asks for a password on the terminal without echoing it. */
function promptHidden(question: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin;
    process.stderr.write(question);
    stdin.setRawMode(true);
    stdin.resume();
    stdin.setEncoding("utf8");
    let value = "";
    const done = (err?: Error) => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.removeListener("data", onData);
      process.stderr.write("\n");
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === "\r" || ch === "\n") return done();
        if (ch === "\u0003") return done(usageError("cancelled"));
        if (ch === "\u007f" || ch === "\b") value = value.slice(0, -1);
        else value += ch;
      }
    };
    stdin.on("data", onData);
  });
}

async function signIn(url: string, email: string, password: string): Promise<string> {
  let res: Response;
  try {
    res = await fetch(`${url}/api/auth/sign-in/email`, {
      method: "POST",
      headers: { "content-type": "application/json", origin: url },
      body: JSON.stringify({ email, password }),
      signal: AbortSignal.timeout(30_000),
    });
  } catch (err) {
    throw toCliError(err, url);
  }
  if (res.status === 401) throw new CliError("wrong email or password", "UNAUTHORIZED", EXIT.auth);
  if (!res.ok) {
    const body = (await res.json().catch(() => null)) as { message?: string } | null;
    const message = body?.message ?? `sign-in failed with HTTP ${res.status}`;
    throw new CliError(message, res.status === 403 ? "FORBIDDEN" : "SIGN_IN", res.status === 403 ? EXIT.auth : EXIT.unexpected);
  }
  const cookie = res.headers
    .getSetCookie()
    .map((c) => c.split(";")[0])
    .join("; ");
  if (!cookie) throw new CliError(`${url} did not return a session; check --url`, "SIGN_IN", EXIT.unexpected);
  return cookie;
}

export function registerAuthCommands(program: Command) {
  program
    .command("configure")
    .description("save a server URL and an API token (checked against the server) to the config file")
    .addHelpText(
      "after",
      `\nUses the global --url, --token and --tenant (or TENBIN_URL, TENBIN_TOKEN, TENBIN_TENANT).\nExample: tenbin configure --url https://lb.example.net --token tb_… --tenant shop`,
    )
    .action(
      action(async (ctx) => {
        const { url, token, tenant } = ctx.settings;
        if (!url || !token) throw usageError("configure needs --url URL and --token TOKEN");
        const me = await whoIs(createApiClient(url, { authorization: `Bearer ${token}` }), url);
        const slug = tenant ? tenantOf(me, tenant) : undefined;
        writeConfig({ url, token, ...(slug ? { tenant: slug } : {}) });
        saved(ctx, url, me, slug);
      }),
    );

  program
    .command("login")
    .description('sign in with email and password, create an API token named "tenbin-cli@<hostname>" and save it')
    .requiredOption("--email <email>", "your account's email")
    .option("--password-stdin", "read the password from standard input (for scripts)")
    .addHelpText("after", `\nExample: echo "$PASSWORD" | tenbin login --url https://lb.example.net --email me@example.net --password-stdin`)
    .action(
      action(async (ctx, cmd) => {
        const opts = cmd.opts<{ email: string; passwordStdin?: boolean }>();
        const url = ctx.url;
        let password: string;
        if (opts.passwordStdin) password = await readStdin();
        else if (process.stdin.isTTY) password = await promptHidden(`Password for ${opts.email}: `);
        else throw usageError("no terminal to ask for the password: pass --password-stdin and pipe it in");
        const creds = signInInput.safeParse({ email: opts.email, password });
        if (!creds.success) throw invalidInput(creds.error);
        const cookie = await signIn(url, creds.data.email, creds.data.password);
        const session = createApiClient(url, { cookie, origin: url });
        let token: string;
        let slug: string | undefined;
        let me: Me;
        try {
          me = await whoIs(session, url);
          // An explicit --tenant / TENBIN_TENANT must be one of the user's; a tenant left in the
          // config file by an earlier sign-in is kept only if it still is.
          const { tenant, sources } = ctx.settings;
          const fromFile = sources.tenant === configPath();
          slug = tenant && (!fromFile || me.tenants.some((t) => t.slug === tenant || t.id === tenant)) ? tenantOf(me, tenant) : undefined;
          const name = `tenbin-cli@${os.hostname()}`.slice(0, 60);
          token = (await session.tokens.create.mutate({ name })).token;
        } catch (err) {
          throw toCliError(err, url);
        } finally {
          // The session was only needed to mint the token.
          await fetch(`${url}/api/auth/sign-out`, { method: "POST", headers: { cookie, origin: url } }).catch(() => undefined);
        }
        writeConfig({ url, token, ...(slug ? { tenant: slug } : {}) });
        saved(ctx, url, me, slug);
      }),
    );

  program
    .command("whoami")
    .description("show who the token signs in as, the tenants and where the settings come from")
    .action(
      action(async (ctx) => {
        const url = ctx.url;
        const me = await whoIs(ctx.client, url);
        const s = ctx.settings;
        ctx.out.result(
          {
            url,
            user: { id: me.id, email: me.email, name: me.name, platformAdmin: me.platformAdmin },
            tenants: me.tenants,
            tenant: s.tenant,
            sources: s.sources,
          },
          () => {
            ctx.out.line(
              fields([
                ["User", `${me.name} <${me.email}>${me.platformAdmin ? " (platform admin)" : ""}`],
                ["Server", `${url}  (from ${s.sources.url})`],
                ["Token", `from ${s.sources.token}`],
                ["Tenant", s.tenant ? `${s.tenant}  (from ${s.sources.tenant})` : me.tenants.length === 1 ? `${me.tenants[0]!.slug}  (your only tenant)` : "-  (pass --tenant)"],
              ]),
            );
            if (me.tenants.length) {
              ctx.out.line();
              ctx.out.line(table(["TENANT", "ROLE"], me.tenants.map((t) => [t.slug, t.role])));
            }
          },
        );
      }),
    );
}
