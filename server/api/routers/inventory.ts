// Platform inventory: regions, availability zones, LB nodes, IP pools (platform admins) and
// per-tenant quotas (admins set them; tenant members read their own).
import { z } from "zod";
import {
  NODE_STATES,
  azIdInput,
  createAzInput,
  createIpPoolInput,
  createNodeInput,
  createRegionInput,
  ipPoolIdInput,
  listAzsInput,
  listIpPoolsInput,
  listNodesInput,
  nodeIdInput,
  regionIdInput,
  setNodeStateInput,
  setQuotaInput,
  updateIpPoolInput,
  updateNodeInput,
  updateRegionInput,
} from "../../../lib/inventory-schemas";
import { tenantRefSchema } from "../../../lib/schemas";
import {
  createAz,
  createRegion,
  deleteAz,
  deleteRegion,
  getAz,
  getRegion,
  listAzs,
  listRegions,
  updateRegion,
} from "../../domain/inventory/regions";
import {
  createNode,
  deleteNode,
  getNode,
  listNodes,
  setNodeState,
  updateNode,
} from "../../domain/inventory/nodes";
import {
  createIpPool,
  deleteIpPool,
  getIpPool,
  listIpPools,
  updateIpPool,
} from "../../domain/inventory/ip-pools";
import { getTenantQuota, listQuotas, resetQuota, setQuota } from "../../domain/inventory/quotas";
import { platformProcedure, router, tenantProcedure } from "../trpc";

// ---- explicit output shapes -------------------------------------------------------------------

export const regionOut = z.object({
  id: z.string(),
  name: z.string(),
  description: z.string(),
  azCount: z.number(),
  ipPoolCount: z.number(),
  createdAt: z.date(),
});

export const azOut = z.object({
  id: z.string(),
  name: z.string(),
  regionId: z.string(),
  regionName: z.string(),
  nodeCount: z.number(),
  createdAt: z.date(),
});

export const bgpPeerOut = z.object({
  address: z.string(),
  asn: z.number(),
  description: z.string().optional(),
});

export const nodeOut = z.object({
  id: z.string(),
  name: z.string(),
  azId: z.string(),
  azName: z.string(),
  regionId: z.string(),
  regionName: z.string(),
  address: z.string(),
  address6: z.string().nullable(),
  asn: z.number(),
  peers: z.array(bgpPeerOut),
  capacity: z.number(),
  state: z.enum(NODE_STATES),
  stateReason: z.string(),
  vipCount: z.number(),
  lastHeartbeatAt: z.date().nullable(),
  agentVersion: z.string().nullable(),
  joined: z.boolean(),
  appliedRevision: z.number().nullable(),
  desiredRevision: z.number().nullable(),
  vipsBehind: z.number(),
  bgp: z.object({ peersUp: z.number(), peersTotal: z.number(), advertised: z.number() }).nullable(),
  createdAt: z.date(),
  updatedAt: z.date(),
});

export const ipPoolOut = z.object({
  id: z.string(),
  name: z.string(),
  regionId: z.string(),
  regionName: z.string(),
  cidr: z.string(),
  family: z.union([z.literal(4), z.literal(6)]),
  tenants: z.array(z.object({ id: z.string(), slug: z.string(), name: z.string() })),
  used: z.number(),
  /** Decimal string: IPv6 pools exceed JavaScript's safe integers. */
  usable: z.string(),
  firstUsable: z.string(),
  lastUsable: z.string(),
  percentUsed: z.number(),
  createdAt: z.date(),
});

export const quotaOut = z.object({
  tenantId: z.string(),
  tenantSlug: z.string(),
  tenantName: z.string(),
  maxVips: z.number(),
  maxListeners: z.number(),
  maxMembers: z.number(),
  isDefault: z.boolean(),
  usage: z.object({ vips: z.number(), listeners: z.number(), members: z.number() }),
  exceeded: z.array(z.enum(["maxVips", "maxListeners", "maxMembers"])),
});

const deletedOut = z.object({ deleted: z.literal(true) });
const deleted = { deleted: true as const };

// ---- routers ---------------------------------------------------------------------------------

