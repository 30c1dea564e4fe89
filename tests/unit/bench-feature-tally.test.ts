/**
 * The arithmetic of the feature scenarios (care-team, chat-webhooks) fed
 * synthetic worker results, as tests/unit/bench-tally.test.ts does for the
 * others: figures from clean results, a flag for every defect, and the
 * report's "within noise" verdict.
 */
import { describe, expect, test } from "bun:test";
import { encodeHistogram, newHistogram, recordMicros } from "../../bench/lib/latency.ts";
import { CARE_MIX, CARE_OPS, careDeck, type CareOp, type OpResult } from "../../bench/load/care-team-job.ts";
import { goals, renderMarkdown, webhookVerdict } from "../../bench/report/markdown.ts";
import { careTeamTally, type CareWorkerResult } from "../../bench/scenarios/care-team.ts";
import { webhookTally, type VariantRound, type WebhookVariant } from "../../bench/scenarios/chat-webhooks.ts";
import type { Report, RunResult } from "../../bench/scenarios/common.ts";

function hist(n: number, ms: number): string {
  const h = newHistogram();
  for (let i = 0; i < n; i++) recordMicros(h, ms * 1000);
  return encodeHistogram(h);
}

function careWorker(over: Partial<CareWorkerResult> = {}, ops: Partial<Record<CareOp, Partial<OpResult>>> = {}): CareWorkerResult {
  // 10 s, 1,000 operations in the mix's ratios, each answered after 2 ms.
  const o = Object.fromEntries(CARE_OPS.map((k) => [k, { sent: CARE_MIX[k] * 10, acked: CARE_MIX[k] * 10, refused: 0, hist: hist(CARE_MIX[k] * 10, 2), ...ops[k] }])) as Record<CareOp, OpResult>;
  return {
    seconds: 10, ops: o, teamSize: 8,
    chatDelivery: { received: o.chat.acked * 8, hist: hist(o.chat.acked * 8, 3) },
    notifyDelivery: { received: o.notify.acked, hist: hist(o.notify.acked, 4) },
    duplicates: 0, callsSkipped: 0, callsUnfinished: 0, hangupsRefused: 0, unanswered: 0, closed: 0,
    ...over,
  };
}

describe("care-team", () => {
  test("the deck holds the mix's ratios, spread so that no kind bunches up", () => {
    const deck = careDeck();
    expect(deck).toHaveLength(100);
    for (const k of CARE_OPS) expect(deck.filter((x) => x === k)).toHaveLength(CARE_MIX[k]);
    // Typing has its own budget (2/s, burst 4): 10 per 100, never two within 5 places of each other.
    const at = deck.flatMap((x, i) => (x === "typing" ? [i] : []));
    for (let i = 1; i < at.length; i++) expect(at[i]! - at[i - 1]!).toBeGreaterThanOrEqual(5);
  });

  test("clean results: ops/s over all workers, CPU per operation, a latency per operation and per delivery check", () => {
    const t = careTeamTally([careWorker(), careWorker()], { server: 0.5, seconds: 10 });
    expect(t.flags).toEqual([]);
    // 2 workers × 1,000 operations in 10 s.
    expect(t.metrics.opsPerSec).toBe(200);
    expect(t.metrics.offeredPerSec).toBe(200);
    // 5 s of server CPU ÷ 2,000 operations.
    expect(t.metrics.serverCpuUsPerOp).toBe(2500);
    expect(t.metrics.chatPerSec).toBe(140);
    expect(t.metrics).toMatchObject({ chatExpected: 11_200, chatDelivered: 11_200, notifyExpected: 80, notifyDelivered: 80 });
    for (const k of CARE_OPS) expect(t.latency[k]!.p50).toBeCloseTo(2, 1);
    expect(t.latency["chat delivery"]!.p99).toBeCloseTo(3, 1);
    expect(t.latency["notification delivery"]!.count).toBe(80);
  });

  test("refused, unanswered or undelivered operations, duplicates and closed clients flag the run; skipped calls are a note", () => {
    const refused = careTeamTally([careWorker({ firstRefusal: "typing: RATE_LIMIT_EXCEEDED slow down" }, { typing: { acked: 90, refused: 10 } })]);
    expect(refused.flags).toEqual(["typing: 10 of 100 refused"]);
    expect(refused.notes[0]).toBe("first refusal: typing: RATE_LIMIT_EXCEEDED slow down");
    expect(careTeamTally([careWorker({}, { call: { acked: 7 } })]).flags).toEqual(["call: 3 of 10 never answered"]);
    const lost = careWorker();
    lost.chatDelivery.received -= 5;
    lost.notifyDelivery.received -= 1;
    expect(careTeamTally([lost]).flags).toEqual(["chat: 5 of 5600 deliveries to team members missing", "notifications: 1 of 40 never reached their recipient"]);
    expect(careTeamTally([careWorker({ duplicates: 2, closed: 1, callsUnfinished: 1 })]).flags).toEqual(["2 duplicate chat deliveries", "1 clients were closed by the server during the run", "1 calls never completed setup"]);
    expect(careTeamTally([careWorker({}, { call: { sent: 0, acked: 0, hist: hist(0, 1) } })]).flags).toEqual(["call: none was sent in the measured window"]);
    const skipped = careTeamTally([careWorker({ callsSkipped: 3, typingThrottled: 2 })]);
    expect(skipped.flags).toEqual([]);
    expect(skipped.notes).toContain("3 call setups skipped (caller or every teammate already in a call)");
    expect(skipped.notes).toContain("2 typing signals not sent: the client had sent one less than 500 ms before (the load process was catching up after a stall)");
  });
});

