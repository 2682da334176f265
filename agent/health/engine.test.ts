import { createServer as createHttpServer, type Server as HttpServer } from "node:http";
import {
  createServer as createNetServer,
  type AddressInfo,
  type Server as NetServer,
  type Socket,
} from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { HealthEngine, type HealthEngineOptions } from "./engine";
import type { HealthMonitorSpec, HealthTarget, HealthTransition } from "./types";

// ---- loopback servers started by the tests ----

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

function listen(server: NetServer | HttpServer): Promise<number> {
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port)),
  );
}

function closeServer(server: NetServer | HttpServer, sockets: Set<Socket>): Promise<void> {
  for (const socket of sockets) socket.destroy();
  return new Promise((resolve) => server.close(() => resolve()));
}

/** An HTTP server answering `status` (changeable), or the code in a "/status/NNN" path. */
async function httpBackend(options: { delayMs?: number } = {}) {
  const backend = { status: 200, requests: 0, open: 0, maxOpen: 0, port: 0, stop: async () => {} };
  const sockets = new Set<Socket>();
  const server = createHttpServer((request, response) => {
    backend.requests++;
    const match = /^\/status\/(\d{3})$/.exec(request.url ?? "");
    const answer = () => {
      response.writeHead(match ? Number(match[1]) : backend.status, {
        "content-type": "text/plain",
      });
      response.end("ok\n");
    };
    if (options.delayMs) setTimeout(answer, options.delayMs);
    else answer();
  });
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    backend.open++;
    backend.maxOpen = Math.max(backend.maxOpen, backend.open);
    socket.on("close", () => {
      sockets.delete(socket);
      backend.open--;
    });
  });
  backend.port = await listen(server);
  let stopped = false;
  backend.stop = async () => {
    if (stopped) return;
    stopped = true;
    await closeServer(server, sockets);
  };
  cleanups.push(backend.stop);
  return backend;
}

/** A TCP server that runs `onConnection` for each client (default: accept and stay silent). */
async function rawBackend(onConnection: (socket: Socket) => void = () => {}) {
  const sockets = new Set<Socket>();
  const server = createNetServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    onConnection(socket);
  });
  const port = await listen(server);
  cleanups.push(() => closeServer(server, sockets));
  return port;
}

