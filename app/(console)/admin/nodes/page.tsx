"use client";
// Platform admins: the LB node inventory (where VIPs run), with state changes (cordon, drain,
// activate, down) and a reason, agent join tokens (shown once) and credential revocation. A red
// banner says when automatic failover is suspended by the circuit breaker. Live: each node's
// traffic now and over the last minutes, and state changes without a reload (components/admin/live-fleet).
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { z } from "zod";
import { type NodeState, asnSchema, inventoryNameSchema, ipv4Schema, ipv6Schema } from "@/lib/inventory-schemas";
import { parseAddress } from "@/lib/ip";
import { ago, wholeNumberText } from "@/components/admin/common";
import { ServerIcon } from "@/components/admin/icons";
import { FleetTrafficCard, NodeTrafficCell, useLiveFleet } from "@/components/admin/live-fleet";
import { describeError, useZodForm } from "@/components/forms";
import { type RouterOutputs, useTRPC } from "@/components/trpc";
import { Button } from "@/components/ui/button";
import { SecretWithCopy } from "@/components/ui/copy";
import { ConfirmDialog, Dialog } from "@/components/ui/dialog";
import { Alert, EmptyState, ErrorState, Loading } from "@/components/ui/feedback";
import { SelectField, TextField } from "@/components/ui/field";
import { Badge, type BadgeTone, Card, PageHeader, Table, td, th } from "@/components/ui/layout";

type Node = RouterOutputs["nodes"]["list"][number];

const stateTone: Record<NodeState, BadgeTone> = { active: "green", cordoned: "amber", draining: "violet", down: "red" };
const stateActions: { state: NodeState; label: string; hint: string }[] = [
  { state: "cordoned", label: "Cordon", hint: "Keeps its VIPs, takes no new ones." },
  { state: "draining", label: "Drain", hint: "Its VIPs are moved to other nodes." },
  { state: "active", label: "Activate", hint: "Takes VIPs again." },
  { state: "down", label: "Mark down", hint: "Out of service: its VIPs are re-placed." },
];

/** Re-renders every few seconds so "12 s ago" stays true. */
function useNow(ms = 5000) {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [ms]);
  return now;
}

