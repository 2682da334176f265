import { defineConfig } from "vitest/config";
import path from "node:path";

// Two projects: every unit/integration test on the embedded PGlite (the default), and the
// database-touching server tests once more against a real PostgreSQL server (TEST_DATABASE_URL).
const alias = { "@": path.resolve(import.meta.dirname) };
export default defineConfig({
  resolve: { alias },
  test: {
    projects: [
      {
        resolve: { alias },
        test: {
          name: "unit",
          include: ["{server,agent,bpf,cli,bench,scripts}/**/*.test.ts", "e2e/testbed/**/*.test.ts"],
          testTimeout: 30_000,
          hookTimeout: 60_000,
          env: { TENBIN_TEST_DB: "pglite" },
        },
      },
      {
        resolve: { alias },
        test: {
          name: "postgres",
          include: ["server/**/*.db.test.ts"],
          testTimeout: 30_000,
          hookTimeout: 60_000,
          env: { TENBIN_TEST_DB: "postgres" },
        },
      },
    ],
  },
});
