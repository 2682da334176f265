// The agent hub: one websocket per LB node at /ws/agent. Sends each node the complete desired
// state of the VIPs placed on it (a snapshot on connect, then updates of changed VIPs and
// tombstones of removed ones), and records what agents report (acks, health, heartbeats,
// metrics). Changes made on any server replica arrive through the revision log: a Postgres
// NOTIFY wakes every hub, which then reads the revisions after its cursor (a poll backs it up).
import type http from "node:http";
import type { Duplex } from "node:stream";
import { WebSocketServer, type WebSocket } from "ws";
import { and, eq, gt, inArray, lt, sql } from "drizzle-orm";
import type { Logger } from "pino";
import type { Database } from "../db/client";
import { lbNode, loadBalancer, memberHealth, placement, revision } from "../db/schema";
import { authenticateNode } from "../domain/agents";
import {
  CloseCode,
  MAX_MESSAGE_BYTES,
  PROTOCOL_VERSION,
  agentMessage,
  parseFrame,
  type AgentMessage,
  type DesiredVip,
  type UpdateMsg,
} from "../protocol/agent";
import { desiredVip, loadLbTrees } from "./desired";

export const CHANGES_CHANNEL = "tenbin_changes";
/** Above this many buffered bytes a session stops sending and coalesces (latest state wins). */
const HIGH_WATER_BYTES = 4 * 1024 * 1024;
/** Health rows per upsert statement (well under PostgreSQL's 65,535 bind parameters). */
const HEALTH_ROWS_PER_STATEMENT = 2000;
/** VIPs per update message (keeps messages well under MAX_MESSAGE_BYTES). */
const VIPS_PER_MESSAGE = 500;

type NodeRow = typeof lbNode.$inferSelect;
type Pending = { kind: "vip"; vip: DesiredVip } | { kind: "tombstone"; lbId: string; revision: number };

interface Session {
  ws: WebSocket;
  node: NodeRow;
  /** The credential this socket authenticated with; a changed one (revoked) cuts it off. */
  credentialHash: string | null;
  ready: boolean;
  /** VIPs this node has been told to carry (to know when to send a tombstone). */
  known: Set<string>;
  pending: Map<string, Pending>;
  nodeChanged: boolean;
  alive: boolean;
  flushTimer: NodeJS.Timeout | null;
}

export interface HubEvents {
  onMetrics?: (nodeId: string, msg: Extract<AgentMessage, { type: "metrics" }>) => void;
  onActivity?: (nodeId: string, what: string) => void;
  /** After an agent report changed stored state (acks, health, heartbeat, connect): the live views' cue. */
  onReported?: (nodeId: string, lbIds: string[]) => void;
}

