// The `tenbin` command line: builds the command tree and maps every failure to one clear line on
// stderr (or a JSON error with --json) and a documented exit code. Never prints a stack trace.
import { Command, CommanderError } from "commander";
import { CliError, EXIT, EXIT_CODES_HELP, toCliError } from "./errors";
import { Output } from "./format";
import { registerAuthCommands } from "./commands/auth";
import { registerLbCommands } from "./commands/lb";
import { registerListenerCommands, registerPoolCommands } from "./commands/listener";
import { registerMemberCommands } from "./commands/member";
import { registerCertCommands } from "./commands/cert";
import pkg from "../package.json";

const EPILOG = `
Settings: flags override the environment (TENBIN_URL, TENBIN_TOKEN, TENBIN_TENANT), which
overrides the config file $XDG_CONFIG_HOME/tenbin/config.json (default ~/.config/tenbin/config.json).
Without a tenant, your only tenant is used.

${EXIT_CODES_HELP}

Examples:
  tenbin login --url https://lb.example.net --email me@example.net
  tenbin lb create shop-web --file tree.json
  tenbin listener create 198.18.0.10 --protocol TCP --port 443 --pool web
  tenbin member drain 198.18.0.10 TCP 443 198.18.10.1:8443 '[2001:db8::5]:8443'
  tenbin member set 198.18.0.10 TCP 443 --file members.csv
  tenbin --json lb list | jq '.[].address'`;

export function buildProgram(): Command {
  const program = new Command("tenbin")
    .description("Tenbin load balancers from the command line")
    .version(pkg.version, "-V, --version", "print the version")
    .option("--json", "machine-readable JSON output (errors as {\"error\": …} on stderr)")
    .option("--url <url>", "server URL (env TENBIN_URL)")
    .option("--token <token>", "API token, tb_… (env TENBIN_TOKEN)")
    .option("--tenant <tenant>", "tenant slug or id (env TENBIN_TENANT)")
    .addHelpText("after", EPILOG)
    .showHelpAfterError("(add --help for usage)")
    .exitOverride();
  registerAuthCommands(program);
  registerLbCommands(program);
  registerListenerCommands(program);
  registerPoolCommands(program);
  registerMemberCommands(program);
  registerCertCommands(program);
  return program;
}

/** Runs the CLI and returns the exit code (the launcher sets it; tests can call this too). */
export async function main(argv: string[]): Promise<number> {
  const json = argv.includes("--json");
  const out = new Output(json);
  const program = buildProgram();
  if (json) {
    // Usage errors from the parser itself, as JSON too.
    const toJson = (cmd: Command) => {
      cmd.configureOutput({
        outputError: (text) => out.error(new CliError(text.replace(/^error: /, "").trim(), "BAD_REQUEST", EXIT.usage)),
      });
      cmd.showHelpAfterError(false);
      cmd.commands.forEach(toJson);
    };
    toJson(program);
  }
  if (argv.length === 0) {
    program.outputHelp();
    return EXIT.usage;
  }
  try {
    await program.parseAsync(argv, { from: "user" });
    return EXIT.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version exit 0; every parser complaint is a usage error (already printed).
      return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    const e = toCliError(err, null);
    out.error(e);
    return e.exitCode;
  }
}
