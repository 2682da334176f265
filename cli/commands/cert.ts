// tenbin cert upload|list|show|rotate|delete — TLS certificates and CA bundles.
import fs from "node:fs";
import { Option, type Command } from "commander";
import type { inferRouterOutputs } from "@trpc/server";
import type { AppRouter } from "../../server/api/root";
import { certMaterialSchema, uploadCertInput } from "../../lib/cert-schemas";
import { invalidInput, usageError } from "../errors";
import { fields, table, when } from "../format";
import { readTextFile } from "../parse";
import { action, intOption } from "./common";
import type { Context } from "../client";

type Outputs = inferRouterOutputs<AppRouter>;
type CertView = Outputs["certs"]["get"];
type CertSummary = Outputs["certs"]["list"][number];

interface MaterialOpts {
  cert?: string;
  key?: string;
  pkcs12?: string;
  passphraseFile?: string;
  allowExpired?: boolean;
}

const materialOptions = (cmd: Command) =>
  cmd
    .option("--cert <file>", "PEM certificate chain, any order ('-' = stdin); may include the key")
    .option("--key <file>", "PEM private key (may be encrypted: see --passphrase-file)")
    .option("--pkcs12 <file>", "PKCS#12 bundle (.p12/.pfx) instead of PEM files")
    .option("--passphrase-file <file>", "file holding the key passphrase or PKCS#12 password ('-' = stdin); never pass secrets as arguments")
    .option("--allow-expired", "store an already expired certificate anyway");