export default function NodesPage() {
  const trpc = useTRPC();
  // The live subscription refetches both on every node change; the slow poll is a backstop.
  const nodes = useQuery({ ...trpc.nodes.list.queryOptions({}), refetchInterval: 30_000 });
  const breaker = useQuery({ ...trpc.agents.failover.queryOptions(), refetchInterval: 30_000 });
  const fleet = useLiveFleet();
  const now = useNow();
  const [stateChange, setStateChange] = useState<{ node: Node; state: NodeState } | null>(null);
  const [joinFor, setJoinFor] = useState<Node | null>(null);
  const [revoking, setRevoking] = useState<Node | null>(null);
  return (
    <>
      <PageHeader title="LB nodes" description="The machines that carry VIPs: XDP data plane, BGP to the routers, health checks." />
      {breaker.data?.suspended && (
        <Alert className="mb-4" title="Automatic failover is suspended">
          <p>{breaker.data.reason}</p>
          {breaker.data.silentNodes.length > 0 && <p className="mt-1">Silent nodes: {breaker.data.silentNodes.join(", ")}. Check the control plane&apos;s network before marking nodes down by hand.</p>}
        </Alert>
      )}
      <div className="space-y-6">
        <Card title="Inventory" bodyClassName="">
          {nodes.isPending ? (
            <Loading label="Loading nodes…" />
          ) : nodes.isError ? (
            <div className="p-4">
              <ErrorState message={describeError(nodes.error).message} onRetry={() => void nodes.refetch()} />
            </div>
          ) : nodes.data.length === 0 ? (
            <div className="p-4">
              <EmptyState icon={<ServerIcon className="size-10" />} title="No LB nodes yet">
                Register a node below, then issue it a join token for its agent.
              </EmptyState>
            </div>
          ) : (
            <Table label="LB nodes">
              <thead className="bg-slate-50">
                <tr>
                  <th scope="col" className={th}>Node</th>
                  <th scope="col" className={th}>Address</th>
                  <th scope="col" className={th}>BGP</th>
                  <th scope="col" className={th}>VIPs</th>
                  <th scope="col" className={th}>Traffic</th>
                  <th scope="col" className={th}>State</th>
                  <th scope="col" className={th}>Agent</th>
                  <th scope="col" className={th}>
                    <span className="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody className="divide-y divide-slate-100">
                {nodes.data.map((n) => (
                  <tr key={n.id} data-node={n.name}>
                    <td className={td}>
                      <p className="font-medium text-slate-900">{n.name}</p>
                      <p className="text-xs text-slate-500">
                        {n.regionName} / {n.azName}
                      </p>
                    </td>
                    <td className={`${td} font-mono text-xs`}>
                      <p>{n.address}</p>
                      {n.address6 && <p className="text-slate-500">{n.address6}</p>}
                    </td>
                    <td className={td}>
                      <p className="whitespace-nowrap">AS {n.asn}</p>
                      <p className="text-xs text-slate-500">
                        {n.peers.length ? n.peers.map((p) => `${p.address} (AS ${p.asn})`).join(", ") : "no peers"}
                      </p>
                    </td>
                    <td className={`${td} whitespace-nowrap`}>
                      <span aria-label={`${n.vipCount} of ${n.capacity} VIPs`}>
                        {n.vipCount} / {n.capacity}
                      </span>
                    </td>
                    <td className={td}>
                      <NodeTrafficCell fleet={fleet} nodeId={n.id} />
                    </td>
                    <td className={td}>
                      <Badge tone={stateTone[n.state]}>{n.state}</Badge>
                      {n.stateReason && <p className="mt-1 max-w-[14rem] text-xs text-slate-500">{n.stateReason}</p>}
                    </td>
                    <td className={td}>
                      <p className="whitespace-nowrap" title={n.lastHeartbeatAt?.toISOString()}>
                        {n.lastHeartbeatAt ? `heartbeat ${ago(n.lastHeartbeatAt, now)}` : "never connected"}
                      </p>
                      <p className="font-mono text-xs text-slate-500">{n.agentVersion ?? "no agent yet"}</p>
                      <p className="whitespace-nowrap text-xs text-slate-500" data-sync>
                        {n.desiredRevision === null
                          ? "no VIPs placed"
                          : n.vipsBehind === 0
                            ? `in sync: revision ${n.appliedRevision ?? 0}`
                            : `${n.vipsBehind} VIP(s) behind: applied ${n.appliedRevision ?? 0} / desired ${n.desiredRevision}`}
                      </p>
                      <p className="whitespace-nowrap text-xs text-slate-500" data-bgp>
                        {n.bgp
                          ? `BGP ${n.bgp.peersUp}/${n.bgp.peersTotal} peers up · ${n.bgp.advertised} advertised`
                          : n.joined
                            ? "BGP: no report yet"
                            : "not joined"}
                      </p>
                    </td>
                    <td className={td}>
                      <div className="flex flex-wrap justify-end gap-1">
                        {stateActions
                          .filter((a) => a.state !== n.state)
                          .map((a) => (
                            <Button key={a.state} size="sm" variant="ghost" onClick={() => setStateChange({ node: n, state: a.state })} aria-label={`${a.label} ${n.name}`}>
                              {a.label}
                            </Button>
                          ))}
                        <Button size="sm" variant="secondary" onClick={() => setJoinFor(n)} aria-label={`Issue join token for ${n.name}`}>
                          Join token
                        </Button>
                        <Button size="sm" variant="dangerGhost" onClick={() => setRevoking(n)} aria-label={`Revoke credential of ${n.name}`}>
                          Revoke
                        </Button>
                      </div>
                    </td>
                  </tr>
                ))}
              </tbody>
            </Table>
          )}
        </Card>
        <FleetTrafficCard fleet={fleet} />
        <CreateNode />
      </div>
      <StateDialog change={stateChange} onDone={() => setStateChange(null)} />
      <JoinTokenDialog node={joinFor} onDone={() => setJoinFor(null)} />
      <RevokeDialog node={revoking} onDone={() => setRevoking(null)} />
    </>
  );
}

function useInvalidateNodes() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  return () => Promise.all([queryClient.invalidateQueries(trpc.nodes.pathFilter()), queryClient.invalidateQueries(trpc.azs.pathFilter())]);
}

/** "198.18.255.1 65000" per line → peers. */
function parsePeers(text: string) {
  const peers: { address: string; asn: number }[] = [];
  const errors: string[] = [];
  text.split("\n").forEach((raw, i) => {
    const line = raw.trim();
    if (!line) return;
    const m = /^(\S+)[\s,]+(?:AS)?\s*(\d+)$/i.exec(line);
    if (!m || !parseAddress(m[1]!)) errors.push(`line ${i + 1}: “${line}” is not “address ASN”`);
    else peers.push({ address: m[1]!, asn: Number(m[2]) });
  });
  return { peers, errors };
}

