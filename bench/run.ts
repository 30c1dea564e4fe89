/**
 * Bench entry point: `bun bench/run.ts <scenario|all> [--targets a,b] [--quick] [--workers N]`.
 * Runs each scenario against each target in turn, writes a JSON result, a
 * Markdown table and an HTML report into new files under bench/out/; only
 * `--save` also copies the Markdown over the committed bench/RESULTS.md.
 * Every process it starts is killed on exit, Ctrl-C or error.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { machineInfo } from "./lib/machine.ts";
import { machineBusyCores, ROOT, stopAll } from "./lib/procs.ts";
import { renderHtml } from "./report/html.ts";
import { FIGURES, fmtValue } from "./report/figures.ts";
import { renderMarkdown } from "./report/markdown.ts";
import { callSetupScenario } from "./scenarios/call-setup.ts";
import { careTeamScenario } from "./scenarios/care-team.ts";
import { chatWebhooksScenario } from "./scenarios/chat-webhooks.ts";
import { chatRttScenario, chatScenario } from "./scenarios/chat.ts";
import { chatStoreScenario } from "./scenarios/chat-store.ts";
import { EXTRA_SCENARIOS, SCENARIOS, trusted, type Ctx, type Report, type RunResult, type ScenarioName } from "./scenarios/common.ts";
import { connectScenario } from "./scenarios/connect.ts";
import { connectWorkersScenario } from "./scenarios/connect-workers.ts";
import { crossnodeScenario } from "./scenarios/crossnode.ts";
import { fanoutScenario } from "./scenarios/fanout.ts";
import { httpPublishScenario } from "./scenarios/http-publish.ts";
import { TARGETS, targets, type Target, type TargetName } from "./targets.ts";

const DEFAULT_TARGETS: Record<ScenarioName, TargetName[]> = {
  connect: ["switchboard", "switchboard-node", "switchboard-socketio", "bun-raw", "uws-node", "ws-node", "socketio-node"],
  chat: ["switchboard", "switchboard-node", "switchboard-socketio", "bun-chat", "bun-raw", "uws-node", "ws-node", "socketio-node"],
  "chat-rtt": ["switchboard", "bun-chat", "bun-raw", "uws-node"],
  fanout: ["switchboard", "switchboard-node", "switchboard-socketio", "bun-raw", "uws-node", "ws-node", "socketio-node"],
  crossnode: ["switchboard", "socketio-redis", "bun-raw"],
  "http-publish": ["switchboard", "bun-raw", "uws-node", "ws-node", "socketio-node"],
  // Switchboard against itself: the plain room next to chat on both record stores.
  "chat-store": ["switchboard"],
  "call-setup": ["switchboard"],
  "connect-workers": ["switchboard"],
  // Switchboard against itself: plain chat next to chat with a webhook on another namespace and presence status on.
  "chat-webhooks": ["switchboard"],
  "care-team": ["switchboard"],
};

const RUNNERS: Record<ScenarioName, (t: Target, ctx: Ctx, single?: boolean) => Promise<RunResult>> = {
  connect: connectScenario,
  chat: chatScenario,
  "chat-rtt": chatRttScenario,
  fanout: fanoutScenario,
  crossnode: crossnodeScenario,
  "http-publish": httpPublishScenario,
  "chat-store": chatStoreScenario,
  "call-setup": callSetupScenario,
  "connect-workers": connectWorkersScenario,
  "chat-webhooks": chatWebhooksScenario,
  "care-team": careTeamScenario,
};

const USAGE = `usage: npm run bench -- <${[...SCENARIOS, ...EXTRA_SCENARIOS].join("|")}|all> [--targets ${TARGETS.join(",")}] [--quick] [--workers N] [--rounds N] [--connections N] [--save | --no-save]`;

/** `write`: the run's own files in bench/out/; `save`: those and bench/RESULTS.md; `none`: print only. */
export type Output = "none" | "write" | "save";

interface Args { scenarios: ScenarioName[]; targets: TargetName[] | null; quick: boolean; workers: number; rounds: number; output: Output; connections?: number }

