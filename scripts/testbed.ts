// npx tsx scripts/testbed.ts up|down|status [options]   (npm run testbed -- up)
//
// A real Tenbin cluster on this machine, in network namespaces (needs root): a router running
// FRR with ECMP, LB nodes in 2 AZs each running the real tenbin-agent (XDP, pinned maps, FRR),
// backends with tb_decap and HTTP/UDP servers on the VIPs, clients — plus a Tenbin server
// listening only on the testbed's management bridge. See e2e/testbed/testbed.ts.
import { down, status, topologyFor, up } from "../e2e/testbed/testbed";
import { startServerProcess, type ServerProcess } from "../e2e/testbed/server-process";
import { DEFAULT_TOPOLOGY, type TopologyOptions } from "../e2e/testbed/topology";

const USAGE = `usage: npx tsx scripts/testbed.ts up|down|status [options]

  up       build the testbed, start a server on its management bridge, register and start the agents
  down     remove everything a testbed with this prefix created (also after a crash)
  status   print what runs

options (up):
  --prefix P        namespace/interface prefix (default ${DEFAULT_TOPOLOGY.prefix})
  --nodes LIST      LB nodes as name:az,... (default ${DEFAULT_TOPOLOGY.lbNodes.map((n) => `${n.name}:${n.az}`).join(",")})
  --backends N      backend namespaces (default ${DEFAULT_TOPOLOGY.backends})
  --clients N       client namespaces (default ${DEFAULT_TOPOLOGY.clients})
  --port N          server port on the management address (default 3000)
  --ui              also serve the console (needs \`npm run build\`)
  --email E         platform admin email (default admin@tenbin.local); password from TENBIN_ADMIN_PASSWORD or generated
  --database-url U  use this PostgreSQL instead of an embedded PGlite in the state directory`;

function parseArgs(argv: string[]): { command: string; flags: Map<string, string | true> } {
  const [command = "", ...rest] = argv;
  const flags = new Map<string, string | true>();
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i]!;
    if (!a.startsWith("--")) throw new Error(`unexpected argument ${a}`);
    const [k, inline] = a.slice(2).split("=", 2) as [string, string | undefined];
    if (k === "ui" || k === "help") flags.set(k, true);
    else {
      const v = inline ?? rest[++i];
      if (v === undefined) throw new Error(`--${k} needs a value`);
      flags.set(k, v);
    }
  }
  return { command, flags };
}

function topologyOptions(flags: Map<string, string | true>): TopologyOptions {
  const str = (k: string) => (typeof flags.get(k) === "string" ? (flags.get(k) as string) : undefined);
  const nodes = str("nodes")
    ?.split(",")
    .map((s) => {
      const [name, az] = s.split(":");
      if (!name || !az) throw new Error(`--nodes wants name:az, got ${s}`);
      return { name, az };
    });
  return {
    ...DEFAULT_TOPOLOGY,
    ...(str("prefix") ? { prefix: str("prefix")! } : {}),
    ...(nodes ? { lbNodes: nodes } : {}),
    ...(str("backends") ? { backends: Number(str("backends")) } : {}),
    ...(str("clients") ? { clients: Number(str("clients")) } : {}),
  };
}

async function main(): Promise<number> {
  const { command, flags } = parseArgs(process.argv.slice(2));
  if (flags.has("help") || !["up", "down", "status"].includes(command)) {
    console.log(USAGE);
    return flags.has("help") ? 0 : 2;
  }
  if (process.getuid?.() !== 0) {
    console.error("the testbed needs root: network namespaces, XDP programs, bpffs and FRR (run it with sudo)");
    return 1;
  }
  const options = topologyOptions(flags);
  const topo = topologyFor(options);
  const log = (l: string) => console.log(`testbed: ${l}`);

  if (command === "down") {
    const removed = await down(topo);
    console.log(removed.length ? removed.map((r) => `removed ${r}`).join("\n") : `nothing to remove for prefix ${topo.prefix}`);
    return 0;
  }
  if (command === "status") {
    console.log(await status(topo));
    return 0;
  }

  let server: ServerProcess | undefined;
  const tb = await up({
    topology: options,
    log,
    server: async (host) => {
      server = await startServerProcess(topo, host, {
        port: Number(flags.get("port") ?? 3000),
        ui: flags.get("ui") === true,
        adminEmail: typeof flags.get("email") === "string" ? (flags.get("email") as string) : "admin@tenbin.local",
        adminPassword: process.env.TENBIN_ADMIN_PASSWORD,
        databaseUrl: typeof flags.get("database-url") === "string" ? (flags.get("database-url") as string) : undefined,
      });
      log(`server ${server.url} (pid ${server.pid}, log ${server.logFile})`);
      return server;
    },
  });
  console.log(`\n${await status(tb.topo)}\n`);
  console.log(`server:      ${tb.server.url}${flags.get("ui") === true ? " (console + API)" : " (API only)"}`);
  console.log(`admin:       ${server!.adminEmail} / ${server!.adminPassword}`);
  console.log(`VIP pool:    ${tb.topo.vipPoolV4} and ${tb.topo.vipPoolV6}; backends ${tb.topo.backends.map((b) => `${b.link.v4}:${tb.topo.httpPort}`).join(" ")}`);
  console.log(`curl a VIP:  ip netns exec ${tb.topo.clients[0]!.ns} curl -s http://<VIP>/`);
  console.log(`remove:      npx tsx scripts/testbed.ts down${options.prefix !== DEFAULT_TOPOLOGY.prefix ? ` --prefix ${options.prefix}` : ""}`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  },
);
