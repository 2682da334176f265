// The FRR target: the set of VIPs this node announces, rendered into the node's whole frr.conf
// and applied through FrrApplier (debounced, skipped when unchanged; a change of VIPs only goes
// to the daemons' vty sockets in milliseconds, anything else is reloaded). Objects are
// lbId -> VIP address; every batch renders the complete file from the current set, so the
// applier can tell a VIP-only change from any other by comparing whole files.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { renderFrrConfig, type FrrConfigInput } from "../frr/render";
import type { Outcome, ReconcileTarget } from "./reconciler";

const run = promisify(execFile);

/** Node-wide BGP settings: everything of FrrConfigInput except the VIP list. */
export type FrrNodeSettings = Omit<FrrConfigInput, "vips">;

/** What the target needs of FrrApplier (a no-op applier when the node runs without FRR). */
export interface ConfigApplier {
  apply(config: string): Promise<{ changed: boolean; durationMs: number }>;
}

export const NO_FRR: ConfigApplier = {
  apply: () => Promise.resolve({ changed: false, durationMs: 0 }),
};

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export class FrrTarget implements ReconcileTarget<string> {
  readonly name = "frr";
  private readonly wanted = new Map<string, string>();
  private announced = new Map<string, string>();
  /** The last config handed to FRR successfully. */
  lastConfig: string | undefined;

  /** `settings` null: a node without BGP; the set is tracked, nothing is rendered. */
  constructor(
    private readonly settings: FrrNodeSettings | null,
    private readonly applier: ConfigApplier = NO_FRR,
  ) {}

  isAdvertised(lbId: string): boolean {
    return this.announced.has(lbId);
  }

  get advertisedCount(): number {
    return this.announced.size;
  }

  advertisedAddresses(): string[] {
    return [...new Set(this.announced.values())].sort();
  }

  async update(objects: ReadonlyMap<string, string>): Promise<Map<string, Outcome>> {
    for (const [id, address] of objects) this.wanted.set(id, address);
    return this.applyAll([...objects.keys()]);
  }

  async delete(ids: readonly string[]): Promise<Map<string, Outcome>> {
    for (const id of ids) this.wanted.delete(id);
    return this.applyAll(ids);
  }

  async prune(keep: ReadonlySet<string>): Promise<void> {
    let removed = 0;
    for (const id of [...this.wanted.keys()]) {
      if (!keep.has(id)) {
        this.wanted.delete(id);
        removed++;
      }
    }
    // Nothing to remove: no apply (it would also push objects whose own update is failing).
    if (removed === 0 && this.lastConfig !== undefined) return;
    const failed = [...(await this.applyAll([])).values()][0];
    if (failed && !failed.ok) throw new Error(failed.error);
  }

  private async applyAll(ids: readonly string[]): Promise<Map<string, Outcome>> {
    const snapshot = new Map(this.wanted);
    if (!this.settings) {
      this.announced = snapshot;
      return new Map();
    }
    let config: string;
    try {
      config = renderFrrConfig({ ...this.settings, vips: [...new Set(snapshot.values())] });
    } catch (e) {
      const failure: Outcome = { ok: false, error: `frr.conf: ${message(e)}`, terminal: true };
      return new Map((ids.length ? ids : ["*"]).map((id) => [id, failure]));
    }
    try {
      await this.applier.apply(config);
      this.announced = snapshot;
      this.lastConfig = config;
      return new Map();
    } catch (e) {
      const failure: Outcome = { ok: false, error: `FRR reload: ${message(e)}`, terminal: false };
      return new Map((ids.length ? ids : ["*"]).map((id) => [id, failure]));
    }
  }
}

/** BGP sessions of the local FRR: established / configured (both address families, unique peers). */
export async function readBgpPeers(vtySocketDir: string, vtysh = "/usr/bin/vtysh"): Promise<{ peersUp: number; peersTotal: number }> {
  const { stdout } = await run(vtysh, ["--vty_socket", vtySocketDir, "-c", "show bgp summary json"], { timeout: 5_000 });
  const parsed = JSON.parse(stdout) as Record<string, { peers?: Record<string, { state?: string }> }>;
  const states = new Map<string, boolean>();
  for (const af of Object.values(parsed)) {
    for (const [peer, p] of Object.entries(af?.peers ?? {})) states.set(peer, (states.get(peer) ?? false) || p.state === "Established");
  }
  return { peersUp: [...states.values()].filter(Boolean).length, peersTotal: states.size };
}
