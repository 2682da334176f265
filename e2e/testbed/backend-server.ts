// A testbed backend's server, run inside the backend's namespace (no route out of the testbed):
//   node --import tsx backend-server.ts http NAME PORT MARKER
//     HTTP on every address (VIPs arrive decapsulated on `lo`'s AnyIP range; health probes on
//     the underlay address); answers "NAME\n". /bytes?bytes=N: a bulk answer of N bytes;
//     /stream?bytes=N&ms=T: N bytes paced over T ms; /keep: a keep-alive answer (long-lived
//     connections). Every body starts with "NAME\n".
//   node --import tsx backend-server.ts udp NAME PORT MARKER FIRST_V4 COUNT [FIRST_V6]
//     UDP bound on each VIP address (so replies leave with the VIP as source, as DSR needs);
//     answers every datagram with "NAME <payload>".
// MARKER (the testbed's state directory) is only there so `down` can recognise this process.
import dgram from "node:dgram";
import http from "node:http";

const [mode, name, portText, , firstV4, countText, firstV6] = process.argv.slice(2);
const port = Number(portText);
if (!name || !Number.isInteger(port) || (mode !== "http" && mode !== "udp")) {
  console.error("usage: backend-server.ts http|udp NAME PORT MARKER [FIRST_V4 COUNT [FIRST_V6]]");
  process.exit(2);
}

// Bounds of the traffic-shaping paths (a test's request can never make a backend run away).
const MAX_BODY = 64 * 1024 * 1024;
const MAX_STREAM_MS = 60_000;

if (mode === "http") {
  const server = http.createServer((req, res) => {
    req.resume();
    const url = new URL(req.url ?? "/", "http://backend");
    const bytes = Math.min(Math.max(Number(url.searchParams.get("bytes") ?? 0) || 0, 0), MAX_BODY);
    if (url.pathname === "/keep") {
      // Keep-alive: a long-lived connection that exchanges one small request/answer at a time.
      res.writeHead(200, { "content-type": "text/plain", "content-length": String(name.length + 1) });
      res.end(`${name}\n`);
    } else if (url.pathname === "/bytes" && bytes > 0) {
      // A bulk answer: "NAME\n" padded to `bytes` bytes.
      const body = Buffer.alloc(Math.max(bytes, name.length + 1), "x");
      body.write(`${name}\n`);
      res.writeHead(200, { "content-type": "text/plain", "content-length": String(body.length), connection: "close" });
      res.end(body);
    } else if (url.pathname === "/stream" && bytes > 0) {
      // A long transfer: "NAME\n" then `bytes` bytes in total, paced evenly over `ms`.
      const ms = Math.min(Math.max(Number(url.searchParams.get("ms") ?? 0) || 0, 0), MAX_STREAM_MS);
      const total = Math.max(bytes, name.length + 1);
      const steps = Math.max(1, Math.floor(ms / 50));
      const chunk = Math.ceil(total / steps);
      res.writeHead(200, { "content-type": "text/plain", "content-length": String(total), connection: "close" });
      let sent = 0;
      const first = Buffer.alloc(Math.min(chunk, total), "x");
      first.write(`${name}\n`);
      res.write(first);
      sent += first.length;
      const timer = setInterval(() => {
        const n = Math.min(chunk, total - sent);
        if (n > 0) res.write(Buffer.alloc(n, "x"));
        sent += n;
        if (sent >= total) {
          clearInterval(timer);
          res.end();
        }
      }, 50);
      res.on("close", () => clearInterval(timer));
    } else {
      res.writeHead(200, { "content-type": "text/plain", connection: "close" });
      res.end(`${name}\n`);
    }
  });
  server.listen(port, "::", () => console.log(`${name}: HTTP on port ${port}`));
} else {
  const count = Math.min(Number(countText ?? 0), 256);
  const v4 = (firstV4 ?? "0.0.0.1").split(".").map(Number);
  const addresses: { type: "udp4" | "udp6"; address: string }[] = [];
  for (let i = 0; i < count; i++) {
    const last = (v4[3] ?? 0) + i;
    if (last > 254) break;
    addresses.push({ type: "udp4", address: `${v4[0]}.${v4[1]}.${v4[2]}.${last}` });
  }
  if (firstV6) {
    const base = firstV6.replace(/[0-9a-f]+$/i, "");
    const start = parseInt(/[0-9a-f]+$/i.exec(firstV6)?.[0] ?? "1", 16);
    for (let i = 0; i < count; i++) addresses.push({ type: "udp6", address: `${base}${(start + i).toString(16)}` });
  }
  let bound = 0;
  for (const a of addresses) {
    const s = dgram.createSocket(a.type);
    s.on("message", (msg, from) => s.send(`${name} ${msg.toString().slice(0, 200)}`, from.port, from.address));
    s.on("error", (e) => console.error(`${name}: ${a.address}: ${e.message}`));
    s.bind(port, a.address, () => {
      if (++bound === addresses.length) console.log(`${name}: UDP on port ${port}, ${bound} VIP addresses`);
    });
  }
}

process.on("SIGTERM", () => process.exit(0));
