// The README's demo, automated (root only): the server started with the demo cluster (as
// scripts/start.sh does as root) builds the testbed, creates the demo tenant and load balancer,
// prints the console URL, the admin's credentials and the exact command that curls the VIP from
// a client namespace — and that command gets an answer from a backend. SIGTERM stops the server
// and removes every namespace it made.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { DEMO_TOPOLOGY } from "./demo";

const isRoot = process.getuid?.() === 0;
const demoNamespaces = () =>
  isRoot
    ? execFileSync("ip", ["netns", "list"], { encoding: "utf8" })
        .split("\n")
        .map((l) => l.split(" ")[0]!)
        .filter((n) => n.startsWith(DEMO_TOPOLOGY.prefix!))
    : [];
// A developer's own demo may be running: never touch it.
const busy = demoNamespaces().length > 0;
const skipReason = !isRoot ? "needs root (XDP, FRR, namespaces)" : busy ? `a demo cluster (${DEMO_TOPOLOGY.prefix}*) is already running` : "";

let server: ChildProcess | undefined;
let dataDir = "";

afterAll(async () => {
  if (server && server.exitCode === null) {
    server.kill("SIGTERM");
    await new Promise((r) => server!.once("exit", r));
  }
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
});

describe.skipIf(skipReason !== "")(`demo cluster${skipReason ? ` (skipped: ${skipReason})` : ""}`, () => {
  it("prints the console, the credentials and a curl command that a backend answers; SIGTERM removes it all", { timeout: 180_000 }, async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "tenbin-demo-test-"));
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const k of Object.keys(env)) if (k.startsWith("TENBIN_") || k === "DATABASE_URL") delete env[k];
    Object.assign(env, {
      PORT: "0",
      HOST: "127.0.0.1",
      TENBIN_DATA_DIR: dataDir,
      TENBIN_NO_UI: "1",
      TENBIN_DEMO_CLUSTER: "1",
      TENBIN_ADMIN_EMAIL: "admin@demo.test",
      LOG_LEVEL: "warn",
    });
    server = spawn(process.execPath, ["--import", "tsx", "server/main.ts"], { env, cwd: process.cwd(), stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    server.stdout!.on("data", (d: Buffer) => (out += d.toString()));
    server.stderr!.on("data", (d: Buffer) => (out += d.toString()));
    const deadline = Date.now() + 150_000;
    while (!/Demo cluster ready[\s\S]*Ctrl-C/.test(out) && !/Demo cluster NOT started/.test(out) && server.exitCode === null && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(out, out).toMatch(/Demo cluster ready/);
    expect(out).toMatch(/console: {2}http:\/\/(localhost|127\.0\.0\.1):\d+/);
    expect(out).toMatch(/admin: {4}admin@demo\.test/);
    expect(out).toMatch(/password: tb|password: \S{8,}/);
    expect(out).toMatch(/answered by \S+ just now/);
    const curl = /ip netns exec (\S+) curl -s (http:\/\/\S+\/)/.exec(out);
    expect(curl, out).not.toBeNull();
    // The printed command, as a user would paste it (with a bound on its time).
    const body = execFileSync("ip", ["netns", "exec", curl![1]!, "curl", "-s", "--max-time", "5", curl![2]!], { encoding: "utf8" });
    const backends = /→ (.+)$/m.exec(out)![1]!.split(", ");
    expect(backends.length).toBeGreaterThanOrEqual(3);
    expect(backends).toContain(body.trim());
    expect(demoNamespaces().length).toBeGreaterThanOrEqual(8);

    server.kill("SIGTERM");
    const code = await new Promise<number | null>((r) => server!.once("exit", (c) => r(c)));
    expect(code, out).toBe(0);
    expect(out).toMatch(/Demo cluster: tearing the testbed down/);
    expect(demoNamespaces()).toEqual([]);
  });
});
