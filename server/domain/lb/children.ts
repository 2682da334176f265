// Listener, pool, monitor and member verbs: each is one change to the desired tree, applied
// by changeTree() (validation, quotas, revision, audit, idempotency all live there).
import type { TenantCtx } from "../context";
import { DomainError } from "../errors";
import type { ListenerInput, MemberInput, MonitorInput, PoolInput, PoolTarget } from "../../../lib/lb-schemas";
import { type DesiredTree, type Tree, defaultListenerName, fmtMember } from "./tree";
import { changeTree } from "./verbs";
import type { LbView } from "./view";

const lbRefOf = (t: PoolTarget) => ("lb" in t ? t.lb : t.address);

/** The pool a target names: a listener's pool by (VIP, protocol, port), or a pool by name. */
function poolOf(desired: DesiredTree, tree: Tree, target: PoolTarget) {
  let name: string;
  if ("pool" in target) {
    name = target.pool;
  } else {
    const l = desired.listeners.find(
      (x) => x.protocol === target.protocol && x.port <= target.port && target.port <= (x.portEnd ?? x.port),
    );
    if (!l) {
      throw new DomainError("NOT_FOUND", `no ${target.protocol} listener on port ${target.port} of ${tree.lb.address}`);
    }
    name = l.pool;
  }
  const pool = desired.pools.find((p) => p.name === name);
  if (!pool) throw new DomainError("NOT_FOUND", `no pool named "${name}" in ${tree.lb.name}`);
  return pool;
}

function listenerIndex(desired: DesiredTree, name: string, tree: Tree) {
  const i = desired.listeners.findIndex((l) => l.name === name);
  if (i < 0) throw new DomainError("NOT_FOUND", `no listener named "${name}" in ${tree.lb.name}`);
  return i;
}

// ---- listeners ----

export function createListener(ctx: TenantCtx, input: { lb: string; listener: ListenerInput; expectedRevision?: number | undefined }) {
  const l = { ...input.listener, name: input.listener.name ?? defaultListenerName(input.listener) };
  return changeTree(ctx, input.lb, { action: "listener.create", expectedRevision: input.expectedRevision, summary: { listener: l } }, (d, tree) => {
    if (d.listeners.some((x) => x.name === l.name)) {
      throw new DomainError("CONFLICT", `listener "${l.name}" already exists in ${tree.lb.name}`, { name: ["already exists"] });
    }
    d.listeners.push(l);
  });
}

export function updateListener(
  ctx: TenantCtx,
  input: { lb: string; name: string; listener: ListenerInput; expectedRevision: number },
) {
  const l = { ...input.listener, name: input.listener.name ?? input.name };
  return changeTree(ctx, input.lb, { action: "listener.update", expectedRevision: input.expectedRevision, summary: { listener: l } }, (d, tree) => {
    d.listeners[listenerIndex(d, input.name, tree)] = l;
  });
}

export function deleteListener(ctx: TenantCtx, input: { lb: string; name: string; expectedRevision?: number | undefined }) {
  return changeTree(ctx, input.lb, { action: "listener.delete", expectedRevision: input.expectedRevision, summary: { listener: input.name } }, (d, tree) => {
    d.listeners.splice(listenerIndex(d, input.name, tree), 1);
  });
}

// ---- pools and monitors ----

export function createPool(ctx: TenantCtx, input: { lb: string; pool: PoolInput; expectedRevision?: number | undefined }) {
  return changeTree(ctx, input.lb, { action: "pool.create", expectedRevision: input.expectedRevision, summary: { pool: input.pool } }, (d, tree) => {
    if (d.pools.some((p) => p.name === input.pool.name)) {
      throw new DomainError("CONFLICT", `pool "${input.pool.name}" already exists in ${tree.lb.name}`, { name: ["already exists"] });
    }
    d.pools.push({ ...input.pool, monitor: input.pool.monitor ?? null });
  });
}

export function updatePool(
  ctx: TenantCtx,
  input: {
    lb: string;
    pool: string;
    expectedRevision: number;
    minHealthy?: PoolInput["minHealthy"] | undefined;
    allDownPolicy?: PoolInput["allDownPolicy"] | undefined;
    /** null removes the monitor. */
    monitor?: MonitorInput | null | undefined;
  },
) {
  return changeTree(ctx, input.lb, { action: "pool.update", expectedRevision: input.expectedRevision, summary: input }, (d, tree) => {
    const p = poolOf(d, tree, { lb: input.lb, pool: input.pool });
    if (input.minHealthy) p.minHealthy = input.minHealthy;
    if (input.allDownPolicy) p.allDownPolicy = input.allDownPolicy;
    if (input.monitor !== undefined) p.monitor = input.monitor;
  });
}

