// Input schemas for the platform inventory (regions, AZs, LB nodes, IP pools, quotas), shared by
// the console (validation as you type) and the API. Pure: zod + lib/ip only.
import { z } from "zod";
import { parseAddress, parseCidr } from "./ip";
import { tenantRefSchema } from "./schemas";

export const NODE_STATES = ["active", "cordoned", "draining", "down"] as const;
export type NodeState = (typeof NODE_STATES)[number];
export const nodeStateSchema = z.enum(NODE_STATES);

/** 4-byte ASNs; 0 and 4294967295 are reserved (RFC 7607, RFC 7300). */
export const ASN_MIN = 1;
export const ASN_MAX = 4_294_967_294;
export const CAPACITY_MAX = 1_000_000;
export const QUOTA_MAX = 10_000_000;
export const MAX_PEERS = 16;

/** Names of regions, AZs, nodes and pools: DNS-label-like, e.g. "eu-west-1a", "lb-01.fra". */
export const inventoryNameSchema = z
  .string()
  .trim()
  .min(1, "required")
  .max(63, "at most 63 characters")
  .regex(
    /^[a-z0-9]([a-z0-9._-]*[a-z0-9])?$/,
    "lowercase letters, digits, dots, dashes and underscores; start and end with a letter or digit",
  );

/** A reference to an inventory object: its id, or its name. AZs also take "region/az". */
export const inventoryRefSchema = (what: string) =>
  z.string().trim().min(1, `${what} required`).max(130, "at most 130 characters");

export const asnSchema = z
  .number({ error: "ASN must be a number" })
  .int("ASN must be a whole number")
  .min(ASN_MIN, `ASN must be between ${ASN_MIN} and ${ASN_MAX}`)
  .max(ASN_MAX, `ASN must be between ${ASN_MIN} and ${ASN_MAX}`);

export const ipv4Schema = z
  .string()
  .trim()
  .refine((t) => parseAddress(t)?.family === 4, "not a valid IPv4 address (e.g. 198.18.0.10)");
export const ipv6Schema = z
  .string()
  .trim()
  .refine((t) => parseAddress(t)?.family === 6, "not a valid IPv6 address (e.g. 2001:db8::10)");
export const ipAddressSchema = z
  .string()
  .trim()
  .refine(
    (t) => parseAddress(t) !== null,
    "not a valid IP address (e.g. 198.18.0.10 or 2001:db8::10)",
  );
export const cidrSchema = z
  .string()
  .trim()
  .refine((t) => parseCidr(t) !== null, "not a valid CIDR (e.g. 198.18.0.0/24 or 2001:db8:1::/64)");

const descriptionSchema = z.string().trim().max(200, "at most 200 characters");

export const bgpPeerSchema = z.object({
  address: ipAddressSchema,
  asn: asnSchema,
  description: descriptionSchema.optional(),
});

const peersSchema = z
  .array(bgpPeerSchema)
  .max(MAX_PEERS, `at most ${MAX_PEERS} router peers`)
  .superRefine((peers, ctx) => {
    const seen = new Set<string>();
    peers.forEach((p, i) => {
      const key = parseAddress(p.address)?.text;
      if (!key) return;
      if (seen.has(key))
        ctx.addIssue({ code: "custom", path: [i, "address"], message: `duplicate peer ${key}` });
      seen.add(key);
    });
  });

const capacitySchema = z
  .number({ error: "capacity must be a number" })
  .int("capacity must be a whole number")
  .min(1, "capacity must be at least 1 VIP")
  .max(CAPACITY_MAX, `capacity must be at most ${CAPACITY_MAX}`);

// ---- regions ---------------------------------------------------------------------------------

export const regionRefSchema = inventoryRefSchema("region");

export const createRegionInput = z.object({
  name: inventoryNameSchema,
  description: descriptionSchema.default(""),
});
export const updateRegionInput = z
  .object({
    regionId: regionRefSchema,
    name: inventoryNameSchema.optional(),
    description: descriptionSchema.optional(),
  })
  .refine((v) => v.name !== undefined || v.description !== undefined, {
    message: "nothing to change: give a name or a description",
    path: ["name"],
  });
export const regionIdInput = z.object({ regionId: regionRefSchema });

// ---- availability zones ----------------------------------------------------------------------

export const azRefSchema = inventoryRefSchema("availability zone");