export class AgentHub {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE_BYTES });
  private readonly sessions = new Map<string, Session>();
  private cursor = 0;
  private pumping: Promise<void> | null = null;
  private pumpAgain = false;
  private timers: NodeJS.Timeout[] = [];
  private unlisten: (() => Promise<void>) | null = null;
  private closed = false;

  constructor(
    private readonly database: Database,
    private readonly log: Logger,
    private readonly events: HubEvents = {},
    private readonly opts: { pollMs?: number; pingMs?: number } = {},
  ) {}

  async start(): Promise<void> {
    const [row] = await this.database.db.select({ max: sql<number>`coalesce(max(${revision.id}), 0)` }).from(revision);
    this.cursor = Number(row?.max ?? 0);
    this.unlisten = await this.database.listen(CHANGES_CHANNEL, () => this.wake());
    this.timers.push(setInterval(() => this.wake(), this.opts.pollMs ?? 2000));
    this.timers.push(setInterval(() => this.pingAll(), this.opts.pingMs ?? 15_000));
  }

  async stop(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    await this.unlisten?.();
    for (const s of this.sessions.values()) s.ws.close(CloseCode.shuttingDown, "server shutting down");
    await this.pumping;
  }

  connectedNodes(): string[] {
    return [...this.sessions.values()].filter((s) => s.ready).map((s) => s.node.id);
  }

  /** Signal that revisions were committed (in this process or, via NOTIFY, another). */
  wake(): void {
    if (this.closed) return;
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = this.pump()
      .catch((err: unknown) => this.log.error({ err }, "hub: processing changes failed"))
      .finally(() => {
        this.pumping = null;
        if (this.pumpAgain) {
          this.pumpAgain = false;
          this.wake();
        }
      });
  }

  handleUpgrade = (req: http.IncomingMessage, socket: Duplex, head: Buffer): void => {
    const m = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? "");
    const refuse = (status: string, why: string) => {
      socket.end(`HTTP/1.1 ${status}\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\n${why}\n`);
    };
    if (!m) return refuse("401 Unauthorized", "node credential required (Authorization: Bearer tbn_...)");
    authenticateNode(this.database.db, m[1]!)
      .then((node) => {
        if (!node) return refuse("401 Unauthorized", "unknown or revoked node credential");
        this.wss.handleUpgrade(req, socket, head, (ws) => this.attach(ws, node));
      })
      .catch((err: unknown) => {
        this.log.error({ err }, "hub: authenticating an agent failed");
        refuse("503 Service Unavailable", "database unavailable");
      });
  };

  private attach(ws: WebSocket, node: NodeRow) {
    const previous = this.sessions.get(node.id);
    if (previous) previous.ws.close(CloseCode.replaced, "replaced by a newer connection of this node");
    const s: Session = { ws, node, credentialHash: node.credentialHash, ready: false, known: new Set(), pending: new Map(), nodeChanged: false, alive: true, flushTimer: null };
    this.sessions.set(node.id, s);
    this.log.info({ node: node.name }, "hub: agent connected");
    ws.on("pong", () => (s.alive = true));
    ws.on("message", (data, isBinary) => {
      const parsed = parseFrame(agentMessage, isBinary ? Buffer.from(data as Buffer) : String(data));
      if (!parsed.ok) {
        this.log.warn({ node: node.name, reason: parsed.reason }, "hub: malformed agent message, closing");
        ws.close(CloseCode.malformed, parsed.reason.slice(0, 120));
        return;
      }
      this.onMessage(s, parsed.msg).catch((err: unknown) => {
        this.log.error({ err, node: node.name, type: parsed.msg.type }, "hub: handling agent message failed");
      });
    });
    ws.on("close", () => {
      if (s.flushTimer) clearTimeout(s.flushTimer);
      if (this.sessions.get(node.id) === s) this.sessions.delete(node.id);
      this.log.info({ node: node.name }, "hub: agent disconnected");
      this.events.onReported?.(node.id, []);
    });
    ws.on("error", (err) => this.log.warn({ err, node: node.name }, "hub: agent socket error"));
  }

  /** Re-reads the node before a snapshot; false (and the socket closed) when it was revoked. */
  private async refreshNode(s: Session): Promise<boolean> {
    const [fresh] = await this.database.db.select().from(lbNode).where(eq(lbNode.id, s.node.id));
    if (!fresh || fresh.credentialHash !== s.credentialHash) {
      s.ws.close(CloseCode.revoked, "node credential revoked");
      return false;
    }
    s.node = fresh;
    return true;
  }

  // Revocation while connected arrives as a "node" revision (pump() closes the socket), so the
  // frequent messages (metrics every second, heartbeats) cost no node lookup.
  private async onMessage(s: Session, msg: AgentMessage): Promise<void> {
    const db = this.database.db;
    this.events.onActivity?.(s.node.id, msg.type);
    switch (msg.type) {
      case "hello": {
        if (!(await this.refreshNode(s))) return;
        if (msg.protocolVersion !== PROTOCOL_VERSION) {
          s.ws.close(CloseCode.versionMismatch, `hub speaks protocol ${PROTOCOL_VERSION}, agent ${msg.protocolVersion}`);
          return;
        }
        await db
          .update(lbNode)
          .set({ agentVersion: msg.agentVersion, lastHeartbeatAt: new Date(), lastAppliedRevision: msg.lastAppliedRevision })
          .where(eq(lbNode.id, s.node.id));
        await this.sendSnapshot(s);
        this.events.onReported?.(s.node.id, []);
        return;
      }
      case "resync":
        if (await this.refreshNode(s)) await this.sendSnapshot(s);
        return;
      case "ack":
        await this.recordAcks(s, msg);
        this.events.onReported?.(s.node.id, msg.results.map((r) => r.lbId));
        return;
      case "health":
        await this.recordHealth(s, msg);
        this.events.onReported?.(s.node.id, [...new Set(msg.transitions.map((t) => t.lbId))]);
        return;
      case "heartbeat":
        await db
          .update(lbNode)
          .set({
            lastHeartbeatAt: new Date(),
            bgpPeersUp: msg.bgp.peersUp,
            bgpPeersTotal: msg.bgp.peersTotal,
            advertisedCount: msg.advertised,
          })
          .where(eq(lbNode.id, s.node.id));
        this.events.onReported?.(s.node.id, []);
        return;
      case "metrics":
        this.events.onMetrics?.(s.node.id, msg);
        return;
    }
  }

  /**
   * Upserts a batch of health transitions in a few statements. Only VIPs placed on this node
   * count: a node cannot report on (or fail on) VIPs it does not carry.
   */
  private async recordHealth(s: Session, msg: Extract<AgentMessage, { type: "health" }>) {
    const db = this.database.db;
    const placed = new Set(
      (await db.select({ lbId: placement.lbId }).from(placement).where(eq(placement.nodeId, s.node.id))).map((r) => r.lbId),
    );
    const now = new Date();
    // The latest transition per member wins (one statement cannot upsert a row twice).
    const latest = new Map<string, (typeof msg.transitions)[number]>();
    for (const t of msg.transitions) {
      if (placed.has(t.lbId)) latest.set(`${t.lbId}|${t.poolId}|${t.address}|${t.port}`, t);
    }
    const rows = [...latest.values()].map((t) => ({
        lbId: t.lbId,
        nodeId: s.node.id,
        poolId: t.poolId,
        address: t.address,
        port: t.port,
        state: t.state,
        reason: t.reason,
        since: new Date(t.at),
        reportedAt: now,
      }));
    for (let i = 0; i < rows.length; i += HEALTH_ROWS_PER_STATEMENT) {
      await db
        .insert(memberHealth)
        .values(rows.slice(i, i + HEALTH_ROWS_PER_STATEMENT))
        .onConflictDoUpdate({
          target: [memberHealth.lbId, memberHealth.nodeId, memberHealth.poolId, memberHealth.address, memberHealth.port],
          set: {
            state: sql`excluded.state`,
            reason: sql`excluded.reason`,
            since: sql`excluded.since`,
            reportedAt: sql`excluded.reported_at`,
          },
        });
    }
  }

  private async recordAcks(s: Session, msg: Extract<AgentMessage, { type: "ack" }>) {
    const db = this.database.db;
    let maxApplied = 0;
    const finished: string[] = [];
    for (const r of msg.results) {
      await db
        .update(placement)
        .set({ appliedRevision: r.ok ? r.revision : sql`${placement.appliedRevision}`, error: r.ok ? null : r.error, advertised: r.advertised, updatedAt: new Date() })
        .where(and(eq(placement.lbId, r.lbId), eq(placement.nodeId, s.node.id)));
      if (r.ok) maxApplied = Math.max(maxApplied, r.revision);
      finished.push(r.lbId);
    }
    if (maxApplied) {
      await db
        .update(lbNode)
        .set({ lastAppliedRevision: sql`greatest(coalesce(${lbNode.lastAppliedRevision}, 0), ${maxApplied})` })
        .where(eq(lbNode.id, s.node.id));
    }
    await this.finishDeletions(finished);
  }

  /** A VIP being deleted disappears once every node that carried it acknowledged the tombstone. */
  private async finishDeletions(lbIds: string[]) {
    if (!lbIds.length) return;
    const db = this.database.db;
    const deleting = await db
      .select({ id: loadBalancer.id, revision: loadBalancer.revision })
      .from(loadBalancer)
      .where(and(inArray(loadBalancer.id, lbIds), sql`${loadBalancer.deletingSince} is not null`));
    for (const lb of deleting) {
      const [open] = await db
        .select({ n: sql<number>`count(*)::int` })
        .from(placement)
        .where(and(eq(placement.lbId, lb.id), sql`coalesce(${placement.appliedRevision}, 0) < ${lb.revision}`));
      if ((open?.n ?? 0) === 0) await db.delete(loadBalancer).where(eq(loadBalancer.id, lb.id));
    }
  }

  private async sendSnapshot(s: Session) {
    const db = this.database.db;
    const rows = await db.select({ lbId: placement.lbId }).from(placement).where(eq(placement.nodeId, s.node.id));
    const trees = await loadLbTrees(db, rows.map((r) => r.lbId));
    const vips: DesiredVip[] = [];
    for (const t of trees.values()) if (!t.lb.deletingSince) vips.push(desiredVip(t));
    const [max] = await db.select({ max: sql<number>`coalesce(max(${revision.id}), 0)` }).from(revision);
    s.known = new Set(vips.map((v) => v.lbId));
    s.pending.clear();
    s.ready = true;
    // Deleting VIPs still placed here are tombstoned right after the snapshot.
    for (const t of trees.values()) {
      if (t.lb.deletingSince) s.pending.set(t.lb.id, { kind: "tombstone", lbId: t.lb.id, revision: t.lb.revision });
    }
    this.send(s, {
      type: "snapshot",
      revision: Number(max?.max ?? 0),
      node: { id: s.node.id, name: s.node.name, state: s.node.state },
      vips,
    });
    this.flush(s);
  }

  /** Reads revisions after the cursor and queues the affected VIPs for the nodes carrying them. */
  private async pump(): Promise<void> {
    const db = this.database.db;
    const rows = await db
      .select()
      .from(revision)
      .where(and(gt(revision.id, this.cursor), lt(revision.id, this.cursor + 100_000)))
      .orderBy(revision.id);
    if (!rows.length) return;
    this.cursor = rows[rows.length - 1]!.id;
    const lbIds = new Set<string>();
    const nodeIds = new Set<string>();
    for (const r of rows) {
      if (r.entityType === "load-balancer" || r.entityType === "placement") lbIds.add(r.entityId);
      else if (r.entityType === "node") nodeIds.add(r.entityId);
    }
    if (this.sessions.size === 0) return;
    const trees = await loadLbTrees(db, [...lbIds]);
    for (const s of this.sessions.values()) {
      if (!s.ready) continue;
      if (nodeIds.has(s.node.id)) {
        const [n] = await db.select().from(lbNode).where(eq(lbNode.id, s.node.id));
        if (!n || n.credentialHash !== s.credentialHash) {
          s.ws.close(CloseCode.revoked, "node credential revoked");
          continue;
        }
        s.node = n;
        s.nodeChanged = true;
      }
      for (const lbId of lbIds) {
        const t = trees.get(lbId);
        const placedHere = t?.placements.some((p) => p.nodeId === s.node.id) ?? false;
        if (t && placedHere && !t.lb.deletingSince) {
          s.pending.set(lbId, { kind: "vip", vip: desiredVip(t) });
          s.known.add(lbId);
        } else if (s.known.has(lbId) || (t?.lb.deletingSince && placedHere)) {
          s.pending.set(lbId, { kind: "tombstone", lbId, revision: t?.lb.revision ?? this.cursor });
          s.known.delete(lbId);
        }
      }
      this.flush(s);
    }
  }

  /** Sends what is pending unless the socket is backed up; then retries later (coalescing meanwhile). */
  private flush(s: Session) {
    if (s.flushTimer || s.ws.readyState !== s.ws.OPEN) return;
    if (s.ws.bufferedAmount > HIGH_WATER_BYTES) {
      s.flushTimer = setTimeout(() => {
        s.flushTimer = null;
        this.flush(s);
      }, 100);
      return;
    }
    if (!s.pending.size && !s.nodeChanged) return;
    const items = [...s.pending.values()];
    s.pending.clear();
    const nodeInfo = { id: s.node.id, name: s.node.name, state: s.node.state };
    for (let i = 0; i < Math.max(items.length, 1); i += VIPS_PER_MESSAGE) {
      const chunk = items.slice(i, i + VIPS_PER_MESSAGE);
      const msg: UpdateMsg = {
        type: "update",
        revision: this.cursor,
        vips: chunk.flatMap((p) => (p.kind === "vip" ? [p.vip] : [])),
        tombstones: chunk.flatMap((p) => (p.kind === "tombstone" ? [{ lbId: p.lbId, revision: p.revision }] : [])),
        ...(s.nodeChanged ? { node: nodeInfo } : {}),
      };
      this.send(s, msg);
    }
    s.nodeChanged = false;
  }

  private send(s: Session, msg: object) {
    s.ws.send(JSON.stringify(msg));
  }

  private pingAll() {
    for (const s of this.sessions.values()) {
      if (!s.alive) {
        this.log.warn({ node: s.node.name }, "hub: agent stopped answering pings, terminating");
        s.ws.terminate();
        continue;
      }
      s.alive = false;
      s.ws.ping();
    }
  }
}