describe("chat-webhooks", () => {
  const chatRun = (cpu: number, delivered: number, flags: string[] = []): RunResult => ({
    scenario: "chat", target: "switchboard", ok: true, metrics: { serverCpuUsPerPub: cpu, deliveredPerSec: delivered }, latency: {}, cpu: {}, params: {}, notes: [], flags,
  });
  const round = (r: number, cpus: Record<WebhookVariant, number>): VariantRound[] =>
    (Object.entries(cpus) as [WebhookVariant, number][]).map(([variant, cpu]) => ({ variant, round: r, run: chatRun(cpu, 1_000_000 / cpu), ...(variant.startsWith("webhook") ? { hookDeliveries: 1 } : {}) }));

  test("per variant the median over rounds, × plain the median of per-round ratios, plain's spread as the noise", () => {
    const rounds = [
      ...round(1, { plain: 10, webhook: 10.5, status: 10, "webhook+status": 11 }),
      ...round(2, { plain: 11, webhook: 11, status: 11.55, "webhook+status": 11 }),
      ...round(3, { plain: 10.5, webhook: 10.5, status: 10.5, "webhook+status": 12.6 }),
    ];
    const t = webhookTally(rounds);
    expect(t.flags).toEqual([]);
    expect(t.metrics).toMatchObject({ plainCpuUsPerPub: 10.5, webhookCpuUsPerPub: 10.5, bothCpuUsPerPub: 11, plainRounds: 3, bothRounds: 3 });
    // Per-round ratios webhook+status ÷ plain: 1.1, 1.0, 1.2 → median 1.1.
    expect(t.metrics.bothCpuVsPlain).toBe(1.1);
    expect(t.metrics.webhookCpuVsPlain).toBe(1);
    expect(t.metrics.statusCpuVsPlain).toBe(1);
    // Plain ranged 10–11 µs: 10 % spread.
    expect(t.metrics.plainCpuSpread).toBe(0.1);
    expect(webhookVerdict(t.metrics)).toBe("webhook+status 1.10× plain (webhook 1.00×, status 1.00×), plain's own spread 10.0 % — within noise");
    expect(webhookVerdict({ ...t.metrics, bothCpuVsPlain: 1.25 })).toContain("**above noise**");
    expect(webhookVerdict({ ...t.metrics, plainCpuSpread: NaN })).toContain("one round, no noise estimate");
  });

  test("a flagged round is left out and said so; a chat publication reaching the other namespace's webhook flags the run", () => {
    const rounds = [...round(1, { plain: 10, webhook: 10, status: 10, "webhook+status": 10 }), ...round(2, { plain: 12, webhook: 12, status: 12, "webhook+status": 12 })];
    rounds[6]!.run = chatRun(50, 1, ["whole run: 1600 of 64000 deliveries missing"]);
    const t = webhookTally(rounds);
    expect(t.flags).toEqual([]);
    expect(t.metrics.statusCpuUsPerPub).toBe(10);
    expect(t.metrics.statusRounds).toBe(1);
    expect(t.notes).toContain("status round 2 flagged, left out: whole run: 1600 of 64000 deliveries missing");

    const leaked = round(1, { plain: 10, webhook: 10, status: 10, "webhook+status": 10 });
    leaked[1]!.hookDeliveries = 1601;
    const l = webhookTally(leaked);
    expect(l.flags).toEqual(["webhook round 1: the receiver got 1601 webhook deliveries, expected exactly the probe (chat publications must not reach a webhook of another namespace)", "webhook: no clean round"]);
  });

  test("the report prints the variants, the ratios to plain and the goal's verdict", () => {
    const t = webhookTally([...round(1, { plain: 10, webhook: 10.2, status: 10.1, "webhook+status": 10.3 }), ...round(2, { plain: 10.5, webhook: 10.5, status: 10.5, "webhook+status": 10.5 })]);
    const res: RunResult = { scenario: "chat-webhooks", target: "switchboard", ok: true, metrics: t.metrics, latency: {}, cpu: {}, params: {}, notes: t.notes, flags: t.flags };
    const md = renderMarkdown({ meta: fakeMeta(), runs: [res] });
    const row = md.split("\n").find((l) => l.startsWith("| switchboard"))!;
    expect(row).toContain("| 10.25 µs | 10.35 µs |");
    expect(row).toContain("| 1.01× |");
    expect(row).toContain("| 5.0 % |");
    expect(goals([res]).at(-1)!.verdict).toBe("webhook+status 1.01× plain (webhook 1.01×, status 1.00×), plain's own spread 5.0 % — within noise");
  });
});

function fakeMeta(): Report["meta"] {
  return {
    started: "2026-12-01T00:00:00.000Z", durationSec: 1, mode: "quick", argv: [], workers: 1, rounds: 1, busyBeforeCores: 0,
    machine: { cpuModel: "test", cores: 2, memGiB: 1, os: "test", kernel: "0", openFilesLimit: 1024, loadavg: [0, 0, 0], gitCommit: "0", versions: {} } as unknown as Report["meta"]["machine"],
    machineAfter: { loadavg: [0, 0, 0] },
  };
}
