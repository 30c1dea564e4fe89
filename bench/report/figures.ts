/**
 * The headline figures of each scenario, and their ratios against bun-raw
 * from the same run. A ratio is always value / baseline: above 1 is better
 * for throughput figures and worse for latency and memory figures (`better`
 * says which); it is null when either side is missing, zero or not finite.
 */
import { trusted, type RunResult, type ScenarioName } from "../scenarios/common.ts";

export const BASELINE = "bun-raw";
/** Both floors: bun-raw (the JSON floor) and, in the chat scenarios, bun-chat (the physical floor). */
export const FLOORS = [BASELINE, "bun-chat"] as const;

export interface Figure {
  key: string;
  label: string;
  unit: string;
  better: "higher" | "lower";
  /** A difference, not a level: a ratio against bun-raw would mean nothing. */
  noRatio?: boolean;
  get(r: RunResult): number | undefined;
}

const lat = (phase: string, p: "p50" | "p99" | "p999" | "max") => (r: RunResult) => r.latency[phase]?.[p];
const met = (k: string) => (r: RunResult) => r.metrics[k];
const CHAT_FIGURES: Figure[] = [
  { key: "delivered", label: "delivered msgs/s", unit: "/s", better: "higher", get: met("deliveredPerSec") },
  { key: "cpuPerPub", label: "server CPU per publication", unit: "µs", better: "lower", get: met("serverCpuUsPerPub") },
  { key: "wireBytes", label: "bytes per delivered msg", unit: "bytes", better: "lower", get: met("wireBytesPerMsg") },
];

/** chat-webhooks: per variant delivered/s and CPU µs per publication, and the variants' CPU per publication ÷ plain's (same round). */
const WEBHOOK_FIGURES: Figure[] = [
  { key: "plainCpu", label: "plain CPU per pub", unit: "µs", better: "lower", noRatio: true, get: met("plainCpuUsPerPub") },
  { key: "webhookCpu", label: "webhook CPU per pub", unit: "µs", better: "lower", noRatio: true, get: met("webhookCpuUsPerPub") },
  { key: "statusCpu", label: "status CPU per pub", unit: "µs", better: "lower", noRatio: true, get: met("statusCpuUsPerPub") },
  { key: "bothCpu", label: "webhook+status CPU per pub", unit: "µs", better: "lower", noRatio: true, get: met("bothCpuUsPerPub") },
  { key: "webhookX", label: "webhook ÷ plain (CPU)", unit: "×", better: "lower", noRatio: true, get: met("webhookCpuVsPlain") },
  { key: "statusX", label: "status ÷ plain (CPU)", unit: "×", better: "lower", noRatio: true, get: met("statusCpuVsPlain") },
  { key: "bothX", label: "webhook+status ÷ plain (CPU)", unit: "×", better: "lower", noRatio: true, get: met("bothCpuVsPlain") },
  { key: "noise", label: "plain's own spread (CPU)", unit: "%", better: "lower", noRatio: true, get: (r) => (Number.isFinite(r.metrics.plainCpuSpread) ? r.metrics.plainCpuSpread! * 100 : undefined) },
  { key: "plainDel", label: "plain delivered msgs/s", unit: "/s", better: "higher", noRatio: true, get: met("plainDeliveredPerSec") },
  { key: "bothDel", label: "webhook+status delivered msgs/s", unit: "/s", better: "higher", noRatio: true, get: met("bothDeliveredPerSec") },
];

/** care-team: throughput, CPU per operation, p50/p99 per operation kind (latency phase names from scenarios/care-team.ts). */
const CARE_FIGURES: Figure[] = [
  { key: "ops", label: "ops/s", unit: "/s", better: "higher", noRatio: true, get: met("opsPerSec") },
  { key: "cpuPerOp", label: "server CPU per op", unit: "µs", better: "lower", noRatio: true, get: met("serverCpuUsPerOp") },
  ...(["chat", "read", "typing", "status", "notify", "call"] as const).flatMap((op) =>
    (["p50", "p99"] as const).map((p): Figure => ({ key: `${op}${p}`, label: `${op} ${p}`, unit: "ms", better: "lower", noRatio: true, get: lat(op, p) })),
  ),
  { key: "deliveryP99", label: "chat delivery p99", unit: "ms", better: "lower", noRatio: true, get: lat("chat delivery", "p99") },
];

