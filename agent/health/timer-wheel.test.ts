import { describe, expect, it } from "vitest";
import { TimerWheel } from "./timer-wheel";

describe("TimerWheel", () => {
  it("visits entries at or after their time, never before", () => {
    const wheel = new TimerWheel<string>(10, 8, 0);
    wheel.schedule("a", 1, 25);
    wheel.schedule("b", 1, 30);
    wheel.schedule("far", 1, 500); // several revolutions of an 80 ms wheel
    const visited: Array<[string, number]> = [];
    const visit = (item: string) => visited.push([item, now]);
    let now = 0;
    for (now = 0; now <= 600; now += 5) wheel.advance(now, visit);
    expect(visited).toEqual([
      ["a", 30],
      ["b", 30],
      ["far", 500],
    ]);
    expect(wheel.entries).toBe(0);
  });

  it("catches up after a stall and passes tickets through", () => {
    const wheel = new TimerWheel<number>(10, 16, 0);
    for (let i = 0; i < 100; i++) wheel.schedule(i, i * 2, i * 7);
    const seen: number[] = [];
    wheel.advance(5_000, (item, ticket) => {
      expect(ticket).toBe(item * 2);
      seen.push(item);
    });
    expect(seen.sort((x, y) => x - y)).toEqual(Array.from({ length: 100 }, (_, i) => i));
  });

  it("puts entries scheduled during a visit into a later tick, not the one being processed", () => {
    const wheel = new TimerWheel<string>(10, 8, 0);
    wheel.schedule("first", 0, 10);
    const visited: string[] = [];
    wheel.advance(10, (item) => {
      visited.push(item);
      if (item === "first") wheel.schedule("again", 0, 0); // "now" from inside a visit
    });
    expect(visited).toEqual(["first"]);
    wheel.advance(20, (item) => visited.push(item));
    expect(visited).toEqual(["first", "again"]);
  });
});
