// Load balancers, listeners, pools and pool members (tenant scope). Members are addressable by
// natural key: (VIP address, protocol, port) + (member address, member port).
import { z } from "zod";
import {
  AFFINITIES,
  ALL_DOWN_POLICIES,
  MEMBER_STATES,
  MONITOR_TYPES,
  PROTOCOLS,
  createLbInput,
  expectedRevisionSchema,
  lbNameSchema,
  lbRefSchema,
  listenerSchema,
  memberKeySchema,
  memberSchema,
  minHealthySchema,
  monitorSchema,
  poolSchema,
  poolTargetSchema,
  tagsSchema,
} from "../../../lib/lb-schemas";
import { createLb, deleteLb, getLb, lbHistory, listLbs, updateLb } from "../../domain/lb/verbs";
import {
  addMembers,
  createListener,
  createPool,
  deleteListener,
  deletePool,
  removeMembers,
  setMemberState,
  setMembers,
  updateListener,
  updateMember,
  updatePool,
} from "../../domain/lb/children";
import { router, tenantProcedure } from "../trpc";

const statusOut = z.object({ status: z.string(), reason: z.string() });
const provisioningOut = z.object({
  status: z.enum(["PENDING_CREATE", "PENDING_UPDATE", "PENDING_DELETE", "ACTIVE", "ERROR"]),
  reason: z.string(),
  nodesTotal: z.number(),
  nodesAtRevision: z.number(),
});
const monitorOut = z.object({
  type: z.enum(MONITOR_TYPES),
  intervalMs: z.number(),
  timeoutMs: z.number(),
  rise: z.number(),
  fall: z.number(),
  port: z.number().nullable().optional(),
  http: z
    .object({ method: z.string(), path: z.string(), host: z.string().optional(), expectedCodes: z.string() })
    .nullable()
    .optional(),
  /** HTTPS: SNI name, verification, and the id of the CA certificate verified against. */
  tls: z.object({ sni: z.string().optional(), verify: z.boolean(), caCertificate: z.string().optional() }).nullable().optional(),
});
const lbBase = {
  id: z.string(),
  name: z.string(),
  description: z.string(),
  address: z.string(),
  family: z.union([z.literal(4), z.literal(6)]),
  ipPoolId: z.string(),
  replicas: z.number(),
  adminEnabled: z.boolean(),
  deletionProtection: z.boolean(),
  tags: z.record(z.string(), z.string()),
  revision: z.number(),
  createdAt: z.date(),
  updatedAt: z.date(),
  provisioning: provisioningOut,
  operating: statusOut,
  memberCount: z.number(),
};
export const lbSummaryOut = z.object({
  ...lbBase,
  listeners: z.array(z.object({ name: z.string(), protocol: z.enum(PROTOCOLS), port: z.number(), portEnd: z.number() })),
});
export const lbOut = z.object({
  ...lbBase,
  listeners: z.array(
    z.object({
      id: z.string(),
      name: z.string(),
      protocol: z.enum(PROTOCOLS),
      port: z.number(),
      portEnd: z.number(),
      allowedCidrs: z.array(z.string()),
      affinity: z.enum(AFFINITIES),
      pool: z.string(),
      poolId: z.string(),
      adminEnabled: z.boolean(),
      operating: statusOut,
    }),
  ),
  pools: z.array(
    z.object({
      id: z.string(),
      name: z.string(),
      minHealthy: z.object({ kind: z.enum(["count", "percent"]), value: z.number() }),
      allDownPolicy: z.enum(ALL_DOWN_POLICIES),
      monitor: monitorOut.nullable(),
      members: z.array(
        z.object({
          id: z.string(),
          address: z.string(),
          port: z.number(),
          weight: z.number(),
          adminState: z.enum(MEMBER_STATES),
          monitorAddress: z.string().nullable(),
          monitorPort: z.number().nullable(),
          operating: statusOut,
          nodes: z.array(z.object({ nodeId: z.string(), state: z.enum(["up", "down", "unknown"]), reason: z.string(), since: z.date() })),
        }),
      ),
    }),
  ),
  placements: z.array(
    z.object({
      nodeId: z.string(),
      nodeName: z.string().nullable(),
      appliedRevision: z.number().nullable(),
      error: z.string().nullable(),
      advertised: z.boolean(),
    }),
  ),
});

const optRev = { expectedRevision: expectedRevisionSchema.optional() };

