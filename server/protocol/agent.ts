// The agent ⇄ hub contract (one websocket per agent at /ws/agent). Both ends validate every
// message with these schemas; the agent imports this file. Bump PROTOCOL_VERSION on any
// incompatible change: the hub refuses agents speaking another major version.
import { z } from "zod";

export const PROTOCOL_VERSION = 1;
/** Largest message either side accepts (bytes of JSON). */
export const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;
export const AGENT_PATH = "/ws/agent";
/** Close codes (4000–4999 are application codes). */
export const CloseCode = {
  malformed: 4400,
  unauthorized: 4401,
  revoked: 4403,
  versionMismatch: 4426,
  replaced: 4409,
  shuttingDown: 1001,
} as const;

const ip = z.string().min(2).max(64);
const port = z.number().int().min(1).max(65535);
const revision = z.number().int().nonnegative();

export const monitorSpec = z.object({
  type: z.enum(["ICMP", "TCP", "HTTP", "HTTPS"]),
  intervalMs: z.number().int().positive(),
  timeoutMs: z.number().int().positive(),
  rise: z.number().int().min(1),
  fall: z.number().int().min(1),
  port: port.nullable(),
  http: z
    .object({ method: z.string(), path: z.string(), host: z.string().optional(), expectedCodes: z.string() })
    .nullable(),
  /** HTTPS: SNI, whether to verify the backend's certificate, and the CA bundle (PEM) to verify against. */
  tls: z
    .object({ sni: z.string().max(253).optional(), verify: z.boolean(), ca: z.string().max(1_000_000).optional() })
    .nullable()
    .optional(),
});

export const desiredMember = z.object({
  id: z.string(),
  address: ip,
  port,
  weight: z.number().int().min(0).max(256),
  adminState: z.enum(["enabled", "disabled", "draining"]),
  monitorAddress: ip.nullable(),
  monitorPort: port.nullable(),
});

export const desiredPool = z.object({
  id: z.string(),
  minHealthy: z.object({ kind: z.enum(["count", "percent"]), value: z.number().int().min(0) }),
  allDownPolicy: z.enum(["withdraw", "fail-open"]),
  monitor: monitorSpec.nullable(),
  members: z.array(desiredMember),
});

export const desiredListener = z.object({
  id: z.string(),
  protocol: z.enum(["TCP", "UDP"]),
  portStart: port,
  portEnd: port,
  allowedCidrs: z.array(z.string()),
  affinity: z.enum(["5-tuple", "source-ip"]),
  poolId: z.string(),
  adminEnabled: z.boolean(),
});

/** The whole desired state of one VIP on one node: always complete, never a diff. */
export const desiredVip = z.object({
  lbId: z.string(),
  revision,
  address: ip,
  family: z.union([z.literal(4), z.literal(6)]),
  adminEnabled: z.boolean(),
  listeners: z.array(desiredListener),
  pools: z.array(desiredPool),
});
export type DesiredVip = z.infer<typeof desiredVip>;

// ---- hub → agent ----

export const snapshotMsg = z.object({
  type: z.literal("snapshot"),
  /** Highest revision reflected in this snapshot. */
  revision,
  node: z.object({ id: z.string(), name: z.string(), state: z.enum(["active", "cordoned", "draining", "down"]) }),
  vips: z.array(desiredVip),
});
export const updateMsg = z.object({
  type: z.literal("update"),
  revision,
  node: z.object({ id: z.string(), name: z.string(), state: z.enum(["active", "cordoned", "draining", "down"]) }).optional(),
  vips: z.array(desiredVip),
  /** VIPs this node must no longer carry. */
  tombstones: z.array(z.object({ lbId: z.string(), revision })),
});
export const hubMessage = z.discriminatedUnion("type", [snapshotMsg, updateMsg]);
export type HubMessage = z.infer<typeof hubMessage>;
export type SnapshotMsg = z.infer<typeof snapshotMsg>;
export type UpdateMsg = z.infer<typeof updateMsg>;

// ---- agent → hub ----

export const helloMsg = z.object({
  type: z.literal("hello"),
  protocolVersion: z.number().int(),
  agentVersion: z.string().max(64),
  /** Highest revision the agent has fully applied (0 = nothing). */
  lastAppliedRevision: revision,
  restored: z.object({ vips: z.number().int().nonnegative(), backends: z.number().int().nonnegative() }),
});
export const ackMsg = z.object({
  type: z.literal("ack"),
  results: z
    .array(
      z.object({
        lbId: z.string(),
        revision,
        ok: z.boolean(),
        /** Why it failed (clear, per object), or why it is not advertised. */
        error: z.string().max(2000).nullable(),
        advertised: z.boolean(),
      }),
    )
    .max(100_000),
});
export const healthMsg = z.object({
  type: z.literal("health"),
  transitions: z
    .array(
      z.object({
        lbId: z.string(),
        poolId: z.string(),
        address: ip,
        port,
        state: z.enum(["up", "down", "unknown"]),
        reason: z.string().max(500),
        at: z.number(),
      }),
    )
    .max(200_000),
});
export const metricsMsg = z.object({
  type: z.literal("metrics"),
  at: z.number(),
  intervalMs: z.number().int().positive(),
  listeners: z
    .array(
      z.object({
        lbId: z.string(),
        listenerId: z.string(),
        packets: z.number().nonnegative(),
        bytes: z.number().nonnegative(),
        newFlows: z.number().nonnegative(),
        drops: z.number().nonnegative(),
      }),
    )
    .max(100_000),
  backends: z
    .array(
      z.object({
        lbId: z.string(),
        address: ip,
        packets: z.number().nonnegative(),
        bytes: z.number().nonnegative(),
      }),
    )
    .max(200_000),
});
export const heartbeatMsg = z.object({
  type: z.literal("heartbeat"),
  at: z.number(),
  bgp: z.object({ peersUp: z.number().int().nonnegative(), peersTotal: z.number().int().nonnegative() }),
  advertised: z.number().int().nonnegative(),
});
export const resyncMsg = z.object({ type: z.literal("resync"), reason: z.string().max(200) });

export const agentMessage = z.discriminatedUnion("type", [helloMsg, ackMsg, healthMsg, metricsMsg, heartbeatMsg, resyncMsg]);
export type AgentMessage = z.infer<typeof agentMessage>;

/** Parses one websocket frame; a clear reason on failure (the receiver closes with `malformed`). */
export function parseFrame<T>(schema: z.ZodType<T>, data: unknown): { ok: true; msg: T } | { ok: false; reason: string } {
  const text = typeof data === "string" ? data : Buffer.isBuffer(data) ? data.toString("utf8") : null;
  if (text === null) return { ok: false, reason: "binary frames are not part of the protocol" };
  if (text.length > MAX_MESSAGE_BYTES) return { ok: false, reason: `message larger than ${MAX_MESSAGE_BYTES} bytes` };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { ok: false, reason: "message is not valid JSON" };
  }
  const r = schema.safeParse(json);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    return { ok: false, reason: `invalid message: ${issue.path.join(".") || "(root)"}: ${issue.message}` };
  }
  return { ok: true, msg: r.data };
}
