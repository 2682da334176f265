// Tenant membership: tenant admins (and platform admins) add users by email, change roles and
// remove members. A tenant never loses its last admin.
import { and, asc, eq } from "drizzle-orm";
import { tenantMember, user } from "../db/schema";
import type { Tx } from "../db/client";
import { type DomainCtx, type Role, requireRole, resolveTenant } from "./context";
import { DomainError, badField, conflict, notFound } from "./errors";
import { mutate } from "./mutate";

export interface MemberView {
  userId: string;
  email: string;
  name: string;
  role: Role;
  since: Date;
}

export async function listMembers(ctx: DomainCtx, tenantRef: string): Promise<MemberView[]> {
  const t = await resolveTenant(ctx, tenantRef);
  const rows = await ctx.db
    .select({
      userId: tenantMember.userId,
      email: user.email,
      name: user.name,
      role: tenantMember.role,
      since: tenantMember.createdAt,
    })
    .from(tenantMember)
    .innerJoin(user, eq(user.id, tenantMember.userId))
    .where(eq(tenantMember.tenantId, t.tenant.id))
    .orderBy(asc(user.email));
  return rows;
}

export async function addMember(
  ctx: DomainCtx,
  input: { tenantId: string; email: string; role: Role },
): Promise<MemberView> {
  const t = await resolveTenant(ctx, input.tenantId);
  requireRole(t, "admin");
  return mutate(ctx, async (tx, rec) => {
    const [u] = await tx.select().from(user).where(eq(user.email, input.email));
    if (!u) {
      throw badField(
        "email",
        `no user with email ${input.email}: they must sign up first (or a platform admin creates the user)`,
      );
    }
    const [existing] = await tx
      .select()
      .from(tenantMember)
      .where(and(eq(tenantMember.tenantId, t.tenant.id), eq(tenantMember.userId, u.id)));
    if (existing) {
      if (existing.role === input.role) {
        return { userId: u.id, email: u.email, name: u.name, role: existing.role, since: existing.createdAt };
      }
      throw conflict(`${u.email} is already a member (${existing.role}); change the role instead`, "email");
    }
    const [row] = await tx
      .insert(tenantMember)
      .values({ tenantId: t.tenant.id, userId: u.id, role: input.role })
      .returning();
    await rec.record({
      tenantId: t.tenant.id,
      action: "member.add",
      entityType: "member",
      entityId: u.id,
      before: null,
      after: { email: u.email, role: input.role },
    });
    return { userId: u.id, email: u.email, name: u.name, role: row!.role, since: row!.createdAt };
  });
}

async function lockedMember(tx: Tx, tenantId: string, userId: string) {
  // Lock the tenant's member rows so two concurrent demotions cannot both pass the last-admin check.
  const rows = await tx
    .select()
    .from(tenantMember)
    .where(eq(tenantMember.tenantId, tenantId))
    .for("update");
  const target = rows.find((r) => r.userId === userId);
  if (!target) throw notFound("member");
  const admins = rows.filter((r) => r.role === "admin").length;
  return { target, admins };
}

export async function setMemberRole(
  ctx: DomainCtx,
  input: { tenantId: string; userId: string; role: Role },
): Promise<MemberView> {
  const t = await resolveTenant(ctx, input.tenantId);
  requireRole(t, "admin");
  return mutate(ctx, async (tx, rec) => {
    const { target, admins } = await lockedMember(tx, t.tenant.id, input.userId);
    const [u] = await tx.select().from(user).where(eq(user.id, input.userId));
    if (target.role === input.role) {
      return { userId: u!.id, email: u!.email, name: u!.name, role: target.role, since: target.createdAt };
    }
    if (target.role === "admin" && admins <= 1) {
      throw new DomainError(
        "PRECONDITION_FAILED",
        `${u!.email} is the last admin of ${t.tenant.slug}; make someone else admin first`,
        { role: ["the tenant would have no admin left"] },
      );
    }
    await tx
      .update(tenantMember)
      .set({ role: input.role, updatedAt: new Date() })
      .where(and(eq(tenantMember.tenantId, t.tenant.id), eq(tenantMember.userId, input.userId)));
    await rec.record({
      tenantId: t.tenant.id,
      action: "member.set-role",
      entityType: "member",
      entityId: input.userId,
      before: { email: u!.email, role: target.role },
      after: { email: u!.email, role: input.role },
    });
    return { userId: u!.id, email: u!.email, name: u!.name, role: input.role, since: target.createdAt };
  });
}

export async function removeMember(ctx: DomainCtx, input: { tenantId: string; userId: string }): Promise<void> {
  const t = await resolveTenant(ctx, input.tenantId);
  requireRole(t, "admin");
  await mutate(ctx, async (tx, rec) => {
    const { target, admins } = await lockedMember(tx, t.tenant.id, input.userId);
    const [u] = await tx.select().from(user).where(eq(user.id, input.userId));
    if (target.role === "admin" && admins <= 1) {
      throw new DomainError(
        "PRECONDITION_FAILED",
        `${u!.email} is the last admin of ${t.tenant.slug}; make someone else admin first`,
      );
    }
    await tx
      .delete(tenantMember)
      .where(and(eq(tenantMember.tenantId, t.tenant.id), eq(tenantMember.userId, input.userId)));
    await rec.record({
      tenantId: t.tenant.id,
      action: "member.remove",
      entityType: "member",
      entityId: input.userId,
      before: { email: u!.email, role: target.role },
      after: null,
    });
  });
}
