/**
 * care-team: a mixed care-team workload at realistic ratios against one
 * Switchboard node (local engine, records in SQLite), from several load
 * worker processes (see bench/load/care-team-job.ts for the operations and
 * what each latency measures). Per 100 operations: 70 chat messages in
 * persisted conversations, 10 read receipts, 10 typing signals, 5 presence
 * status changes, 4 notifications over the HTTP API and 1 call setup.
 * Open loop at a fixed offered rate; figures: operations per second
 * completed in the measured window, server CPU µs per operation, and p50/p99
 * per operation kind.
 */
import { mergeHistograms } from "../lib/latency.ts";
import { CpuMeter } from "../lib/procs.ts";
import { LoadWorker } from "../lib/workers.ts";
import { CARE_OPS, type CareOp, type OpResult } from "../load/care-team-job.ts";
import { BENCH_API_KEY, BENCH_SECRET, BENCH_TENANT, type ServerNode, type Target } from "../targets.ts";
import { guarded, latencyOf, measureCpu, newResult, pidsOf, soon, type Ctx, type RunResult } from "./common.ts";
import { cpuPerPublicationUs, type Tallied } from "./tally.ts";

export interface CareWorkerResult {
  seconds: number;
  ops: Record<CareOp, OpResult>;
  chatDelivery: { received: number; hist: string };
  notifyDelivery: { received: number; hist: string };
  teamSize: number;
  duplicates: number;
  callsSkipped: number;
  /** Typing signals not sent because the client sent one less than 500 ms before (after a stall of the load process). */
  typingThrottled?: number;
  callsUnfinished: number;
  hangupsRefused: number;
  unanswered: number;
  firstRefusal?: string;
  closed: number;
}

/** Latency names in the result: one per operation kind, plus the two delivery checks. */
export const CARE_LATENCY: Record<CareOp | "chat delivery" | "notification delivery", string> = {
  chat: "chat message (due → ok after store commit)",
  read: "read receipt (due → ok)",
  typing: "typing (due → ok)",
  status: "status change (due → ok)",
  notify: "notification (due → HTTP 200)",
  call: "call setup (due → offer relayed to the caller)",
  "chat delivery": "chat delivery (due → each member)",
  "notification delivery": "notification delivery (due → recipient)",
};

export function careTeamTally(rs: CareWorkerResult[], cpu?: { server: number; seconds: number }): Tallied {
  const out: Tallied = { metrics: {}, latency: {}, notes: [], flags: [] };
  const seconds = Math.max(...rs.map((r) => r.seconds));
  let acked = 0;
  let sent = 0;
  for (const op of CARE_OPS) {
    const s = rs.reduce((n, r) => n + r.ops[op].sent, 0);
    const a = rs.reduce((n, r) => n + r.ops[op].acked, 0);
    const refused = rs.reduce((n, r) => n + r.ops[op].refused, 0);
    sent += s;
    acked += a;
    out.metrics[`${op}Sent`] = s;
    out.metrics[`${op}Acked`] = a;
    out.metrics[`${op}PerSec`] = Math.round((a / seconds) * 10) / 10;
    out.latency[op] = latencyOf(mergeHistograms(rs.map((r) => r.ops[op].hist)));
    if (refused > 0) out.flags.push(`${op}: ${refused} of ${s} refused`);
    const unanswered = s - a - refused;
    if (unanswered > 0) out.flags.push(`${op}: ${unanswered} of ${s} never answered`);
    if (s === 0) out.flags.push(`${op}: none was sent in the measured window`);
  }
  out.metrics.opsPerSec = Math.round(acked / seconds);
  out.metrics.offeredPerSec = Math.round(sent / seconds);
  out.metrics.serverCpuUsPerOp = cpuPerPublicationUs(cpu, acked);
  const chatExpected = rs.reduce((n, r) => n + r.ops.chat.acked * r.teamSize, 0);
  const chatGot = rs.reduce((n, r) => n + r.chatDelivery.received, 0);
  const notifyExpected = rs.reduce((n, r) => n + r.ops.notify.acked, 0);
  const notifyGot = rs.reduce((n, r) => n + r.notifyDelivery.received, 0);
  Object.assign(out.metrics, { chatDelivered: chatGot, chatExpected, notifyDelivered: notifyGot, notifyExpected });
  out.latency["chat delivery"] = latencyOf(mergeHistograms(rs.map((r) => r.chatDelivery.hist)));
  out.latency["notification delivery"] = latencyOf(mergeHistograms(rs.map((r) => r.notifyDelivery.hist)));
  if (chatGot < chatExpected) out.flags.push(`chat: ${chatExpected - chatGot} of ${chatExpected} deliveries to team members missing`);
  if (notifyGot < notifyExpected) out.flags.push(`notifications: ${notifyExpected - notifyGot} of ${notifyExpected} never reached their recipient`);
  const sum = (k: "duplicates" | "callsSkipped" | "callsUnfinished" | "hangupsRefused" | "unanswered" | "closed") => rs.reduce((n, r) => n + r[k], 0);
  if (sum("duplicates") > 0) out.flags.push(`${sum("duplicates")} duplicate chat deliveries`);
  if (sum("closed") > 0) out.flags.push(`${sum("closed")} clients were closed by the server during the run`);
  if (sum("callsUnfinished") > 0) out.flags.push(`${sum("callsUnfinished")} calls never completed setup`);
  if (sum("hangupsRefused") > 0) out.flags.push(`${sum("hangupsRefused")} hangups refused`);
  if (sum("unanswered") > 0) out.flags.push(`${sum("unanswered")} requests (warm-up included) never answered`);
  const refusal = rs.find((r) => r.firstRefusal)?.firstRefusal;
  if (refusal) out.notes.push(`first refusal: ${refusal}`);
  const throttled = rs.reduce((n, r) => n + (r.typingThrottled ?? 0), 0);
  if (throttled > 0) out.notes.push(`${throttled} typing signals not sent: the client had sent one less than 500 ms before (the load process was catching up after a stall)`);
  if (sum("callsSkipped") > 0) out.notes.push(`${sum("callsSkipped")} call setups skipped (caller or every teammate already in a call)`);
  out.notes.push(`latency is from each operation's due time (open loop): ${CARE_OPS.map((k) => `${k} = ${CARE_LATENCY[k]}`).join("; ")}`);
  return out;
}

