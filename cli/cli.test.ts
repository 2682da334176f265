// The real `tenbin` binary (bin/tenbin.mjs, a child process started from outside the repository)
// against a real API server on 127.0.0.1: output for people and for scripts, exit codes, config.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import fs from "node:fs";
import path from "node:path";
import { ADMIN, OPERATOR, TENANT, freePort, runTenbin, startTestServer, tempDir, type RunResult, type TestServer } from "./test-support";

let server: TestServer;
let work: string; // temp files and config homes
let opConfig: string; // XDG_CONFIG_HOME of the operator after `tenbin login`
let vip = "";

beforeAll(async () => {
  server = await startTestServer();
  work = tempDir("tenbin-cli-test-");
  opConfig = path.join(work, "op-config");
}, 120_000);
afterAll(async () => {
  await server?.close();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

interface Run extends RunResult {
  json: () => any; // eslint-disable-line @typescript-eslint/no-explicit-any
  errorJson: () => { error: { code: string; message: string; fieldErrors: Record<string, string[]> | null } };
}

/** Runs the CLI with a private HOME and config home (the operator's unless `config` says otherwise). */
async function tenbin(args: string[], opts: { env?: Record<string, string>; input?: string; config?: string } = {}): Promise<Run> {
  const r = await runTenbin(args, {
    env: { HOME: work, XDG_CONFIG_HOME: opts.config ?? opConfig, ...opts.env },
    ...(opts.input !== undefined ? { input: opts.input } : {}),
  });
  return {
    ...r,
    json: () => JSON.parse(r.stdout),
    errorJson: () => JSON.parse(r.stderr),
  };
}

/** Runs independent invocations a few at a time (2 cores: more would only queue). */
async function all<const T extends readonly (() => Promise<Run>)[]>(tasks: T, width = 3): Promise<{ -readonly [K in keyof T]: Run }> {
  const results: Run[] = new Array<Run>(tasks.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < tasks.length) {
        const i = next++;
        results[i] = await tasks[i]!();
      }
    }),
  );
  return results as { -readonly [K in keyof T]: Run };
}

