// The scheduler's placement function: which LB nodes carry which VIP.
//
// Pure and deterministic: no I/O, no clock, no randomness; inputs are sorted by id internally so
// the same fleet and VIPs always give the same answer, whatever order they arrive in.
//
// Rules, in priority order:
//  1. Never place on a node that is not `active` (cordoned, draining, down) or that is full.
//  2. Each VIP goes on `replicas` distinct nodes; when the fleet cannot hold them all, place as
//     many as possible and report the shortfall (`unplaced`) with a reason. Scarce slots go
//     round-robin: every VIP gets its first replica before any VIP gets its second.
//  3. AZ spread first: a new replica goes to the AZ holding the fewest of that VIP's replicas.
//     Hard minimum: a VIP with >= 2 replicas spans >= 2 AZs whenever >= 2 AZs have a node with room.
//  4. Then balance: the node with the fewest VIPs; ties go to the AZ carrying fewer VIPs per
//     eligible node (so AZs fill evenly), then to the lowest node id.
//  5. Sticky: a current placement is kept while it is valid (eligible node, within capacity and
//     replicas, hard AZ minimum met). Invalid replicas are re-placed; valid ones stay.
//
// Balance versus moves (the trade-off): after keeping and filling, a rebalance pass moves
// replicas from a most-loaded node to a least-loaded node while (max - min) VIPs per eligible node
// exceeds `maxImbalance` (default 1). Each step lowers the imbalance by one unit with a single
// move, or, when AZ spread forbids every direct move, with the shortest chain of moves (one VIP
// a -> b, another b -> c: only the ends change load). So balance is restored with few moves
// taken from the extremes; raise `maxImbalance` to trade balance for fewer moves (a joining node
// otherwise pulls about one node's share). In the property tests, losing a node moves its own
// replicas plus at most two more per lost replica.
// A rebalance move never lowers the VIP's AZ count (spread beats balance), so when AZs have
// unequal numbers of eligible nodes, balance holds within each AZ but not across them (e.g. 3 AZs
// with 3 replicas each: an AZ that lost nodes carries more per node). Rebalancing is best effort:
// it stops when no legal move or chain between the extremes remains.

export type PlacementNodeState = "active" | "cordoned" | "draining" | "down";

export interface PlacementNode {
  id: string;
  az: string;
  state: PlacementNodeState;
  /** Maximum number of VIPs this node may carry (Infinity allowed). */
  capacity: number;
}

export interface PlacementVip {
  id: string;
  /** Distinct nodes to carry the VIP; default 2. */
  replicas?: number;
  /** Node ids the VIP is placed on now (unknown ids are treated as gone). */
  current: readonly string[];
}

export interface PlacementIssue {
  vipId: string;
  reason: string;
}

export interface PlacementResult {
  /** VIP id -> node ids (sorted), for every VIP given, in VIP id order. */
  assignments: Map<string, string[]>;
  /** Replicas taken off a node they were on (`current` entries not in the result). */
  moved: number;
  /** Replicas put on a node they were not on. */
  added: number;
  /** VIPs with fewer than `replicas` nodes, and why. */
  unplaced: PlacementIssue[];
  /** VIPs with >= 2 nodes that could not be spread over >= 2 AZs, and why. */
  spreadShortfall: PlacementIssue[];
}

export interface PlacementOptions {
  /** Rebalance while max - min VIPs per eligible node exceeds this (integer >= 1; default 1). */
  maxImbalance?: number;
}

export const DEFAULT_REPLICAS = 2;
export const MAX_REPLICAS = 1024;

/**
 * Min-heap of node indices keyed by (load, index), with positions tracked so a node's key can be
 * updated or the node removed in O(log n). One heap per AZ holds the nodes that can take a VIP.
 */
class NodeHeap {
  private readonly heap: number[] = [];

  constructor(
    private readonly pos: Int32Array,
    private readonly load: Int32Array,
  ) {}

  has(node: number): boolean {
    return this.pos[node]! >= 0;
  }

