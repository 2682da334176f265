// Load-balancer input schemas shared by the console (validation as you type) and the API.
import { z } from "zod";
import { parseAddress, parseCidr } from "./ip";
import { tenantRefSchema } from "./schemas";

export const PROTOCOLS = ["TCP", "UDP"] as const;
export const MONITOR_TYPES = ["ICMP", "TCP", "HTTP", "HTTPS"] as const;
export const MEMBER_STATES = ["enabled", "disabled", "draining"] as const;
export const AFFINITIES = ["5-tuple", "source-ip"] as const;
export const ALL_DOWN_POLICIES = ["withdraw", "fail-open"] as const;

export const MAX_LISTENERS_PER_LB = 50;
export const MAX_MEMBERS_PER_POOL = 1000;
export const MAX_PORT_RANGE = 1024;

export const addressSchema = z
  .string()
  .trim()
  .max(64)
  .refine((s) => parseAddress(s) !== null, "not a valid IPv4 or IPv6 address")
  .transform((s) => parseAddress(s)!.text);

export const cidrSchema = z
  .string()
  .trim()
  .max(64)
  .refine((s) => parseCidr(s) !== null, "not a valid CIDR (e.g. 198.18.0.0/15 or 2001:db8::/32)")
  .transform((s) => parseCidr(s)!.text);

export const portSchema = z.number().int("whole number").min(1, "1–65535").max(65535, "1–65535");
export const lbNameSchema = z
  .string()
  .trim()
  .min(1, "required")
  .max(63, "at most 63 characters")
  .regex(/^[a-zA-Z0-9]([a-zA-Z0-9._-]*[a-zA-Z0-9])?$/, "letters, digits, '.', '_' and '-' (not at the ends)");

/** A DNS host name (for SNI): labels of letters, digits and '-', not an IP literal. */
export const hostNameSchema = z
  .string()
  .trim()
  .toLowerCase()
  .max(253, "at most 253 characters")
  .regex(
    /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/,
    "a host name such as api.example.com",
  )
  .refine((s) => parseAddress(s) === null, "a host name, not an IP address");

/** "200", "200,204", "200-299,301": HTTP status codes 100–599, lists and ranges. */
export const expectedCodesSchema = z
  .string()
  .trim()
  .max(100)
  .refine((s) => {
    const parts = s.split(",");
    return parts.every((p) => {
      const m = /^(\d{3})(?:-(\d{3}))?$/.exec(p.trim());
      if (!m) return false;
      const a = Number(m[1]);
      const b = m[2] ? Number(m[2]) : a;
      return a >= 100 && b <= 599 && a <= b;
    });
  }, "status codes 100–599 as a list and ranges, e.g. 200,204 or 200-299");

export const monitorSchema = z
  .object({
    type: z.enum(MONITOR_TYPES),
    intervalMs: z.number().int().min(500, "at least 500 ms").max(3_600_000, "at most 1 hour").default(5000),
    timeoutMs: z.number().int().min(100, "at least 100 ms").max(3_600_000).default(2000),
    rise: z.number().int().min(1, "1–10").max(10, "1–10").default(2),
    fall: z.number().int().min(1, "1–10").max(10, "1–10").default(3),
    /** Probe this port instead of each member's port (required for UDP pools). */
    port: portSchema.nullable().optional(),
    http: z
      .object({
        method: z.enum(["GET", "HEAD", "OPTIONS"]).default("GET"),
        path: z.string().trim().startsWith("/", "must start with /").max(255).default("/"),
        host: z.string().trim().max(255).optional(),
        expectedCodes: expectedCodesSchema.default("200"),
      })
      .nullable()
      .optional(),
    /**
     * HTTPS: how the backend's certificate is checked. Absent: not verified (any certificate).
     * `caCertificate` names a CA certificate of the tenant (name or id) to verify against;
     * without it, verification uses the agents' system trust store.
     */
    tls: z
      .object({
        sni: hostNameSchema.optional(),
        verify: z.boolean().default(true),
        caCertificate: z.string().trim().min(1, "choose a CA certificate").max(100).optional(),
      })
      .nullable()
      .optional(),
  })
  .superRefine((m, ctx) => {
    if (m.timeoutMs >= m.intervalMs) {
      ctx.addIssue({ code: "custom", path: ["timeoutMs"], message: "timeout must be shorter than the interval" });
    }
    if (m.http && m.type !== "HTTP" && m.type !== "HTTPS") {
      ctx.addIssue({ code: "custom", path: ["http"], message: `HTTP settings only apply to HTTP and HTTPS monitors, not ${m.type}` });
    }
    if (m.tls && m.type !== "HTTPS") {
      ctx.addIssue({ code: "custom", path: ["tls"], message: `TLS settings only apply to HTTPS monitors, not ${m.type}` });
    }
    if (m.tls?.caCertificate && !m.tls.verify) {
      ctx.addIssue({
        code: "custom",
        path: ["tls", "caCertificate"],
        message: "a CA certificate is only used when verification is on (verify: true)",
      });
    }
  });
