/**
 * Every scenario's arithmetic fed synthetic worker results, and the report's
 * refusal to print flagged figures (goals, ratios, table rows, median of rounds).
 */
import { describe, expect, test } from "bun:test";
import { newTally } from "../../bench/load/delivery-check.ts";
import { encodeHistogram, mergeHistograms, newHistogram, recordMicros } from "../../bench/lib/latency.ts";
import { floorRatioText, ratiosAgainstBaseline } from "../../bench/report/figures.ts";
import { goals, renderMarkdown } from "../../bench/report/markdown.ts";
import { pickMedian } from "../../bench/run.ts";
import type { Report, RunResult } from "../../bench/scenarios/common.ts";
import type { PubSubOutcome } from "../../bench/scenarios/pubsub.ts";
import { chatTally, connectTally, connectWorkersTally, cpuPerPublicationUs, crossnodeTally, fanoutTally, httpTally, type ChatWorkerResult } from "../../bench/scenarios/tally.ts";

/** A histogram of `n` samples of `ms`, encoded as a worker ships it. */
function hist(n: number, ms: number): string {
  const h = newHistogram();
  for (let i = 0; i < n; i++) recordMicros(h, ms * 1000);
  return encodeHistogram(h);
}

function pubsub(over: Partial<PubSubOutcome> = {}, groups: Record<string, Record<string, { n: number; ms: number }>> = {}): PubSubOutcome {
  const g: PubSubOutcome["groups"] = {};
  for (const [name, phases] of Object.entries(groups)) {
    g[name] = {};
    for (const [ph, { n, ms }] of Object.entries(phases)) g[name][ph] = { hist: mergeHistograms([hist(n, ms)]), received: n };
  }
  return { groups: g, published: {}, publisherLag: mergeHistograms([hist(10, 0.1)]), cpu: {}, subscribers: {}, closed: 0, strayAnswers: 0, tally: newTally(), negative: 0, ...over };
}