  insert(node: number): void {
    this.heap.push(node);
    this.pos[node] = this.heap.length - 1;
    this.siftUp(this.heap.length - 1);
  }

  remove(node: number): void {
    const at = this.pos[node]!;
    const last = this.heap.pop()!;
    this.pos[node] = -1;
    if (at < this.heap.length) {
      this.heap[at] = last;
      this.pos[last] = at;
      this.siftUp(at);
      this.siftDown(this.pos[last]!);
    }
  }

  /** Call after the node's load changed. */
  update(node: number): void {
    const at = this.pos[node]!;
    this.siftUp(at);
    this.siftDown(this.pos[node]!);
  }

  /**
   * The best node not in `excluded`, or -1. Best-first walk of the heap tree: it only descends
   * below excluded nodes, so it visits O(excluded count) entries.
   */
  bestExcluding(excluded: readonly number[]): number {
    if (this.heap.length === 0) return -1;
    const frontier = [0];
    while (frontier.length > 0) {
      let bestAt = 0;
      for (let i = 1; i < frontier.length; i++) {
        if (this.less(this.heap[frontier[i]!]!, this.heap[frontier[bestAt]!]!)) bestAt = i;
      }
      const p = frontier[bestAt]!;
      frontier[bestAt] = frontier[frontier.length - 1]!;
      frontier.pop();
      const node = this.heap[p]!;
      if (!excluded.includes(node)) return node;
      if (2 * p + 1 < this.heap.length) frontier.push(2 * p + 1);
      if (2 * p + 2 < this.heap.length) frontier.push(2 * p + 2);
    }
    return -1;
  }

  private less(a: number, b: number): boolean {
    const la = this.load[a]!;
    const lb = this.load[b]!;
    return la < lb || (la === lb && a < b);
  }

  private siftUp(i: number): void {
    const h = this.heap;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(h[i]!, h[parent]!)) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  private siftDown(i: number): void {
    const h = this.heap;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && this.less(h[l]!, h[m]!)) m = l;
      if (r < h.length && this.less(h[r]!, h[m]!)) m = r;
      if (m === i) return;
      this.swap(i, m);
      i = m;
    }
  }

  private swap(i: number, j: number): void {
    const h = this.heap;
    const a = h[i]!;
    const b = h[j]!;
    h[i] = b;
    h[j] = a;
    this.pos[b] = i;
    this.pos[a] = j;
  }
}

const byId = <T extends { id: string }>(a: T, b: T): number =>
  a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
const ascending = (a: number, b: number): number => a - b;

function assertUniqueIds(items: readonly { id: string }[], what: string): void {
  const seen = new Set<string>();
  for (const item of items) {
    if (seen.has(item.id)) throw new Error(`placement: duplicate ${what} id "${item.id}"`);
    seen.add(item.id);
  }
}

export function place(
  nodes: readonly PlacementNode[],
  vips: readonly PlacementVip[],
  options: PlacementOptions = {},
): PlacementResult {
  const maxImbalance = options.maxImbalance ?? 1;
  if (!Number.isInteger(maxImbalance) || maxImbalance < 1) {
    throw new RangeError(`placement: maxImbalance must be an integer >= 1, got ${maxImbalance}`);
  }
  assertUniqueIds(nodes, "node");
  assertUniqueIds(vips, "VIP");
  for (const n of nodes) {
    if (!(n.capacity >= 0) || (Number.isFinite(n.capacity) && !Number.isInteger(n.capacity))) {
      throw new RangeError(
        `placement: node "${n.id}" capacity must be an integer >= 0 or Infinity`,
      );
    }
  }
  for (const v of vips) {
    const r = v.replicas ?? DEFAULT_REPLICAS;
    if (!Number.isInteger(r) || r < 0 || r > MAX_REPLICAS) {
      throw new RangeError(
        `placement: VIP "${v.id}" replicas must be an integer from 0 to ${MAX_REPLICAS}, got ${r}`,
      );
    }
  }
  return new Placer(nodes, vips, maxImbalance).run();
}

