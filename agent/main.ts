// tenbin-agent: the node agent. Wiring only; the loops live in sync/, reconcile/, metrics/.
//
// Start:  config → Datapath (reuses pinned maps, attaches XDP) → FRR applier → health engine →
//         controller (applies the desired state persisted by the last run; no prune) →
//         hub connection (hello → snapshot → prune leftovers) → metrics loop.
// Stop (SIGTERM/SIGINT): stop metrics, hub connection and probes; DO NOT detach XDP, unpin maps
//         or withdraw routes — the node keeps forwarding and announcing while the agent is down.
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import pino from "pino";
import { ConfigError, loadConfig, nodeName, type AgentConfig } from "./config";
import { ifIndex } from "./datapath/attach";
import { Datapath } from "./datapath/datapath";
import { MaglevPool } from "./datapath/maglev";
import { FrrApplier } from "./frr/apply";
import { FrrInstance } from "./frr/instance";
import { HealthEngine } from "./health/engine";
import { MetricsLoop } from "./metrics/collector";
import { NodeController } from "./reconcile/controller";
import { DatapathTarget } from "./reconcile/datapath-target";
import { FrrTarget, NO_FRR, readBgpPeers, type ConfigApplier } from "./reconcile/frr-target";
import { HealthTargetSet } from "./reconcile/health-target";
import { SyncClient, hubUrl } from "./sync/client";
import { obtainCredential } from "./sync/join";
import { StateStore } from "./sync/state-store";

export const AGENT_VERSION: string = (() => {
  try {
    const pkg = JSON.parse(fs.readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version?: string };
    return pkg.version ?? "0.0.0";
  } catch {
    return "0.0.0";
  }
})();

const USAGE = `usage: tenbin-agent --config <file.json>

Runs the Tenbin node agent (as root). The config file is JSON; see agent/README.md.
Environment overrides: TENBIN_AGENT_CONFIG (config path), TENBIN_SERVER_URL,
TENBIN_NODE_CREDENTIAL, TENBIN_JOIN_TOKEN, TENBIN_AGENT_STATE_DIR, TENBIN_LOG_LEVEL.`;

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Starts the node's FRR daemons when asked to and they are not already running. */
async function ensureFrr(cfg: AgentConfig, log: pino.Logger): Promise<void> {
  const m = cfg.frr.manageInstance;
  if (!m) return;
  let pid = 0;
  try {
    pid = Number(fs.readFileSync(path.join(m.dir, "bgpd.pid"), "utf8").trim());
  } catch {
    // not started yet
  }
  if (Number.isInteger(pid) && pid > 0 && isAlive(pid)) {
    log.info({ dir: m.dir, pid }, "FRR already running; keeping it (routes stay announced)");
    return;
  }
  await FrrInstance.start({ dir: m.dir, netns: m.netns });
  log.info({ dir: m.dir }, "started FRR");
}

