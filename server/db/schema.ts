// Drizzle schema. Auth tables (user/session/account/verification) follow better-auth's model;
// everything else is Tenbin's own. Columns are snake_case in SQL, camelCase in TypeScript.
import {
  bigint,
  bigserial,
  boolean,
  index,
  integer,
  jsonb,
  pgEnum,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from "drizzle-orm/pg-core";

const ts = (name: string) => timestamp(name, { withTimezone: true, mode: "date" });
const createdAt = () => ts("created_at").notNull().defaultNow();
const updatedAt = () => ts("updated_at").notNull().defaultNow();

// ---- better-auth ------------------------------------------------------------------------------

export const user = pgTable("user", {
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  email: text("email").notNull().unique(),
  emailVerified: boolean("email_verified").notNull().default(false),
  image: text("image"),
  /** Operator of the service: regions, nodes, pools, every tenant. */
  platformAdmin: boolean("platform_admin").notNull().default(false),
  createdAt: createdAt(),
  updatedAt: updatedAt(),
});

export const session = pgTable(
  "session",
  {
    id: text("id").primaryKey(),
    expiresAt: ts("expires_at").notNull(),
    token: text("token").notNull().unique(),
    ipAddress: text("ip_address"),
    userAgent: text("user_agent"),
    userId: text("user_id")
      .notNull()
      .references(() => user.id, { onDelete: "cascade" }),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [index("session_user_idx").on(t.userId)],
);

export const account = pgTable(
  "account",
  {
    id: text("id").primaryKey(),
    accountId: text("account_id").notNull(),
    providerId: text("provider_id").notNull(),
    userId: text("user_id")
      .notNull()
      .references(() => user.id, { onDelete: "cascade" }),
    accessToken: text("access_token"),
    refreshToken: text("refresh_token"),
    idToken: text("id_token"),
    accessTokenExpiresAt: ts("access_token_expires_at"),
    refreshTokenExpiresAt: ts("refresh_token_expires_at"),
    scope: text("scope"),
    password: text("password"),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [index("account_user_idx").on(t.userId)],
);

export const verification = pgTable("verification", {
  id: text("id").primaryKey(),
  identifier: text("identifier").notNull(),
  value: text("value").notNull(),
  expiresAt: ts("expires_at").notNull(),
  createdAt: createdAt(),
  updatedAt: updatedAt(),
});

/** Sign-in rate limiting shared by every server replica. */
export const rateLimit = pgTable("rate_limit", {
  id: text("id").primaryKey(),
  key: text("key").notNull().unique(),
  count: bigint("count", { mode: "number" }).notNull(),
  lastRequest: bigint("last_request", { mode: "number" }).notNull(),
});

// ---- tenancy ----------------------------------------------------------------------------------

export const tenantRole = pgEnum("tenant_role", ["viewer", "operator", "admin"]);

export const tenant = pgTable("tenant", {
  id: uuid("id").primaryKey().defaultRandom(),
  slug: text("slug").notNull().unique(),
  name: text("name").notNull(),
  createdAt: createdAt(),
  updatedAt: updatedAt(),
});

export const tenantMember = pgTable(
  "tenant_member",
  {
    tenantId: uuid("tenant_id")
      .notNull()
      .references(() => tenant.id, { onDelete: "cascade" }),
    userId: text("user_id")
      .notNull()
      .references(() => user.id, { onDelete: "cascade" }),
    role: tenantRole("role").notNull(),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.userId] }), index("tenant_member_user_idx").on(t.userId)],
);

/** Personal API tokens: only a SHA-256 of the secret is stored; the token is shown once. */
export const apiToken = pgTable(
  "api_token",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    userId: text("user_id")
      .notNull()
      .references(() => user.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    /** First characters of the token, safe to show ("tb_ab12cd…"). */
    prefix: text("prefix").notNull(),
    secretHash: text("secret_hash").notNull(),
    expiresAt: ts("expires_at"),
    lastUsedAt: ts("last_used_at"),
    revokedAt: ts("revoked_at"),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex("api_token_hash_idx").on(t.secretHash), index("api_token_user_idx").on(t.userId)],
);

