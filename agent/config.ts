// The agent's configuration: a JSON file (path from --config or TENBIN_AGENT_CONFIG) plus a
// few environment overrides, validated with zod. A bad config stops the agent at start with
// every problem listed; nothing is half-started.
import fs from "node:fs";
import os from "node:os";
import { isIP } from "node:net";
import { z } from "zod";

const address = z.string().refine((s) => isIP(s) !== 0, "must be an IPv4 or IPv6 address");
const ipv4 = z.string().refine((s) => isIP(s) === 4, "must be an IPv4 address");
const ipv6 = z.string().refine((s) => isIP(s) === 6, "must be an IPv6 address");
const asn = z.number().int().min(1).max(4294967294);
const mac = z.string().regex(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i, "must be a MAC address like 02:00:00:00:00:01");
const ms = (def: number, min = 1) => z.number().int().min(min).default(def);

export const agentConfigSchema = z
  .object({
    server: z.object({
      /** Base URL of the server (http(s)://host:port); the hub is at /ws/agent. */
      url: z.string().url(),
      /** Node credential (else the one stored in the state dir, else obtained with joinToken). */
      credential: z.string().min(1).optional(),
      joinToken: z.string().min(1).optional(),
      /** PEM file of the CA that signed the server's certificate (wss). */
      caFile: z.string().optional(),
    }),
    node: z
      .object({
        /** Host name in frr.conf; default: the machine's host name. */
        name: z.string().min(1).optional(),
        /** Outer source addresses of encapsulated packets (at least one). */
        addressV4: ipv4.optional(),
        addressV6: ipv6.optional(),
      })
      .refine((n) => n.addressV4 || n.addressV6, "node needs addressV4 and/or addressV6"),
    /** Interfaces the XDP program is attached to. */
    interfaces: z
      .array(z.object({ name: z.string().min(1).max(15), mode: z.enum(["auto", "native", "generic"]).default("auto") }))
      .default([]),
    datapath: z
      .object({
        /** bpffs directory for the pinned maps and links. */
        pinDir: z.string().default("/sys/fs/bpf/tenbin"),
        maxListeners: z.number().int().positive().optional(),
        maxBackends: z.number().int().positive().optional(),
        conn4PerCpu: z.number().int().positive().optional(),
        conn6PerCpu: z.number().int().positive().optional(),
        /** Next hop from the kernel FIB (bpf_fib_lookup). */
        useFib: z.boolean().default(true),
        /** Next hop when the FIB has none: out of `ifname` (or back out of the ingress when absent). */
        fallback: z.object({ ifname: z.string().optional(), dstMac: mac, srcMac: mac }).optional(),
        floodGuard: z.object({ threshold: z.number().int().min(0), windowMs: z.number().positive(), cooldownMs: z.number().min(0) }).optional(),
        maglevWorkers: z.number().int().min(0).max(16).optional(),
      })
      .default({ pinDir: "/sys/fs/bpf/tenbin", useFib: true }),
    bgp: z
      .object({
        asn,
        routerId: ipv4,
        neighbors: z
          .array(
            z.object({
              address,
              remoteAsn: asn,
              password: z.string().optional(),
              description: z.string().optional(),
              addressFamilies: z.array(z.enum(["ipv4", "ipv6"])).optional(),
            }),
          )
          .default([]),
        keepaliveSeconds: z.number().int().positive().optional(),
        holdSeconds: z.number().int().positive().optional(),
        connectRetrySeconds: z.number().int().positive().optional(),
        advertiseVia: z.enum(["network", "redistribute-static"]).optional(),
      })
      .optional(),
    frr: z
      .object({
        /** False: render nothing, announce nothing (a node without BGP, or tests). */
        enabled: z.boolean().default(true),
        confDir: z.string().default("/etc/frr"),
        vtySocketDir: z.string().optional(),
        reloadScript: z.string().optional(),
        vtyshBinDir: z.string().optional(),
        debounceMs: ms(100, 0),
        /** Start zebra/staticd/bgpd in this directory when they are not running (testbeds). */
        manageInstance: z.object({ dir: z.string(), netns: z.string().optional() }).optional(),
      })
      .default({ enabled: true, confDir: "/etc/frr", debounceMs: 100 }),
    health: z
      .object({
        maxInFlight: z.number().int().positive().optional(),
        batchWindowMs: z.number().int().min(0).optional(),
      })
      .default({}),
    /** Desired state and credential live here. */
    stateDir: z.string().default("/var/lib/tenbin-agent"),
    intervals: z
      .object({
        metricsMs: ms(1_000, 100),
        heartbeatMs: ms(5_000, 100),
        resyncMs: ms(300_000, 1_000),
        reconnectMinMs: ms(500, 10),
        reconnectMaxMs: ms(30_000, 10),
        pingMs: ms(15_000, 100),
      })
      .default({ metricsMs: 1_000, heartbeatMs: 5_000, resyncMs: 300_000, reconnectMinMs: 500, reconnectMaxMs: 30_000, pingMs: 15_000 }),
    logLevel: z.enum(["trace", "debug", "info", "warn", "error", "fatal"]).default("info"),
  })
  .refine((c) => !c.frr.enabled || c.bgp !== undefined, { message: "frr.enabled needs bgp settings (or set frr.enabled to false)", path: ["bgp"] });

export type AgentConfig = z.infer<typeof agentConfigSchema>;

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/** Environment overrides (12-factor style) applied on top of the file. */
function applyEnv(raw: Record<string, unknown>, env: Record<string, string | undefined>): Record<string, unknown> {
  const out = structuredClone(raw);
  const server = (out.server ??= {}) as Record<string, unknown>;
  if (env.TENBIN_SERVER_URL) server.url = env.TENBIN_SERVER_URL;
  if (env.TENBIN_NODE_CREDENTIAL) server.credential = env.TENBIN_NODE_CREDENTIAL;
  if (env.TENBIN_JOIN_TOKEN) server.joinToken = env.TENBIN_JOIN_TOKEN;
  if (env.TENBIN_AGENT_STATE_DIR) out.stateDir = env.TENBIN_AGENT_STATE_DIR;
  if (env.TENBIN_LOG_LEVEL) out.logLevel = env.TENBIN_LOG_LEVEL;
  return out;
}

/** Validates a config object (file contents + env); throws ConfigError listing every issue. */
export function parseConfig(raw: unknown, env: Record<string, string | undefined> = {}): AgentConfig {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new ConfigError("config must be a JSON object");
  const r = agentConfigSchema.safeParse(applyEnv(raw as Record<string, unknown>, env));
  if (!r.success) {
    const issues = r.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`);
    throw new ConfigError(`invalid agent config:\n  ${issues.join("\n  ")}`);
  }
  return r.data;
}

/** Reads and validates the config file. */
export function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env): AgentConfig {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    throw new ConfigError(`cannot read config ${file}: ${(e as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`config ${file} is not valid JSON: ${(e as Error).message}`);
  }
  return parseConfig(raw, env);
}

export function nodeName(c: AgentConfig): string {
  return c.node.name ?? os.hostname();
}