/** One placement run. Nodes and VIPs are referred to by their index in id order. */
class Placer {
  private readonly nodes: PlacementNode[];
  private readonly vips: PlacementVip[];
  private readonly azNames: string[];
  private readonly azOf: Int32Array;
  private readonly capacity: Float64Array;
  private readonly eligible: Uint8Array;
  private readonly eligibleCount: number;
  private readonly eligibleAzCount: number;
  private readonly load: Int32Array;
  private readonly replicas: Int32Array;
  private readonly current: Set<string>[];
  private readonly assigned: number[][];
  private readonly heaps: NodeHeap[];
  private readonly scratchAzCounts: Int32Array;
  /** Per AZ: VIPs on its eligible nodes, and how many eligible nodes it has. */
  private readonly azLoad: Float64Array;
  private readonly azEligibleNodes: Float64Array;

  constructor(
    nodes: readonly PlacementNode[],
    vips: readonly PlacementVip[],
    private readonly maxImbalance: number,
  ) {
    this.nodes = [...nodes].sort(byId);
    this.vips = [...vips].sort(byId);
    const nodeCount = this.nodes.length;
    this.azNames = [...new Set(this.nodes.map((n) => n.az))].sort();
    const azIndex = new Map(this.azNames.map((a, i) => [a, i]));
    this.azOf = Int32Array.from(this.nodes, (n) => azIndex.get(n.az)!);
    this.capacity = Float64Array.from(this.nodes, (n) => n.capacity);
    this.eligible = Uint8Array.from(this.nodes, (n) =>
      n.state === "active" && n.capacity > 0 ? 1 : 0,
    );
    this.eligibleCount = this.eligible.reduce((sum, e) => sum + e, 0);
    const eligibleAzs = new Set<number>();
    for (let n = 0; n < nodeCount; n++) if (this.eligible[n]) eligibleAzs.add(this.azOf[n]!);
    this.eligibleAzCount = eligibleAzs.size;
    this.load = new Int32Array(nodeCount);
    this.replicas = Int32Array.from(this.vips, (v) => v.replicas ?? DEFAULT_REPLICAS);
    this.current = this.vips.map((v) => new Set(v.current));
    this.assigned = this.vips.map(() => []);
    const heapPos = new Int32Array(nodeCount).fill(-1);
    this.heaps = this.azNames.map(() => new NodeHeap(heapPos, this.load));
    this.scratchAzCounts = new Int32Array(this.azNames.length);
    this.azLoad = new Float64Array(this.azNames.length);
    this.azEligibleNodes = new Float64Array(this.azNames.length);
    for (let n = 0; n < nodeCount; n++)
      if (this.eligible[n]) this.azEligibleNodes[this.azOf[n]!]!++;
  }

  run(): PlacementResult {
    this.keepCurrent();
    for (let n = 0; n < this.nodes.length; n++) this.azLoad[this.azOf[n]!]! += this.load[n]!;
    for (let n = 0; n < this.nodes.length; n++)
      if (this.hasRoom(n)) this.heaps[this.azOf[n]!]!.insert(n);
    this.spreadRepair();
    this.fill();
    // Rebalancing can free room that lets a spread repair or a short VIP proceed, so repeat until
    // nothing changes (a pass or two); the output is then a fixpoint: placing it again moves nothing.
    for (let pass = 0; pass < 8; pass++) {
      const rebalanced = this.rebalance();
      const repaired = this.spreadRepair();
      const filled = this.fill();
      if (!rebalanced && !repaired && !filled) break;
    }
    return this.result();
  }

  private hasRoom(n: number): boolean {
    return this.eligible[n] === 1 && this.load[n]! < this.capacity[n]!;
  }

  /** Replica counts of VIP v per AZ, in a shared scratch array (valid until the next call). */
  private azCounts(v: number): Int32Array {
    const counts = this.scratchAzCounts.fill(0);
    for (const n of this.assigned[v]!) counts[this.azOf[n]!]!++;
    return counts;
  }