async function putTeams(port: number, prefix: string, convPrefix: string, n: number, teamSize: number): Promise<void> {
  for (let k = 0; k * teamSize < n; k++) {
    const members = Array.from({ length: Math.min(teamSize, n - k * teamSize) }, (_, m) => `${prefix}${k * teamSize + m}`);
    const r = await fetch(`http://127.0.0.1:${port}/v1/conversations/${convPrefix}${k}`, {
      method: "PUT",
      headers: { authorization: `Bearer ${BENCH_API_KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ tenant: BENCH_TENANT, members, title: `care team ${convPrefix}${k}` }),
    });
    if (r.status !== 200) throw new Error(`PUT /v1/conversations/${convPrefix}${k} answered ${r.status}: ${await r.text()}`);
  }
}

export async function careTeamScenario(t: Target, ctx: Ctx): Promise<RunResult> {
  const workersN = Math.max(2, ctx.workers);
  const perWorker = ctx.quick ? 24 : 48;
  const teamSize = 8;
  const ratePerClient = ctx.quick ? 8 : 12;
  const warmupMs = ctx.quick ? 1000 : 2000;
  const durationMs = ctx.quick ? 3000 : 10_000;
  const res = newResult("care-team", t.name, { clients: workersN * perWorker, teamSize, ratePerClient, offeredOpsPerSec: workersN * perWorker * ratePerClient, warmupMs, durationMs, workers: workersN, mix: "70 chat/10 read/10 typing/5 status/4 notify/1 call", store: "sqlite" });
  if (t.dialect !== "switchboard") {
    res.error = `care-team runs against switchboard only (chat, presence, notifications and calls are its features), not ${t.name}`;
    return res;
  }
  const servers: ServerNode[] = [];
  const workers: LoadWorker[] = [];
  return guarded(res, servers, workers, async () => {
    servers.push(...(await t.start({ nodes: 1 })));
    const port = servers[0]!.port;
    for (let w = 0; w < workersN; w++) {
      const subPrefix = `ct${w}-`;
      const convPrefix = `care-w${w}-`;
      await putTeams(port, subPrefix, convPrefix, perWorker, teamSize);
      workers.push(LoadWorker.start(`care-team-w${w}`, { kind: "care-team", url: `http://127.0.0.1:${port}`, apiKey: BENCH_API_KEY, secret: BENCH_SECRET, tenant: BENCH_TENANT, subPrefix, convPrefix, n: perWorker, teamSize, ratePerClient }));
    }
    await Promise.all(workers.map((w) => w.waitFor("ready", 90_000)));
    const startAt = soon(300);
    const go = { cmd: "go", startAt, measureFrom: startAt + warmupMs, measureTo: startAt + warmupMs + durationMs };
    workers.forEach((w) => w.send(go));
    res.cpu.main = await measureCpu(new CpuMeter(pidsOf(servers, workers)), go.measureFrom, go.measureTo, workers.length);
    const results = (await Promise.all(workers.map((w) => w.waitFor("result", durationMs + 60_000)))) as unknown as CareWorkerResult[];
    const tally = careTeamTally(results, res.cpu.main);
    Object.assign(res.metrics, tally.metrics);
    Object.assign(res.latency, tally.latency);
    res.notes.push(...tally.notes);
    res.flags!.push(...tally.flags);
    if (res.metrics.opsPerSec === 0) throw new Error("no operation completed in the measured window");
  });
}