/** A port nobody listens on (taken from the kernel, then released). */
async function closedPort(): Promise<number> {
  const server = createNetServer();
  const port = await listen(server);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

// ---- engine helpers ----

function engineWithLogBase(options: Partial<HealthEngineOptions> = {}) {
  const batches: HealthTransition[][] = [];
  const engine = new HealthEngine({ onTransitions: (batch) => batches.push(batch), ...options });
  cleanups.push(() => engine.close());
  const transitions = () => batches.flat();
  /** Waits until `key` is in `state` and that change has been delivered. */
  const delivered = (key: string, state: string) =>
    waitFor(
      `${key} ${state} delivered`,
      () =>
        transitions()
          .filter((t) => t.key === key)
          .at(-1)?.to === state,
    );
  return { engine, batches, transitions, delivered };
}

async function waitFor(what: string, condition: () => boolean, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function monitor(overrides: Partial<HealthMonitorSpec> = {}): HealthMonitorSpec {
  // Loopback answers in well under a millisecond; the generous timeout keeps a loaded CI machine honest.
  return { type: "TCP", intervalMs: 60, timeoutMs: 50, rise: 2, fall: 2, ...overrides };
}

function httpMonitor(
  path = "/",
  expectedCodes = "200",
  overrides: Partial<HealthMonitorSpec> = {},
): HealthMonitorSpec {
  return monitor({ type: "HTTP", http: { method: "GET", path, expectedCodes }, ...overrides });
}

function target(
  key: string,
  port: number,
  spec: HealthMonitorSpec,
  address = "127.0.0.1",
): HealthTarget {
  return { key, address, port, monitor: spec };
}

// ---- behaviour ----

const TRANSPORTS = ["native", "net"] as const;

describe.each(TRANSPORTS)("HealthEngine on %s sockets: verdicts", (transport) => {
  const engineWithLog = (options: Partial<HealthEngineOptions> = {}) =>
    engineWithLogBase({ transport, ...options });

  it("uses the transport asked for (native is available on this Node)", () => {
    const { engine } = engineWithLog();
    expect(engine.transport).toBe(transport);
  });

  it("brings a down target up only after `rise` consecutive successes", async () => {
    const port = await rawBackend();
    const { engine, transitions, delivered } = engineWithLog({ initialState: "down" });
    engine.setTargets([target("tcp", port, monitor({ rise: 3 }))]);
    expect(engine.state("tcp")?.state).toBe("down");
    let consecutiveAtUp = 0;
    await waitFor("up", () => {
      const status = engine.state("tcp")!;
      if (status.state === "up" && consecutiveAtUp === 0) consecutiveAtUp = status.consecutive;
      return status.state === "up";
    });
    await delivered("tcp", "up");
    expect(consecutiveAtUp).toBe(3);
    expect(transitions()).toEqual([
      expect.objectContaining({ key: "tcp", from: "down", to: "up", reason: "connected" }),
    ]);
  });

  it("decides an unknown target on its first result, then needs `fall` failures to go down", async () => {
    const backend = await httpBackend();
    const { engine, transitions } = engineWithLog();
    engine.setTargets([target("web", backend.port, httpMonitor("/", "200", { fall: 3, rise: 2 }))]);
    expect(engine.state("web")?.state).toBe("unknown");
    await waitFor("first verdict", () => transitions().length === 1);
    expect(transitions()[0]).toMatchObject({ from: "unknown", to: "up", reason: "HTTP 200" });

    backend.status = 503;
    await waitFor("down", () => transitions().length === 2);
    expect(transitions()[1]).toMatchObject({
      from: "up",
      to: "down",
      reason: "HTTP 503 (expected 200)",
    });
    expect(engine.state("web")).toMatchObject({
      state: "down",
      consecutive: 3,
      reason: "HTTP 503 (expected 200)",
    });

    backend.status = 200;
    await waitFor("up again", () => transitions().length === 3);
    expect(transitions()[2]).toMatchObject({ from: "down", to: "up", reason: "HTTP 200" });
    expect(engine.state("web")?.consecutive).toBe(2);
  });

  it("marks a target down with ECONNREFUSED when its server stops", async () => {
    const backend = await httpBackend();
    const { engine, transitions, delivered } = engineWithLog();
    engine.setTargets([target("web", backend.port, httpMonitor())]);
    await delivered("web", "up");
    await backend.stop();
    await delivered("web", "down");
    expect(transitions().at(-1)).toMatchObject({
      from: "up",
      to: "down",
      reason: "connect ECONNREFUSED",
    });
  });

  it("reports a refused TCP connection", async () => {
    const port = await closedPort();
    const { engine, transitions } = engineWithLog();
    engine.setTargets([target("gone", port, monitor())]);
    await waitFor("verdict", () => transitions().length === 1);
    expect(transitions()[0]).toMatchObject({
      key: "gone",
      from: "unknown",
      to: "down",
      reason: "connect ECONNREFUSED",
    });
  });

  it("matches expected-code lists and ranges", async () => {
    const backend = await httpBackend();
    const { engine } = engineWithLog();
    const codes = "200-299,301";
    engine.setTargets([
      target("204", backend.port, httpMonitor("/status/204", codes)),
      target("301", backend.port, httpMonitor("/status/301", codes)),
      target("302", backend.port, httpMonitor("/status/302", codes)),
      target("404", backend.port, httpMonitor("/status/404", codes)),
    ]);
    await waitFor("all decided", () =>
      ["204", "301", "302", "404"].every((key) => engine.state(key)?.state !== "unknown"),
    );
    expect(engine.state("204")).toMatchObject({ state: "up", reason: "HTTP 204" });
    expect(engine.state("301")).toMatchObject({ state: "up", reason: "HTTP 301" });
    expect(engine.state("302")).toMatchObject({
      state: "down",
      reason: "HTTP 302 (expected 200-299,301)",
    });
    expect(engine.state("404")).toMatchObject({
      state: "down",
      reason: "HTTP 404 (expected 200-299,301)",
    });
  });

  it("reports a server that accepts but never answers as a timeout, counted from the probe's start", async () => {
    const port = await rawBackend();
    const { engine, transitions } = engineWithLog();
    engine.setTargets([
      target("silent-http", port, httpMonitor("/", "200", { intervalMs: 300, timeoutMs: 100 })),
      target("silent-tcp", port, monitor()),
    ]);
    await waitFor("verdicts", () => transitions().length === 2);
    expect(engine.state("silent-http")).toMatchObject({
      state: "down",
      reason: "timeout after 100 ms",
    });
    expect(engine.state("silent-http")!.lastDurationMs).toBeGreaterThanOrEqual(100);
    expect(engine.state("silent-http")!.lastDurationMs).toBeLessThan(350);
    // The TCP check only needs the handshake, which the silent server completes.
    expect(engine.state("silent-tcp")?.state).toBe("up");
    expect(engine.stats().probesTimedOut).toBeGreaterThanOrEqual(1);
  });

  it("reads a status line that arrives in pieces and rejects what is not HTTP", async () => {
    const slowWriter = await rawBackend((socket) => {
      socket.write("HTTP/1.1 2");
      setTimeout(() => socket.end("04 No Content\r\n\r\n"), 10);
    });
    const notHttp = await rawBackend((socket) => socket.end("SSH-2.0-OpenSSH_9.2\r\n"));
    const hangsUp = await rawBackend((socket) => socket.end());
    const { engine } = engineWithLog();
    engine.setTargets([
      target("pieces", slowWriter, httpMonitor("/", "204")),
      target("ssh", notHttp, httpMonitor()),
      target("hangup", hangsUp, httpMonitor()),
    ]);
    await waitFor("verdicts", () =>
      ["pieces", "ssh", "hangup"].every((key) => engine.state(key)?.state !== "unknown"),
    );
    expect(engine.state("pieces")).toMatchObject({ state: "up", reason: "HTTP 204" });
    expect(engine.state("ssh")).toMatchObject({
      state: "down",
      reason: 'malformed status line "SSH-2.0-OpenSSH_9.2??"',
    });
    expect(engine.state("hangup")).toMatchObject({
      state: "down",
      reason: "connection closed before status line",
    });
  });

  it("sends a minimal HTTP/1.1 request with method, path, Host and Connection: close", async () => {
    const requests: string[] = [];
    const port = await rawBackend((socket) => {
      socket.once("data", (data: Buffer) => {
        requests.push(data.toString("latin1"));
        socket.end("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
      });
    });
    const { engine } = engineWithLog();
    engine.setTargets([
      target(
        "head",
        port,
        monitor({
          type: "HTTP",
          http: { method: "HEAD", path: "/healthz?deep=1", expectedCodes: "200" },
        }),
      ),
      target(
        "host",
        port,
        monitor({
          type: "HTTP",
          http: { method: "OPTIONS", path: "/", host: "api.example", expectedCodes: "200" },
        }),
      ),
    ]);
    await waitFor(
      "both up",
      () => engine.state("head")?.state === "up" && engine.state("host")?.state === "up",
    );
    expect(requests).toContain(
      `HEAD /healthz?deep=1 HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUser-Agent: tenbin-health\r\nAccept: */*\r\nConnection: close\r\n\r\n`,
    );
    expect(
      requests.some((request) => request.startsWith("OPTIONS / HTTP/1.1\r\nHost: api.example\r\n")),
    ).toBe(true);
  });

  it("probes IPv6 backends", async () => {
    const sockets = new Set<Socket>();
    const server = createNetServer((socket) => {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
      socket.on("error", () => {}); // probes end with a reset
    });
    const listening = await new Promise<boolean>((resolve) => {
      server.once("error", () => resolve(false));
      server.listen(0, "::1", () => resolve(true));
    });
    if (!listening) return expect.fail("IPv6 loopback ::1 is not available on this machine");
    cleanups.push(() => closeServer(server, sockets));
    const { engine } = engineWithLog();
    engine.setTargets([target("v6", (server.address() as AddressInfo).port, monitor(), "::1")]);
    await waitFor("up", () => engine.state("v6")?.state === "up");
  });
});

describe("HealthEngine: declarative targets", () => {
  const engineWithLog = engineWithLogBase;
  it("adds, updates and removes targets while unchanged ones keep their state", async () => {
    const backend = await httpBackend();
    const { engine, transitions, delivered } = engineWithLog();
    const stable = target("stable", backend.port, httpMonitor());
    const changing = target("changing", backend.port, httpMonitor());
    engine.setTargets([stable, changing]);
    await waitFor(
      "both up",
      () => engine.state("stable")?.state === "up" && engine.state("changing")?.state === "up",
    );
    const stableSince = engine.state("stable")!.since;

    // Same keys: an identical copy keeps everything; a new path re-probes but keeps "up" until `fall` failures.
    const { rejected } = engine.setTargets([
      { ...stable, monitor: { ...stable.monitor } },
      target("changing", backend.port, httpMonitor("/status/503")),
      target("added", backend.port, httpMonitor()),
    ]);
    expect(rejected).toEqual([]);
    expect(engine.state("changing")?.state).toBe("up");
    expect(engine.state("added")?.state).toBe("unknown");
    await delivered("changing", "down");
    await delivered("added", "up");
    expect(engine.state("changing")?.consecutive).toBe(2);
    expect(engine.state("stable")).toMatchObject({ state: "up", since: stableSince });

    // Only thresholds change: counters and state stay.
    const consecutiveBefore = engine.state("stable")!.consecutive;
    engine.setTargets([
      target("stable", backend.port, httpMonitor("/", "200", { rise: 5, fall: 5 })),
    ]);
    expect(engine.state("stable")!.consecutive).toBeGreaterThanOrEqual(consecutiveBefore);
    expect(engine.state("changing")).toBeUndefined();
    expect(engine.state("added")).toBeUndefined();
    expect(engine.stats().targets).toBe(1);

    const transitionsBefore = transitions().length;
    await sleep(150);
    // Removed targets report nothing and the stable one stays up.
    expect(transitions().slice(transitionsBefore)).toEqual([]);
    expect(engine.state("stable")).toMatchObject({ state: "up", since: stableSince });
  });

  it("keeps counters across full resyncs with fresh but equal objects", async () => {
    const port = await rawBackend();
    const { engine } = engineWithLog();
    // A TCP monitor carrying irrelevant HTTP settings must still count as unchanged.
    const make = () =>
      target(
        "tcp",
        port,
        monitor({ rise: 1, http: { method: "GET", path: "/", expectedCodes: "200" } }),
      );
    engine.setTargets([make()]);
    await waitFor("three successes", () => (engine.state("tcp")?.consecutive ?? 0) >= 3);
    for (let i = 0; i < 5; i++) {
      const before = engine.state("tcp")!.consecutive;
      expect(engine.setTargets([make()]).rejected).toEqual([]);
      expect(engine.state("tcp")!.consecutive).toBeGreaterThanOrEqual(before);
      await sleep(20);
    }
    expect(engine.state("tcp")!.consecutive).toBeGreaterThanOrEqual(4);
  });

  it("rejects invalid targets with a reason and keeps the previous version of that key", async () => {
    const backend = await httpBackend();
    const { engine } = engineWithLog();
    engine.setTargets([target("web", backend.port, httpMonitor())]);
    await waitFor("up", () => engine.state("web")?.state === "up");
    const { rejected } = engine.setTargets([
      target("web", backend.port, httpMonitor("/", "2xx")),
      target("slow", backend.port, monitor({ intervalMs: 100, timeoutMs: 100 })),
      target("name", backend.port, monitor(), "backend.example"),
      target("nohttp", backend.port, monitor({ type: "HTTP" })),
      target("dup", backend.port, monitor()),
      target("dup", backend.port, monitor()),
    ]);
    expect(rejected).toEqual([
      { key: "web", error: 'expected codes "2xx": "2xx" is not a 3-digit status code (100-599)' },
      { key: "slow", error: "timeoutMs 100 must be an integer >= 1 and below intervalMs 100" },
      { key: "name", error: 'address "backend.example" is not an IPv4 or IPv6 literal' },
      { key: "nohttp", error: "HTTP monitor needs http settings (method, path, expectedCodes)" },
      { key: "dup", error: "duplicate key" },
    ]);
    expect(engine.state("web")?.state).toBe("up");
    expect(engine.state("slow")).toBeUndefined();
    expect(engine.state("dup")?.state).toBe("unknown");
  });

  it("spreads first probes over the interval instead of firing them together", async () => {
    const backend = await httpBackend();
    const { engine } = engineWithLog();
    const targets = Array.from({ length: 40 }, (_, i) =>
      target(`t${i}`, backend.port, httpMonitor("/", "200", { intervalMs: 400, timeoutMs: 300 })),
    );
    engine.setTargets(targets);
    await sleep(100);
    // With a random phase about a quarter of the 40 targets have had their first probe by now.
    const started = engine.stats().probesStarted;
    expect(started).toBeGreaterThan(0);
    expect(started).toBeLessThan(30);
  });
});

describe.each(TRANSPORTS)("HealthEngine on %s sockets: overload and batching", (transport) => {
  const engineWithLog = (options: Partial<HealthEngineOptions> = {}) =>
    engineWithLogBase({ transport, ...options });
  it("slips probes at the in-flight cap instead of failing them (no false downs)", async () => {
    const backend = await httpBackend({ delayMs: 20 });
    const { engine, transitions } = engineWithLog({ maxInFlight: 2, initialState: "up" });
    const targets = Array.from({ length: 50 }, (_, i) =>
      target(
        `slow${i}`,
        backend.port,
        httpMonitor("/", "200", { intervalMs: 100, timeoutMs: 90, fall: 1 }),
      ),
    );
    engine.setTargets(targets);
    let maxInFlight = 0;
    const deadline = Date.now() + 800;
    while (Date.now() < deadline) {
      maxInFlight = Math.max(maxInFlight, engine.stats().inFlight);
      await sleep(5);
    }
    const stats = engine.stats();
    expect(stats.probesSlipped).toBeGreaterThan(50);
    expect(stats.probesSucceeded).toBeGreaterThan(20);
    expect(stats.probesFailed).toBe(0);
    expect(transitions()).toEqual([]);
    expect(maxInFlight).toBeLessThanOrEqual(2);
    expect(backend.maxOpen).toBeLessThanOrEqual(2);
  });

  it("delivers the transitions of one event together in a batch", async () => {
    const backend = await httpBackend();
    const { engine, batches } = engineWithLog({ batchWindowMs: 250 });
    const keys = Array.from({ length: 20 }, (_, i) => `member${i}`);
    engine.setTargets(
      keys.map((key) =>
        target(
          key,
          backend.port,
          httpMonitor("/", "200", { fall: 1, intervalMs: 150, timeoutMs: 140 }),
        ),
      ),
    );
    await waitFor("all up delivered", () =>
      keys.every((key) => batches.flat().some((t) => t.key === key && t.to === "up")),
    );
    const batchesBefore = batches.length;
    expect(batchesBefore).toBeLessThanOrEqual(2);

    backend.status = 500;
    await waitFor("all down", () => keys.every((key) => engine.state(key)?.state === "down"));
    await sleep(270);
    // Every member's 500 reached the agent, in at most two deliveries (the failures spread over one interval).
    const downBatches = batches
      .slice(batchesBefore)
      .filter((batch) => batch.some((t) => t.reason === "HTTP 500 (expected 200)"));
    const downKeys = downBatches
      .flat()
      .filter((t) => t.to === "down")
      .map((t) => t.key);
    expect(new Set(downKeys)).toEqual(new Set(keys));
    expect(downBatches.length).toBeLessThanOrEqual(2);
    expect(engine.stats().batches).toBe(batches.length);
  });

  it("aborts running probes on close and reports nothing afterwards", async () => {
    const port = await rawBackend();
    const { engine, transitions } = engineWithLog();
    engine.setTargets([
      target("silent", port, httpMonitor("/", "200", { intervalMs: 1000, timeoutMs: 900 })),
    ]);
    await waitFor("probe running", () => engine.stats().inFlight === 1);
    await engine.close();
    expect(engine.stats()).toMatchObject({ inFlight: 0, targets: 0 });
    await sleep(50);
    expect(transitions()).toEqual([]);
    expect(() => engine.setTargets([])).toThrow("closed");
  });
});

describe("HealthEngine: adaptive in-flight limit", () => {
  it("shrinks the in-flight limit when probes queue behind a saturated backend, so waiting never becomes a timeout", async () => {
    // A saturated backend: each request waits 5 ms for every request already waiting, so the wait
    // grows with the number of probes in flight (100 in flight: 500 ms, beyond the 250 ms timeout).
    let waiting = 0;
    const port = await rawBackend((socket) => {
      socket.once("data", () => {
        waiting++;
        setTimeout(() => {
          waiting--;
          if (!socket.destroyed) socket.end("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
        }, 5 * waiting);
      });
    });
    // 300 probes/s are due: more than the backend can answer, so some must wait somewhere.
    const targets = Array.from({ length: 300 }, (_, i) =>
      target(`t${i}`, port, httpMonitor("/", "200", { intervalMs: 1000, timeoutMs: 250, fall: 1 })),
    );
    const run = async (adaptiveInFlight: boolean) => {
      const { engine, transitions } = engineWithLogBase({
        maxInFlight: 100,
        minInFlight: 4,
        initialState: "up",
        adaptiveInFlight,
      });
      engine.setTargets(targets);
      await sleep(2_000);
      const stats = engine.stats();
      await engine.close();
      return { stats, downs: transitions().filter((t) => t.to === "down").length };
    };
    const adaptive = await run(true);
    expect(adaptive.downs).toBe(0);
    expect(adaptive.stats.probesTimedOut).toBe(0);
    expect(adaptive.stats.inFlightLimit).toBeLessThan(100);
    expect(adaptive.stats.probesSucceeded).toBeGreaterThan(150);
    expect(adaptive.stats.probesSlipped).toBeGreaterThan(0);
    // The same load with a fixed limit: the wait exceeds the timeout (what the adaptive limit prevents).
    const fixed = await run(false);
    expect(fixed.stats.probesTimedOut).toBeGreaterThan(0);
  });
});