  private distinctAzs(v: number): number {
    let distinct = 0;
    for (const c of this.azCounts(v)) if (c > 0) distinct++;
    return distinct;
  }

  /** 1. Keep current placements on eligible nodes, then shed what exceeds replicas or capacity. */
  private keepCurrent(): void {
    const { vips, assigned, load, azOf, capacity } = this;
    const nodeIndex = new Map(this.nodes.map((n, i) => [n.id, i]));
    for (let v = 0; v < vips.length; v++) {
      const keep: number[] = [];
      for (const id of this.current[v]!) {
        const n = nodeIndex.get(id);
        if (n !== undefined && this.eligible[n]) keep.push(n);
      }
      keep.sort(ascending);
      assigned[v] = keep;
      for (const n of keep) load[n]!++;
    }

    // More replicas than wanted (replicas lowered): drop from the most crowded AZ, then the most
    // loaded node, so what stays is as spread and balanced as possible.
    for (let v = 0; v < vips.length; v++) {
      while (assigned[v]!.length > this.replicas[v]!) {
        const counts = this.azCounts(v);
        let drop = -1;
        for (const n of assigned[v]!) {
          const cn = counts[azOf[n]!]!;
          const cd = drop < 0 ? -1 : counts[azOf[drop]!]!;
          if (
            drop < 0 ||
            cn > cd ||
            (cn === cd && (load[n]! > load[drop]! || (load[n]! === load[drop]! && n > drop)))
          ) {
            drop = n;
          }
        }
        assigned[v] = assigned[v]!.filter((n) => n !== drop);
        load[drop]!--;
      }
    }

    // Nodes over capacity (capacity lowered): shed the highest VIP ids first.
    let over = false;
    for (let n = 0; n < load.length; n++) if (load[n]! > capacity[n]!) over = true;
    if (!over) return;
    for (let v = vips.length - 1; v >= 0; v--) {
      for (const n of assigned[v]!) {
        if (load[n]! > capacity[n]!) {
          assigned[v] = assigned[v]!.filter((x) => x !== n);
          load[n]!--;
        }
      }
    }
  }

  private refreshNode(n: number): void {
    const heap = this.heaps[this.azOf[n]!]!;
    if (this.hasRoom(n)) {
      if (heap.has(n)) heap.update(n);
      else heap.insert(n);
    } else if (heap.has(n)) {
      heap.remove(n);
    }
  }

  private addReplica(v: number, n: number): void {
    this.assigned[v]!.push(n);
    this.load[n]!++;
    this.azLoad[this.azOf[n]!]!++;
    this.refreshNode(n);
  }

  private removeReplica(v: number, n: number): void {
    this.assigned[v] = this.assigned[v]!.filter((x) => x !== n);
    this.load[n]!--;
    this.azLoad[this.azOf[n]!]!--;
    this.refreshNode(n);
  }

  /** Best node for one more replica of v: AZ with the fewest of v's replicas, then load, then id. */
  private pickNode(v: number, skipAz = -1): number {
    const { azOf, load } = this;
    const mine = this.assigned[v]!;
    const counts = this.azCounts(v);
    let best = -1;
    for (let a = 0; a < this.heaps.length; a++) {
      if (a === skipAz) continue;
      const n = this.heaps[a]!.bestExcluding(mine);
      if (n < 0) continue;
      if (best < 0) {
        best = n;
        continue;
      }
      const cn = counts[a]!;
      const cb = counts[azOf[best]!]!;
      if (cn !== cb) {
        if (cn < cb) best = n;
      } else if (load[n]! !== load[best]!) {
        if (load[n]! < load[best]!) best = n;
      } else {
        // Equal nodes: prefer the AZ carrying less per eligible node, so AZs fill evenly.
        const ab = azOf[best]!;
        const lhs = this.azLoad[a]! * this.azEligibleNodes[ab]!;
        const rhs = this.azLoad[ab]! * this.azEligibleNodes[a]!;
        if (lhs < rhs || (lhs === rhs && n < best)) best = n;
      }
    }
    return best;
  }