// ---- change log and audit ---------------------------------------------------------------------

/**
 * Every mutation appends one row here in its own transaction; `id` is the revision: monotonically
 * increasing and the agents' resume cursor.
 */
export const revision = pgTable(
  "revision",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    tenantId: uuid("tenant_id"),
    entityType: text("entity_type").notNull(),
    entityId: text("entity_id").notNull(),
    op: text("op").notNull(),
    createdAt: createdAt(),
  },
  (t) => [index("revision_tenant_idx").on(t.tenantId, t.id)],
);

export const auditLog = pgTable(
  "audit_log",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    at: ts("at").notNull().defaultNow(),
    actorUserId: text("actor_user_id"),
    /** Email or "system"; kept even after the user is deleted. */
    actorLabel: text("actor_label").notNull(),
    /** "session" | "token:<prefix>" | "system" */
    actorVia: text("actor_via").notNull(),
    tenantId: uuid("tenant_id"),
    action: text("action").notNull(),
    entityType: text("entity_type").notNull(),
    entityId: text("entity_id").notNull(),
    before: jsonb("before"),
    after: jsonb("after"),
    revision: bigint("revision", { mode: "number" }),
  },
  (t) => [
    index("audit_tenant_idx").on(t.tenantId, t.id),
    index("audit_at_idx").on(t.at),
  ],
);

// ---- platform inventory (platform admins) ----------------------------------------------------

export const region = pgTable("region", {
  id: uuid("id").primaryKey().defaultRandom(),
  name: text("name").notNull().unique(),
  description: text("description").notNull().default(""),
  createdAt: createdAt(),
});

export const az = pgTable(
  "az",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    regionId: uuid("region_id")
      .notNull()
      .references(() => region.id, { onDelete: "restrict" }),
    name: text("name").notNull(),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex("az_region_name_idx").on(t.regionId, t.name)],
);

export const nodeState = pgEnum("node_state", ["active", "cordoned", "draining", "down"]);

export interface BgpPeer {
  address: string;
  asn: number;
  description?: string;
}

export const lbNode = pgTable("lb_node", {
  id: uuid("id").primaryKey().defaultRandom(),
  name: text("name").notNull().unique(),
  azId: uuid("az_id")
    .notNull()
    .references(() => az.id, { onDelete: "restrict" }),
  /** Underlay address (IPv4): BGP router id, outer source of encapsulated packets. */
  address: text("address").notNull().unique(),
  address6: text("address6"),
  asn: bigint("asn", { mode: "number" }).notNull(),
  peers: jsonb("peers").$type<BgpPeer[]>().notNull().default([]),
  /** Maximum number of VIPs the scheduler places here. */
  capacity: integer("capacity").notNull().default(1000),
  state: nodeState("state").notNull().default("active"),
  stateReason: text("state_reason").notNull().default(""),
  lastHeartbeatAt: ts("last_heartbeat_at"),
  agentVersion: text("agent_version"),
  /** SHA-256 of the node credential the agent authenticates with (null = not joined / revoked). */
  credentialHash: text("credential_hash"),
  /** SHA-256 of a one-time join token, exchanged by the agent for a credential. */
  joinTokenHash: text("join_token_hash"),
  joinTokenExpiresAt: ts("join_token_expires_at"),
  /** Highest revision the agent reported applied, and its BGP view, from heartbeats. */
  lastAppliedRevision: bigint("last_applied_revision", { mode: "number" }),
  bgpPeersUp: integer("bgp_peers_up"),
  bgpPeersTotal: integer("bgp_peers_total"),
  advertisedCount: integer("advertised_count"),
  createdAt: createdAt(),
  updatedAt: updatedAt(),
});

