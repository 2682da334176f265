// npm run bench:api — creates 1,000 load balancers with 10 members each through the HTTP API
// (real server, typed tRPC client, API token) and times create, list and get at that size.
// Database: embedded PGlite in a temp dir, or PostgreSQL with BENCH_DATABASE_URL.
import os from "node:os";
import fs from "node:fs";
import path from "node:path";
import net from "node:net";
import { createTRPCClient, httpLink } from "@trpc/client";
import superjson from "superjson";
import type { AppRouter } from "../server/api/root";
import { loadEnv } from "../server/env";
import { openServices } from "../server/services";
import { createHttpServer } from "../server/http";
import { createLogger } from "../server/log";
import { openDatabase } from "../server/db/client";
import { SYSTEM_ACTOR } from "../server/domain/context";
import { createToken } from "../server/domain/tokens";
import { ensureFirstAdmin } from "../server/domain/users";
import { user } from "../server/db/schema";
import { eq } from "drizzle-orm";

const VIPS = Number(process.env.BENCH_VIPS ?? 1000);
const MEMBERS = 10;
const GETS = 200;
const LISTS = 10;

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};
const r2 = (x: number) => Math.round(x * 100) / 100;

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tenbin-bench-api-"));
  const url = process.env.BENCH_DATABASE_URL;
  const database = await openDatabase(url ? { url } : { dataDir: path.join(dir, "pglite") });
  const env = loadEnv({ ...process.env, TENBIN_AUTH_SECRET: "b".repeat(40), TENBIN_DATA_DIR: dir });
  const services = await openServices(env, { database, baseURL: "http://localhost:1" });
  await ensureFirstAdmin(database.db, services.auth, { email: "bench@tenbin.local", password: "bench-password-1" });
  const [admin] = await database.db.select().from(user).where(eq(user.email, "bench@tenbin.local"));
  const { token } = await createToken(
    { db: database.db, auth: services.auth, actor: { ...SYSTEM_ACTOR, userId: admin!.id, email: admin!.email } },
    { name: "bench" },
  );
  const http = createHttpServer({ services, log: createLogger("silent") });
  await new Promise<void>((r) => http.server.listen(0, "127.0.0.1", r));
  const port = (http.server.address() as net.AddressInfo).port;
  const api = createTRPCClient<AppRouter>({
    links: [httpLink({ url: `http://127.0.0.1:${port}/api/trpc`, transformer: superjson, headers: { authorization: `Bearer ${token}` } })],
  });

  const region = await api.regions.create.mutate({ name: "bench" });
  await api.ipPools.create.mutate({ regionId: region.id, name: "bench-v4", cidr: "198.19.0.0/21" });
  await api.tenants.create.mutate({ slug: "bench", name: "Bench" });
  await api.quotas.set.mutate({ tenantId: "bench", maxVips: VIPS, maxListeners: VIPS * 2, maxMembers: VIPS * MEMBERS });

  console.log(`creating ${VIPS} load balancers × ${MEMBERS} members through the API (${url ? "PostgreSQL" : "PGlite"})`);
  const createMs: number[] = [];
  const t0 = performance.now();
  for (let i = 0; i < VIPS; i++) {
    const s = performance.now();
    await api.lb.create.mutate({
      tenantId: "bench",
      name: `lb-${String(i).padStart(4, "0")}`,
      tags: { bench: "api" },
      pools: [
        {
          name: "web",
          members: Array.from({ length: MEMBERS }, (_, j) => ({ address: `198.18.${(i >> 4) & 255}.${((i & 15) << 4) + j + 1}`, port: 80 })),
          monitor: { type: "TCP" },
        },
      ],
      listeners: [
        { protocol: "TCP", port: 80, pool: "web" },
        { protocol: "TCP", port: 443, pool: "web" },
      ],
    });
    createMs.push(performance.now() - s);
    if ((i + 1) % 200 === 0) console.log(`  ${i + 1}/${VIPS} created (${Math.round(performance.now() - t0)} ms)`);
  }
  const createTotal = performance.now() - t0;

  const listMs: number[] = [];
  let listed = 0;
  for (let i = 0; i < LISTS; i++) {
    const s = performance.now();
    listed = (await api.lb.list.query({ tenantId: "bench" })).length;
    listMs.push(performance.now() - s);
  }
  const getMs: number[] = [];
  for (let i = 0; i < GETS; i++) {
    const n = Math.floor(Math.random() * VIPS);
    const s = performance.now();
    await api.lb.get.query({ tenantId: "bench", lb: `198.19.${(n + 1) >> 8}.${(n + 1) & 255}` });
    getMs.push(performance.now() - s);
  }
  const figures = {
    bench: "api",
    database: url ? "postgres" : "pglite",
    vips: VIPS,
    membersPerVip: MEMBERS,
    listed,
    createTotalS: r2(createTotal / 1000),
    createP50Ms: r2(pct(createMs, 50)),
    createP99Ms: r2(pct(createMs, 99)),
    listP50Ms: r2(pct(listMs, 50)),
    listP99Ms: r2(pct(listMs, 99)),
    getP50Ms: r2(pct(getMs, 50)),
    getP99Ms: r2(pct(getMs, 99)),
  };
  console.log(`list of ${listed}: p50 ${figures.listP50Ms} ms, p99 ${figures.listP99Ms} ms; get: p50 ${figures.getP50Ms} ms, p99 ${figures.getP99Ms} ms`);
  await http.shutdown(1000);
  await services.close();
  fs.rmSync(dir, { recursive: true, force: true });
  console.log(JSON.stringify(figures));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