  /**
   * 2. Hard AZ minimum: a VIP whose slots are all filled inside one AZ while another AZ has room
   * moves one replica there, directly (so the freed slot can never be lost to another VIP).
   */
  private spreadRepair(): boolean {
    if (this.eligibleAzCount < 2) return false;
    let changed = false;
    for (let v = 0; v < this.vips.length; v++) {
      const mine = this.assigned[v]!;
      if (this.replicas[v]! < 2 || mine.length < 2 || mine.length < this.replicas[v]!) continue;
      if (this.distinctAzs(v) >= 2) continue;
      const target = this.pickNode(v, this.azOf[mine[0]!]!);
      if (target < 0) continue;
      let source = mine[0]!;
      for (const n of mine) {
        if (
          this.load[n]! > this.load[source]! ||
          (this.load[n]! === this.load[source]! && n > source)
        )
          source = n;
      }
      this.removeReplica(v, source);
      this.addReplica(v, target);
      changed = true;
    }
    return changed;
  }

  /** 3. Fill missing replicas in rounds: every VIP's first replica, then second, ... */
  private fill(): boolean {
    let changed = false;
    const gaveUp = new Uint8Array(this.vips.length);
    const maxReplicas = this.replicas.reduce((m, r) => Math.max(m, r), 0);
    for (let round = 0; round < maxReplicas; round++) {
      for (let v = 0; v < this.vips.length; v++) {
        if (gaveUp[v] || this.assigned[v]!.length !== round || round >= this.replicas[v]!) continue;
        const n = this.pickNode(v);
        if (n < 0) {
          gaveUp[v] = 1;
        } else {
          this.addReplica(v, n);
          changed = true;
        }
      }
    }
    return changed;
  }

  /** 4. Move single replicas from a most-loaded to a least-loaded node while max - min > tolerance. */
  private rebalance(): boolean {
    const { load } = this;
    const eligibleNodes: number[] = [];
    for (let n = 0; n < this.nodes.length; n++) if (this.eligible[n]) eligibleNodes.push(n);
    if (eligibleNodes.length < 2) return false;
    let vipsOn: Set<number>[] | undefined;
    let changed = false;
    // Each move goes from load L to load <= L - 2, strictly lowering the sum of squared loads, so
    // the loop ends; the bound is a second guard.
    const bound = 2 * this.assigned.reduce((sum, a) => sum + a.length, 0) + 1;
    for (let i = 0; i < bound; i++) {
      let maxLoad = -1;
      let minLoad = Infinity;
      for (const n of eligibleNodes) {
        if (load[n]! > maxLoad) maxLoad = load[n]!;
        if (load[n]! < minLoad && this.hasRoom(n)) minLoad = load[n]!;
      }
      if (maxLoad - minLoad <= this.maxImbalance) break;
      if (!vipsOn) {
        vipsOn = Array.from({ length: this.nodes.length }, () => new Set<number>());
        for (let v = 0; v < this.vips.length; v++)
          for (const n of this.assigned[v]!) vipsOn[n]!.add(v);
      }
      const sources = eligibleNodes.filter((n) => load[n] === maxLoad);
      const targets = eligibleNodes.filter((n) => load[n] === minLoad && this.hasRoom(n));
      if (!this.moveOne(sources, targets, vipsOn) && !this.moveAlongPath(sources, maxLoad, vipsOn))
        break;
      changed = true;
    }
    return changed;
  }

  private moveOne(sources: number[], targets: number[], vipsOn: Set<number>[]): boolean {
    for (const s of sources) {
      const onSource = [...vipsOn[s]!].sort(ascending);
      for (const t of targets) {
        for (const v of onSource) {
          if (this.assigned[v]!.includes(t) || !this.moveKeepsSpread(v, s, t)) continue;
          this.removeReplica(v, s);
          this.addReplica(v, t);
          vipsOn[s]!.delete(v);
          vipsOn[t]!.add(v);
          return true;
        }
      }
    }
    return false;
  }

