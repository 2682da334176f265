/**
 * A hashed timer wheel: one ticking timer for any number of deadlines, O(1) to schedule.
 * At 140,000 targets and 14,000 probes a second, one setTimeout per probe (plus one per
 * probe timeout) would churn timer objects; the wheel stores plain entries in slot arrays
 * and visits one slot per tick. Entries are never removed: the owner passes a ticket and
 * ignores visits whose ticket is stale (lazy cancellation).
 */

interface WheelEntry<T> {
  item: T;
  ticket: number;
  /** First tick at or after the requested time: entries never fire early. */
  tick: number;
}

export class TimerWheel<T> {
  private readonly slots: WheelEntry<T>[][];
  private spare: WheelEntry<T>[] = [];
  /** Last tick number (floor(time / tickMs)) whose slot was processed. */
  private lastTick: number;
  private size = 0;

  constructor(
    readonly tickMs: number,
    slotCount: number,
    now: number,
  ) {
    this.slots = Array.from({ length: slotCount }, () => []);
    this.lastTick = Math.floor(now / tickMs);
  }

  /** Entries stored, including stale ones not yet visited. */
  get entries(): number {
    return this.size;
  }

  /** Visits `item` with `ticket` at the first tick at or after `at` (never in a tick already processed). */
  schedule(item: T, ticket: number, at: number): void {
    const tick = Math.max(Math.ceil(at / this.tickMs), this.lastTick + 1);
    this.slots[tick % this.slots.length]!.push({ item, ticket, tick });
    this.size++;
  }

  /**
   * Processes every tick up to `now`, calling `visit` for each entry whose time has come.
   * Entries due in a later revolution of the wheel stay in their slot.
   */
  advance(now: number, visit: (item: T, ticket: number) => void): void {
    const nowTick = Math.floor(now / this.tickMs);
    // After a long stall one revolution visits every slot once: no need to spin more.
    const firstTick = Math.max(this.lastTick + 1, nowTick - this.slots.length + 1);
    for (let tick = firstTick; tick <= nowTick; tick++) {
      const index = tick % this.slots.length;
      const entries = this.slots[index]!;
      if (entries.length === 0) continue;
      // Swap in an empty array so that visits scheduling into this slot land after this pass.
      this.slots[index] = this.spare;
      this.lastTick = tick;
      for (const entry of entries) {
        if (entry.tick <= tick) {
          this.size--;
          visit(entry.item, entry.ticket);
        } else {
          this.slots[index]!.push(entry);
        }
      }
      entries.length = 0;
      this.spare = entries;
    }
    this.lastTick = Math.max(this.lastTick, nowTick);
  }
}