describe("every scenario's arithmetic, fed synthetic worker results", () => {
  const cleanTally = { valid: 0, duplicates: 0, foreign: 0, unparsed: 0 };

  test("chat: delivered/s summed over workers; missing, duplicated or closed clients flag the run", () => {
    const w = (over: Partial<ChatWorkerResult> = {}): ChatWorkerResult => ({ received: 32_000, seconds: 2, sent: 1000, receivedTotal: 32_000, tally: cleanTally, closed: 0, ...over });
    const clean = chatTally([w(), w()], 32);
    expect(clean.metrics).toMatchObject({ deliveredPerSec: 32_000, publishedPerSec: 1000, expectedTotal: 64_000, receivedTotal: 64_000 });
    expect(clean.flags).toEqual([]);
    expect(chatTally([w(), w({ receivedTotal: 31_000 })], 32).flags).toEqual(["whole run: 1000 of 64000 deliveries missing"]);
    expect(chatTally([w({ closed: 2 }), w()], 32).flags[0]).toBe("2 clients were closed by the server during the run");
    expect(chatTally([w({ tally: { ...cleanTally, duplicates: 5 } }), w()], 32).flags).toEqual(["clients: 5 duplicate (or out-of-order) deliveries"]);
  });

  test("chat (saturating shape): CPU µs per publication from the server's CPU in the window, bytes per delivered message", () => {
    // 2 workers × 32,000 deliveries in 2 s = 64,000 deliveries = 2,000 publications to 32 clients;
    // the server was 0.9 cores busy for 2 s: 1.8 s of CPU ÷ 2,000 = 900 µs per publication.
    const w = (bytes: number): ChatWorkerResult => ({ received: 32_000, bytes, seconds: 2, sent: 1000, receivedTotal: 32_000, tally: cleanTally, closed: 0 });
    const t = chatTally([w(3_200_000), w(3_520_000)], 32, { server: 0.9, seconds: 2 });
    expect(t.metrics.serverCpuUsPerPub).toBe(900);
    expect(t.metrics.wireBytesPerMsg).toBe(105);
    expect(t.flags).toEqual([]);
    // Without a CPU reading or bytes there is no figure, never a zero.
    expect(chatTally([w(1), w(1)], 32).metrics.serverCpuUsPerPub).toBeNaN();
    expect(chatTally([{ ...w(0), bytes: undefined }], 32).metrics.wireBytesPerMsg).toBeNaN();
    expect(cpuPerPublicationUs({ server: 1, seconds: 1 }, 0)).toBeNaN();
    // The honesty checks hold for the new shape: a lost round shows as missing deliveries.
    expect(chatTally([w(1), { ...w(1), receivedTotal: 32_000 - 1600 }], 32, { server: 1, seconds: 2 }).flags).toEqual(["whole run: 1600 of 64000 deliveries missing"]);
  });

  test("fanout: percentiles per phase, expected deliveries from acknowledged publications; every defect flagged", () => {
    const published = { "10/s": { sent: 20, acked: 20, refused: 0, seconds: 2 }, "100/s": { sent: 200, acked: 200, refused: 0, seconds: 2 } };
    const groups = { subs: { "10/s": { n: 20 * 50, ms: 2 }, "100/s": { n: 200 * 50, ms: 4 } } };
    const clean = fanoutTally(pubsub({ published }, groups), [10, 100], 50);
    expect(clean.flags).toEqual([]);
    expect(clean.latency["10/s"].count).toBe(1000);
    expect(clean.latency["10/s"].p50).toBeCloseTo(2, 2);
    expect(clean.latency["100/s"].p99).toBeCloseTo(4, 2);
    expect(clean.metrics).toMatchObject({ delivered_100: 10_000, expected_100: 10_000 });

    const refused = { ...published, "100/s": { sent: 200, acked: 150, refused: 50, seconds: 2 } };
    const r = fanoutTally(pubsub({ published: refused, firstRefusal: '{"t":"err","code":"RATE_LIMIT_EXCEEDED"}' }, { subs: { ...groups.subs, "100/s": { n: 150 * 50, ms: 4 } } }), [10, 100], 50);
    expect(r.metrics.expected_100).toBe(7500);
    expect(r.flags).toEqual(['100/s: 50 of 200 publications refused (first: {"t":"err","code":"RATE_LIMIT_EXCEEDED"})']);

    // Unanswered publications are still expected at every subscriber.
    const unanswered = fanoutTally(pubsub({ published: { ...published, "10/s": { sent: 20, acked: 18, refused: 0, seconds: 2 } } }, { subs: { ...groups.subs, "10/s": { n: 18 * 50, ms: 2 } } }), [10, 100], 50);
    expect(unanswered.flags).toEqual(["10/s: 100 of 1000 deliveries missing", "10/s: 2 of 20 publications never answered"]);

    const broken = fanoutTally(
      pubsub({ published, closed: 3, negative: 7, strayAnswers: 1, tally: { valid: 0, duplicates: 4, foreign: 2, unparsed: 1 } }, { subs: { ...groups.subs, "100/s": { n: 9000, ms: 4 } } }),
      [10, 100],
      50,
    );
    expect(broken.flags).toEqual([
      "100/s: 1000 of 10000 deliveries missing",
      "3 subscribers were closed by the server",
      "subscribers: 4 duplicate (or out-of-order) deliveries",
      "subscribers: 2 frames of another channel",
      "subscribers: 1 delivery frames without a sequence or send time",
      "subscribers: 7 negative latencies (clock skew) clamped to 0",
      "publisher: 1 answers matching no unanswered publication",
    ]);
  });

  test("crossnode: same- and cross-node percentiles, their p99 difference and max-phase throughput", () => {
    const published = { "100/s": { sent: 200, acked: 200, refused: 0, seconds: 2 }, max: { sent: 10_000, acked: 10_000, refused: 0, seconds: 2 } };
    const groups = { same: { "100/s": { n: 200 * 10, ms: 1 }, max: { n: 10_000 * 10, ms: 5 } }, cross: { "100/s": { n: 200 * 10, ms: 3 }, max: { n: 10_000 * 10, ms: 9 } } };
    const clean = crossnodeTally(pubsub({ published }, groups), 100, 10);
    expect(clean.flags).toEqual([]);
    expect(clean.metrics).toMatchObject({ maxPublishedPerSec: 5000, maxCrossDeliveredPerSec: 50_000, sameDelivered: 2000 });
    expect(clean.metrics.p99DeltaMs).toBeCloseTo(2, 2);
    const lost = crossnodeTally(pubsub({ published }, { ...groups, cross: { ...groups.cross, max: { n: 99_000, ms: 9 } } }), 100, 10);
    expect(lost.flags).toEqual(["cross-node max phase: 1000 of 100000 deliveries missing"]);
  });

  test("connect: memory per connection is divided by the connections still alive, and losing any flags the run", () => {
    const ready = [
      { connectFrom: 0, connectTo: 500, subTo: 1000, connectFailed: 0, subFailed: 0 },
      { connectFrom: 10, connectTo: 400, subTo: 900, connectFailed: 0, subFailed: 0 },
    ];
    const clean = connectTally(ready, 2000, 2000, 50_000_000, 56_000_000);
    expect(clean.metrics).toMatchObject({ connections: 2000, connectsPerSec: 4000, subscriptionsPerSec: 8000, rssPerConnBytes: 3000 });
    expect(clean.flags).toEqual([]);
    const closed = connectTally(ready, 2000, 1500, 50_000_000, 56_000_000);
    expect(closed.metrics.rssPerConnBytes).toBe(4000);
    expect(closed.flags).toEqual(["500 of 2000 connections were closed before the memory was read"]);
    const failed = connectTally([{ ...ready[0], connectFailed: 10, firstError: "upgrade refused" }, ready[1]], 2000, 1990, 0, 1990);
    expect(failed.metrics).toMatchObject({ connections: 1990, rssPerConnBytes: 1 });
    expect(failed.flags).toEqual(["10 connects and 0 subscriptions failed"]);
    expect(failed.notes).toEqual(["first failure: upgrade refused"]);
  });

  test("connect-workers: memory summed over the processes per live connection, kernel slab per socket end, every live connection must get every publication", () => {
    const ready = [0, 1].map(() => ({ connectFrom: 0, connectTo: 1000, subTo: 1500, connectFailed: 0, subFailed: 0 }));
    const worker = (over = {}) => ({ alive: 30_000, received: 150_000, tally: cleanTally, negative: 0, ...over });
    const MiB = 2 ** 20;
    const input = { ready, n: 60_000, results: [worker(), worker()], published: { sent: 5, acked: 5, refused: 0 }, rss0: [50 * MiB, 50 * MiB, 50 * MiB, 50 * MiB], rss1: [95 * MiB, 95 * MiB, 95 * MiB, 95 * MiB], slabDelta: 60_000 * 2 * 4096 };
    const t = connectWorkersTally(input);
    expect(t.flags).toEqual([]);
    // 4 × 45 MiB grown over 60,000 connections = 3,146 B each; 4 KiB of slab per socket end.
    expect(t.metrics).toMatchObject({ alive: 60_000, processes: 4, rssPerConnBytes: 3146, kernelPerSocketBytes: 4096, fanoutDelivered: 300_000, fanoutExpected: 300_000, connectsPerSec: 60_000 });
    const lost = connectWorkersTally({ ...input, results: [worker(), worker({ received: 149_990 })] });
    expect(lost.flags).toEqual(["fan-out: 10 of 300000 deliveries missing"]);
    const closed = connectWorkersTally({ ...input, results: [worker(), worker({ alive: 29_000, received: 145_000 })] });
    expect(closed.flags).toEqual(["1000 of 60000 connections were closed before the memory was read"]);
    expect(closed.metrics.rssPerConnBytes).toBe(Math.round((4 * 45 * MiB) / 59_000));
  });

  test("http-publish: requests/s from successful requests; failures and missing deliveries flag the run", () => {
    const sub = (received: number, over = {}) => ({ phases: [{ received, hist: hist(received, 1) }], tally: newTally(), negative: 0, closed: 0, ...over });
    const rs = [{ ok: 600, failed: 0, hist: hist(600, 2) }, { ok: 400, failed: 0, hist: hist(400, 3) }];
    const clean = httpTally(rs, sub(8000), 8, 2000, mergeHistograms);
    expect(clean.metrics).toMatchObject({ requestsPerSec: 500, expectedDeliveries: 8000 });
    expect(clean.latency.request.count).toBe(1000);
    expect(clean.flags).toEqual([]);
    expect(httpTally([{ ...rs[0], failed: 3, firstError: "HTTP 503" }, rs[1]], sub(8000), 8, 2000, mergeHistograms).flags).toEqual(["3 publish requests failed"]);
    expect(httpTally(rs, sub(7000, { negative: 2 }), 8, 2000, mergeHistograms).flags).toEqual([
      "subscribers: 1000 of 8000 deliveries missing",
      "subscribers: 2 negative latencies (clock skew) clamped to 0",
    ]);
  });
});

