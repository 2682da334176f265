// Human renderings of load-balancer views (lb show, member list, listener list…).
import type { LbSummary, LbView } from "./commands/common";
import { fields, hostPort, ports, provisioning, status, table, tags, when } from "./format";

type Pool = LbView["pools"][number];
type Monitor = NonNullable<Pool["monitor"]>;

export function lbListTable(lbs: LbSummary[]): string {
  if (lbs.length === 0) return "no load balancers";
  return table(
    ["NAME", "ADDRESS", "LISTENERS", "MEMBERS", "PROVISIONING", "OPERATING", "REVISION"],
    lbs.map((lb) => {
      const ls = lb.listeners.map((l) => `${l.protocol}/${ports(l.port, l.portEnd)}`);
      const listeners = ls.length > 3 ? `${ls.slice(0, 3).join(",")} +${ls.length - 3}` : ls.join(",") || "-";
      return [
        lb.name,
        lb.address,
        listeners,
        lb.memberCount,
        `${lb.provisioning.status} ${lb.provisioning.nodesAtRevision}/${lb.provisioning.nodesTotal}`,
        lb.operating.status,
        lb.revision,
      ];
    }),
  );
}

export function monitorText(m: Monitor | null): string {
  if (!m) return "none";
  const port = m.port ? ` port ${m.port}` : "";
  const http = m.http ? ` ${m.http.method} ${m.http.host ? m.http.host : ""}${m.http.path} expect ${m.http.expectedCodes}` : "";
  const tls = m.tls
    ? m.tls.verify
      ? `, TLS verified against ${m.tls.caCertificate ? `CA certificate ${m.tls.caCertificate}` : "the system CAs"}${m.tls.sni ? ` as ${m.tls.sni}` : ""}`
      : `, TLS not verified${m.tls.sni ? ` (SNI ${m.tls.sni})` : ""}`
    : "";
  return `${m.type}${port}${http}${tls}, every ${m.intervalMs} ms, timeout ${m.timeoutMs} ms, rise ${m.rise}, fall ${m.fall}`;
}

export function membersTable(pool: Pool): string {
  if (pool.members.length === 0) return "no members";
  return table(
    ["MEMBER", "WEIGHT", "STATE", "MONITOR", "OPERATING"],
    pool.members.map((m) => [
      hostPort(m.address, m.port),
      m.weight,
      m.adminState,
      m.monitorAddress || m.monitorPort ? hostPort(m.monitorAddress ?? m.address, m.monitorPort ?? m.port) : "-",
      status(m.operating),
    ]),
  );
}

export function listenersTable(lb: LbView): string {
  if (lb.listeners.length === 0) return "no listeners";
  return table(
    ["NAME", "PROTOCOL", "PORTS", "POOL", "AFFINITY", "ALLOWED", "ADMIN", "OPERATING"],
    lb.listeners.map((l) => [
      l.name,
      l.protocol,
      ports(l.port, l.portEnd),
      l.pool,
      l.affinity,
      l.allowedCidrs.join(",") || "any",
      l.adminEnabled ? "enabled" : "disabled",
      status(l.operating),
    ]),
  );
}

export function poolHeader(pool: Pool): string {
  const min = pool.minHealthy.kind === "percent" ? `${pool.minHealthy.value}%` : String(pool.minHealthy.value);
  return `Pool ${pool.name}  (min healthy ${min}, all down: ${pool.allDownPolicy})\n  Monitor: ${monitorText(pool.monitor)}`;
}

export function poolsTable(lb: LbView): string {
  if (lb.pools.length === 0) return "no pools";
  return table(
    ["NAME", "MEMBERS", "MONITOR", "MIN HEALTHY", "ALL DOWN", "USED BY"],
    lb.pools.map((p) => [
      p.name,
      p.members.length,
      p.monitor ? p.monitor.type : "none",
      p.minHealthy.kind === "percent" ? `${p.minHealthy.value}%` : p.minHealthy.value,
      p.allDownPolicy,
      lb.listeners.filter((l) => l.pool === p.name).map((l) => l.name).join(",") || "-",
    ]),
  );
}

export function lbDetail(lb: LbView): string {
  const indent = (s: string) => s.split("\n").map((l) => "  " + l).join("\n");
  const parts = [
    fields([
      ["Name", lb.name],
      ["ID", lb.id],
      ["Address", `${lb.address} (IPv${lb.family})`],
      ["Description", lb.description || "-"],
      ["Replicas", lb.replicas],
      ["Admin state", lb.adminEnabled ? "enabled" : "disabled"],
      ["Deletion protection", lb.deletionProtection ? "on" : "off"],
      ["Tags", tags(lb.tags)],
      ["Revision", lb.revision],
      ["Provisioning", provisioning(lb.provisioning)],
      ["Operating", status(lb.operating)],
      ["Updated", when(lb.updatedAt)],
    ]),
    "",
    "Listeners",
    indent(listenersTable(lb)),
  ];
  for (const pool of lb.pools) {
    parts.push("", poolHeader(pool), indent(membersTable(pool)));
  }
  return parts.join("\n");
}