  /**
   * When no single move between the extremes is legal (AZ spread forbids it), look for a chain:
   * s -v1-> m1 -v2-> m2 ... -> t, each hop a legal move of a different VIP, where s is a most-loaded
   * node and t has room and a load at most max - 2. Only s and t change load. Breadth-first, so the
   * chain (= the number of moves) is as short as possible.
   */
  private moveAlongPath(sources: number[], maxLoad: number, vipsOn: Set<number>[]): boolean {
    const nodeCount = this.nodes.length;
    const parentNode = new Int32Array(nodeCount).fill(-1);
    const parentVip = new Int32Array(nodeCount).fill(-1);
    const visited = new Uint8Array(nodeCount);
    let unvisited: number[] = [];
    for (let n = 0; n < nodeCount; n++) if (this.eligible[n]) unvisited.push(n);
    const queue: number[] = [];
    for (const s of sources) {
      visited[s] = 1;
      queue.push(s);
    }
    unvisited = unvisited.filter((n) => !visited[n]);
    const onPathTo = (u: number, v: number): boolean => {
      for (let x = u; parentNode[x]! >= 0; x = parentNode[x]!) if (parentVip[x] === v) return true;
      return false;
    };

    for (let head = 0; head < queue.length; head++) {
      const u = queue[head]!;
      // VIPs on u that may leave for each AZ without lowering their AZ count.
      const azU = this.azOf[u]!;
      const movableTo: number[][] = this.azNames.map(() => []);
      for (const v of [...vipsOn[u]!].sort(ascending)) {
        const counts = this.azCounts(v);
        for (let a = 0; a < movableTo.length; a++) {
          if (a === azU || counts[azU]! >= 2 || counts[a] === 0) movableTo[a]!.push(v);
        }
      }
      const stillUnvisited: number[] = [];
      let goal = -1;
      for (const w of unvisited) {
        if (goal >= 0) {
          stillUnvisited.push(w);
          continue;
        }
        let via = -1;
        for (const v of movableTo[this.azOf[w]!]!) {
          if (!this.assigned[v]!.includes(w) && !onPathTo(u, v)) {
            via = v;
            break;
          }
        }
        if (via < 0) {
          stillUnvisited.push(w);
          continue;
        }
        visited[w] = 1;
        parentNode[w] = u;
        parentVip[w] = via;
        if (this.hasRoom(w) && this.load[w]! <= maxLoad - 2) goal = w;
        else queue.push(w);
      }
      unvisited = stillUnvisited;
      if (goal < 0) continue;
      // Apply from the goal backwards, so no node ever holds more than it did.
      for (let x = goal; parentNode[x]! >= 0; x = parentNode[x]!) {
        const from = parentNode[x]!;
        const v = parentVip[x]!;
        this.removeReplica(v, from);
        this.addReplica(v, x);
        vipsOn[from]!.delete(v);
        vipsOn[x]!.add(v);
      }
      return true;
    }
    return false;
  }

  /** Would moving v's replica from s to t keep v's number of AZs? (spread beats balance) */
  private moveKeepsSpread(v: number, s: number, t: number): boolean {
    const azS = this.azOf[s]!;
    const azT = this.azOf[t]!;
    if (azS === azT) return true;
    let inS = 0;
    let inT = 0;
    for (const n of this.assigned[v]!) {
      if (this.azOf[n] === azS) inS++;
      else if (this.azOf[n] === azT) inT++;
    }
    return inS >= 2 || inT === 0;
  }