export function deletePool(ctx: TenantCtx, input: { lb: string; pool: string; expectedRevision?: number | undefined }) {
  return changeTree(ctx, input.lb, { action: "pool.delete", expectedRevision: input.expectedRevision, summary: { pool: input.pool } }, (d, tree) => {
    const users = d.listeners.filter((l) => l.pool === input.pool).map((l) => l.name);
    if (users.length) {
      throw new DomainError("PRECONDITION_FAILED", `pool "${input.pool}" is used by listener(s) ${users.join(", ")}`, {
        pool: [`used by ${users.join(", ")}`],
      });
    }
    const i = d.pools.findIndex((p) => p.name === input.pool);
    if (i < 0) throw new DomainError("NOT_FOUND", `no pool named "${input.pool}" in ${tree.lb.name}`);
    d.pools.splice(i, 1);
  });
}

// ---- members (addressable by natural keys) ----

/** Adding a member that exists with the same settings is a no-op; other settings conflict. */
const sameSettings = (a: MemberInput, b: MemberInput) =>
  a.weight === b.weight &&
  a.adminState === b.adminState &&
  (a.monitorAddress ?? null) === (b.monitorAddress ?? null) &&
  (a.monitorPort ?? null) === (b.monitorPort ?? null);

export function addMembers(ctx: TenantCtx, input: { target: PoolTarget; members: MemberInput[]; expectedRevision?: number | undefined }) {
  return changeTree(
    ctx,
    lbRefOf(input.target),
    { action: "member.add", expectedRevision: input.expectedRevision, summary: { target: input.target, members: input.members } },
    (d, tree) => {
      const pool = poolOf(d, tree, input.target);
      for (const m of input.members) {
        const existing = pool.members.find((x) => x.address === m.address && x.port === m.port);
        if (!existing) pool.members.push(m);
        else if (!sameSettings(existing, m)) {
          throw new DomainError("CONFLICT", `member ${fmtMember(m)} already exists with other settings; update it instead`, {
            members: [`${fmtMember(m)} already exists`],
          });
        }
      }
    },
  );
}

export function removeMembers(
  ctx: TenantCtx,
  input: { target: PoolTarget; members: { address: string; port: number }[]; expectedRevision?: number | undefined },
) {
  return changeTree(
    ctx,
    lbRefOf(input.target),
    { action: "member.remove", expectedRevision: input.expectedRevision, summary: { target: input.target, members: input.members } },
    (d, tree) => {
      const pool = poolOf(d, tree, input.target);
      // Removing a member that is already gone is a no-op: the end state is what was asked.
      pool.members = pool.members.filter((m) => !input.members.some((x) => x.address === m.address && x.port === m.port));
    },
  );
}

export function updateMember(
  ctx: TenantCtx,
  input: {
    target: PoolTarget;
    member: { address: string; port: number };
    expectedRevision: number;
    weight?: number | undefined;
    adminState?: MemberInput["adminState"] | undefined;
    monitorAddress?: string | null | undefined;
    monitorPort?: number | null | undefined;
  },
) {
  return changeTree(ctx, lbRefOf(input.target), { action: "member.update", expectedRevision: input.expectedRevision, summary: input }, (d, tree) => {
    const pool = poolOf(d, tree, input.target);
    const m = pool.members.find((x) => x.address === input.member.address && x.port === input.member.port);
    if (!m) throw new DomainError("NOT_FOUND", `no member ${fmtMember(input.member)} in pool "${pool.name}"`);
    if (input.weight !== undefined) m.weight = input.weight;
    if (input.adminState !== undefined) m.adminState = input.adminState;
    if (input.monitorAddress !== undefined) m.monitorAddress = input.monitorAddress;
    if (input.monitorPort !== undefined) m.monitorPort = input.monitorPort;
  });
}

/** Declarative: the pool's members become exactly `members` (ids of unchanged members kept). */
export function setMembers(ctx: TenantCtx, input: { target: PoolTarget; members: MemberInput[]; expectedRevision?: number | undefined }) {
  return changeTree(
    ctx,
    lbRefOf(input.target),
    { action: "member.set", expectedRevision: input.expectedRevision, summary: { target: input.target, members: input.members } },
    (d, tree) => {
      poolOf(d, tree, input.target).members = input.members;
    },
  );
}

/** Bulk admin state: enable, disable or drain many members in one call. */
export function setMemberState(
  ctx: TenantCtx,
  input: {
    target: PoolTarget;
    members: { address: string; port: number }[];
    state: MemberInput["adminState"];
    expectedRevision?: number | undefined;
  },
): Promise<LbView> {
  return changeTree(
    ctx,
    lbRefOf(input.target),
    { action: `member.${input.state === "enabled" ? "enable" : input.state === "disabled" ? "disable" : "drain"}`, expectedRevision: input.expectedRevision, summary: { target: input.target, members: input.members, state: input.state } },
    (d, tree) => {
      const pool = poolOf(d, tree, input.target);
      const missing = input.members.filter((k) => !pool.members.some((m) => m.address === k.address && m.port === k.port));
      if (missing.length) {
        throw new DomainError("NOT_FOUND", `no member ${missing.map(fmtMember).join(", ")} in pool "${pool.name}"`, {
          members: missing.map((m) => `${fmtMember(m)} not found`),
        });
      }
      for (const m of pool.members) {
        if (input.members.some((k) => k.address === m.address && k.port === m.port)) m.adminState = input.state;
      }
    },
  );
}
