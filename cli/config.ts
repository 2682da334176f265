// Where the CLI finds its server, token and tenant: flags, then environment, then the config
// file ($XDG_CONFIG_HOME/tenbin/config.json, default ~/.config/tenbin/config.json, mode 0600).
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { z } from "zod";
import { CliError, EXIT } from "./errors";

export const configFileSchema = z.object({
  url: z.string().optional(),
  token: z.string().optional(),
  tenant: z.string().optional(),
});
export type ConfigFile = z.infer<typeof configFileSchema>;

export interface Settings {
  url: string | null;
  token: string | null;
  tenant: string | null;
  /** Where each value came from, for `whoami` and clear error messages. */
  sources: { url: string | null; token: string | null; tenant: string | null };
}

export function configPath(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME && path.isAbsolute(env.XDG_CONFIG_HOME) ? env.XDG_CONFIG_HOME : path.join(os.homedir(), ".config");
  return path.join(base, "tenbin", "config.json");
}

export function readConfig(file = configPath()): ConfigFile {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return {};
    throw new CliError(`cannot read ${file}: ${(err as Error).message}`, "CONFIG", EXIT.unexpected);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new CliError(`${file} is not valid JSON; fix it or run \`tenbin configure\` again`, "CONFIG", EXIT.usage);
  }
  const parsed = configFileSchema.safeParse(raw);
  if (!parsed.success) throw new CliError(`${file} has an unexpected shape; run \`tenbin configure\` again`, "CONFIG", EXIT.usage);
  return parsed.data;
}

/** Writes the config file readable by its owner only (it holds a secret). */
export function writeConfig(config: ConfigFile, file = configPath()): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(config, null, 2) + "\n", { mode: 0o600 });
  fs.chmodSync(tmp, 0o600);
  fs.renameSync(tmp, file);
}

export const normalizeUrl = (url: string) => url.trim().replace(/\/+$/, "");

export function resolveSettings(
  flags: { url?: string | undefined; token?: string | undefined; tenant?: string | undefined },
  env: NodeJS.ProcessEnv = process.env,
  file: ConfigFile = readConfig(configPath(env)),
): Settings {
  const pick = (flag: string | undefined, envName: string, fromFile: string | undefined) => {
    if (flag) return { value: flag, source: `--${envName.slice("TENBIN_".length).toLowerCase()}` };
    const e = env[envName];
    if (e) return { value: e, source: envName };
    if (fromFile) return { value: fromFile, source: configPath(env) };
    return { value: null, source: null };
  };
  const url = pick(flags.url, "TENBIN_URL", file.url);
  const token = pick(flags.token, "TENBIN_TOKEN", file.token);
  const tenant = pick(flags.tenant, "TENBIN_TENANT", file.tenant);
  return {
    url: url.value ? normalizeUrl(url.value) : null,
    token: token.value,
    tenant: tenant.value,
    sources: { url: url.source, token: token.source, tenant: tenant.source },
  };
}