export const FIGURES: Record<ScenarioName, Figure[]> = {
  connect: [
    { key: "connectsPerSec", label: "connects/s", unit: "/s", better: "higher", get: met("connectsPerSec") },
    { key: "rssPerConn", label: "RSS per idle conn", unit: "B", better: "lower", get: met("rssPerConnBytes") },
    { key: "hsP99", label: "handshake p99", unit: "ms", better: "lower", get: lat("handshake", "p99") },
  ],
  chat: CHAT_FIGURES,
  "chat-rtt": CHAT_FIGURES,
  "connect-workers": [
    { key: "connections", label: "connections held", unit: "/s", better: "higher", noRatio: true, get: met("alive") },
    { key: "rssPerConn", label: "RSS per idle conn", unit: "B", better: "lower", noRatio: true, get: met("rssPerConnBytes") },
    { key: "kernelPerSocket", label: "kernel per socket", unit: "B", better: "lower", noRatio: true, get: met("kernelPerSocketBytes") },
    { key: "connectsPerSec", label: "connects/s", unit: "/s", better: "higher", noRatio: true, get: met("connectsPerSec") },
    { key: "fanP50", label: "fan-out p50", unit: "ms", better: "lower", noRatio: true, get: lat("fanout", "p50") },
    { key: "fanP99", label: "fan-out p99", unit: "ms", better: "lower", noRatio: true, get: lat("fanout", "p99") },
    { key: "fanMax", label: "fan-out max", unit: "ms", better: "lower", noRatio: true, get: lat("fanout", "max") },
  ],
  fanout: [
    { key: "p50_10", label: "10/s p50", unit: "ms", better: "lower", get: lat("10/s", "p50") },
    { key: "p99_10", label: "10/s p99", unit: "ms", better: "lower", get: lat("10/s", "p99") },
    { key: "p50_100", label: "100/s p50", unit: "ms", better: "lower", get: lat("100/s", "p50") },
    { key: "p99_100", label: "100/s p99", unit: "ms", better: "lower", get: lat("100/s", "p99") },
    { key: "p999_100", label: "100/s p99.9", unit: "ms", better: "lower", get: lat("100/s", "p999") },
    { key: "max_100", label: "100/s max", unit: "ms", better: "lower", get: lat("100/s", "max") },
  ],
  crossnode: [
    { key: "sameP99", label: "same-node p99", unit: "ms", better: "lower", get: lat("same 100/s", "p99") },
    { key: "crossP50", label: "cross-node p50", unit: "ms", better: "lower", get: lat("cross 100/s", "p50") },
    { key: "crossP99", label: "cross-node p99", unit: "ms", better: "lower", get: lat("cross 100/s", "p99") },
    { key: "crossP999", label: "cross-node p99.9", unit: "ms", better: "lower", get: lat("cross 100/s", "p999") },
    { key: "delta", label: "p99 cross − same", unit: "ms", better: "lower", noRatio: true, get: met("p99DeltaMs") },
    { key: "maxPub", label: "max pubs/s", unit: "/s", better: "higher", get: met("maxPublishedPerSec") },
    { key: "maxCross", label: "cross deliveries/s", unit: "/s", better: "higher", get: met("maxCrossDeliveredPerSec") },
  ],
  "chat-store": [
    { key: "room", label: "room acked msgs/s", unit: "/s", better: "higher", get: met("roomPerSec") },
    { key: "roomP50", label: "room ack p50", unit: "ms", better: "lower", get: lat("room", "p50") },
    { key: "roomP99", label: "room ack p99", unit: "ms", better: "lower", get: lat("room", "p99") },
    { key: "sqlite", label: "SQLite persisted msgs/s", unit: "/s", better: "higher", get: met("sqlitePerSec") },
    { key: "sqliteP50", label: "SQLite ack p50", unit: "ms", better: "lower", get: lat("chat sqlite", "p50") },
    { key: "sqliteP99", label: "SQLite ack p99", unit: "ms", better: "lower", get: lat("chat sqlite", "p99") },
    { key: "pg", label: "PostgreSQL persisted msgs/s", unit: "/s", better: "higher", get: met("postgresPerSec") },
    { key: "pgP50", label: "PostgreSQL ack p50", unit: "ms", better: "lower", get: lat("chat postgres", "p50") },
    { key: "pgP99", label: "PostgreSQL ack p99", unit: "ms", better: "lower", get: lat("chat postgres", "p99") },
  ],
  "http-publish": [
    { key: "rps", label: "requests/s", unit: "/s", better: "higher", get: met("requestsPerSec") },
    { key: "reqP50", label: "request p50", unit: "ms", better: "lower", get: lat("request", "p50") },
    { key: "reqP99", label: "request p99", unit: "ms", better: "lower", get: lat("request", "p99") },
    { key: "delP99", label: "delivery p99", unit: "ms", better: "lower", get: lat("delivery", "p99") },
  ],
  "call-setup": [
    { key: "ringP50", label: "invite→ringing p50 (1 node)", unit: "ms", better: "lower", noRatio: true, get: lat("single invite→ringing", "p50") },
    { key: "ringP99", label: "invite→ringing p99 (1 node)", unit: "ms", better: "lower", noRatio: true, get: lat("single invite→ringing", "p99") },
    { key: "relayP50", label: "accept→relay p50 (1 node)", unit: "ms", better: "lower", noRatio: true, get: lat("single accept→relay", "p50") },
    { key: "relayP99", label: "accept→relay p99 (1 node)", unit: "ms", better: "lower", noRatio: true, get: lat("single accept→relay", "p99") },
    { key: "xRingP50", label: "invite→ringing p50 (cross-node)", unit: "ms", better: "lower", noRatio: true, get: lat("cross invite→ringing", "p50") },
    { key: "xRingP99", label: "invite→ringing p99 (cross-node)", unit: "ms", better: "lower", noRatio: true, get: lat("cross invite→ringing", "p99") },
    { key: "xRelayP50", label: "accept→relay p50 (cross-node)", unit: "ms", better: "lower", noRatio: true, get: lat("cross accept→relay", "p50") },
    { key: "xRelayP99", label: "accept→relay p99 (cross-node)", unit: "ms", better: "lower", noRatio: true, get: lat("cross accept→relay", "p99") },
  ],
  "chat-webhooks": WEBHOOK_FIGURES,
  "care-team": CARE_FIGURES,
};

