// Talking to the server as a platform admin through the public API (the same typed tRPC client
// and sign-in flow as the CLI), and registering the testbed's LB nodes: region, AZs, IP pools,
// nodes, one-time join tokens.
import { createApiClient, type ApiClient } from "../../cli/client";
import type { Topology } from "./topology";

export type { ApiClient };

/** Signs in with email + password and mints an API token (the session is only used for that). */
export async function adminToken(url: string, email: string, password: string): Promise<string> {
  const res = await fetch(`${url}/api/auth/sign-in/email`, {
    method: "POST",
    headers: { "content-type": "application/json", origin: url },
    body: JSON.stringify({ email, password }),
    signal: AbortSignal.timeout(30_000),
  });
  if (!res.ok) throw new Error(`sign-in as ${email} at ${url} failed: HTTP ${res.status} ${await res.text().catch(() => "")}`);
  const cookie = res.headers
    .getSetCookie()
    .map((c) => c.split(";")[0])
    .join("; ");
  const session = createApiClient(url, { cookie, origin: url });
  try {
    return (await session.tokens.create.mutate({ name: "testbed" })).token;
  } finally {
    await fetch(`${url}/api/auth/sign-out`, { method: "POST", headers: { cookie, origin: url } }).catch(() => undefined);
  }
}

export function apiClient(url: string, token: string): ApiClient {
  return createApiClient(url, { authorization: `Bearer ${token}` });
}

export interface RegisteredNode {
  name: string;
  nodeId: string;
  joinToken: string;
}

export interface Registration {
  regionId: string;
  azIds: Map<string, string>;
  ipPoolV4Id: string;
  ipPoolV6Id: string;
  nodes: RegisteredNode[];
}

/** Creates the testbed's inventory (a fresh database is assumed) and one join token per node. */
export async function registerNodes(api: ApiClient, t: Topology, regionName = "testbed"): Promise<Registration> {
  const region = await api.regions.create.mutate({ name: regionName });
  const azIds = new Map<string, string>();
  for (const azName of [...new Set(t.lbNodes.map((n) => n.az))]) {
    const az = await api.azs.create.mutate({ regionId: region.id, name: azName });
    azIds.set(azName, az.id);
  }
  const pool4 = await api.ipPools.create.mutate({ regionId: region.id, name: "testbed-v4", cidr: t.vipPoolV4 });
  const pool6 = await api.ipPools.create.mutate({ regionId: region.id, name: "testbed-v6", cidr: t.vipPoolV6 });
  const nodes: RegisteredNode[] = [];
  for (const n of t.lbNodes) {
    const node = await api.nodes.create.mutate({
      name: n.name,
      azId: azIds.get(n.az)!,
      address: n.uplink.v4,
      address6: n.uplink.v6,
      asn: n.asn,
      peers: [
        { address: n.routerSide.v4, asn: t.router.asn },
        { address: n.routerSide.v6, asn: t.router.asn },
      ],
      capacity: 100,
    });
    const { joinToken } = await api.agents.issueJoinToken.mutate({ nodeId: node.id });
    nodes.push({ name: n.name, nodeId: node.id, joinToken });
  }
  return { regionId: region.id, azIds, ipPoolV4Id: pool4.id, ipPoolV6Id: pool6.id, nodes };
}
