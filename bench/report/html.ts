/**
 * A self-contained HTML report: inline CSS and SVG charts rendered here (no
 * scripts, fonts or network), the same tables as the Markdown, the machine
 * and versions, and the raw JSON embedded at the end.
 */
import { trusted, type LatencyResult, type Report, type RunResult, type ScenarioName } from "../scenarios/common.ts";
import { FIGURES, floorRatioText, fmtValue } from "./figures.ts";
import { SCENARIO_TEXT, goals } from "./markdown.ts";

const COLORS: Record<string, string> = {
  switchboard: "#d9480f",
  "bun-raw": "#1c7ed6",
  "uws-node": "#37b24d",
  "ws-node": "#ae3ec9",
  "socketio-node": "#f59f00",
  "socketio-redis": "#868e96",
};
const color = (t: string) => (t.includes("(1 node)") ? "#e599f7" : COLORS[t.split(" ")[0]] ?? "#495057");

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

/** Horizontal bars, one per target. */
function bars(title: string, items: { label: string; value: number; text: string }[]): string {
  const w = 560;
  const rowH = 24;
  const left = 120;
  const h = items.length * rowH + 30;
  const max = Math.max(...items.map((i) => (Number.isFinite(i.value) ? i.value : 0)), 1e-9);
  const rows = items
    .map((it, k) => {
      const y = 24 + k * rowH;
      const bw = Number.isFinite(it.value) ? ((w - left - 110) * it.value) / max : 0;
      return `<text x="${left - 6}" y="${y + 14}" text-anchor="end">${esc(it.label)}</text><rect x="${left}" y="${y + 2}" width="${bw.toFixed(1)}" height="${rowH - 6}" fill="${color(it.label)}"/><text x="${left + bw + 6}" y="${y + 14}">${esc(it.text)}</text>`;
    })
    .join("");
  return `<svg class="chart" viewBox="0 0 ${w} ${h}" width="${w}" height="${h}" role="img"><text x="4" y="14" class="t">${esc(title)}</text>${rows}</svg>`;
}

/** Latency by percentile, x on the usual HdrHistogram scale 1/(1-p), y in ms (log). */
function percentiles(title: string, series: { label: string; curve: [number, number][] }[]): string {
  const w = 560;
  const h = 280;
  const L = 50;
  const R = 110;
  const T = 24;
  const B = 34;
  const xs = [0, 50, 90, 99, 99.9, 99.99];
  const xOf = (p: number) => Math.log10(1 / (1 - Math.min(p, 99.99) / 100));
  const xMax = xOf(99.99);
  const vals = series.flatMap((s) => s.curve.map((c) => c[1])).filter((v) => v > 0 && Number.isFinite(v));
  if (vals.length === 0) return "";
  const yMin = Math.pow(10, Math.floor(Math.log10(Math.min(...vals))));
  const yMax = Math.pow(10, Math.ceil(Math.log10(Math.max(...vals))));
  const px = (p: number) => L + ((w - L - R) * xOf(p)) / xMax;
  const py = (v: number) => T + (h - T - B) * (1 - (Math.log10(Math.max(v, yMin)) - Math.log10(yMin)) / (Math.log10(yMax) - Math.log10(yMin) || 1));
  let g = "";
  for (const p of xs) g += `<line x1="${px(p)}" x2="${px(p)}" y1="${T}" y2="${h - B}" class="grid"/><text x="${px(p)}" y="${h - B + 14}" text-anchor="middle">${p === 0 ? "0" : p}%</text>`;
  for (let v = yMin; v <= yMax * 1.0001; v *= 10) g += `<line x1="${L}" x2="${w - R}" y1="${py(v)}" y2="${py(v)}" class="grid"/><text x="${L - 4}" y="${py(v) + 4}" text-anchor="end">${v >= 1 ? v : v.toFixed(3).replace(/0+$/, "")}</text>`;
  const lines = series
    .map((s, k) => {
      const pts = s.curve.filter((c) => c[0] <= 99.99).map((c) => `${px(c[0]).toFixed(1)},${py(c[1]).toFixed(1)}`);
      return `<polyline fill="none" stroke="${color(s.label)}" stroke-width="2" points="${pts.join(" ")}"/><text x="${w - R + 8}" y="${T + 12 + k * 16}" fill="${color(s.label)}">${esc(s.label)}</text>`;
    })
    .join("");
  return `<svg class="chart" viewBox="0 0 ${w} ${h}" width="${w}" height="${h}" role="img"><text x="4" y="14" class="t">${esc(title)} (ms, log scale, by percentile)</text>${g}${lines}<text x="${(L + w - R) / 2}" y="${h - 4}" text-anchor="middle">percentile</text></svg>`;
}