export const createAzInput = z.object({ regionId: regionRefSchema, name: inventoryNameSchema });
export const listAzsInput = z.object({ regionId: regionRefSchema.optional() }).default({});
export const azIdInput = z.object({ azId: azRefSchema });

// ---- LB nodes --------------------------------------------------------------------------------

export const nodeRefSchema = inventoryRefSchema("node");

export const createNodeInput = z.object({
  name: inventoryNameSchema,
  azId: azRefSchema,
  /** Underlay IPv4 address: BGP router id and outer source of encapsulated packets. */
  address: ipv4Schema,
  address6: ipv6Schema.optional(),
  asn: asnSchema,
  peers: peersSchema.default([]),
  capacity: capacitySchema.default(1000),
});
export const updateNodeInput = z
  .object({
    nodeId: nodeRefSchema,
    address: ipv4Schema.optional(),
    /** null removes the IPv6 address. */
    address6: ipv6Schema.nullable().optional(),
    asn: asnSchema.optional(),
    peers: peersSchema.optional(),
    capacity: capacitySchema.optional(),
  })
  .refine(
    (v) =>
      v.address !== undefined ||
      v.address6 !== undefined ||
      v.asn !== undefined ||
      v.peers !== undefined ||
      v.capacity !== undefined,
    { message: "nothing to change", path: ["nodeId"] },
  );
export const setNodeStateInput = z.object({
  nodeId: nodeRefSchema,
  state: nodeStateSchema,
  reason: descriptionSchema.optional(),
});
export const listNodesInput = z
  .object({
    regionId: regionRefSchema.optional(),
    azId: azRefSchema.optional(),
    state: nodeStateSchema.optional(),
  })
  .default({});
export const nodeIdInput = z.object({ nodeId: nodeRefSchema });

// ---- IP pools --------------------------------------------------------------------------------

export const ipPoolRefSchema = inventoryRefSchema("IP pool");
/** Tenant restriction: tenant ids or slugs; empty = every tenant may allocate from the pool. */
const poolTenantsSchema = z.array(tenantRefSchema).max(200, "at most 200 tenants");

export const createIpPoolInput = z.object({
  regionId: regionRefSchema,
  name: inventoryNameSchema,
  cidr: cidrSchema,
  tenants: poolTenantsSchema.default([]),
});
export const updateIpPoolInput = z.object({
  ipPoolId: ipPoolRefSchema,
  tenants: poolTenantsSchema,
});
export const listIpPoolsInput = z
  .object({
    regionId: regionRefSchema.optional(),
    family: z.union([z.literal(4), z.literal(6)]).optional(),
  })
  .default({});
export const ipPoolIdInput = z.object({ ipPoolId: ipPoolRefSchema });

// ---- quotas ----------------------------------------------------------------------------------

const quotaValue = (what: string) =>
  z
    .number({ error: `${what} must be a number` })
    .int(`${what} must be a whole number`)
    .min(0, `${what} must be 0 or more`)
    .max(QUOTA_MAX, `${what} must be at most ${QUOTA_MAX}`);

/** Values left out keep their current setting (or the default). */
export const setQuotaInput = z
  .object({
    tenantId: tenantRefSchema,
    maxVips: quotaValue("max VIPs").optional(),
    maxListeners: quotaValue("max listeners").optional(),
    maxMembers: quotaValue("max members").optional(),
  })
  .refine(
    (v) => v.maxVips !== undefined || v.maxListeners !== undefined || v.maxMembers !== undefined,
    {
      message: "give at least one of maxVips, maxListeners, maxMembers",
      path: ["maxVips"],
    },
  );

export type CreateRegionInput = z.output<typeof createRegionInput>;
export type UpdateRegionInput = z.output<typeof updateRegionInput>;
export type CreateAzInput = z.output<typeof createAzInput>;
export type CreateNodeInput = z.output<typeof createNodeInput>;
export type UpdateNodeInput = z.output<typeof updateNodeInput>;
export type SetNodeStateInput = z.output<typeof setNodeStateInput>;
export type ListNodesInput = z.output<typeof listNodesInput>;
export type BgpPeerInput = z.output<typeof bgpPeerSchema>;
export type CreateIpPoolInput = z.output<typeof createIpPoolInput>;
export type UpdateIpPoolInput = z.output<typeof updateIpPoolInput>;
export type ListIpPoolsInput = z.output<typeof listIpPoolsInput>;
export type SetQuotaInput = z.output<typeof setQuotaInput>;