export async function run(cfg: AgentConfig, signal: AbortSignal): Promise<void> {
  const log = pino({ name: "tenbin-agent", level: cfg.logLevel });
  fs.mkdirSync(cfg.stateDir, { recursive: true, mode: 0o700 });
  const store = new StateStore(cfg.stateDir);

  // Data plane: reuse what the pins hold, never clear it.
  const dp = Datapath.open({
    pinDir: cfg.datapath.pinDir,
    maxListeners: cfg.datapath.maxListeners,
    maxBackends: cfg.datapath.maxBackends,
    conn4PerCpu: cfg.datapath.conn4PerCpu,
    conn6PerCpu: cfg.datapath.conn6PerCpu,
  });
  const fb = cfg.datapath.fallback;
  dp.configure({
    nodeV4: cfg.node.addressV4,
    nodeV6: cfg.node.addressV6,
    useFib: cfg.datapath.useFib,
    fallback: fb && { ifindex: fb.ifname ? ifIndex(fb.ifname) : 0, dstMac: fb.dstMac, srcMac: fb.srcMac },
    floodGuard: cfg.datapath.floodGuard,
  });
  for (const i of cfg.interfaces) {
    const r = dp.attach(i.name, i.mode);
    log.info({ interface: i.name, mode: r.mode }, "XDP attached");
  }
  const maglev = new MaglevPool({ workers: cfg.datapath.maglevWorkers });
  const dpTarget = new DatapathTarget(dp, maglev);
  log.info({ restored: dpTarget.restoredSummary, pinDir: cfg.datapath.pinDir }, dp.restored ? "restored the data plane from pinned maps" : "fresh data plane");

  // FRR.
  let applier: ConfigApplier = NO_FRR;
  let frrApplier: FrrApplier | null = null;
  const confDir = cfg.frr.manageInstance?.dir ?? cfg.frr.confDir;
  const vtySocketDir = cfg.frr.manageInstance?.dir ?? cfg.frr.vtySocketDir ?? confDir;
  if (cfg.frr.enabled) {
    await ensureFrr(cfg, log);
    frrApplier = new FrrApplier({
      confDir,
      vtySocketDir,
      reloadScript: cfg.frr.reloadScript,
      vtyshBinDir: cfg.frr.vtyshBinDir,
      debounceMs: cfg.frr.debounceMs,
    });
    applier = frrApplier;
  }
  const bgp = cfg.bgp;
  const frrTarget = new FrrTarget(
    cfg.frr.enabled && bgp
      ? {
          hostname: nodeName(cfg),
          routerId: bgp.routerId,
          localAsn: bgp.asn,
          neighbors: bgp.neighbors,
          keepaliveSeconds: bgp.keepaliveSeconds,
          holdSeconds: bgp.holdSeconds,
          connectRetrySeconds: bgp.connectRetrySeconds,
          advertiseVia: bgp.advertiseVia,
        }
      : null,
    applier,
  );

  // Health checks, controller, hub connection.
  let controller: NodeController | null = null;
  const engine = new HealthEngine({
    onTransitions: (batch) => controller?.onHealthTransitions(batch),
    maxInFlight: cfg.health.maxInFlight,
    batchWindowMs: cfg.health.batchWindowMs,
    onError: (e) => log.error({ err: e }, "health transition handling failed"),
  });
  let client: SyncClient | null = null;
  controller = new NodeController({
    datapath: dpTarget,
    frr: frrTarget,
    health: new HealthTargetSet(engine),
    persist: (s) => store.saveDesired(s),
    onAcks: (a) => client?.sendAcks(a),
    onHealth: (h) => client?.sendHealth(h),
    log,
  });
  const ctl = controller;

  const persisted = store.loadDesired();
  if (persisted.problem) log.warn({ problem: persisted.problem }, "persisted desired state not used");
  if (persisted.state) {
    log.info({ revision: persisted.state.revision, vips: persisted.state.vips.length }, "applying the persisted desired state");
    await ctl.restore(persisted.state);
  }

  const caPem = cfg.server.caFile ? fs.readFileSync(cfg.server.caFile, "utf8") : undefined;
  client = new SyncClient({
    url: hubUrl(cfg.server.url),
    credential: () =>
      obtainCredential({
        serverUrl: cfg.server.url,
        credential: cfg.server.credential,
        joinToken: cfg.server.joinToken,
        agentVersion: AGENT_VERSION,
        store,
      }),
    agentVersion: AGENT_VERSION,
    hello: () => ({
      lastAppliedRevision: ctl.lastAppliedRevision,
      restored: { vips: dpTarget.restoredSummary.vips, backends: dpTarget.restoredSummary.backends },
    }),
    onMessage: (msg) => ctl.handle(msg),
    onConnected: () => {
      client?.sendAcks(ctl.ackAll());
      client?.sendHealth(ctl.healthReport());
    },
    heartbeat: async () => {
      let peers = { peersUp: 0, peersTotal: bgp?.neighbors.length ?? 0 };
      if (cfg.frr.enabled) peers = await readBgpPeers(vtySocketDir).catch(() => peers);
      return { at: Date.now(), bgp: peers, advertised: ctl.advertisedCount };
    },
    reconnectMinMs: cfg.intervals.reconnectMinMs,
    reconnectMaxMs: cfg.intervals.reconnectMaxMs,
    resyncIntervalMs: cfg.intervals.resyncMs,
    heartbeatIntervalMs: cfg.intervals.heartbeatMs,
    pingIntervalMs: cfg.intervals.pingMs,
    tls: caPem ? { ca: caPem } : undefined,
    log,
  });
  client.start();

  const metrics = new MetricsLoop({
    read: () => dp.readStats(),
    owners: dpTarget,
    onSample: (s) => client?.sendMetrics(s),
    intervalMs: cfg.intervals.metricsMs,
    onError: (e) => log.warn({ err: e }, "reading counters failed"),
  });
  metrics.start();
  log.info({ version: AGENT_VERSION, hub: hubUrl(cfg.server.url) }, "agent running");

  await new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    signal.addEventListener("abort", () => resolve(), { once: true });
  });

  // Static stability: stop the control loops only; XDP, pins and routes stay.
  log.info({}, "stopping (the data plane keeps forwarding; routes stay announced)");
  metrics.stop();
  await client.stop();
  await ctl.idle();
  ctl.close();
  await engine.close();
  if (frrApplier) await frrApplier.flush().catch((e: unknown) => log.warn({ err: e }, "last FRR apply failed"));
  await maglev.close();
  dp.close();
  log.info({}, "stopped");
}

export async function main(argv: string[]): Promise<number> {
  let configPath = process.env.TENBIN_AGENT_CONFIG;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--help" || a === "-h") {
      console.log(USAGE);
      return 0;
    }
    if (a === "--version") {
      console.log(AGENT_VERSION);
      return 0;
    }
    if (a === "--config" || a === "-c") configPath = argv[++i];
    else if (a.startsWith("--config=")) configPath = a.slice("--config=".length);
    else {
      console.error(`unknown argument ${a}\n${USAGE}`);
      return 2;
    }
  }
  if (!configPath) {
    console.error(`no config file given\n${USAGE}`);
    return 2;
  }
  let cfg: AgentConfig;
  try {
    cfg = loadConfig(configPath);
  } catch (e) {
    console.error(e instanceof ConfigError ? e.message : String(e));
    return 2;
  }
  const ac = new AbortController();
  const stop = () => ac.abort();
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
  try {
    await run(cfg, ac.signal);
    return 0;
  } catch (e) {
    console.error(`tenbin-agent: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    return 1;
  } finally {
    process.off("SIGTERM", stop);
    process.off("SIGINT", stop);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  process.exitCode = await main(process.argv.slice(2));
}
