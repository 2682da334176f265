import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:https";
import { createServer as createNetServer, type AddressInfo, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HealthEngine } from "./engine";
import type { HealthTarget, HealthTransition, TlsCheckSpec } from "./types";

// A throwaway CA and a server certificate for "health.test" and 127.0.0.1, made with openssl.
let dir = "";
let caPem = "";
let server: Server;
let port = 0;
let status = 200;
const sockets = new Set<Socket>();

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "tenbin-health-tls-"));
  const openssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  openssl(
    "req",
    "-x509",
    ...ec,
    "-keyout",
    "ca.key",
    "-out",
    "ca.pem",
    "-days",
    "2",
    "-subj",
    "/CN=tenbin test CA",
  );
  openssl("req", ...ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=health.test");
  writeFileSync(join(dir, "san.ext"), "subjectAltName=DNS:health.test,IP:127.0.0.1\n");
  openssl(
    "x509",
    "-req",
    "-in",
    "server.csr",
    "-CA",
    "ca.pem",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-out",
    "server.pem",
    "-days",
    "2",
    "-extfile",
    "san.ext",
  );
  caPem = readFileSync(join(dir, "ca.pem"), "utf8");
  server = createServer(
    { key: readFileSync(join(dir, "server.key")), cert: readFileSync(join(dir, "server.pem")) },
    (_request, response) => {
      response.writeHead(status);
      response.end();
    },
  );
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  server.on("tlsClientError", () => {}); // probes that reject the certificate hang up mid-handshake
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function httpsTarget(key: string, tls: TlsCheckSpec | undefined, targetPort = port): HealthTarget {
  return {
    key,
    address: "127.0.0.1",
    port: targetPort,
    monitor: {
      type: "HTTPS",
      intervalMs: 1000,
      timeoutMs: 900,
      rise: 1,
      fall: 1,
      http: { method: "GET", path: "/", expectedCodes: "200" },
      tls,
    },
  };
}

async function verdicts(
  targets: HealthTarget[],
): Promise<{ engine: HealthEngine; byKey: Map<string, HealthTransition> }> {
  const byKey = new Map<string, HealthTransition>();
  const engine = new HealthEngine({
    onTransitions: (batch) => batch.forEach((transition) => byKey.set(transition.key, transition)),
    batchWindowMs: 0,
    maxInitialDelayMs: 0,
  });
  engine.setTargets(targets);
  const deadline = Date.now() + 5_000;
  while (byKey.size < targets.length) {
    if (Date.now() > deadline)
      throw new Error(
        `no verdict for ${targets.filter((t) => !byKey.has(t.key)).map((t) => t.key)}`,
      );
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return { engine, byKey };
}

describe("HTTPS probes", () => {
  it("checks the certificate only when asked, against the given CA and SNI name", async () => {
    const { engine, byKey } = await verdicts([
      httpsTarget("no-verify", undefined),
      httpsTarget("verify-ca-sni", { verify: true, ca: caPem, sni: "health.test" }),
      httpsTarget("verify-ca-ip", { verify: true, ca: caPem }),
      httpsTarget("verify-system-roots", { verify: true, sni: "health.test" }),
      httpsTarget("verify-wrong-name", { verify: true, ca: caPem, sni: "other.test" }),
    ]);
    try {
      expect(byKey.get("no-verify")).toMatchObject({ to: "up", reason: "HTTP 200" });
      expect(byKey.get("verify-ca-sni")).toMatchObject({ to: "up", reason: "HTTP 200" });
      expect(byKey.get("verify-ca-ip")).toMatchObject({ to: "up", reason: "HTTP 200" });
      expect(byKey.get("verify-system-roots")).toMatchObject({
        to: "down",
        reason: "tls UNABLE_TO_VERIFY_LEAF_SIGNATURE",
      });
      expect(byKey.get("verify-wrong-name")).toMatchObject({
        to: "down",
        reason: "tls ERR_TLS_CERT_ALTNAME_INVALID",
      });
      // One SecureContext per trust configuration: our CA, and the system roots.
      expect(engine.stats().tlsContexts).toBe(2);
    } finally {
      await engine.close();
    }
  });

  it("compares the status code and reports refused connections and non-TLS servers", async () => {
    const refusedPort = await new Promise<number>((resolve) => {
      const probe = createNetServer().listen(0, "127.0.0.1", () => {
        const free = (probe.address() as AddressInfo).port;
        probe.close(() => resolve(free));
      });
    });
    const plain = createNetServer((socket) => {
      socket.on("error", () => {});
      socket.once("data", () => socket.end("HTTP/1.1 400 Bad Request\r\n\r\n"));
    });
    await new Promise<void>((resolve) => plain.listen(0, "127.0.0.1", resolve));
    status = 503;
    const { engine, byKey } = await verdicts([
      httpsTarget("503", undefined),
      httpsTarget("refused", undefined, refusedPort),
      httpsTarget("plain-http", undefined, (plain.address() as AddressInfo).port),
    ]);
    try {
      expect(byKey.get("503")).toMatchObject({ to: "down", reason: "HTTP 503 (expected 200)" });
      expect(byKey.get("refused")).toMatchObject({ to: "down", reason: "connect ECONNREFUSED" });
      expect(byKey.get("plain-http")?.to).toBe("down");
      expect(byKey.get("plain-http")?.reason).toMatch(/^tls ERR_SSL_/);
    } finally {
      status = 200;
      await engine.close();
      await new Promise<void>((resolve) => plain.close(() => resolve()));
    }
  });

  it("rejects an SNI that is an IP literal and a CA that is not PEM", async () => {
    const engine = new HealthEngine({ onTransitions: () => {} });
    try {
      const { rejected } = engine.setTargets([
        httpsTarget("ip-sni", { sni: "127.0.0.1" }),
        httpsTarget("bad-ca", { verify: true, ca: "not a certificate" }),
      ]);
      expect(rejected).toEqual([
        { key: "ip-sni", error: 'tls sni "127.0.0.1" must be a host name (not an IP literal)' },
        { key: "bad-ca", error: "tls ca must be a PEM bundle of certificates" },
      ]);
    } finally {
      await engine.close();
    }
  });
});
