// Authentication: better-auth for users, passwords (scrypt), cookie sessions, sign-in rate
// limiting and its own origin checks. Tenancy, roles and API tokens are Tenbin's domain
// (server/domain), so they are audited in the same transaction as every other mutation.
import { betterAuth } from "better-auth";
import { drizzleAdapter } from "better-auth/adapters/drizzle";
import type { Db } from "../db/client";
import { authSchema } from "../db/schema";

export interface AuthSettings {
  baseURL: string;
  secret: string;
  allowSignUp: boolean;
  /** Extra origins allowed to post to /api/auth (the base URL's origin always is). */
  trustedOrigins?: string[];
  onUserCreated?: (u: { id: string; email: string; name: string }) => Promise<void>;
}

export const PASSWORD_MIN = 10;
export const PASSWORD_MAX = 128;

export function createAuth(db: Db, s: AuthSettings) {
  return betterAuth({
    baseURL: s.baseURL,
    basePath: "/api/auth",
    secret: s.secret,
    trustedOrigins: s.trustedOrigins ?? [],
    database: drizzleAdapter(db, { provider: "pg", schema: authSchema }),
    emailAndPassword: {
      enabled: true,
      disableSignUp: !s.allowSignUp,
      minPasswordLength: PASSWORD_MIN,
      maxPasswordLength: PASSWORD_MAX,
      autoSignIn: true,
    },
    user: {
      additionalFields: {
        platformAdmin: { type: "boolean", defaultValue: false, input: false, required: false },
      },
    },
    session: {
      expiresIn: 60 * 60 * 24 * 7,
      updateAge: 60 * 60 * 24,
      cookieCache: { enabled: false },
    },
    rateLimit: {
      enabled: true,
      storage: "database",
      window: 60,
      max: 300,
      customRules: {
        "/sign-in/email": { window: 60, max: 10 },
        "/sign-up/email": { window: 60, max: 10 },
      },
    },
    advanced: {
      useSecureCookies: s.baseURL.startsWith("https://"),
      ipAddress: { ipAddressHeaders: ["x-forwarded-for"] },
      defaultCookieAttributes: { sameSite: "lax", httpOnly: true },
    },
    databaseHooks: {
      user: {
        create: {
          after: async (u) => {
            await s.onUserCreated?.({ id: u.id, email: u.email, name: u.name });
          },
        },
      },
    },
    telemetry: { enabled: false },
  });
}

export type Auth = ReturnType<typeof createAuth>;
