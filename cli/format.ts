// Output for people (aligned tables, short summaries) and for scripts (--json).
import type { CliError } from "./errors";

export interface Stream {
  write(text: string): unknown;
}

export class Output {
  constructor(
    readonly json: boolean,
    private readonly stdout: Stream = process.stdout,
    private readonly stderr: Stream = process.stderr,
  ) {}

  /** Machine output: one JSON document on stdout (only with --json). */
  data(value: unknown): void {
    this.stdout.write(JSON.stringify(value, null, 2) + "\n");
  }

  /** Human output on stdout (ignored with --json: the JSON document is the whole answer). */
  line(text = ""): void {
    if (!this.json) this.stdout.write(text + "\n");
  }

  /** Prints `value` as JSON with --json, else runs `human`. */
  result(value: unknown, human: () => void): void {
    if (this.json) this.data(value);
    else human();
  }

  /** Notes to the user (prompts, hints): stderr, so stdout stays clean for scripts. */
  note(text: string): void {
    this.stderr.write(text + "\n");
  }

  error(err: CliError): void {
    if (this.json) {
      this.stderr.write(
        JSON.stringify({ error: { code: err.code, message: err.message, fieldErrors: err.fieldErrors, exitCode: err.exitCode } }) + "\n",
      );
      return;
    }
    let text = `tenbin: ${err.message}`;
    // The message may already summarise field errors (server-side zod); list them only when new.
    const fields = Object.entries(err.fieldErrors ?? {}).filter(([k, v]) => !err.message.includes(`${k}: ${v.join(", ")}`));
    for (const [field, messages] of fields) text += `\n  ${field}: ${messages.join(", ")}`;
    this.stderr.write(text + "\n");
  }
}

/** An aligned text table; the last column is not padded (no trailing spaces). */
export function table(headers: string[], rows: (string | number)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? "").length)));
  return cells
    .map((r) =>
      r
        .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!)))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

/** "key: value" lines with the values aligned. */
export function fields(pairs: [string, string | number][]): string {
  const w = Math.max(...pairs.map(([k]) => k.length)) + 1;
  return pairs.map(([k, v]) => `${(k + ":").padEnd(w)}  ${v}`).join("\n");
}

export const ports = (port: number, portEnd: number) => (portEnd && portEnd !== port ? `${port}-${portEnd}` : String(port));

/** A member as ADDR:PORT, IPv6 in brackets. */
export const hostPort = (address: string, port: number) => (address.includes(":") ? `[${address}]:${port}` : `${address}:${port}`);

export const status = (s: { status: string; reason: string }) => (s.reason ? `${s.status} (${s.reason})` : s.status);

export const provisioning = (p: { status: string; reason: string; nodesTotal: number; nodesAtRevision: number }) =>
  `${p.status} ${p.nodesAtRevision}/${p.nodesTotal} nodes` + (p.reason ? ` (${p.reason})` : "");

export const tags = (t: Record<string, string>) =>
  Object.entries(t)
    .map(([k, v]) => (v === "" ? k : `${k}=${v}`))
    .join(", ") || "-";

export const when = (d: Date | string) => {
  const date = typeof d === "string" ? new Date(d) : d;
  return date.toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
};
