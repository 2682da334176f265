"use client";
// The console frame: sidebar navigation, tenant switcher, who is signed in, sign-out.
import { useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { useParams, usePathname, useRouter } from "next/navigation";
import { useEffect, useState, type ReactNode } from "react";
import { signOut } from "../auth-client";
import { useTRPC } from "../trpc";
import { Button } from "../ui/button";
import { cx } from "../ui/cx";
import { BalanceIcon, CloseIcon, MenuIcon } from "../ui/icons";
import { Badge, roleTone } from "../ui/layout";
import { useLastTenant } from "./last-tenant";
import { type NavItem, accountNav, platformNav, tenantHref, tenantNav } from "./nav";
import { SessionGate, useMe } from "./session";

export function AppShell({ children }: { children: ReactNode }) {
  return (
    <SessionGate>
      <Frame>{children}</Frame>
    </SessionGate>
  );
}

/** The tenant the console is pointed at: the URL's, else the last one used, else the first. */
function useCurrentTenant() {
  const trpc = useTRPC();
  const params = useParams<{ tenant?: string }>();
  const last = useLastTenant();
  const tenants = useQuery(trpc.tenants.list.queryOptions());
  const list = tenants.data ?? [];
  const fromUrl = params.tenant ? decodeURIComponent(params.tenant) : undefined;
  const slug = fromUrl ?? list.find((t) => t.slug === last)?.slug ?? list[0]?.slug;
  return { slug, inUrl: Boolean(fromUrl), tenants };
}

function Frame({ children }: { children: ReactNode }) {
  const pathname = usePathname();
  const [menuOpen, setMenuOpen] = useState(false);
  const current = useCurrentTenant();
  // Close the narrow-screen menu after navigating.
  useEffect(() => setMenuOpen(false), [pathname]);

  const nav = <Sidebar tenantSlug={current.slug} tenantsLoading={current.tenants.isPending} />;
  return (
    <div className="min-h-screen">
      <a href="#main" className="sr-only focus:not-sr-only focus:absolute focus:left-2 focus:top-2 focus:z-50 focus:rounded focus:bg-white focus:px-3 focus:py-2">
        Skip to content
      </a>
      <aside className="fixed inset-y-0 left-0 z-20 hidden w-60 flex-col border-r border-slate-200 bg-white md:flex">
        <Brand />
        {nav}
      </aside>
      <div className="md:pl-60">
        <header className="sticky top-0 z-10 flex h-14 items-center gap-3 border-b border-slate-200 bg-white/95 px-4 backdrop-blur sm:px-6">
          <button
            type="button"
            className="-ml-1 rounded-md p-1.5 text-slate-600 hover:bg-slate-100 md:hidden"
            aria-expanded={menuOpen}
            aria-controls="mobile-nav"
            onClick={() => setMenuOpen((o) => !o)}
          >
            {menuOpen ? <CloseIcon className="size-5" /> : <MenuIcon className="size-5" />}
            <span className="sr-only">{menuOpen ? "Close menu" : "Open menu"}</span>
          </button>
          <span className="font-semibold text-slate-900 md:hidden">Tenbin</span>
          <TenantSwitcher current={current} />
          <div className="ml-auto">
            <UserBox />
          </div>
        </header>
        {menuOpen && (
          <div id="mobile-nav" className="border-b border-slate-200 bg-white md:hidden">
            {nav}
          </div>
        )}
        <main id="main" className="mx-auto max-w-6xl px-4 py-6 sm:px-6 lg:px-8">
          {children}
        </main>
      </div>
    </div>
  );
}

function Brand() {
  return (
    <Link href="/" className="flex h-14 items-center gap-2 border-b border-slate-200 px-5">
      <span className="grid size-7 place-items-center rounded-md bg-indigo-600 text-white" aria-hidden="true">
        <BalanceIcon className="size-4.5" />
      </span>
      <span className="font-semibold tracking-tight text-slate-900">Tenbin</span>
      <span className="text-xs text-slate-400">LBaaS</span>
    </Link>
  );
}

function Sidebar({ tenantSlug, tenantsLoading }: { tenantSlug: string | undefined; tenantsLoading: boolean }) {
  const me = useMe();
  return (
    <nav aria-label="Main" className="flex-1 space-y-6 overflow-y-auto px-3 py-4">
      <NavSection title={tenantSlug ? `Tenant · ${tenantSlug}` : "Tenant"}>
        {tenantSlug ? (
          tenantNav.map((item) => <NavLink key={item.label} item={{ ...item, href: tenantHref(tenantSlug, item.href) }} exact={item.href === ""} />)
        ) : (
          <p className="px-2 text-xs text-slate-500">{tenantsLoading ? "Loading tenants…" : "You are not a member of any tenant yet."}</p>
        )}
      </NavSection>
      <NavSection title="Account">
        {accountNav.map((item) => (
          <NavLink key={item.href} item={item} />
        ))}
      </NavSection>
      {me.platformAdmin && (
        <NavSection title="Platform">
          {platformNav.map((item) => (
            <NavLink key={item.href} item={item} />
          ))}
        </NavSection>
      )}
    </nav>
  );
}

function NavSection({ title, children }: { title: string; children: ReactNode }) {
  return (
    <div>
      <h2 className="mb-1 truncate px-2 text-xs font-semibold uppercase tracking-wide text-slate-400">{title}</h2>
      <ul className="space-y-0.5">{children}</ul>
    </div>
  );
}

function NavLink({ item, exact = false }: { item: NavItem; exact?: boolean }) {
  const pathname = usePathname();
  const active = exact ? pathname === item.href : pathname === item.href || pathname.startsWith(item.href + "/");
  const Icon = item.icon;
  const body = (
    <>
      <Icon className="size-4.5 shrink-0" />
      <span className="truncate">{item.label}</span>
      {item.soon && <span className="ml-auto rounded bg-slate-100 px-1.5 text-[10px] font-medium uppercase text-slate-500">next</span>}
    </>
  );
  if (item.soon) {
    return (
      <li>
        <span className="flex items-center gap-2.5 rounded-md px-2 py-1.5 text-sm text-slate-400" aria-disabled="true" title="Coming next">
          {body}
        </span>
      </li>
    );
  }
  return (
    <li>
      <Link
        href={item.href}
        aria-current={active ? "page" : undefined}
        className={cx(
          "flex items-center gap-2.5 rounded-md px-2 py-1.5 text-sm font-medium",
          active ? "bg-indigo-50 text-indigo-700" : "text-slate-700 hover:bg-slate-100 hover:text-slate-900",
        )}
      >
        {body}
      </Link>
    </li>
  );
}

function TenantSwitcher({ current }: { current: ReturnType<typeof useCurrentTenant> }) {
  const router = useRouter();
  const pathname = usePathname();
  const { tenants, slug } = current;
  if (tenants.isPending) return <span className="text-sm text-slate-400">Loading tenants…</span>;
  if (tenants.isError) return <span className="text-sm text-red-700">Tenants unavailable</span>;
  if (tenants.data.length === 0) return <span className="text-sm text-slate-500">No tenants</span>;

  const switchTo = (next: string) => {
    // Stay on the same kind of page in the other tenant (members → members).
    const m = /^\/t\/[^/]+(\/.*)?$/.exec(pathname);
    const sub = m?.[1]?.split("/")[1] ?? "";
    router.push(tenantHref(encodeURIComponent(next), current.inUrl ? sub : ""));
  };
  const role = tenants.data.find((t) => t.slug === slug)?.role;
  return (
    <div className="flex min-w-0 items-center gap-2">
      <label htmlFor="tenant-switcher" className="hidden text-sm text-slate-500 sm:block">
        Tenant
      </label>
      <select
        id="tenant-switcher"
        aria-label="Tenant"
        value={slug ?? ""}
        onChange={(e) => switchTo(e.target.value)}
        className="min-w-0 max-w-[16rem] rounded-md border-0 bg-white py-1.5 pl-2.5 pr-8 text-sm font-medium text-slate-900 ring-1 ring-inset ring-slate-300 focus:ring-2 focus:ring-indigo-600"
      >
        {tenants.data.map((t) => (
          <option key={t.id} value={t.slug}>
            {t.name} ({t.slug})
          </option>
        ))}
      </select>
      {role && (
        <span className="hidden sm:inline">
          <Badge tone={roleTone[role]}>{role}</Badge>
        </span>
      )}
    </div>
  );
}

function UserBox() {
  const me = useMe();
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const doSignOut = async () => {
    setPending(true);
    setError(null);
    try {
      await signOut();
      // A full page load: nothing of this session stays in memory.
      window.location.assign("/sign-in");
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
      setPending(false);
    }
  };
  return (
    <div className="flex items-center gap-3">
      <div className="hidden text-right leading-tight lg:block">
        <p className="text-sm font-medium text-slate-900">{me.name}</p>
        <p className="text-xs text-slate-500">{me.email}</p>
      </div>
      {me.platformAdmin && (
        <span className="hidden sm:inline">
          <Badge tone="amber">platform admin</Badge>
        </span>
      )}
      <Button variant="secondary" size="sm" loading={pending} onClick={() => void doSignOut()} title={error ?? undefined}>
        Sign out
      </Button>
      {error && (
        <span role="alert" className="sr-only">
          Sign-out failed: {error}
        </span>
      )}
    </div>
  );
}