export function parseArgs(argv: string[]): Args {
  const a: Args = { scenarios: [], targets: null, quick: false, workers: 2, rounds: 1, output: "write" };
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i];
    if (v === "--quick") a.quick = true;
    else if (v === "--no-save") a.output = "none";
    else if (v === "--save") a.output = "save";
    else if (v === "--targets") a.targets = (argv[++i] ?? "").split(",").filter(Boolean) as TargetName[];
    else if (v.startsWith("--targets=")) a.targets = v.slice(10).split(",").filter(Boolean) as TargetName[];
    else if (v === "--workers") a.workers = Number(argv[++i]);
    else if (v === "--rounds") a.rounds = Number(argv[++i]);
    else if (v === "--connections") a.connections = Number(argv[++i]);
    else if (v === "all") a.scenarios.push(...SCENARIOS);
    else if (([...SCENARIOS, ...EXTRA_SCENARIOS] as readonly string[]).includes(v)) a.scenarios.push(v as ScenarioName);
    else throw new Error(`unknown argument '${v}'; ${USAGE}`);
  }
  if (a.scenarios.length === 0) throw new Error(USAGE);
  for (const t of a.targets ?? []) if (!(TARGETS as readonly string[]).includes(t)) throw new Error(`unknown target '${t}'; ${USAGE}`);
  if (!Number.isInteger(a.workers) || a.workers < 1 || a.workers > 8) throw new Error("--workers must be 1..8");
  if (!Number.isInteger(a.rounds) || a.rounds < 1 || a.rounds > 9) throw new Error("--rounds must be 1..9");
  if (a.connections !== undefined && (!Number.isInteger(a.connections) || a.connections < 1 || a.connections > 200_000)) throw new Error("--connections must be 1..200000");
  return a;
}

async function main(): Promise<void> {
  // The reports bench has its own output (reports/s per template, WS p99 under render load).
  if (process.argv[2] === "reports") return void (await import("./scenarios/reports.ts"));
  // Only its WebSocket round trip, idle and while 8 large reports render (issue 12's 1.5× bound).
  if (process.argv[2] === "reports-latency") return void (await import("./scenarios/reports.ts"));
  const args = parseArgs(process.argv.slice(2));
  const started = new Date();
  const t0 = performance.now();
  const log = (m: string) => console.error(`[${((performance.now() - t0) / 1000).toFixed(1).padStart(6)}s] ${m}`);
  const ctx: Ctx = { quick: args.quick, workers: args.workers, connections: args.connections, log };
  const machine = machineInfo();
  const busyBeforeCores = await machineBusyCores(1000);
  log(`bench ${args.quick ? "quick" : "full"}: ${args.scenarios.join(", ")} | ${machine.cpuModel} x${machine.cores} | load ${machine.loadavg.join(" ")} | busy before start: ${busyBeforeCores} cores`);
  const runs: RunResult[] = [];
  for (const s of args.scenarios) {
    const names = (args.targets ? args.targets.filter((t) => s === "crossnode" || t !== "socketio-redis") : DEFAULT_TARGETS[s]).filter((t) => !targets[t].chatOnly || s.startsWith("chat"));
    // Rounds interleave the targets (A B C, A B C, …) so that a burst of
    // foreign load on a shared machine hits every target, not just one.
    // crossnode also runs each clustered target as one node without Redis: its single-node reference.
    const plan = names.flatMap((name) => (s === "crossnode" && targets[name].clustered ? [{ name, single: false }, { name, single: true }] : [{ name, single: false }]));
    const byRun = new Map<string, RunResult[]>();
    for (let round = 1; round <= args.rounds; round++) {
      for (const { name, single } of plan) {
        const key = single ? `${name} (1 node)` : name;
        const ts = performance.now();
        log(`${s} × ${key}${args.rounds > 1 ? ` (round ${round}/${args.rounds})` : ""} …`);
        const r = await RUNNERS[s](targets[name], ctx, single);
        byRun.set(key, [...(byRun.get(key) ?? []), r]);
        log(`${s} × ${key}: ${r.ok ? "ok" : "FAILED: " + r.error?.split("\n")[0]} (${((performance.now() - ts) / 1000).toFixed(1)} s) ${JSON.stringify(r.metrics)}${r.flags?.length ? ` flags: ${r.flags.join(" | ")}` : ""}`);
      }
    }
    for (const rs of byRun.values()) runs.push(pickMedian(rs));
  }
  await stopAll();
  const report: Report = {
    meta: {
      started: started.toISOString(),
      durationSec: Math.round((performance.now() - t0) / 100) / 10,
      mode: args.quick ? "quick" : "full",
      argv: process.argv.slice(2),
      workers: args.workers,
      rounds: args.rounds,
      machine,
      busyBeforeCores,
      machineAfter: { loadavg: machineInfo().loadavg },
    },
    runs,
  };
  const md = renderMarkdown(report);
  if (args.output !== "none") {
    const dir = join(ROOT, "bench/out");
    mkdirSync(dir, { recursive: true });
    const stamp = started.toISOString().replace(/[:.]/g, "-");
    const base = join(dir, `bench-${stamp}`);
    writeFileSync(`${base}.json`, JSON.stringify(report, null, 2));
    writeFileSync(`${base}.md`, md);
    writeFileSync(`${base}.html`, renderHtml(report));
    writeFileSync(join(dir, "latest.html"), renderHtml(report));
    if (args.output === "save") writeFileSync(join(ROOT, "bench/RESULTS.md"), md);
    log(`wrote ${base}.{json,md,html}${args.output === "save" ? " and bench/RESULTS.md" : " (bench/RESULTS.md unchanged; --save updates it)"}`);
  }
  console.log(md);
  log(`done in ${report.meta.durationSec} s`);
}