const nodeForm = z
  .object({
    name: inventoryNameSchema,
    azId: z.string().min(1, "choose an availability zone"),
    address: ipv4Schema,
    address6: z.string().trim().refine((s) => s === "" || ipv6Schema.safeParse(s).success, "not a valid IPv6 address (e.g. 2001:db8::10)"),
    asn: wholeNumberText("ASN must be a whole number").pipe(asnSchema),
    peers: z.string(),
    capacity: wholeNumberText("capacity must be a whole number").pipe(z.number().min(1, "at least 1 VIP").max(1_000_000, "at most 1000000")),
  })
  .superRefine((v, ctx) => {
    const { errors } = parsePeers(v.peers);
    if (errors.length) ctx.addIssue({ code: "custom", path: ["peers"], message: errors.join("; ") });
  });

function CreateNode() {
  const trpc = useTRPC();
  const invalidate = useInvalidateNodes();
  const azs = useQuery(trpc.azs.list.queryOptions({}));
  const [created, setCreated] = useState<string | null>(null);
  const form = useZodForm(nodeForm, { name: "", azId: "", address: "", address6: "", asn: "65001", peers: "", capacity: "1000" });
  const create = useMutation(
    trpc.nodes.create.mutationOptions({
      onSuccess: async (n) => {
        setCreated(n.name);
        form.reset();
        await invalidate();
      },
      onError: (err) => form.showServerError(err),
    }),
  );
  const azOptions = [{ value: "", label: azs.data?.length ? "Choose…" : "No AZs: create one first" }, ...(azs.data ?? []).map((a) => ({ value: a.id, label: `${a.regionName} / ${a.name}` }))];
  return (
    <Card title="Register a node" description="Then issue a join token and put it in the node's tenbin-agent config.">
      <form
        ref={form.formRef}
        noValidate
        className="space-y-4"
        onSubmit={form.submit((d) => {
          setCreated(null);
          create.mutate({
            name: d.name,
            azId: d.azId,
            address: d.address,
            ...(d.address6 ? { address6: d.address6 } : {}),
            asn: d.asn,
            peers: parsePeers(d.peers).peers,
            capacity: d.capacity,
          });
        })}
      >
        {form.formError && <Alert>{form.formError}</Alert>}
        {created && <Alert tone="success">Node {created} registered. Issue it a join token from the table.</Alert>}
        <div className="grid gap-4 sm:grid-cols-3">
          <TextField label="Name" placeholder="lb-01" autoComplete="off" spellCheck={false} field={form.field("name")} />
          <SelectField label="Availability zone" options={azOptions} field={form.field("azId")} />
          <TextField label="Capacity (VIPs)" inputMode="numeric" field={form.field("capacity")} />
          <TextField label="IPv4 address" placeholder="198.18.0.11" hint="router id and outer source of encapsulated packets" spellCheck={false} field={form.field("address")} />
          <TextField label="IPv6 address" placeholder="optional" spellCheck={false} field={form.field("address6")} />
          <TextField label="BGP ASN" inputMode="numeric" field={form.field("asn")} />
        </div>
        <div>
          <label htmlFor="node-peers" className="block text-sm font-medium text-slate-800">
            Router peers
          </label>
          <textarea
            id="node-peers"
            name="peers"
            rows={2}
            value={form.values.peers}
            onChange={(e) => form.set("peers", e.target.value)}
            placeholder={"198.18.0.1 65000\n198.18.0.2 65000"}
            aria-invalid={form.errorsFor("peers") ? true : undefined}
            aria-describedby="node-peers-hint"
            className="mt-1.5 block w-full rounded-md border-0 px-3 py-2 font-mono text-sm ring-1 ring-inset ring-slate-300 focus:ring-2 focus:ring-indigo-600"
          />
          <p id="node-peers-hint" className={`mt-1.5 text-xs ${form.errorsFor("peers") ? "text-red-700" : "text-slate-500"}`}>
            {form.errorsFor("peers")?.join("; ") ?? "One per line: address and ASN."}
          </p>
        </div>
        <Button type="submit" loading={create.isPending}>
          Register node
        </Button>
      </form>
    </Card>
  );
}

