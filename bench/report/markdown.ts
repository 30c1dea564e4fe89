/** The Markdown summary (bench/out/*.md and bench/RESULTS.md). */
import { trusted, type Report, type RunResult, type ScenarioName } from "../scenarios/common.ts";
import { BASELINE, FIGURES, floorRatioText, fmtValue } from "./figures.ts";

export const SCENARIO_TEXT: Record<ScenarioName, string> = {
  connect: "Authenticated WebSocket connections opened per second (upgrade + `hello`), then 2 subscriptions each (`room:idle`, `user:<sub>`); resident memory is the server's VmRSS delta / connections, read 1 s after the last subscription.",
  chat: "Bun's own chat benchmark shape: one room, 32 clients, each sends its whole list of 1,600 short texts (Bun's 50-text mix × 32) per round and starts the next round once it has received the whole previous one, so the server is the saturated side; every member (sender included) receives every message. Delivered messages per second, server CPU µs per publication (server CPU time in the window ÷ publications delivered in it), bytes per delivered message (WebSocket bytes the clients received in the window, acks included, ÷ deliveries).",
  "chat-rtt": "The round-trip chat shape: one room, 32 clients, each sends rounds of 10 short messages with at most two rounds in flight, so the server waits on round trips; same figures as chat.",
  fanout: "1 publisher, N subscribers on one room, publications at 10/s and 100/s carrying their scheduled send time (open loop, no coordinated omission); delivery latency over all subscribers.",
  crossnode: "2 nodes + redis-server; publisher on node 0, one subscriber group on node 0 (same) and one on node 1 (cross), 100 publications/s, then a closed-loop phase (64 in flight) for throughput. \"(1 node)\" rows run the same shape on one node without Redis (local engine) as the single-node reference; bun-raw is always single-node.",
  "chat-store": "32 clients in one conversation, each keeping 2 publications unacknowledged (closed loop); acknowledged messages per second and ack latency for the plain room, then chat persisted in SQLite and in PostgreSQL (the ok waits for the store commit), read receipts on for chat.",
  "connect-workers": "One node as 4 Switchboard processes on one port (WORKERS=4: SO_REUSEPORT, Redis engine, PostgreSQL records); load workers of at most 15,000 connections each connect to 127.0.0.1–4, authenticate, subscribe to `room:idle` and `user:<sub>` and stay idle; then 5 publications to `room:idle` (1/s) must reach every connection across the processes. RSS per idle conn is the 4 processes' VmRSS growth ÷ connections alive; kernel per socket is the machine's Slab growth ÷ (2 × connections), both socket ends being on this machine; fan-out latency is from each publication's scheduled send time to its arrival at every connection.",
  "http-publish": "Closed-loop keep-alive POST /v1/publish clients (request latency = service time) with 8 WebSocket subscribers on the channel.",
  "chat-webhooks": "The saturating `chat` shape against Switchboard in four variants per round, each on a fresh server: plain; a webhook endpoint for publications on another namespace (`case`, a receiver the bench runs; a probe publication must reach it first and no chat publication may); every client with a presence status set and watching the other users of its worker; both. Full runs do 3 rounds with the order rotated, quick runs 1. CPU per publication and delivered/s are each variant's median over its clean rounds; `÷ plain` is the median of the per-round ratios; plain's own spread over the rounds is the noise to judge \"unchanged within noise\" against.",
  "care-team": "A mixed care-team workload, open loop at a fixed offered rate from several load worker processes: teams of 8 users in persisted conversations (`chat:`, SQLite), per 100 operations 70 chat messages, 10 read receipts, 10 typing signals, 5 status changes (watched by the team), 4 notifications over `POST /v1/notifications` and 1 call setup (invite → ringing → accept → offer relayed, then hangup). Operations completed per second in the window, server CPU µs per operation, and p50/p99 per operation from its due time to its answer (chat: the `ok` after the store commit; call: the relayed offer at the caller). Every chat message must reach every team member and every notification its recipient, or the run is flagged.",
  "call-setup": "Call setups at a fixed rate between 40 caller/callee pairs: invite → the callee's `ringing`, then accept → the callee's first `offer` relayed to the caller; on one node (SQLite) and across two nodes (Redis + PostgreSQL) in the same run.",
};

function cpuCell(r: RunResult): string {
  const c = Object.values(r.cpu);
  if (c.length === 0) return "–";
  const worst = c.reduce((a, b) => (a.machine >= b.machine ? a : b));
  return `${worst.server.toFixed(2)} / ${worst.client.toFixed(2)} / ${worst.machine.toFixed(2)} (other ${worst.other.toFixed(2)})`;
}