describe("the report refuses flagged figures", () => {
  const run = (scenario: RunResult["scenario"], target: string, metrics: Record<string, number>, flags: string[] = [], latency: RunResult["latency"] = {}): RunResult => ({
    scenario, target, ok: true, metrics, latency, cpu: {}, params: {}, notes: [], flags,
  });
  const lat = (p50: number, p99: number) => ({ count: 1000, p50, p90: p99, p99, p999: p99, max: p99, mean: p50, curve: [] as [number, number][] });

  test("goals() computes verdicts from clean runs only", () => {
    const chat = [run("chat", "bun-raw", { deliveredPerSec: 1_000_000 }), run("chat", "bun-chat", { deliveredPerSec: 1_250_000 }), run("chat", "switchboard", { deliveredPerSec: 900_000 })];
    const g = goals(chat);
    expect(g.find((x) => x.text === "chat (saturating shape) ≥ 0.85× bun-raw")!.verdict).toBe("0.90× — met");
    expect(g.find((x) => x.text === "chat (saturating shape) ≥ 0.75× bun-chat")!.verdict).toBe("0.72× — **not met**");
    const flaggedChat = [chat[0], run("chat", "switchboard", { deliveredPerSec: 900_000 }, ["whole run: 5 of 100 deliveries missing"])];
    expect(goals(flaggedChat).find((g) => g.text.startsWith("chat"))!.verdict).toContain("not measured");
    // The round-trip shape never stands in for the saturating one.
    const rtt = chat.map((r) => ({ ...r, scenario: "chat-rtt" as const }));
    expect(goals(rtt).filter((g) => g.text.startsWith("chat")).map((g) => g.verdict)).toEqual([expect.stringContaining("not measured"), expect.stringContaining("not measured")]);

    const conn = run("connect", "switchboard", { rssPerConnBytes: 2800, connections: 15_000, connectsPerSec: 12_000 });
    const verdicts = goals([conn]).map((g) => g.verdict);
    expect(verdicts).toContain("2.73 KiB at 15000 connections — met");
    expect(verdicts).toContain("12,000/s — met");
    expect(goals([{ ...conn, metrics: { ...conn.metrics, rssPerConnBytes: 3000, connectsPerSec: 11_999 } }]).map((g) => g.verdict)).toEqual(expect.arrayContaining(["2.93 KiB at 15000 connections — **not met**", "11,999/s — **not met**"]));

    const fan = (t: string, p: number, flags: string[] = []) => run("fanout", t, {}, flags, { "10/s": lat(p, 2 * p), "100/s": lat(p, 2 * p) });
    expect(goals([fan("bun-raw", 1), fan("switchboard", 1.3)]).find((g) => g.text.startsWith("fanout"))!.verdict).toContain("**not met**");
    expect(goals([fan("bun-raw", 1), fan("switchboard", 1.15)]).find((g) => g.text.startsWith("fanout"))!.verdict).toContain("**not met**");
    expect(goals([fan("bun-raw", 1), fan("switchboard", 1.05)]).find((g) => g.text.startsWith("fanout"))!.verdict).toContain("— met");
    expect(goals([fan("bun-raw", 1), fan("switchboard", 1.1, ["100/s: 10 of 1000 deliveries missing"])]).find((g) => g.text.startsWith("fanout"))!.verdict).toBe("not measured");

    const cross = run("crossnode", "switchboard", { p99DeltaMs: 1.5 }, [], { "cross 100/s": lat(2, 4.5), "same 100/s": lat(1, 3) });
    expect(goals([cross]).find((g) => g.text.startsWith("crossnode"))!.verdict).toContain("Δ 1.5 ms — met");
  });

  test("a flagged run's row withholds its figures and says why; ratios ignore it", () => {
    const raw = run("fanout", "bun-raw", {}, [], { "10/s": lat(1, 2), "100/s": lat(1, 2) });
    const bad = run("fanout", "lossy-peer", {}, ["100/s: 1000 of 10000 deliveries missing"], { "10/s": lat(0.5, 1), "100/s": lat(0.5, 1) });
    expect(ratiosAgainstBaseline(bad, [raw, bad]).p50_10).toBeNull();
    const sb = run("fanout", "switchboard", {}, [], { "10/s": lat(1, 2), "100/s": lat(1, 2) });
    expect(ratiosAgainstBaseline(sb, [raw, sb]).p50_10).toBe(1);
    expect(ratiosAgainstBaseline(sb, [{ ...raw, flags: ["x"] }, sb]).p50_10).toBeNull();
    const md = renderMarkdown({ meta: fakeMeta(), runs: [raw, bad] });
    const row = md.split("\n").find((l) => l.startsWith("| lossy-peer"))!;
    expect(row).toContain("**flagged, figures withheld**: 100/s: 1000 of 10000 deliveries missing");
    expect(row).not.toContain("0.50");
    expect(md).toContain("- lossy-peer: **flagged**: 100/s: 1000 of 10000 deliveries missing");
  });

  test("chat rows carry ratios against both floors, the floors against each other, flagged floors against nobody", () => {
    const raw = run("chat", "bun-raw", { deliveredPerSec: 1_000_000, serverCpuUsPerPub: 4, wireBytesPerMsg: 100 });
    const floor = run("chat", "bun-chat", { deliveredPerSec: 2_000_000, serverCpuUsPerPub: 2, wireBytesPerMsg: 50 });
    const sb = run("chat", "switchboard", { deliveredPerSec: 500_000, serverCpuUsPerPub: 8, wireBytesPerMsg: 150 });
    const all = [sb, floor, raw];
    expect(floorRatioText(sb, all, "delivered")).toBe("0.50× raw, 0.25× chat");
    expect(floorRatioText(sb, all, "cpuPerPub")).toBe("2.00× raw, 4.00× chat");
    expect(floorRatioText(raw, all, "delivered")).toBe("0.50× chat");
    expect(floorRatioText(sb, [sb, raw], "delivered")).toBe("0.50×");
    expect(floorRatioText(sb, [sb, { ...floor, flags: ["x"] }, raw], "delivered")).toBe("0.50×");
    const md = renderMarkdown({ meta: fakeMeta(), runs: all });
    const row = md.split("\n").find((l) => l.startsWith("| switchboard"))!;
    expect(row).toContain("500,000 (0.50× raw, 0.25× chat)");
    expect(row).toContain("8.00 µs (2.00× raw, 4.00× chat)");
    expect(row).toContain("150.0 (1.50× raw, 3.00× chat)");
  });

  test("the median of an even number of rounds is the mean of the middle two; flagged rounds are left out", () => {
    const r = (d: number, flags: string[] = []) => run("chat", "switchboard", { deliveredPerSec: d }, flags);
    expect(pickMedian([r(4), r(1), r(3), r(2)]).metrics.deliveredPerSec).toBe(2.5);
    expect(pickMedian([r(4), r(1), r(3)]).metrics.deliveredPerSec).toBe(3);
    const m = pickMedian([r(100, ["whole run: 1 of 2 deliveries missing"]), r(1), r(3)]);
    expect(m.metrics.deliveredPerSec).toBe(2);
    expect(m.notes.at(-1)).toContain("1 round(s) failed or were flagged");
    expect(pickMedian([r(5, ["x"]), r(7, ["y"])]).flags).toEqual(["x", "y"]);
  });
});

function fakeMeta(): Report["meta"] {
  return {
    started: "2026-12-01T00:00:00.000Z", durationSec: 1, mode: "quick", argv: [], workers: 1, rounds: 1, busyBeforeCores: 0,
    machine: { cpuModel: "test", cores: 2, memGiB: 1, os: "test", kernel: "0", openFilesLimit: 1024, loadavg: [0, 0, 0], gitCommit: "0", versions: {} } as unknown as Report["meta"]["machine"],
    machineAfter: { loadavg: [0, 0, 0] },
  };
}
