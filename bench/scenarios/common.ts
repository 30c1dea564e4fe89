/** What every scenario shares: the run context, the result record, and setup/teardown helpers. */
import { nowMs, sleepUntil } from "../lib/clock.ts";
import { percentileCurve, summarize, type Histogram, type LatencySummary } from "../lib/latency.ts";
import type { MachineInfo } from "../lib/machine.ts";
import { CpuMeter, saturation, type CpuUsage } from "../lib/procs.ts";
import type { LoadWorker } from "../lib/workers.ts";
import type { AuthSpec } from "../load/jobs.ts";
import type { ServerNode, Target, TargetName } from "../targets.ts";

export const SCENARIOS = ["connect", "chat", "chat-rtt", "fanout", "crossnode", "http-publish"] as const;
/**
 * Run only when named (not by `all`): connect-workers needs Redis, PostgreSQL and 60,000 sockets; chat-store and call-setup start their own PostgreSQL;
 * chat-webhooks runs the saturating chat 4 times per round (3 rounds full) and care-team is Switchboard against itself.
 */
export const EXTRA_SCENARIOS = ["connect-workers", "chat-store", "call-setup", "chat-webhooks", "care-team"] as const;
export type ScenarioName = (typeof SCENARIOS)[number] | (typeof EXTRA_SCENARIOS)[number];

export interface Ctx {
  quick: boolean;
  /** Load-generator processes per scenario (the publisher, if any, is extra). */
  workers: number;
  /** --connections: overrides connect-workers' connection count. */
  connections?: number;
  log(msg: string): void;
}

export interface LatencyResult extends LatencySummary {
  curve: [number, number][];
}

export interface RunResult {
  scenario: ScenarioName;
  target: TargetName | string;
  ok: boolean;
  error?: string;
  /** Flat figures; names carry units (`PerSec`, `Bytes`, `Ms`). */
  metrics: Record<string, number>;
  /** Latency by phase name. */
  latency: Record<string, LatencyResult>;
  /** CPU by phase name (`main` when the scenario has one measured window). */
  cpu: Record<string, CpuUsage & { saturated: string }>;
  params: Record<string, unknown>;
  notes: string[];
  /**
   * Why the figures cannot be trusted (deliveries missing or duplicated,
   * clients closed, clamped latencies, refused publications…). A flagged run
   * is reported as flagged, not summarised; see scenarios/tally.ts.
   */
  flags?: string[];
  /** With --rounds > 1: every round's figures (this record is the median round). */
  rounds?: { ok: boolean; error?: string; flags?: string[]; metrics: Record<string, number> }[];
}

export interface Report {
  meta: {
    started: string;
    durationSec: number;
    mode: "quick" | "full";
    argv: string[];
    workers: number;
    rounds: number;
    /** Cores busy during 1 s before the bench started anything. */
    busyBeforeCores: number;
    machine: MachineInfo;
    machineAfter: { loadavg: number[] };
  };
  runs: RunResult[];
}

export function newResult(scenario: ScenarioName, target: string, params: Record<string, unknown>): RunResult {
  return { scenario, target, ok: false, metrics: {}, latency: {}, cpu: {}, params, notes: [], flags: [] };
}

/** A run whose figures may be reported and compared: it finished and nothing flagged it. */
export function trusted(r: RunResult): boolean {
  return r.ok && (r.flags?.length ?? 0) === 0;
}

/** Copies a tally's figures into the run record. */
export function applyTally(res: RunResult, t: { metrics: Record<string, number>; latency: Record<string, LatencyResult>; notes: string[]; flags: string[] }): void {
  Object.assign(res.metrics, t.metrics);
  Object.assign(res.latency, t.latency);
  res.notes.push(...t.notes);
  (res.flags ??= []).push(...t.flags);
}

export function latencyOf(h: Histogram): LatencyResult {
  return { ...summarize(h), curve: percentileCurve(h) };
}

/** Splits n into k near-equal positive parts. */
export function spread(n: number, k: number): number[] {
  const parts = Array.from({ length: Math.min(k, n) }, (_, i) => Math.floor(n / k) + (i < n % k ? 1 : 0));
  return parts.filter((p) => p > 0);
}

/** Auth for one worker: distinct users per worker so user ids never collide. */
export function authFor(t: Target, tag: string): AuthSpec | undefined {
  return t.auth ? { ...t.auth, subPrefix: `${tag}-` } : undefined;
}

export function pidsOf(servers: ServerNode[], workers: LoadWorker[]) {
  return [...servers.map((s) => ({ pid: s.pid, role: "server" as const })), ...workers.map((w) => ({ pid: w.pid, role: "client" as const }))];
}

/** Measures CPU between two absolute times (nowMs clock). */
export async function measureCpu(meter: CpuMeter, fromMs: number, toMs: number, clientProcs: number): Promise<CpuUsage & { saturated: string }> {
  await sleepUntil(fromMs);
  meter.start();
  await sleepUntil(toMs);
  const u = meter.stop();
  return { ...u, saturated: saturation(u, clientProcs) };
}

/** Runs body with started servers and workers, always stopping all of them. */
export async function guarded(res: RunResult, servers: ServerNode[], workers: LoadWorker[], body: () => Promise<void>): Promise<RunResult> {
  try {
    await body();
    res.ok = true;
  } catch (e) {
    res.ok = false;
    res.error = ((e as Error).message ?? String(e)).slice(0, 2000);
  } finally {
    await Promise.all(workers.map((w) => w.stop()));
    await Promise.all(servers.map((s) => s.stop()));
  }
  return res;
}

export function soon(ms = 300): number {
  return nowMs() + ms;
}