function readMaterial(o: MaterialOpts) {
  if (!o.cert && !o.pkcs12) throw usageError("give the certificate: --cert FILE (PEM) or --pkcs12 FILE");
  let pkcs12: string | undefined;
  if (o.pkcs12) {
    try {
      pkcs12 = fs.readFileSync(o.pkcs12 === "-" ? 0 : o.pkcs12).toString("base64");
    } catch (err) {
      throw usageError(`cannot read ${o.pkcs12}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
  const passphrase = o.passphraseFile ? readTextFile(o.passphraseFile).replace(/\r?\n$/, "") : undefined;
  const raw = {
    ...(o.cert ? { certificate: readTextFile(o.cert) } : {}),
    ...(o.key ? { privateKey: readTextFile(o.key) } : {}),
    ...(pkcs12 ? { pkcs12 } : {}),
    ...(passphrase !== undefined ? { passphrase } : {}),
    allowExpired: o.allowExpired === true,
  };
  const parsed = certMaterialSchema.safeParse(raw);
  if (!parsed.success) throw invalidInput(parsed.error);
  return parsed.data;
}

const badge = (c: { state: string; daysLeft: number; notYetValid: boolean }) =>
  c.state === "expired" ? `EXPIRED ${-c.daysLeft}d ago` : `${c.state}${c.notYetValid ? " (not yet valid)" : ""}`;

export function certListTable(certs: CertSummary[]): string {
  if (certs.length === 0) return "no certificates";
  return table(
    ["NAME", "KIND", "STATE", "DAYS LEFT", "EXPIRES", "SUBJECT", "KEY", "VERSION", "USED BY"],
    certs.map((c) => [c.name, c.kind, badge(c), c.daysLeft, when(c.notAfter), c.commonName ?? c.subject, c.keyDescription, c.currentVersion, c.usedByCount]),
  );
}

export function certDetail(c: CertView): string {
  const parts = [
    fields([
      ["name", c.name],
      ["id", c.id],
      ["kind", c.kind === "ca" ? "CA bundle (trust for HTTPS monitors)" : "server certificate with private key (stored encrypted)"],
      ["state", `${badge(c)}, ${c.daysLeft} days left (expiring under ${c.expiringDays} days)`],
      ["subject", c.subject],
      ["SANs", c.sans.join(", ") || "-"],
      ["issuer", c.issuer],
      ["serial", c.leaf.serial],
      ["valid", `${when(c.notBefore)} → ${when(c.notAfter)}`],
      ["key", c.keyDescription],
      ["SHA-256", c.fingerprintSha256],
      ["version", `${c.currentVersion} (revision ${c.revision})`],
    ]),
    "",
    "Chain:",
    table(
      ["#", "SUBJECT", "ISSUER", "EXPIRES", "KEY"],
      c.chain.map((x, i) => [i, x.subject, x.selfSigned ? "(self-signed)" : x.issuer, when(x.notAfter), x.keyDescription]),
    ),
  ];
  if (c.missing) parts.push(`missing: ${c.missing}`);
  for (const w of c.warnings) parts.push(`warning: ${w}`);
  parts.push("", "Versions:", table(["VERSION", "SUBJECT", "EXPIRES", "STATE", "SHA-256"], c.versions.map((v) => [`${v.version}${v.current ? " (current)" : ""}`, v.subject, when(v.notAfter), v.state, v.fingerprintSha256])));
  parts.push("", c.usedBy.length ? "In use by:" : "In use by: nothing");
  if (c.usedBy.length) {
    parts.push(table(["KIND", "LOAD BALANCER", "NAME", "SNI"], c.usedBy.map((u) => [u.kind, `${u.lbName} (${u.lbAddress})`, u.name, u.sniHosts.join(",") || "-"])));
  }
  return parts.join("\n");
}

async function showResult(ctx: Context, view: CertView, headline: string) {
  ctx.out.result(view, () => {
    ctx.out.line(headline);
    ctx.out.line();
    ctx.out.line(certDetail(view));
  });
}

export function registerCertCommands(program: Command) {
  const cert = program.command("cert").description("TLS certificates and CA bundles: upload, list, show, rotate, delete");

  materialOptions(
    cert
      .command("upload")
      .description("upload a certificate chain with its private key (PEM or PKCS#12), or a CA bundle with --ca")
      .argument("<name>", "name (letters, digits, '.', '_', '-')"),
  )
    .option("--ca", "a CA bundle (certificates only, no key) for HTTPS monitors")
    .option("--description <text>", "free text")
    .option("--expiring-days <n>", "turn 'expiring' this many days before expiry (default 30)", intOption("days", 1))
    .addHelpText("after", "\nExamples:\n  tenbin cert upload www --cert chain.pem --key key.pem\n  tenbin cert upload www --pkcs12 www.p12 --passphrase-file pw.txt\n  tenbin cert upload backend-ca --ca --cert ca.pem")
    .action(
      action(async (ctx, cmd) => {
        const [name] = cmd.processedArgs as [string];
        const o = cmd.opts<MaterialOpts & { ca?: boolean; description?: string; expiringDays?: number }>();
        const material = readMaterial(o);
        const input = uploadCertInput.safeParse({
          ...material,
          tenantId: await ctx.tenant(),
          name,
          kind: o.ca ? "ca" : "server",
          ...(o.description !== undefined ? { description: o.description } : {}),
          ...(o.expiringDays !== undefined ? { expiringDays: o.expiringDays } : {}),
        });
        if (!input.success) throw invalidInput(input.error);
        const view = await ctx.call((c) => c.certs.upload.mutate(input.data));
        await showResult(ctx, view, `uploaded ${view.name}: ${view.subject}, ${badge(view)}, ${view.daysLeft} days left`);
      }),
    );

  cert
    .command("list")
    .description("list certificates with their expiry state")
    .addOption(new Option("--sort <by>", "order").choices(["name", "expiry"]).default("name"))
    .addOption(new Option("--state <state>", "only this expiry state").choices(["valid", "expiring", "expired"]))
    .addOption(new Option("--kind <kind>", "only this kind").choices(["server", "ca"]))
    .action(
      action(async (ctx, cmd) => {
        const o = cmd.opts<{ sort: "name" | "expiry"; state?: "valid" | "expiring" | "expired"; kind?: "server" | "ca" }>();
        const tenantId = await ctx.tenant();
        const certs = await ctx.call((c) => c.certs.list.query({ tenantId, sort: o.sort, ...(o.state ? { state: o.state } : {}), ...(o.kind ? { kind: o.kind } : {}) }));
        ctx.out.result(certs, () => ctx.out.line(certListTable(certs)));
      }),
    );

  cert
    .command("show")
    .description("show a certificate: parsed chain, validity, versions, what uses it")
    .argument("<ref>", "name or id")
    .action(
      action(async (ctx, cmd) => {
        const [ref] = cmd.processedArgs as [string];
        const tenantId = await ctx.tenant();
        const view = await ctx.call((c) => c.certs.get.query({ tenantId, cert: ref }));
        ctx.out.result(view, () => ctx.out.line(certDetail(view)));
      }),
    );

  materialOptions(
    cert
      .command("rotate")
      .description("upload a new version in place (same id, version n+1); everything using it moves to the new version")
      .argument("<ref>", "name or id"),
  ).action(
    action(async (ctx, cmd) => {
      const [ref] = cmd.processedArgs as [string];
      const material = readMaterial(cmd.opts<MaterialOpts>());
      const tenantId = await ctx.tenant();
      const view = await ctx.call((c) => c.certs.rotate.mutate({ tenantId, cert: ref, ...material }));
      await showResult(ctx, view, `${view.name} is now at version ${view.currentVersion}: ${view.subject}, ${view.daysLeft} days left`);
    }),
  );

  cert
    .command("delete")
    .description("delete a certificate (refused while in use), or one old version with --old-version")
    .argument("<ref>", "name or id")
    .option("--old-version <n>", "delete only this (non-current) version", intOption("version", 1))
    .option("-y, --yes", "do not ask (required when not on a terminal)")
    .action(
      action(async (ctx, cmd) => {
        const [ref] = cmd.processedArgs as [string];
        const o = cmd.opts<{ oldVersion?: number; yes?: boolean }>();
        if (!o.yes) throw usageError(`refusing to delete ${ref}${o.oldVersion ? ` version ${o.oldVersion}` : ""} without confirmation: pass --yes`);
        const tenantId = await ctx.tenant();
        if (o.oldVersion) {
          const version = o.oldVersion;
          const view = await ctx.call((c) => c.certs.deleteVersion.mutate({ tenantId, cert: ref, version }));
          ctx.out.result(view, () => ctx.out.line(`deleted version ${version} of ${view.name}; versions left: ${view.versions.map((v) => v.version).join(", ")}`));
          return;
        }
        const r = await ctx.call((c) => c.certs.delete.mutate({ tenantId, cert: ref }));
        ctx.out.result({ cert: ref, ...r }, () => ctx.out.line(`deleted ${ref}`));
      }),
    );
}