export function ratio(value: number | undefined, baseline: number | undefined): number | null {
  if (value === undefined || baseline === undefined) return null;
  if (!Number.isFinite(value) || !Number.isFinite(baseline) || baseline === 0) return null;
  return value / baseline;
}

export function fmtRatio(r: number | null): string {
  if (r === null) return "–";
  return `${r >= 10 ? r.toFixed(0) : r >= 1 ? r.toFixed(2) : r.toFixed(2)}×`;
}

export function fmtValue(v: number | undefined, unit: string): string {
  if (v === undefined || !Number.isFinite(v)) return "–";
  if (unit === "ms") return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
  if (unit === "µs") return v >= 100 ? v.toFixed(0) : v.toFixed(2);
  if (unit === "bytes") return v.toFixed(1);
  if (unit === "×") return `${v.toFixed(2)}×`;
  if (unit === "%") return `${v.toFixed(1)} %`;
  if (unit === "B") return v >= 10_240 ? `${(v / 1024).toFixed(1)} KiB` : `${(v / 1024).toFixed(2)} KiB`;
  return Math.round(v).toLocaleString("en-US");
}

/** Ratio of every figure of `r` against the bun-raw (or another floor's) run of the same scenario in `runs`. */
export function ratiosAgainstBaseline(r: RunResult, runs: RunResult[], baseline: string = BASELINE): Record<string, number | null> {
  const base = runs.find((x) => x.scenario === r.scenario && x.target === baseline && trusted(x));
  const out: Record<string, number | null> = {};
  for (const f of FIGURES[r.scenario]) out[f.key] = base && trusted(r) && !f.noRatio ? ratio(f.get(r), f.get(base)) : null;
  return out;
}

/**
 * The ratio text of one figure against every floor that ran in the scenario:
 * `0.55×` with bun-raw only, `0.55× raw, 0.49× chat` with both; empty for a
 * floor's own row against itself and when nothing is computable.
 */
export function floorRatioText(r: RunResult, runs: RunResult[], key: string): string {
  const parts: string[] = [];
  const present = FLOORS.filter((f) => runs.some((x) => x.scenario === r.scenario && x.target === f && trusted(x)));
  for (const floor of present) {
    if (r.target === floor) continue;
    const x = ratiosAgainstBaseline(r, runs, floor)[key];
    if (x === null) continue;
    parts.push(present.length > 1 || floor !== BASELINE ? `${fmtRatio(x)} ${floor.slice(4)}` : fmtRatio(x));
  }
  return parts.join(", ");
}
