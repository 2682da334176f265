// The console's navigation. Tenant pages live under /t/<tenant>/...; add a tenant page here
// with its path relative to the tenant (e.g. "lbs") and it shows in the sidebar.
import type { ComponentType, SVGProps } from "react";
import { BalanceIcon, BuildingIcon, HomeIcon, KeyIcon, ListIcon, ShieldIcon, UsersIcon } from "../ui/icons";
import { GaugeIcon, GlobeIcon, NetworkIcon, ServerIcon } from "../admin/icons";

export interface NavItem {
  label: string;
  /** Absolute path, or for tenant items the path below /t/<tenant> ("" = overview). */
  href: string;
  icon: ComponentType<SVGProps<SVGSVGElement>>;
  /** Not built yet: shown, but not a link. */
  soon?: boolean;
}

export const tenantNav: NavItem[] = [
  { label: "Overview", href: "", icon: HomeIcon },
  { label: "Load balancers", href: "lbs", icon: BalanceIcon },
  { label: "Certificates", href: "certificates", icon: KeyIcon },
  { label: "Members", href: "members", icon: UsersIcon },
  { label: "Audit log", href: "audit", icon: ListIcon },
];

export const accountNav: NavItem[] = [
  { label: "API tokens", href: "/account/tokens", icon: KeyIcon },
  { label: "My activity", href: "/account/activity", icon: ListIcon },
];

export const platformNav: NavItem[] = [
  { label: "Tenants", href: "/admin/tenants", icon: BuildingIcon },
  { label: "Users", href: "/admin/users", icon: UsersIcon },
  { label: "Regions & AZs", href: "/admin/regions", icon: GlobeIcon },
  { label: "LB nodes", href: "/admin/nodes", icon: ServerIcon },
  { label: "IP pools", href: "/admin/ip-pools", icon: NetworkIcon },
  { label: "Quotas", href: "/admin/quotas", icon: GaugeIcon },
  { label: "All activity", href: "/admin/audit", icon: ShieldIcon },
];

export const tenantHref = (slug: string, sub: string) => (sub ? `/t/${slug}/${sub}` : `/t/${slug}`);