  private result(): PlacementResult {
    const assignments = new Map<string, string[]>();
    const unplaced: PlacementIssue[] = [];
    const spreadShortfall: PlacementIssue[] = [];
    let moved = 0;
    let added = 0;
    for (let v = 0; v < this.vips.length; v++) {
      const vip = this.vips[v]!;
      const current = this.current[v]!;
      const mine = this.assigned[v]!.sort(ascending);
      const ids = mine.map((n) => this.nodes[n]!.id);
      assignments.set(vip.id, ids);
      let kept = 0;
      for (const id of ids) if (current.has(id)) kept++;
      added += ids.length - kept;
      moved += current.size - kept;

      const want = this.replicas[v]!;
      if (ids.length < want)
        unplaced.push({ vipId: vip.id, reason: this.shortfallReason(want, ids.length) });
      if (ids.length >= 2 && this.eligibleAzCount >= 2 && this.distinctAzs(v) < 2) {
        spreadShortfall.push({
          vipId: vip.id,
          reason:
            `all ${ids.length} replicas are in AZ ${this.azNames[this.azOf[mine[0]!]!]}: ` +
            `eligible nodes in other AZs are full or already carry it`,
        });
      }
    }
    return { assignments, moved, added, unplaced, spreadShortfall };
  }

  private shortfallReason(want: number, got: number): string {
    const head = `placed ${got} of ${want} replicas`;
    if (this.nodes.length === 0) return `${head}: the fleet has no nodes`;
    if (this.eligibleCount === 0) {
      return `${head}: no eligible node (every node is cordoned, draining, down or has capacity 0)`;
    }
    if (this.eligibleCount < want)
      return `${head}: only ${this.eligibleCount} eligible (active) node(s)`;
    return `${head}: the other eligible nodes are at capacity`;
  }
}

// ---------------------------------------------------------------------------------------------
// Failover circuit breaker.
//
// When many nodes stop heartbeating at once, the likelier story is that the control plane lost
// its view of them (a partition, a hub restart, a Postgres hiccup), not that the fleet died; mass
// re-placement would then move every VIP for nothing and could overload the nodes left. So
// automatic failover is suspended when the silent share is too large, and an operator decides.

export interface FailoverBreakerOptions {
  /** Suspend when silent / total exceeds this share (default 0.3). */
  maxSilentFraction?: number;
  /** Also suspend when more than this many nodes are silent, whatever the fleet size. */
  maxSilentNodes?: number;
  /** Up to this many silent nodes never suspend failover, so small fleets still fail over a
   *  single dead node (default 1). */
  alwaysAllowSilent?: number;
}

export interface FailoverDecision {
  suspend: boolean;
  reason: string;
}

export function shouldSuspendFailover(
  totalNodes: number,
  silentNodes: number,
  opts: FailoverBreakerOptions = {},
): FailoverDecision {
  const fraction = opts.maxSilentFraction ?? 0.3;
  const alwaysAllow = opts.alwaysAllowSilent ?? 1;
  if (!Number.isInteger(totalNodes) || totalNodes < 0)
    throw new RangeError("totalNodes must be an integer >= 0");
  if (!Number.isInteger(silentNodes) || silentNodes < 0 || silentNodes > totalNodes) {
    throw new RangeError("silentNodes must be an integer between 0 and totalNodes");
  }
  if (!(fraction >= 0 && fraction <= 1))
    throw new RangeError("maxSilentFraction must be within [0, 1]");

  if (silentNodes === 0) return { suspend: false, reason: "no silent nodes" };
  const share = silentNodes / totalNodes;
  const pct = (x: number): string => `${Math.round(x * 1000) / 10}%`;
  if (silentNodes <= alwaysAllow) {
    return {
      suspend: false,
      reason: `${silentNodes} of ${totalNodes} nodes silent: within the ${alwaysAllow} always allowed`,
    };
  }
  if (opts.maxSilentNodes !== undefined && silentNodes > opts.maxSilentNodes) {
    return {
      suspend: true,
      reason: `${silentNodes} of ${totalNodes} nodes went silent (more than ${opts.maxSilentNodes}): failover suspended, suspect the control plane's view`,
    };
  }
  if (share > fraction) {
    return {
      suspend: true,
      reason: `${silentNodes} of ${totalNodes} nodes went silent (${pct(share)} > ${pct(fraction)}): failover suspended, suspect the control plane's view`,
    };
  }
  return {
    suspend: false,
    reason: `${silentNodes} of ${totalNodes} nodes silent (${pct(share)} <= ${pct(fraction)})`,
  };
}