/**
 * With several rounds, the reported run is the median by the scenario's first
 * figure, over the rounds that finished unflagged (failed or flagged rounds
 * only when no round is clean). With an even number of rounds the median is
 * the mean of the two middle ones (every figure averaged), not the lower of
 * them. The others stay in the JSON under `rounds`.
 */
export function pickMedian(rs: RunResult[]): RunResult {
  if (rs.length <= 1) return rs[0];
  const clean = rs.filter(trusted);
  const ok = clean.length > 0 ? clean : rs.filter((r) => r.ok);
  if (ok.length === 0) return rs[rs.length - 1];
  const f = FIGURES[ok[0].scenario][0];
  const sorted = [...ok].sort((a, b) => (f.get(a) ?? 0) - (f.get(b) ?? 0));
  const mid = (sorted.length - 1) / 2;
  const pick = Number.isInteger(mid) ? sorted[mid] : meanOf(sorted[Math.floor(mid)], sorted[Math.ceil(mid)]);
  const skipped = rs.length - ok.length;
  return {
    ...pick,
    notes: [...pick.notes, `median of ${ok.length} ${clean.length > 0 ? "clean" : "flagged"} rounds by ${f.label} (${sorted.map((r) => fmtValue(f.get(r), f.unit)).join(", ")})${skipped > 0 ? `; ${skipped} round(s) failed or were flagged` : ""}`],
    rounds: rs.map((r) => ({ ok: r.ok, error: r.error, flags: r.flags, metrics: r.metrics })),
  };
}

/** Two rounds' figures averaged: metrics and latency summaries (curves and CPU are `a`'s). */
function meanOf(a: RunResult, b: RunResult): RunResult {
  const avg = (x: number, y: number | undefined) => (y === undefined ? x : (x + y) / 2);
  const metrics = Object.fromEntries(Object.entries(a.metrics).map(([k, v]) => [k, avg(v, b.metrics[k])]));
  const latency = Object.fromEntries(
    Object.entries(a.latency).map(([k, l]) => {
      const m = b.latency[k];
      return [k, m ? { ...l, count: avg(l.count, m.count), p50: avg(l.p50, m.p50), p90: avg(l.p90, m.p90), p99: avg(l.p99, m.p99), p999: avg(l.p999, m.p999), max: avg(l.max, m.max), mean: avg(l.mean, m.mean) } : l];
    }),
  );
  return { ...a, metrics, latency, flags: [...new Set([...(a.flags ?? []), ...(b.flags ?? [])])], notes: [...a.notes, "figures are the mean of the two middle rounds"] };
}

if (import.meta.main) {
  main().then(
    () => process.exit(0),
    async (e) => {
      console.error(e instanceof Error ? e.message : e);
      await stopAll();
      process.exit(1);
    },
  );
}