export const regionsRouter = router({
  list: platformProcedure.output(z.array(regionOut)).query(({ ctx }) => listRegions(ctx.domain)),
  get: platformProcedure
    .input(regionIdInput)
    .output(regionOut)
    .query(({ ctx, input }) => getRegion(ctx.domain, input.regionId)),
  create: platformProcedure
    .input(createRegionInput)
    .output(regionOut)
    .mutation(({ ctx, input }) => createRegion(ctx.domain, input)),
  /** Rename and/or change the description. */
  update: platformProcedure
    .input(updateRegionInput)
    .output(regionOut)
    .mutation(({ ctx, input }) => updateRegion(ctx.domain, input)),
  delete: platformProcedure
    .input(regionIdInput)
    .output(deletedOut)
    .mutation(async ({ ctx, input }) => {
      await deleteRegion(ctx.domain, input.regionId);
      return deleted;
    }),
});

export const azsRouter = router({
  list: platformProcedure
    .input(listAzsInput)
    .output(z.array(azOut))
    .query(({ ctx, input }) => listAzs(ctx.domain, input)),
  get: platformProcedure
    .input(azIdInput)
    .output(azOut)
    .query(({ ctx, input }) => getAz(ctx.domain, input.azId)),
  create: platformProcedure
    .input(createAzInput)
    .output(azOut)
    .mutation(({ ctx, input }) => createAz(ctx.domain, input)),
  delete: platformProcedure
    .input(azIdInput)
    .output(deletedOut)
    .mutation(async ({ ctx, input }) => {
      await deleteAz(ctx.domain, input.azId);
      return deleted;
    }),
});

export const nodesRouter = router({
  list: platformProcedure
    .input(listNodesInput)
    .output(z.array(nodeOut))
    .query(({ ctx, input }) => listNodes(ctx.domain, input)),
  get: platformProcedure
    .input(nodeIdInput)
    .output(nodeOut)
    .query(({ ctx, input }) => getNode(ctx.domain, input.nodeId)),
  create: platformProcedure
    .input(createNodeInput)
    .output(nodeOut)
    .mutation(({ ctx, input }) => createNode(ctx.domain, input)),
  /** Addresses, ASN, router peers (the whole list), capacity. */
  update: platformProcedure
    .input(updateNodeInput)
    .output(nodeOut)
    .mutation(({ ctx, input }) => updateNode(ctx.domain, input)),
  /** active | cordoned (no new VIPs) | draining (VIPs moved away) | down, with a reason. */
  setState: platformProcedure
    .input(setNodeStateInput)
    .output(nodeOut)
    .mutation(({ ctx, input }) => setNodeState(ctx.domain, input)),
  delete: platformProcedure
    .input(nodeIdInput)
    .output(deletedOut)
    .mutation(async ({ ctx, input }) => {
      await deleteNode(ctx.domain, input.nodeId);
      return deleted;
    }),
});

export const ipPoolsRouter = router({
  list: platformProcedure
    .input(listIpPoolsInput)
    .output(z.array(ipPoolOut))
    .query(({ ctx, input }) => listIpPools(ctx.domain, input)),
  get: platformProcedure
    .input(ipPoolIdInput)
    .output(ipPoolOut)
    .query(({ ctx, input }) => getIpPool(ctx.domain, input.ipPoolId)),
  /** `notice` says when the CIDR was canonicalized (host bits cleared). */
  create: platformProcedure
    .input(createIpPoolInput)
    .output(ipPoolOut.extend({ notice: z.string().nullable() }))
    .mutation(({ ctx, input }) => createIpPool(ctx.domain, input)),
  /** Replaces the tenant restriction (empty = every tenant). */
  update: platformProcedure
    .input(updateIpPoolInput)
    .output(ipPoolOut)
    .mutation(({ ctx, input }) => updateIpPool(ctx.domain, input)),
  delete: platformProcedure
    .input(ipPoolIdInput)
    .output(deletedOut)
    .mutation(async ({ ctx, input }) => {
      await deleteIpPool(ctx.domain, input.ipPoolId);
      return deleted;
    }),
});

export const quotasRouter = router({
  /** The tenant's quota and usage, for any member of the tenant (others: NOT_FOUND). */
  get: tenantProcedure("viewer")
    .output(quotaOut)
    .query(({ ctx }) => getTenantQuota(ctx.domain, ctx.tenantCtx.tenant.id)),
  list: platformProcedure.output(z.array(quotaOut)).query(({ ctx }) => listQuotas(ctx.domain)),
  /** Limits below the current usage are allowed; `exceeded` in the result says which. */
  set: platformProcedure
    .input(setQuotaInput)
    .output(quotaOut)
    .mutation(({ ctx, input }) => setQuota(ctx.domain, input)),
  reset: platformProcedure
    .input(z.object({ tenantId: tenantRefSchema }))
    .output(quotaOut)
    .mutation(({ ctx, input }) => resetQuota(ctx.domain, input.tenantId)),
});