function satCell(r: RunResult): string {
  const s = new Set(Object.values(r.cpu).map((c) => c.saturated).filter((x) => x !== "none"));
  return s.size ? [...s].join(", ") : "none";
}

function cellText(text: string): string {
  return text.split("\n")[0].replace(/\|/g, "\\|").slice(0, 300);
}

function table(scenario: ScenarioName, runs: RunResult[], all: RunResult[]): string {
  const figs = FIGURES[scenario];
  const head = ["target", ...figs.map((f) => `${f.label} (${f.better === "higher" ? "↑" : "↓"})`), "CPU srv / cli / machine (cores)", "saturated"];
  const lines = [`| ${head.join(" | ")} |`, `|${head.map(() => "---").join("|")}|`];
  for (const r of runs) {
    if (!r.ok) {
      lines.push(`| ${r.target} | **failed**: ${cellText(r.error ?? "")} |${figs.map(() => "").join(" |")} | |`);
      continue;
    }
    if (!trusted(r)) {
      // Percentiles over whatever arrived would look plausible and be wrong: no figures for this run.
      lines.push(`| ${r.target} | **flagged, figures withheld**: ${cellText(r.flags!.join("; "))} |${figs.map(() => "").join(" |")} | |`);
      continue;
    }
    const cells = figs.map((f) => {
      const v = fmtValue(f.get(r), f.unit);
      const unit = f.unit === "ms" || f.unit === "µs" ? ` ${f.unit}` : "";
      const x = f.noRatio ? "" : floorRatioText(r, all, f.key);
      return x === "" ? `${v}${unit}` : `${v}${unit} (${x})`;
    });
    lines.push(`| ${r.target} | ${cells.join(" | ")} | ${cpuCell(r)} | ${satCell(r)} |`);
  }
  return lines.join("\n");
}

interface Goal { text: string; verdict: string }

/** The issue's targets, reported (never asserted) from this run's figures. */
export function goals(runs: RunResult[]): Goal[] {
  const get = (s: ScenarioName, t: string) => runs.find((r) => r.scenario === s && r.target === t && trusted(r));
  const out: Goal[] = [];
  const yes = (b: boolean) => (b ? "met" : "**not met**");
  const sbChat = get("chat", "switchboard");
  for (const [floor, min] of [[BASELINE, 0.85], ["bun-chat", 0.75]] as const) {
    const text = `chat (saturating shape) ≥ ${min}× ${floor}`;
    const base = get("chat", floor);
    if (!sbChat || !base) {
      out.push({ text, verdict: "not measured (a run failed, was flagged or was not selected)" });
      continue;
    }
    const x = sbChat.metrics.deliveredPerSec / base.metrics.deliveredPerSec;
    out.push({ text, verdict: `${x.toFixed(2)}× — ${yes(x >= min)}` });
  }
  const sbConn = get("connect", "switchboard");
  if (sbConn) {
    const b = sbConn.metrics.rssPerConnBytes;
    out.push({ text: "≤ 2.8 KiB resident per idle connection (2 subscriptions)", verdict: `${(b / 1024).toFixed(2)} KiB at ${sbConn.metrics.connections} connections — ${yes(b <= 2.8 * 1024)}` });
    const c = sbConn.metrics.connectsPerSec;
    out.push({ text: "≥ 12,000 authenticated connects/s", verdict: `${c.toLocaleString("en-US")}/s — ${yes(c >= 12_000)}` });
  } else out.push({ text: "connect goals", verdict: "not measured" });
  const sbFan = get("fanout", "switchboard");
  const rawFan = get("fanout", BASELINE);
  if (sbFan && rawFan) {
    const parts: string[] = [];
    let ok = true;
    for (const ph of ["10/s", "100/s"]) {
      for (const p of ["p50", "p99"] as const) {
        const x = sbFan.latency[ph][p] / rawFan.latency[ph][p];
        ok &&= x <= 1.1;
        parts.push(`${ph} ${p} ${x.toFixed(2)}×`);
      }
    }
    out.push({ text: "fanout p50/p99 within 1.1× of bun-raw", verdict: `${parts.join(", ")} — ${yes(ok)}` });
  } else out.push({ text: "fanout p50/p99 within 1.1× of bun-raw", verdict: "not measured" });
  const sbCross = get("crossnode", "switchboard");
  const sbSingle = get("crossnode", "switchboard (1 node)");
  if (sbCross) {
    const cross = sbCross.latency["cross 100/s"].p99;
    const parts = [`cross-node ${cross} ms vs same-node (same cluster, same moment) ${sbCross.latency["same 100/s"].p99} ms: Δ ${sbCross.metrics.p99DeltaMs} ms — ${yes(sbCross.metrics.p99DeltaMs <= 2)}`];
    if (sbSingle) {
      const single = sbSingle.latency["same 100/s"].p99;
      const d = Math.round((cross - single) * 1000) / 1000;
      parts.push(`vs one node with the local engine, same load shape ${single} ms: Δ ${d} ms — ${yes(d <= 2)}`);
    }
    out.push({ text: "crossnode p99 within 2 ms of single-node p99", verdict: parts.join("; ") });
  } else out.push({ text: "crossnode p99 within 2 ms of single-node p99", verdict: `not measured${runs.find((r) => r.scenario === "crossnode" && r.target === "switchboard" && !trusted(r)) ? " (the switchboard run failed or was flagged, see below)" : ""}` });
  const hooks = get("chat-webhooks", "switchboard");
  if (hooks) out.push({ text: "chat with a webhook for another namespace and presence status on: CPU per publication unchanged within noise", verdict: webhookVerdict(hooks.metrics) });
  return out;
}

