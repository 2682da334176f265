// Shared by playwright.config.ts, the server launcher and the specs: where the console under
// test listens and who its first platform admin is.
export const E2E_PORT = Number(process.env.TENBIN_E2E_PORT ?? 3210);
// localhost, not 127.0.0.1: the server's origin checks expect the origin it was started with.
export const E2E_BASE_URL = `http://localhost:${E2E_PORT}`;
export const E2E_ADMIN = { email: "admin@tenbin.local", password: "e2e-admin-pass-1" };