function table(s: ScenarioName, runs: RunResult[], all: RunResult[]): string {
  const figs = FIGURES[s];
  let h = `<table><tr><th>target</th>${figs.map((f) => `<th>${esc(f.label)} ${f.better === "higher" ? "↑" : "↓"}</th>`).join("")}<th>CPU srv / cli / machine</th><th>saturated</th></tr>`;
  for (const r of runs) {
    if (!r.ok) {
      h += `<tr><td>${esc(r.target)}</td><td colspan="${figs.length + 2}" class="bad">failed: ${esc((r.error ?? "").slice(0, 600))}</td></tr>`;
      continue;
    }
    if (!trusted(r)) {
      h += `<tr><td>${esc(r.target)}</td><td colspan="${figs.length + 2}" class="bad">flagged, figures withheld: ${esc(r.flags!.join("; ").slice(0, 600))}</td></tr>`;
      continue;
    }
    const cells = figs.map((f) => {
      const v = fmtValue(f.get(r), f.unit) + (f.unit === "ms" || f.unit === "µs" ? ` ${f.unit}` : "");
      const text = f.noRatio ? "" : floorRatioText(r, all, f.key);
      const x = text === "" ? "" : ` <small>${esc(text)}</small>`;
      return `<td>${esc(v)}${x}</td>`;
    });
    const cpu = Object.entries(r.cpu).map(([k, c]) => `${esc(k)}: ${c.server.toFixed(2)} / ${c.client.toFixed(2)} / ${c.machine.toFixed(2)} <small>(other ${c.other.toFixed(2)})</small>`).join("<br>");
    const sat = Object.entries(r.cpu).map(([k, c]) => `${esc(k)}: ${esc(c.saturated)}`).join("<br>");
    h += `<tr><td style="color:${color(r.target)}"><b>${esc(r.target)}</b></td>${cells.join("")}<td>${cpu}</td><td>${sat}</td></tr>`;
  }
  return h + "</table>";
}

function charts(s: ScenarioName, runs: RunResult[]): string {
  const ok = runs.filter(trusted);
  if (ok.length === 0) return "";
  const out: string[] = [];
  const bar = (title: string, f: (r: RunResult) => number, fmt: (v: number) => string) => out.push(bars(title, ok.map((r) => ({ label: r.target, value: f(r), text: fmt(f(r)) }))));
  const n = (v: number) => (Number.isFinite(v) ? Math.round(v).toLocaleString("en-US") : "–");
  const latencyPhases = (phases: string[]) => {
    for (const ph of phases) {
      const series = ok.filter((r) => r.latency[ph]).map((r) => ({ label: r.target, curve: (r.latency[ph] as LatencyResult).curve }));
      if (series.length) out.push(percentiles(`${s} ${ph} latency`, series));
    }
  };
  if (s === "connect") {
    bar("authenticated connects/s", (r) => r.metrics.connectsPerSec, n);
    bar("resident bytes per idle connection (2 subs)", (r) => r.metrics.rssPerConnBytes, (v) => `${n(v)} B`);
    latencyPhases(["handshake"]);
  } else if (s === "chat" || s === "chat-rtt") {
    bar("delivered messages/s", (r) => r.metrics.deliveredPerSec, n);
  } else if (s === "fanout") {
    latencyPhases(["10/s", "100/s"]);
  } else if (s === "crossnode") {
    bar("closed-loop publications/s (64 in flight)", (r) => r.metrics.maxPublishedPerSec, n);
    const series = ok.flatMap((r) => ["same 100/s", "cross 100/s"].filter((k) => r.latency[k]).map((k) => ({ label: `${r.target} ${k.split(" ")[0]}`, curve: r.latency[k].curve })));
    if (series.length) out.push(percentiles("crossnode 100/s latency", series));
  } else if (s === "http-publish") {
    bar("POST /v1/publish requests/s", (r) => r.metrics.requestsPerSec, n);
    latencyPhases(["request", "delivery"]);
  } else if (s === "chat-store") {
    latencyPhases(["room", "chat sqlite", "chat postgres"]);
  } else if (s === "care-team") {
    latencyPhases(["chat", "read", "typing", "status", "notify", "call", "chat delivery"]);
  }
  return `<div class="charts">${out.join("")}</div>`;
}