/** Within noise: webhook+status ÷ plain (median of per-round ratios) no further above 1 than plain's own spread over the rounds. */
export function webhookVerdict(m: Record<string, number>): string {
  const x = m.bothCpuVsPlain;
  const spread = m.plainCpuSpread;
  if (!Number.isFinite(x)) return "not measured";
  const head = `webhook+status ${x.toFixed(2)}× plain (webhook ${m.webhookCpuVsPlain?.toFixed(2)}×, status ${m.statusCpuVsPlain?.toFixed(2)}×)`;
  if (!Number.isFinite(spread)) return `${head}; one round, no noise estimate — run it full`;
  return `${head}, plain's own spread ${(spread * 100).toFixed(1)} % — ${x <= 1 + spread ? "within noise" : "**above noise**"}`;
}

export function renderMarkdown(rep: Report): string {
  const m = rep.meta;
  const mc = m.machine;
  const out: string[] = [];
  out.push(`# Switchboard bench results`);
  out.push("");
  out.push(`Latest run: **${m.mode}** (\`npm run bench -- ${m.argv.join(" ")}\`), started ${m.started}, took ${m.durationSec} s. Generated by \`bench/run.ts\`; see [bench/README.md](README.md) for what each figure means.`);
  out.push("");
  out.push(`Machine: ${mc.cpuModel}, ${mc.cores} cores, ${mc.memGiB} GiB, ${mc.os}, Linux ${mc.kernel}, open files ${mc.openFilesLimit}. Load average before/after: ${mc.loadavg.join(" ")} / ${m.machineAfter.loadavg.join(" ")}. Commit ${mc.gitCommit}.`);
  out.push(`Machine busy before the bench started anything: ${m.busyBeforeCores} of ${mc.cores} cores${m.busyBeforeCores >= 0.3 ? " — **the machine was shared with other work during this run; absolute figures are lower and noisier than on a quiet machine, compare ratios**" : ""}.`);
  out.push(`Versions: ${Object.entries(mc.versions).map(([k, v]) => `${k} ${v}`).join(", ")}.`);
  out.push("");
  out.push("Ratios in parentheses are against **bun-raw from this same run** (value ÷ bun-raw) and, in the chat scenarios, also against **bun-chat** (Bun's bare chat server, the physical floor): `0.55× raw, 0.49× chat`. Above 1× is better for ↑ figures, worse for ↓ figures. CPU is in cores (1.00 = one core busy) for the server process(es), all load-generator processes and the whole machine during the measured window; `saturated` names the side that was at its limit (a server process ≥ 0.9 core, the clients, or the machine ≥ 90 % of all cores). Machine CPU not accounted to server or clients is loopback TCP work in softirq and other engineers' processes sharing the machine.");
  out.push("");
  out.push("## Goals from the issue (reported, not asserted)");
  out.push("");
  for (const g of goals(rep.runs)) out.push(`- ${g.text}: ${g.verdict}`);
  for (const s of Object.keys(FIGURES) as ScenarioName[]) {
    const runs = rep.runs.filter((r) => r.scenario === s);
    if (runs.length === 0) continue;
    out.push("");
    out.push(`## ${s}`);
    out.push("");
    out.push(SCENARIO_TEXT[s]);
    const p = runs[0].params;
    out.push(`Parameters: ${Object.entries(p).map(([k, v]) => `${k}=${Array.isArray(v) ? v.join("/") : v}`).join(", ")}.`);
    out.push("");
    out.push(table(s, runs, rep.runs));
    const notes = runs.flatMap((r) => [...(r.flags ?? []).map((f) => `- ${r.target}: **flagged**: ${f}`), ...r.notes.map((n) => `- ${r.target}: ${n}`)]);
    if (notes.length) {
      out.push("");
      out.push(...notes);
    }
  }
  out.push("");
  return out.join("\n");
}
