import type { Report } from "../scenarios/common.ts";
export function renderMarkdown(r: Report): string { return "```json\n" + JSON.stringify(r.runs.map((x) => ({ s: x.scenario, t: x.target, ok: x.ok, e: x.error, m: x.metrics, l: Object.fromEntries(Object.entries(x.latency).map(([k, v]) => [k, [v.p50, v.p99, v.p999, v.max, v.count]])), cpu: x.cpu, n: x.notes }))) + "\n```\n"; }