export const ipPool = pgTable(
  "ip_pool",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    regionId: uuid("region_id")
      .notNull()
      .references(() => region.id, { onDelete: "restrict" }),
    name: text("name").notNull().unique(),
    cidr: text("cidr").notNull(),
    family: integer("family").notNull(),
    /** Empty = every tenant may allocate from it. */
    tenantIds: jsonb("tenant_ids").$type<string[]>().notNull().default([]),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex("ip_pool_cidr_idx").on(t.cidr)],
);

export const quota = pgTable("quota", {
  tenantId: uuid("tenant_id")
    .primaryKey()
    .references(() => tenant.id, { onDelete: "cascade" }),
  maxVips: integer("max_vips").notNull(),
  maxListeners: integer("max_listeners").notNull(),
  maxMembers: integer("max_members").notNull(),
  updatedAt: updatedAt(),
});

// ---- load balancers (tenant scope) ------------------------------------------------------------

export const loadBalancer = pgTable(
  "load_balancer",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    tenantId: uuid("tenant_id")
      .notNull()
      .references(() => tenant.id, { onDelete: "restrict" }),
    name: text("name").notNull(),
    description: text("description").notNull().default(""),
    /** Canonical text of the VIP address; unique across all tenants. */
    address: text("address").notNull(),
    family: integer("family").notNull(),
    ipPoolId: uuid("ip_pool_id")
      .notNull()
      .references(() => ipPool.id, { onDelete: "restrict" }),
    replicas: integer("replicas").notNull().default(2),
    adminEnabled: boolean("admin_enabled").notNull().default(true),
    deletionProtection: boolean("deletion_protection").notNull().default(false),
    tags: jsonb("tags").$type<Record<string, string>>().notNull().default({}),
    /** Latest revision that changed this load balancer's tree (optimistic concurrency). */
    revision: bigint("revision", { mode: "number" }).notNull(),
    createdRevision: bigint("created_revision", { mode: "number" }).notNull(),
    /** Set when deletion was requested while nodes still carry it. */
    deletingSince: ts("deleting_since"),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex("lb_address_idx").on(t.address),
    index("lb_tenant_idx").on(t.tenantId),
    uniqueIndex("lb_tenant_name_idx").on(t.tenantId, t.name),
    index("lb_pool_idx").on(t.ipPoolId),
  ],
);

export interface MinHealthy {
  kind: "count" | "percent";
  value: number;
}

export const backendPool = pgTable(
  "backend_pool",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    lbId: uuid("lb_id")
      .notNull()
      .references(() => loadBalancer.id, { onDelete: "cascade" }),
    /** Denormalized from the load balancer: tenant-wide counts (quotas) stay single-index scans. */
    tenantId: uuid("tenant_id").notNull(),
    name: text("name").notNull(),
    minHealthy: jsonb("min_healthy").$type<MinHealthy>().notNull().default({ kind: "count", value: 1 }),
    allDownPolicy: text("all_down_policy").$type<"withdraw" | "fail-open">().notNull().default("withdraw"),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex("backend_pool_name_idx").on(t.lbId, t.name)],
);

export interface HttpCheck {
  method: "GET" | "HEAD" | "OPTIONS";
  path: string;
  host?: string | undefined;
  expectedCodes: string;
}

export const healthMonitor = pgTable("health_monitor", {
  poolId: uuid("pool_id")
    .primaryKey()
    .references(() => backendPool.id, { onDelete: "cascade" }),
  type: text("type").$type<"ICMP" | "TCP" | "HTTP" | "HTTPS">().notNull(),
  intervalMs: integer("interval_ms").notNull(),
  timeoutMs: integer("timeout_ms").notNull(),
  rise: integer("rise").notNull(),
  fall: integer("fall").notNull(),
  /** Probe this port instead of the member's (needed for UDP pools). */
  port: integer("port"),
  http: jsonb("http").$type<HttpCheck | null>(),
  /** HTTPS: SNI and verification against a CA bundle (certificates issue). */
  tls: jsonb("tls").$type<{ sni?: string; verify: boolean; caCertificateId?: string } | null>(),
});