export type MonitorInput = z.infer<typeof monitorSchema>;

export const memberSchema = z.object({
  address: addressSchema,
  port: portSchema,
  weight: z.number().int("whole number").min(0, "0–256 (0 drains)").max(256, "0–256 (0 drains)").default(100),
  adminState: z.enum(MEMBER_STATES).default("enabled"),
  monitorAddress: addressSchema.nullable().optional(),
  monitorPort: portSchema.nullable().optional(),
});
export type MemberInput = z.infer<typeof memberSchema>;

export const minHealthySchema = z
  .object({ kind: z.enum(["count", "percent"]), value: z.number().int().min(0) })
  .refine((m) => m.kind === "count" || m.value <= 100, { message: "a percentage is 0–100", path: ["value"] })
  .default({ kind: "count", value: 1 });

export const poolSchema = z.object({
  name: lbNameSchema,
  members: z.array(memberSchema).max(MAX_MEMBERS_PER_POOL, `at most ${MAX_MEMBERS_PER_POOL} members`).default([]),
  monitor: monitorSchema.nullable().optional(),
  minHealthy: minHealthySchema,
  allDownPolicy: z.enum(ALL_DOWN_POLICIES).default("withdraw"),
});
export type PoolInput = z.infer<typeof poolSchema>;

export const listenerSchema = z
  .object({
    name: lbNameSchema.optional(),
    protocol: z.enum(PROTOCOLS),
    port: portSchema,
    /** Last port of a range (inclusive); omitted = a single port. */
    portEnd: portSchema.optional(),
    allowedCidrs: z.array(cidrSchema).max(100, "at most 100 CIDRs").default([]),
    affinity: z.enum(AFFINITIES).default("5-tuple"),
    /** Name of a pool of this load balancer. */
    pool: lbNameSchema,
    adminEnabled: z.boolean().default(true),
  })
  .superRefine((l, ctx) => {
    if (l.portEnd !== undefined && l.portEnd < l.port) {
      ctx.addIssue({ code: "custom", path: ["portEnd"], message: "the range must end at or after its first port" });
    } else if (l.portEnd !== undefined && l.portEnd - l.port + 1 > MAX_PORT_RANGE) {
      ctx.addIssue({ code: "custom", path: ["portEnd"], message: `a range spans at most ${MAX_PORT_RANGE} ports` });
    }
  });
export type ListenerInput = z.infer<typeof listenerSchema>;

export const tagsSchema = z
  .record(
    z.string().trim().min(1).max(63).regex(/^[a-zA-Z0-9_.:/-]+$/, "tag keys: letters, digits and _.:/-"),
    z.string().max(255),
  )
  .refine((t) => Object.keys(t).length <= 50, "at most 50 tags");

export const createLbInput = z.object({
  tenantId: tenantRefSchema,
  name: lbNameSchema,
  description: z.string().max(500).default(""),
  /** A specific VIP address (checked against the pools and existing VIPs); omitted = allocated. */
  address: addressSchema.optional(),
  ipPoolId: z.string().uuid().optional(),
  family: z.union([z.literal(4), z.literal(6)]).optional(),
  replicas: z.number().int().min(1, "1–8").max(8, "1–8").default(2),
  deletionProtection: z.boolean().default(false),
  adminEnabled: z.boolean().default(true),
  tags: tagsSchema.default({}),
  pools: z.array(poolSchema).max(MAX_LISTENERS_PER_LB).default([]),
  listeners: z.array(listenerSchema).max(MAX_LISTENERS_PER_LB, `at most ${MAX_LISTENERS_PER_LB} listeners`).default([]),
  /** Repeating a create with the same key returns the first result. */
  idempotencyKey: z.string().min(8).max(128).optional(),
});
export type CreateLbInput = z.infer<typeof createLbInput>;

/** A load balancer by id, VIP address or name. */
export const lbRefSchema = z.string().trim().min(1).max(64);

/** A listener's pool by natural key (VIP address, protocol, port) or by load balancer + pool name. */
export const poolTargetSchema = z.union([
  z.object({ address: addressSchema, protocol: z.enum(PROTOCOLS), port: portSchema }),
  z.object({ lb: lbRefSchema, pool: lbNameSchema }),
]);
export type PoolTarget = z.infer<typeof poolTargetSchema>;

export const memberKeySchema = z.object({ address: addressSchema, port: portSchema });

export const expectedRevisionSchema = z.number().int().positive();
