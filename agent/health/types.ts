/**
 * Public types of the health-check engine. The agent describes *what* to probe (a list of
 * targets); the engine decides *when*, runs the probes and reports verdict changes in batches.
 */

export type MonitorType = "TCP" | "HTTP" | "HTTPS" | "ICMP";

export type HttpMethod = "GET" | "HEAD" | "OPTIONS";

export interface HttpCheckSpec {
  method: HttpMethod;
  /** Request target, starting with "/" (e.g. "/healthz?full=1"). */
  path: string;
  /** Host header; defaults to the target's address (and port when not the scheme's default). */
  host?: string;
  /** Status codes that count as healthy: "200", "200,204", "200-299,301". */
  expectedCodes: string;
}

export interface TlsCheckSpec {
  /** Server name sent in the TLS SNI extension and checked against the certificate when verifying. */
  sni?: string;
  /** Verify the certificate chain and name (default false, like Octavia/HAProxy `verify none`). */
  verify?: boolean;
  /** PEM bundle of trusted CAs; the system roots when omitted. */
  ca?: string;
}

export interface HealthMonitorSpec {
  type: MonitorType;
  /** Time between the starts of two probes of one target. */
  intervalMs: number;
  /** How long one probe may take, counted from the moment it really starts; < intervalMs. */
  timeoutMs: number;
  /** Consecutive successes that bring a target up. */
  rise: number;
  /** Consecutive failures that bring a target down. */
  fall: number;
  /** Required for HTTP and HTTPS. */
  http?: HttpCheckSpec;
  /** HTTPS only. */
  tls?: TlsCheckSpec;
}

export interface HealthTarget {
  /** Stable identity, e.g. `${listenerId}/${memberAddr}:${port}`. */
  key: string;
  /** IPv4 or IPv6 literal (no host names: probes never wait for DNS). */
  address: string;
  /** 1-65535; ignored by ICMP. */
  port: number;
  monitor: HealthMonitorSpec;
}

export type HealthState = "up" | "down" | "unknown";

export interface HealthTransition {
  key: string;
  from: HealthState;
  to: HealthState;
  /** Epoch milliseconds of the probe result that caused the transition. */
  at: number;
  /** Result of the deciding probe: "HTTP 503 (expected 200)", "connect ECONNREFUSED", "timeout after 1000 ms". */
  reason: string;
}

export interface TargetStatus {
  state: HealthState;
  /** Epoch milliseconds since which `state` holds (target creation for the initial state). */
  since: number;
  /** Result of the last finished probe ("" before the first one). */
  reason: string;
  /** Number of consecutive results equal to the last one (successes if it succeeded, else failures). */
  consecutive: number;
  /** Epoch milliseconds when the last finished probe finished (0 before the first). */
  lastCheckAt: number;
  /** Duration of the last finished probe. */
  lastDurationMs: number;
}

export interface HealthStats {
  targets: number;
  /** Probes running now (sockets open or ICMP requests outstanding). */
  inFlight: number;
  /** Current cap on probes in flight (below maxInFlight while the adaptive limit holds back). */
  inFlightLimit: number;
  /** Probes that are due but wait for a free in-flight slot. */
  queued: number;
  /** TLS SecureContexts held: one per distinct trust configuration (CA bundle) of HTTPS targets. */
  tlsContexts: number;
  /** fping processes started: ICMP probes due in the same turn of the event loop share one. */
  icmpRuns: number;
  probesStarted: number;
  probesSucceeded: number;
  probesFailed: number;
  /** Failures that were timeouts (a subset of probesFailed). */
  probesTimedOut: number;
  /** Probes that could not start when due because the in-flight cap was reached. */
  probesSlipped: number;
  /** Longest delay between a probe's due time and its real start. */
  maxSlipMs: number;
  /** Probe cycles skipped because a target's previous probe had slipped past its next due time. */
  cyclesSkipped: number;
  transitions: number;
  batches: number;
}

export interface RejectedTarget {
  key: string;
  error: string;
}