const file = (name: string, content: string) => {
  const p = path.join(work, name);
  fs.writeFileSync(p, content);
  return p;
};
const show = (r: RunResult) => `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;

describe("tenbin CLI against a running server", { timeout: 180_000 }, () => {
  it("documents commands and exit codes in --help; parser complaints exit 2", async () => {
    const [help, memberHelp, bogus, bogusJson] = await all([
      () => tenbin(["--help"]),
      () => tenbin(["member", "add", "--help"]),
      () => tenbin(["lb", "list", "--bogus"]),
      () => tenbin(["--json", "lb", "list", "--bogus"]),
    ]);
    expect(help.code, show(help)).toBe(0);
    for (const cmd of ["configure", "login", "whoami", "lb", "listener", "pool", "member"]) expect(help.stdout).toContain(`  ${cmd}`);
    expect(help.stdout).toMatch(/Exit codes:[\s\S]*2 +usage error[\s\S]*3 +not found[\s\S]*4 +conflict[\s\S]*5 +not signed in[\s\S]*6 +server unreachable/);
    expect(memberHelp.code).toBe(0);
    expect(memberHelp.stdout).toMatch(/Usage: tenbin member add \[options\] <vip> <protocol> <port> \[members\.\.\.\]/);
    expect(memberHelp.stdout).toContain("[2001:db8::5]:80");
    expect(bogus.code, show(bogus)).toBe(2);
    expect(bogus.stderr).toContain("unknown option '--bogus'");
    expect(bogusJson.code).toBe(2);
    expect(bogusJson.errorJson().error).toMatchObject({ code: "BAD_REQUEST", message: "unknown option '--bogus'" });
  });

  it("login signs in, saves a new token (mode 0600) and whoami uses it; bad passwords and no token exit 5", async () => {
    const [login, wrong, nobody] = await all([
      () => tenbin(["login", "--url", server.url, "--email", OPERATOR.email, "--password-stdin"], { input: `${OPERATOR.password}\n` }),
      () =>
        tenbin(["login", "--url", server.url, "--email", OPERATOR.email, "--password-stdin"], {
          input: "not-the-password-1\n",
          config: path.join(work, "wrong-config"),
        }),
      () => tenbin(["lb", "list"], { config: path.join(work, "empty-config") }),
    ]);
    expect(login.code, show(login)).toBe(0);
    expect(login.stdout).toContain(`signed in to ${server.url} as ${OPERATOR.email}`);
    const cfgFile = path.join(opConfig, "tenbin", "config.json");
    expect(fs.statSync(cfgFile).mode & 0o777).toBe(0o600);
    const cfg = JSON.parse(fs.readFileSync(cfgFile, "utf8"));
    expect(cfg.url).toBe(server.url);
    expect(cfg.token).toMatch(/^tb_/);

    expect(wrong.code, show(wrong)).toBe(5);
    expect(wrong.stderr.trim()).toBe("tenbin: wrong email or password");
    expect(fs.existsSync(path.join(work, "wrong-config", "tenbin", "config.json"))).toBe(false);
    expect(nobody.code, show(nobody)).toBe(5);
    expect(nobody.stderr).toMatch(/^tenbin: no server URL: pass --url/);

    const who = await tenbin(["--json", "whoami"]);
    expect(who.code, show(who)).toBe(0);
    expect(who.json()).toMatchObject({
      url: server.url,
      user: { email: OPERATOR.email, platformAdmin: false },
      tenants: [{ slug: TENANT, role: "operator" }],
      sources: { token: cfgFile },
    });
  });

  it("configure checks the token before saving; flags override the environment, which overrides the file", async () => {
    const adminConfig = path.join(work, "admin-config");
    const opToken: string = JSON.parse(fs.readFileSync(path.join(opConfig, "tenbin", "config.json"), "utf8")).token;
    const [ok, refused, notMember] = await all([
      () => tenbin(["configure", "--url", server.url, "--token", server.adminToken], { config: adminConfig }),
      () => tenbin(["configure", "--url", server.url, "--token", "tb_not-a-real-token"], { config: path.join(work, "bad-config") }),
      () => tenbin(["configure", "--url", server.url, "--token", opToken, "--tenant", "nope"], { config: path.join(work, "bad-config") }),
    ]);
    expect(ok.code, show(ok)).toBe(0);
    expect(ok.stdout).toContain(`as ${ADMIN.email}`);
    expect(JSON.parse(fs.readFileSync(path.join(adminConfig, "tenbin", "config.json"), "utf8"))).toEqual({
      url: server.url,
      token: server.adminToken,
    });
    expect(refused.code, show(refused)).toBe(5);
    expect(refused.stderr).toContain("the server refused the token: unknown API token");
    expect(notMember.code, show(notMember)).toBe(3);
    expect(notMember.stderr).toContain(`is not a member of tenant "nope" (member of: ${TENANT})`);
    expect(fs.existsSync(path.join(work, "bad-config", "tenbin", "config.json"))).toBe(false);

    const [envOverFile, flagOverEnv] = await all([
      () => tenbin(["--json", "whoami"], { config: adminConfig, env: { TENBIN_TOKEN: opToken } }),
      () => tenbin(["--json", "whoami", "--token", server.adminToken], { config: adminConfig, env: { TENBIN_TOKEN: opToken } }),
    ]);
    expect(envOverFile.json()).toMatchObject({ user: { email: OPERATOR.email }, sources: { token: "TENBIN_TOKEN", url: path.join(adminConfig, "tenbin", "config.json") } });
    expect(flagOverEnv.json()).toMatchObject({ user: { email: ADMIN.email }, sources: { token: "--token" } });
  });

  it("lb create builds a fully populated tree from a file; repeating it with the idempotency key returns the same one", async () => {
    const tree = file(
      "tree.json",
      JSON.stringify({
        tags: { env: "prod" },
        pools: [
          {
            name: "web",
            members: [1, 2, 3, 4].map((i) => ({ address: `198.18.10.${i}`, port: 80 })),
            monitor: { type: "HTTP", intervalMs: 2000, timeoutMs: 1000, http: { path: "/healthz", expectedCodes: "200-299" } },
          },
          { name: "dns", members: [{ address: "198.18.11.1", port: 53 }], monitor: { type: "TCP", port: 53 } },
        ],
        listeners: [
          { protocol: "TCP", port: 80, pool: "web" },
          { protocol: "UDP", port: 53, pool: "dns", affinity: "source-ip" },
        ],
      }),
    );
    const args = ["--json", "lb", "create", "shop-web", "--file", tree, "--tag", "team=web", "--idempotency-key", "cli-create-0001"];
    const first = await tenbin(args);
    expect(first.code, show(first)).toBe(0);
    const lb = first.json();
    vip = lb.address;
    expect(vip).toMatch(/^198\.19\.0\.\d+$/);
    expect(lb.tags).toEqual({ env: "prod", team: "web" });
    expect(lb.listeners.map((l: { name: string; pool: string }) => `${l.name}>${l.pool}`).sort()).toEqual(["tcp-80>web", "udp-53>dns"]);
    const web = lb.pools.find((p: { name: string }) => p.name === "web");
    expect(web.members).toHaveLength(4);
    expect(web.monitor).toMatchObject({ type: "HTTP", intervalMs: 2000, http: { path: "/healthz", expectedCodes: "200-299" } });
    // No agents yet: honestly pending, never a faked ACTIVE/ONLINE.
    expect(lb.provisioning.status).toBe("PENDING_CREATE");
    expect(lb.operating.status).not.toBe("ONLINE");

    const again = await tenbin(args);
    expect(again.code, show(again)).toBe(0);
    expect(again.json()).toMatchObject({ id: lb.id, address: vip, revision: lb.revision });
  });

  it("lb list and lb show print aligned tables with statuses and reasons; REF may be an address, id or name", async () => {
    const [list, detail, byName, filtered] = await all([
      () => tenbin(["lb", "list"]),
      () => tenbin(["lb", "show", vip]),
      () => tenbin(["--json", "lb", "show", "shop-web"]),
      () => tenbin(["--json", "lb", "list", "--tag", "env=prod", "--tag", "team=db"]),
    ]);
    expect(list.code, show(list)).toBe(0);
    const [header, row] = list.stdout.trimEnd().split("\n");
    expect(header).toMatch(/^NAME +ADDRESS +LISTENERS +MEMBERS +PROVISIONING +OPERATING +REVISION$/);
    expect(row).toMatch(new RegExp(`^shop-web +${vip.replace(/\./g, "\\.")} +UDP/53,TCP/80 +5 +PENDING_CREATE 0/0 +UNKNOWN +\\d+$`));
    // Columns line up: every field starts where its header does.
    expect(row!.indexOf(vip)).toBe(header!.indexOf("ADDRESS"));

    expect(detail.code, show(detail)).toBe(0);
    const lb = byName.json();
    expect(detail.stdout).toContain(`Address:              ${vip} (IPv4)`);
    expect(detail.stdout).toContain(`Provisioning:         PENDING_CREATE 0/0 nodes (${lb.provisioning.reason})`);
    expect(detail.stdout).toContain("Monitor: HTTP GET /healthz expect 200-299, every 2000 ms, timeout 1000 ms, rise 2, fall 3");
    expect(detail.stdout).toMatch(/198\.18\.10\.4:80 +100 +enabled/);
    expect(lb.address).toBe(vip);
    expect(filtered.json()).toEqual([]);
  });

  it("listener create takes a port range, CIDRs and affinity; listener list shows it", async () => {
    const created = await tenbin(["--json", "listener", "create", "shop-web", "--protocol", "tcp", "--port", "8000-8010", "--pool", "web", "--allow", "198.18.0.0/16", "--affinity", "source-ip"]);
    expect(created.code, show(created)).toBe(0);
    expect(created.json().listeners).toContainEqual(
      expect.objectContaining({ name: "tcp-8000-8010", protocol: "TCP", port: 8000, portEnd: 8010, allowedCidrs: ["198.18.0.0/16"], affinity: "source-ip", pool: "web" }),
    );
    const list = await tenbin(["listener", "list", vip]);
    expect(list.stdout).toMatch(/tcp-8000-8010 +TCP +8000-8010 +web +source-ip +198\.18\.0\.0\/16 +enabled/);
  });

  it("members by natural key: add (IPv6 too), bulk disable from a file, drain, declarative set, remove; repeats change nothing", async () => {
    const members = (r: Run) =>
      Object.fromEntries(
        r.json().pools.find((p: { name: string }) => p.name === "web").members.map((m: { address: string; port: number; weight: number; adminState: string }) => [
          `${m.address}:${m.port}`,
          `${m.weight}/${m.adminState}`,
        ]),
      );
    const addArgs = ["--json", "member", "add", vip, "TCP", "80", "198.18.10.5:80", "[2001:db8::5]:80", "--weight", "50"];
    const added = await tenbin(addArgs);
    expect(added.code, show(added)).toBe(0);
    expect(members(added)).toMatchObject({ "198.18.10.5:80": "50/enabled", "2001:db8::5:80": "50/enabled", "198.18.10.1:80": "100/enabled" });
    const repeat = await tenbin(addArgs);
    expect(repeat.code, show(repeat)).toBe(0);
    expect(repeat.json().revision).toBe(added.json().revision);

    // Bulk from a text file; port 8005 is inside the 8000-8010 listener, which also feeds pool "web".
    const csv = file("disable.csv", "# members to take out\naddress,port\n198.18.10.1,80\n198.18.10.2 80  # second one\n\n");
    const disabled = await tenbin(["--json", "member", "disable", vip, "tcp", "8005", "--file", csv]);
    expect(disabled.code, show(disabled)).toBe(0);
    expect(members(disabled)).toMatchObject({ "198.18.10.1:80": "100/disabled", "198.18.10.2:80": "100/disabled", "198.18.10.3:80": "100/enabled" });

    const drained = await tenbin(["member", "drain", vip, "TCP", "80", "198.18.10.3:80"]);
    expect(drained.code, show(drained)).toBe(0);
    expect(drained.stdout).toMatch(new RegExp(`^set draining 198\\.18\\.10\\.3:80 in pool web of ${vip.replace(/\./g, "\\.")} \\(revision \\d+\\)`));
    expect(drained.stdout).toMatch(/198\.18\.10\.3:80 +100 +draining +- +DRAINING/);

    const json = file("members.json", JSON.stringify([{ address: "198.18.10.7", port: 80, weight: 10 }, { address: "198.18.10.8", port: 80 }]));
    const set = await tenbin(["--json", "member", "set", vip, "TCP", "80", "--file", json]);
    expect(set.code, show(set)).toBe(0);
    expect(members(set)).toEqual({ "198.18.10.7:80": "10/enabled", "198.18.10.8:80": "100/enabled" });
    const setAgain = await tenbin(["--json", "member", "set", vip, "TCP", "80", "--file", json]);
    expect(setAgain.json().revision).toBe(set.json().revision);

    const removed = await tenbin(["member", "remove", vip, "TCP", "80", "198.18.10.8:80"]);
    expect(removed.code, show(removed)).toBe(0);
    // Changing only the monitor port keeps the weight (no defaults sneak in).
    const updated = await tenbin(["member", "update", vip, "TCP", "80", "198.18.10.7:80", "--monitor-port", "8080"]);
    expect(updated.code, show(updated)).toBe(0);
    const list = await tenbin(["--json", "member", "list", vip, "TCP", "80"]);
    expect(list.json()).toEqual([expect.objectContaining({ address: "198.18.10.7", port: 80, weight: 10, adminState: "enabled", monitorPort: 8080 })]);
  });

  it("bad input, missing objects and conflicts exit 2, 3 and 4 with one clear line (field errors listed)", async () => {
    const tree = file("idem.json", JSON.stringify({ name: "idem-a" }));
    const idem = await tenbin(["lb", "create", "--file", tree, "--idempotency-key", "cli-idem-0002"]);
    expect(idem.code, show(idem)).toBe(0);
    const [badVip, badWeight, outOfPool, unknownLb, noListener, duplicate, stale, inUse, idemReuse, noYes] = await all([
      () => tenbin(["member", "add", "198.19.0.999", "TCP", "80", "198.18.10.9:80"]),
      () => tenbin(["--json", "member", "add", vip, "TCP", "80", "198.18.10.9:80", "--weight", "300"]),
      () => tenbin(["lb", "create", "elsewhere", "--address", "203.0.113.5"]),
      () => tenbin(["lb", "show", "198.19.0.200"]),
      () => tenbin(["member", "list", vip, "UDP", "54"]),
      () => tenbin(["--json", "lb", "create", "shop-web"]),
      () => tenbin(["member", "add", vip, "TCP", "80", "198.18.10.9:80", "--expected-revision", "1"]),
      () => tenbin(["pool", "delete", vip, "web"]),
      () => tenbin(["lb", "create", "idem-b", "--idempotency-key", "cli-idem-0002"]),
      () => tenbin(["lb", "delete", vip]),
    ]);
    expect(badVip.code, show(badVip)).toBe(2);
    expect(badVip.stderr.trim()).toBe("tenbin: invalid input: vip: not a valid IPv4 or IPv6 address");
    expect(badWeight.code).toBe(2);
    expect(badWeight.errorJson().error).toEqual({
      code: "BAD_REQUEST",
      message: "invalid input: members.0.weight: 0–256 (0 drains)",
      fieldErrors: { "members.0.weight": ["0–256 (0 drains)"] },
      exitCode: 2,
    });
    expect(outOfPool.code, show(outOfPool)).toBe(2);
    expect(outOfPool.stderr).toMatch(/^tenbin: .*203\.0\.113\.5 is not in any IP pool\n {2}address: /);
    expect(unknownLb.code, show(unknownLb)).toBe(3);
    expect(unknownLb.stderr.trim()).toBe("tenbin: load balancer 198.19.0.200 not found");
    expect(noListener.code).toBe(3);
    expect(noListener.stderr.trim()).toBe(`tenbin: no UDP listener on port 54 of ${vip}`);
    expect(duplicate.code, show(duplicate)).toBe(4);
    expect(duplicate.errorJson().error).toMatchObject({ code: "CONFLICT", fieldErrors: { name: ["already exists"] } });
    expect(stale.code, show(stale)).toBe(4);
    expect(stale.stderr).toMatch(/^tenbin: stale revision: your change is based on revision 1/);
    expect(inUse.code, show(inUse)).toBe(4);
    expect(inUse.stderr).toContain('pool "web" is used by listener(s)');
    expect(idemReuse.code, show(idemReuse)).toBe(4);
    expect(idemReuse.stderr).toContain('idempotency key "cli-idem-0002" was already used for a different request');
    expect(noYes.code).toBe(2);
    expect(noYes.stderr.trim()).toBe(`tenbin: refusing to delete ${vip} without confirmation: pass --yes`);
    for (const r of [badVip, unknownLb, stale, inUse]) expect(r.stderr).not.toMatch(/\n\s+at /); // no stack traces
    // Nothing was changed by the refused calls.
    const after = await tenbin(["--json", "member", "list", vip, "TCP", "80"]);
    expect(after.json()).toHaveLength(1);
  });

  it("a revoked token exits 5 with the reason; an unreachable server exits 6", async () => {
    const { token, view } = await server.admin.tokens.create.mutate({ name: "to-revoke" });
    await server.admin.tokens.revoke.mutate({ id: view.id });
    const downUrl = `http://127.0.0.1:${await freePort()}`;
    const [who, list, down, downJson] = await all([
      () => tenbin(["whoami"], { env: { TENBIN_TOKEN: token } }),
      () => tenbin(["lb", "list", "--tenant", TENANT], { env: { TENBIN_TOKEN: token } }),
      () => tenbin(["lb", "list"], { env: { TENBIN_URL: downUrl } }),
      () => tenbin(["--json", "lb", "list"], { env: { TENBIN_URL: downUrl } }),
    ]);
    expect(who.code, show(who)).toBe(5);
    expect(who.stderr).toMatch(/^tenbin: the server refused the token: .*revoked/);
    expect(list.code, show(list)).toBe(5);
    expect(list.stderr).toMatch(/revoked/);
    expect(down.code, show(down)).toBe(6);
    expect(down.stderr.trim()).toBe(`tenbin: server ${downUrl} is unreachable (ECONNREFUSED)`);
    expect(downJson.code).toBe(6);
    expect(downJson.errorJson().error.code).toBe("UNREACHABLE");
  });

  it("lb history lists the revisions; delete honours deletion protection, then removes the load balancer", async () => {
    const [history, guarded] = await all([
      () => tenbin(["--json", "lb", "history", vip]),
      () => tenbin(["--json", "lb", "create", "guarded", "--family", "6", "--deletion-protection"]),
    ]);
    const actions = history.json().map((h: { action: string }) => h.action);
    for (const a of ["lb.create", "listener.create", "member.add", "member.disable", "member.drain", "member.set", "member.remove"]) {
      expect(actions).toContain(a);
    }
    const revisions = history.json().map((h: { revision: number }) => h.revision);
    expect(revisions).toEqual([...revisions].sort((a, b) => b - a));
    expect(guarded.code, show(guarded)).toBe(0);
    expect(guarded.json().address).toMatch(/^2001:db8:19::/);

    const [refused, deleted] = await all([() => tenbin(["lb", "delete", "guarded", "--yes"]), () => tenbin(["--json", "lb", "delete", vip, "--yes"])]);
    expect(refused.code, show(refused)).toBe(4);
    expect(refused.stderr).toContain("guarded has deletion protection; turn it off first");
    expect(deleted.code, show(deleted)).toBe(0);
    expect(deleted.json()).toMatchObject({ deleted: true, pending: false });

    const unprotect = await tenbin(["--json", "lb", "update", "guarded", "--deletion-protection", "off"]);
    expect(unprotect.code, show(unprotect)).toBe(0);
    expect(unprotect.json().deletionProtection).toBe(false);
    expect(unprotect.json().revision).toBeGreaterThan(guarded.json().revision);
    const [gone, guardedGone] = await all([() => tenbin(["lb", "show", vip]), () => tenbin(["lb", "delete", "guarded", "--yes"])]);
    expect(gone.code).toBe(3);
    expect(guardedGone.code, show(guardedGone)).toBe(0);
  });
});