export const listener = pgTable(
  "listener",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    lbId: uuid("lb_id")
      .notNull()
      .references(() => loadBalancer.id, { onDelete: "cascade" }),
    tenantId: uuid("tenant_id").notNull(),
    name: text("name").notNull(),
    protocol: text("protocol").$type<"TCP" | "UDP">().notNull(),
    portStart: integer("port_start").notNull(),
    portEnd: integer("port_end").notNull(),
    allowedCidrs: jsonb("allowed_cidrs").$type<string[]>().notNull().default([]),
    affinity: text("affinity").$type<"5-tuple" | "source-ip">().notNull().default("5-tuple"),
    poolId: uuid("pool_id")
      .notNull()
      .references(() => backendPool.id, { onDelete: "restrict" }),
    adminEnabled: boolean("admin_enabled").notNull().default(true),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex("listener_name_idx").on(t.lbId, t.name),
    index("listener_pool_idx").on(t.poolId),
    index("listener_tenant_idx").on(t.tenantId),
  ],
);

export const memberState = pgEnum("member_admin_state", ["enabled", "disabled", "draining"]);

export const member = pgTable(
  "member",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    poolId: uuid("pool_id")
      .notNull()
      .references(() => backendPool.id, { onDelete: "cascade" }),
    lbId: uuid("lb_id").notNull(),
    tenantId: uuid("tenant_id").notNull(),
    address: text("address").notNull(),
    port: integer("port").notNull(),
    weight: integer("weight").notNull().default(100),
    adminState: memberState("admin_state").notNull().default("enabled"),
    monitorAddress: text("monitor_address"),
    monitorPort: integer("monitor_port"),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex("member_key_idx").on(t.poolId, t.address, t.port),
    index("member_tenant_idx").on(t.tenantId, t.lbId),
  ],
);

/** Where the scheduler placed each load balancer, and what each node acknowledged. */
export const placement = pgTable(
  "placement",
  {
    lbId: uuid("lb_id")
      .notNull()
      .references(() => loadBalancer.id, { onDelete: "cascade" }),
    nodeId: uuid("node_id")
      .notNull()
      .references(() => lbNode.id, { onDelete: "cascade" }),
    appliedRevision: bigint("applied_revision", { mode: "number" }),
    error: text("error"),
    /** Whether the node advertises the VIP over BGP (from its last ack). */
    advertised: boolean("advertised").notNull().default(false),
    updatedAt: updatedAt(),
  },
  (t) => [primaryKey({ columns: [t.lbId, t.nodeId] }), index("placement_node_idx").on(t.nodeId)],
);

/** The latest health verdict of each member as seen from each node (operating status rolls up from here). */
export const memberHealth = pgTable(
  "member_health",
  {
    lbId: uuid("lb_id")
      .notNull()
      .references(() => loadBalancer.id, { onDelete: "cascade" }),
    nodeId: uuid("node_id")
      .notNull()
      .references(() => lbNode.id, { onDelete: "cascade" }),
    poolId: uuid("pool_id").notNull(),
    address: text("address").notNull(),
    port: integer("port").notNull(),
    state: text("state").$type<"up" | "down" | "unknown">().notNull(),
    reason: text("reason").notNull().default(""),
    since: ts("since").notNull(),
    reportedAt: ts("reported_at").notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.lbId, t.nodeId, t.poolId, t.address, t.port] })],
);

/** Small shared state of the background jobs (e.g. the failover circuit breaker), for every replica to show. */
export const jobState = pgTable("job_state", {
  key: text("key").primaryKey(),
  value: jsonb("value").notNull(),
  updatedAt: updatedAt(),
});