export const lbRouter = router({
  create: tenantProcedure("operator")
    .input(createLbInput)
    .output(lbOut)
    .mutation(({ ctx, input }) => createLb(ctx.tenantCtx, input)),
  list: tenantProcedure("viewer")
    .input(z.object({ search: z.string().max(100).optional(), tag: z.string().max(320).optional() }))
    .output(z.array(lbSummaryOut))
    .query(({ ctx, input }) => listLbs(ctx.tenantCtx, input)),
  get: tenantProcedure("viewer")
    .input(z.object({ lb: lbRefSchema }))
    .output(lbOut)
    .query(({ ctx, input }) => getLb(ctx.tenantCtx, input.lb)),
  update: tenantProcedure("operator")
    .input(
      z.object({
        lb: lbRefSchema,
        expectedRevision: expectedRevisionSchema,
        name: lbNameSchema.optional(),
        description: z.string().max(500).optional(),
        replicas: z.number().int().min(1, "1–8").max(8, "1–8").optional(),
        adminEnabled: z.boolean().optional(),
        deletionProtection: z.boolean().optional(),
        tags: tagsSchema.optional(),
      }),
    )
    .output(lbOut)
    .mutation(({ ctx, input }) => updateLb(ctx.tenantCtx, input)),
  delete: tenantProcedure("operator")
    .input(z.object({ lb: lbRefSchema, ...optRev }))
    .output(z.object({ deleted: z.boolean(), pending: z.boolean() }))
    .mutation(({ ctx, input }) => deleteLb(ctx.tenantCtx, input)),
  history: tenantProcedure("viewer")
    .input(z.object({ lb: lbRefSchema, limit: z.number().int().min(1).max(500).default(100) }))
    .output(
      z.array(
        z.object({
          revision: z.number().nullable(),
          at: z.date(),
          actor: z.string(),
          via: z.string(),
          action: z.string(),
          before: z.unknown(),
          after: z.unknown(),
        }),
      ),
    )
    .query(({ ctx, input }) => lbHistory(ctx.tenantCtx, input)),
});

export const listenersRouter = router({
  create: tenantProcedure("operator")
    .input(z.object({ lb: lbRefSchema, listener: listenerSchema, ...optRev }))
    .output(lbOut)
    .mutation(({ ctx, input }) => createListener(ctx.tenantCtx, input)),
  update: tenantProcedure("operator")
    .input(z.object({ lb: lbRefSchema, name: lbNameSchema, listener: listenerSchema, expectedRevision: expectedRevisionSchema }))
    .output(lbOut)
    .mutation(({ ctx, input }) => updateListener(ctx.tenantCtx, input)),
  delete: tenantProcedure("operator")
    .input(z.object({ lb: lbRefSchema, name: lbNameSchema, ...optRev }))
    .output(lbOut)
    .mutation(({ ctx, input }) => deleteListener(ctx.tenantCtx, input)),
});

export const poolsRouter = router({
  create: tenantProcedure("operator")
    .input(z.object({ lb: lbRefSchema, pool: poolSchema, ...optRev }))
    .output(lbOut)
    .mutation(({ ctx, input }) => createPool(ctx.tenantCtx, input)),
  update: tenantProcedure("operator")
    .input(
      z.object({
        lb: lbRefSchema,
        pool: lbNameSchema,
        expectedRevision: expectedRevisionSchema,
        minHealthy: minHealthySchema.optional(),
        allDownPolicy: z.enum(ALL_DOWN_POLICIES).optional(),
        monitor: monitorSchema.nullable().optional(),
      }),
    )
    .output(lbOut)
    .mutation(({ ctx, input }) => updatePool(ctx.tenantCtx, input)),
  delete: tenantProcedure("operator")
    .input(z.object({ lb: lbRefSchema, pool: lbNameSchema, ...optRev }))
    .output(lbOut)
    .mutation(({ ctx, input }) => deletePool(ctx.tenantCtx, input)),
});

const memberKeys = z.array(memberKeySchema).min(1, "name at least one member").max(1000);

export const poolMembersRouter = router({
  add: tenantProcedure("operator")
    .input(z.object({ target: poolTargetSchema, members: z.array(memberSchema).min(1).max(1000), ...optRev }))
    .output(lbOut)
    .mutation(({ ctx, input }) => addMembers(ctx.tenantCtx, input)),
  remove: tenantProcedure("operator")
    .input(z.object({ target: poolTargetSchema, members: memberKeys, ...optRev }))
    .output(lbOut)
    .mutation(({ ctx, input }) => removeMembers(ctx.tenantCtx, input)),
  update: tenantProcedure("operator")
    .input(
      z.object({
        target: poolTargetSchema,
        member: memberKeySchema,
        expectedRevision: expectedRevisionSchema,
        weight: memberSchema.shape.weight.unwrap().optional(),
        adminState: z.enum(MEMBER_STATES).optional(),
        monitorAddress: memberSchema.shape.monitorAddress,
        monitorPort: memberSchema.shape.monitorPort,
      }),
    )
    .output(lbOut)
    .mutation(({ ctx, input }) => updateMember(ctx.tenantCtx, input)),
  /** Declarative: replace the pool's whole member list. */
  set: tenantProcedure("operator")
    .input(z.object({ target: poolTargetSchema, members: z.array(memberSchema).max(1000), ...optRev }))
    .output(lbOut)
    .mutation(({ ctx, input }) => setMembers(ctx.tenantCtx, input)),
  /** Enable, disable or drain many members at once. */
  setState: tenantProcedure("operator")
    .input(z.object({ target: poolTargetSchema, members: memberKeys, state: z.enum(MEMBER_STATES), ...optRev }))
    .output(lbOut)
    .mutation(({ ctx, input }) => setMemberState(ctx.tenantCtx, input)),
});