export function renderHtml(rep: Report): string {
  const m = rep.meta;
  const mc = m.machine;
  const sections = (Object.keys(FIGURES) as ScenarioName[])
    .map((s) => {
      const runs = rep.runs.filter((r) => r.scenario === s);
      if (runs.length === 0) return "";
      const notes = runs.flatMap((r) => r.notes.map((x) => `<li>${esc(r.target)}: ${esc(x)}</li>`)).join("");
      const params = Object.entries(runs[0].params).map(([k, v]) => `${esc(k)}=${esc(String(v))}`).join(", ");
      return `<section><h2>${s}</h2><p>${esc(SCENARIO_TEXT[s])}</p><p class="small">Parameters: ${params}</p>${table(s, runs, rep.runs)}${notes ? `<ul>${notes}</ul>` : ""}${charts(s, runs)}</section>`;
    })
    .join("");
  const goalList = goals(rep.runs).map((g) => `<li>${esc(g.text)}: ${esc(g.verdict).replace(/\*\*(.+?)\*\*/g, "<b class=bad>$1</b>")}</li>`).join("");
  const versions = Object.entries(mc.versions).map(([k, v]) => `<tr><td>${esc(k)}</td><td>${esc(v)}</td></tr>`).join("");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Switchboard bench ${esc(m.started)}</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;max-width:1180px;color:#212529;padding:0 16px}
h1{font-size:22px}h2{font-size:18px;margin-top:28px;border-bottom:1px solid #dee2e6}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #dee2e6;padding:4px 8px;text-align:right;vertical-align:top}th{background:#f1f3f5}
td:first-child,th:first-child{text-align:left}small{color:#868e96}.small{font-size:12px;color:#495057}.bad{color:#c92a2a}
.charts{display:flex;flex-wrap:wrap;gap:12px}.chart{border:1px solid #e9ecef;background:#fff}
svg text{font:11px system-ui,sans-serif;fill:#343a40}svg .t{font-weight:600;font-size:12px}svg .grid{stroke:#e9ecef}
</style></head><body>
<h1>Switchboard bench — ${esc(m.mode)} run</h1>
<p>Started ${esc(m.started)}, took ${m.durationSec} s, <code>npm run bench -- ${esc(m.argv.join(" "))}</code>. Ratios (small print) are value ÷ bun-raw from this run (and ÷ bun-chat in the chat scenarios): above 1× is better for ↑ figures, worse for ↓ figures. CPU in cores (1.00 = one core) for server / load generators / whole machine during each measured window.</p>
<table><tr><th>machine</th><td>${esc(mc.cpuModel)}, ${mc.cores} cores, ${mc.memGiB} GiB</td></tr><tr><th>OS</th><td>${esc(mc.os)}, Linux ${esc(mc.kernel)}</td></tr>
<tr><th>busy before start</th><td>${m.busyBeforeCores} cores</td></tr><tr><th>load average</th><td>before ${mc.loadavg.join(" ")}, after ${m.machineAfter.loadavg.join(" ")}</td></tr><tr><th>open files</th><td>${esc(mc.openFilesLimit)}</td></tr><tr><th>commit</th><td>${esc(mc.gitCommit)}</td></tr><tr><th>load workers</th><td>${m.workers}</td></tr>${versions}</table>
<h2>Goals from the issue (reported, not asserted)</h2><ul>${goalList}</ul>
${sections}
<script type="application/json" id="raw">${JSON.stringify(rep).replace(/</g, "\\u003c")}</script>
</body></html>
`;
}