/** Creates with an idempotency key return the first result when repeated. */
export const idempotencyKey = pgTable(
  "idempotency_key",
  {
    tenantId: uuid("tenant_id").notNull(),
    key: text("key").notNull(),
    verb: text("verb").notNull(),
    requestHash: text("request_hash").notNull(),
    resultId: text("result_id").notNull(),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.verb, t.key] })],
);

export const authSchema = { user, session, account, verification, rateLimit };

// ---- certificates (issue 7) -------------------------------------------------------------------

/** A tenant's certificate (server: chain + key) or CA bundle (trust for HTTPS monitors). */
export const certificate = pgTable(
  "certificate",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    tenantId: uuid("tenant_id")
      .notNull()
      .references(() => tenant.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    kind: text("kind").$type<"server" | "ca">().notNull(),
    description: text("description").notNull().default(""),
    /** Days before expiry at which the certificate turns "expiring". */
    expiringDays: integer("expiring_days").notNull().default(30),
    /** The version everything bound to this certificate uses (the newest). */
    currentVersion: integer("current_version").notNull(),
    /** The expiry state last announced in the audit log (the expiry job compares against it). */
    recordedState: text("recorded_state").$type<"valid" | "expiring" | "expired">().notNull().default("valid"),
    revision: bigint("revision", { mode: "number" }).notNull().default(0),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [uniqueIndex("certificate_tenant_name_idx").on(t.tenantId, t.name)],
);

export interface StoredCertInfo {
  subject: string;
  commonName: string | null;
  sans: string[];
  issuer: string;
  serial: string;
  notBefore: string;
  notAfter: string;
  fingerprintSha256: string;
  isCa: boolean;
  selfSigned: boolean;
  keyType: string;
  keyBits: number | null;
  curve: string | null;
  keyDescription: string;
}

/** One uploaded version. The private key is only stored sealed (envelope encryption). */
export const certificateVersion = pgTable(
  "certificate_version",
  {
    id: uuid("id").primaryKey(),
    certificateId: uuid("certificate_id")
      .notNull()
      .references(() => certificate.id, { onDelete: "cascade" }),
    tenantId: uuid("tenant_id").notNull(),
    version: integer("version").notNull(),
    /** The public chain, leaf first (CA bundle: as uploaded). */
    chainPem: text("chain_pem").notNull(),
    chain: jsonb("chain").$type<StoredCertInfo[]>().notNull(),
    chainComplete: boolean("chain_complete").notNull(),
    missing: text("missing"),
    warnings: jsonb("warnings").$type<string[]>().notNull().default([]),
    notBefore: ts("not_before").notNull(),
    notAfter: ts("not_after").notNull(),
    fingerprintSha256: text("fingerprint_sha256").notNull(),
    /** AES-256-GCM ciphertext of the PKCS#8 key under the data key (null for CA bundles). */
    keyCiphertext: text("key_ciphertext"),
    /** The data key wrapped by the master key `masterKeyId`. */
    wrappedDataKey: text("wrapped_data_key"),
    masterKeyId: text("master_key_id"),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex("certificate_version_idx").on(t.certificateId, t.version),
    index("certificate_version_tenant_idx").on(t.tenantId),
    index("certificate_version_master_key_idx").on(t.masterKeyId),
  ],
);

/**
 * A listener serving a certificate (HTTPS termination, a later step): the default certificate
 * and the SNI names it answers for. Deleting a certificate in use here is refused.
 */
export const listenerCertificate = pgTable(
  "listener_certificate",
  {
    listenerId: uuid("listener_id")
      .notNull()
      .references(() => listener.id, { onDelete: "cascade" }),
    certificateId: uuid("certificate_id")
      .notNull()
      .references(() => certificate.id, { onDelete: "restrict" }),
    tenantId: uuid("tenant_id").notNull(),
    sniHosts: jsonb("sni_hosts").$type<string[]>().notNull().default([]),
    isDefault: boolean("is_default").notNull().default(false),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.listenerId, t.certificateId] }), index("listener_certificate_cert_idx").on(t.certificateId)],
);