function StateDialog({ change, onDone }: { change: { node: Node; state: NodeState } | null; onDone: () => void }) {
  const trpc = useTRPC();
  const invalidate = useInvalidateNodes();
  const [reason, setReason] = useState("");
  const set = useMutation(
    trpc.nodes.setState.mutationOptions({
      onSuccess: async () => {
        await invalidate();
        setReason("");
        onDone();
      },
    }),
  );
  const action = stateActions.find((a) => a.state === change?.state);
  return (
    <ConfirmDialog
      open={change !== null}
      title={change && action ? `${action.label} ${change.node.name}?` : ""}
      confirmLabel={action?.label ?? "Confirm"}
      danger={change?.state === "down" || change?.state === "draining"}
      pending={set.isPending}
      error={set.error ? describeError(set.error).message : null}
      onCancel={() => {
        set.reset();
        setReason("");
        onDone();
      }}
      onConfirm={() => change && set.mutate({ nodeId: change.node.id, state: change.state, ...(reason.trim() ? { reason: reason.trim() } : {}) })}
    >
      {change && action && (
        <div className="space-y-3">
          <p>
            {action.hint} It carries {change.node.vipCount} VIP{change.node.vipCount === 1 ? "" : "s"} now.
          </p>
          <div>
            <label htmlFor="state-reason" className="block text-sm font-medium text-slate-800">
              Reason
            </label>
            <input
              id="state-reason"
              value={reason}
              maxLength={200}
              onChange={(e) => setReason(e.target.value)}
              placeholder="e.g. kernel upgrade, ticket OPS-123"
              className="mt-1.5 block w-full rounded-md border-0 px-3 py-2 text-sm ring-1 ring-inset ring-slate-300 focus:ring-2 focus:ring-indigo-600"
            />
          </div>
        </div>
      )}
    </ConfirmDialog>
  );
}

function JoinTokenDialog({ node, onDone }: { node: Node | null; onDone: () => void }) {
  const trpc = useTRPC();
  const issue = useMutation(trpc.agents.issueJoinToken.mutationOptions());
  const close = () => {
    issue.reset();
    onDone();
  };
  return (
    <Dialog open={node !== null} onClose={close} title={node ? `Join token for ${node.name}` : "Join token"}>
      {node && (
        <div className="space-y-4 text-sm">
          {issue.data ? (
            <>
              <Alert tone="warning">Shown once: copy it now. It expires {issue.data.expiresAt.toISOString().replace("T", " ").slice(0, 16)} UTC and works once.</Alert>
              <SecretWithCopy value={issue.data.joinToken} label="Join token" />
              <p className="text-slate-600">
                Put it in the node&apos;s <span className="font-mono">tenbin-agent</span> config as <span className="font-mono">joinToken</span>; the agent exchanges it for its
                own credential on first connect.
              </p>
              <div className="flex justify-end">
                <Button onClick={close}>I have copied it</Button>
              </div>
            </>
          ) : (
            <>
              <p className="text-slate-600">
                A one-time token (valid one hour) lets the agent on {node.name} join. Issuing a new one does not cut off an agent that already joined; use Revoke for that.
              </p>
              {issue.error && <Alert>{describeError(issue.error).message}</Alert>}
              <div className="flex justify-end gap-2">
                <Button variant="secondary" onClick={close}>
                  Cancel
                </Button>
                <Button loading={issue.isPending} onClick={() => issue.mutate({ nodeId: node.id })}>
                  Issue join token
                </Button>
              </div>
            </>
          )}
        </div>
      )}
    </Dialog>
  );
}

function RevokeDialog({ node, onDone }: { node: Node | null; onDone: () => void }) {
  const trpc = useTRPC();
  const invalidate = useInvalidateNodes();
  const revoke = useMutation(
    trpc.agents.revokeCredential.mutationOptions({
      onSuccess: async () => {
        await invalidate();
        onDone();
      },
    }),
  );
  return (
    <ConfirmDialog
      open={node !== null}
      title={node ? `Revoke ${node.name}'s credential?` : ""}
      confirmLabel="Revoke credential"
      pending={revoke.isPending}
      error={revoke.error ? describeError(revoke.error).message : null}
      onCancel={() => {
        revoke.reset();
        onDone();
      }}
      onConfirm={() => node && revoke.mutate({ nodeId: node.id })}
    >
      <p>The agent on this node is disconnected and must join again with a new token. Its data plane keeps forwarding what it last had.</p>
    </ConfirmDialog>
  );
}
