/**
 * The headline figures of each scenario, and their ratios against bun-raw
 * from the same run. A ratio is always value / baseline: above 1 is better
 * for throughput figures and worse for latency and memory figures (`better`
 * says which); it is null when either side is missing, zero or not finite.
 */
import { trusted, type RunResult, type ScenarioName } from "../scenarios/common.ts";

export const BASELINE = "bun-raw";

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

export const FIGURES: Record<ScenarioName, Figure[]> = {
  connect: [
    { key: "connectsPerSec", label: "connects/s", unit: "/s", better: "higher", get: met("connectsPerSec") },
    { key: "rssPerConn", label: "RSS per idle conn", unit: "B", better: "lower", get: met("rssPerConnBytes") },
    { key: "hsP99", label: "handshake p99", unit: "ms", better: "lower", get: lat("handshake", "p99") },
  ],
  chat: [{ key: "delivered", label: "delivered msgs/s", unit: "/s", better: "higher", get: met("deliveredPerSec") }],
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
  if (unit === "B") return v >= 10_240 ? `${(v / 1024).toFixed(1)} KiB` : `${(v / 1024).toFixed(2)} KiB`;
  return Math.round(v).toLocaleString("en-US");
}

/** Ratio of every figure of `r` against the bun-raw run of the same scenario in `runs`. */
export function ratiosAgainstBaseline(r: RunResult, runs: RunResult[]): Record<string, number | null> {
  const base = runs.find((x) => x.scenario === r.scenario && x.target === BASELINE && trusted(x));
  const out: Record<string, number | null> = {};
  for (const f of FIGURES[r.scenario]) out[f.key] = base && trusted(r) && !f.noRatio ? ratio(f.get(r), f.get(base)) : null;
  return out;
}
