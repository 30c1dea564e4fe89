/**
 * The bench checks itself: a broken histogram, ratio or frame parser would
 * print plausible but wrong numbers, so each is tested on known inputs.
 */
import { describe, expect, test } from "bun:test";
import { encodeHistogram, mergeHistograms, newHistogram, recordMicros, summarize } from "../../bench/lib/latency.ts";
import { FrameParser, OP_BINARY, OP_CONT, OP_PING, OP_TEXT, encodeClientFrame, encodeServerFrame, readIntAfter, startsWith } from "../../bench/lib/ws-frames.ts";
import { fmtRatio, ratio, ratiosAgainstBaseline } from "../../bench/report/figures.ts";
import { goals, renderMarkdown } from "../../bench/report/markdown.ts";
import { channelBytes, newTally, SeqFilter } from "../../bench/load/delivery-check.ts";
import { spread, type Report, type RunResult } from "../../bench/scenarios/common.ts";
import type { PubSubOutcome } from "../../bench/scenarios/pubsub.ts";
import { chatTally, connectTally, crossnodeTally, fanoutTally, httpTally, type ChatWorkerResult } from "../../bench/scenarios/tally.ts";
import { parseArgs, pickMedian } from "../../bench/run.ts";
import { until } from "../helpers/until.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

function collect() {
  const got: { op: number; text: string; len: number }[] = [];
  const p = new FrameParser((op, buf, s, e) => got.push({ op, text: op === OP_TEXT ? dec.decode(buf.subarray(s, e)) : "", len: e - s }));
  return { p, got };
}

describe("latency histogram", () => {
  test("percentiles of 1..10000 µs are exact to 3 significant digits", () => {
    const h = newHistogram();
    for (let us = 1; us <= 10_000; us++) recordMicros(h, us);
    const s = summarize(h);
    expect(s.count).toBe(10_000);
    expect(s.p50).toBeCloseTo(5, 2); // 5000 µs = 5 ms
    expect(Math.abs(s.p99 - 9.9)).toBeLessThanOrEqual(0.01);
    expect(Math.abs(s.p999 - 9.99)).toBeLessThanOrEqual(0.01);
    expect(Math.abs(s.max - 10)).toBeLessThanOrEqual(0.01);
    expect(s.mean).toBeCloseTo(5.0005, 2);
  });

  test("a single outlier shows at max and p99.9 but not p99", () => {
    const h = newHistogram();
    for (let i = 0; i < 999; i++) recordMicros(h, 1000);
    recordMicros(h, 250_000);
    const s = summarize(h);
    expect(s.p50).toBe(1);
    expect(s.p99).toBe(1);
    expect(Math.abs(s.max - 250)).toBeLessThan(0.5);
    expect(Math.abs(s.p999 - 1)).toBeLessThan(0.01); // 99.9 % of 1000 = the 999th value
  });

  test("histograms survive the worker → coordinator encoding and merge additively", () => {
    const a = newHistogram();
    const b = newHistogram();
    for (let i = 0; i < 900; i++) recordMicros(a, 100);
    for (let i = 0; i < 100; i++) recordMicros(b, 20_000);
    const m = summarize(mergeHistograms([encodeHistogram(a), encodeHistogram(b), ""]));
    expect(m.count).toBe(1000);
    expect(m.p50).toBe(0.1);
    expect(Math.abs(m.p99 - 20)).toBeLessThan(0.02);
  });

  test("negative latencies (clock skew) are clamped to 0, an empty histogram yields NaN", () => {
    const h = newHistogram();
    recordMicros(h, -5);
    expect(summarize(h).max).toBe(0);
    expect(summarize(newHistogram()).p99).toBeNaN();
  });
});

describe("ratios", () => {
  test("value ÷ baseline, null when not computable", () => {
    expect(ratio(850, 1000)).toBe(0.85);
    expect(ratio(3, 2)).toBe(1.5);
    expect(ratio(1, 0)).toBeNull();
    expect(ratio(undefined, 1)).toBeNull();
    expect(ratio(NaN, 1)).toBeNull();
    expect(fmtRatio(0.854)).toBe("0.85×");
    expect(fmtRatio(null)).toBe("–");
  });

  test("against the bun-raw run of the same scenario, and only when it succeeded", () => {
    const run = (target: string, delivered: number, ok = true): RunResult => ({
      scenario: "chat", target, ok, metrics: { deliveredPerSec: delivered }, latency: {}, cpu: {}, params: {}, notes: [],
    });
    const raw = run("bun-raw", 2_000_000);
    const sb = run("switchboard", 1_700_000);
    const other: RunResult = { ...run("bun-raw", 1), scenario: "connect" };
    expect(ratiosAgainstBaseline(sb, [other, sb, raw]).delivered).toBe(0.85);
    expect(ratiosAgainstBaseline(sb, [sb, run("bun-raw", 2_000_000, false)]).delivered).toBeNull();
  });

  test("spread splits load across workers without losing any", () => {
    expect(spread(15_000, 2)).toEqual([7500, 7500]);
    expect(spread(32, 3)).toEqual([11, 11, 10]);
    expect(spread(1, 4)).toEqual([1]);
  });
});

describe("lean client frame parser", () => {
  test("several frames in one chunk, reported in place", () => {
    const { p, got } = collect();
    const chunk = new Uint8Array([...encodeServerFrame(OP_TEXT, '{"t":"msg"}'), ...encodeServerFrame(OP_TEXT, "b"), ...encodeServerFrame(OP_PING, "")]);
    p.push(chunk);
    expect(got.map((g) => g.text)).toEqual(['{"t":"msg"}', "b", ""]);
    expect(got[2].op).toBe(OP_PING);
    expect(p.pending).toBe(0);
  });

  test("a frame split at every possible byte boundary", () => {
    const frame = encodeServerFrame(OP_TEXT, "hello, partial world");
    for (let cut = 1; cut < frame.length; cut++) {
      const { p, got } = collect();
      p.push(frame.subarray(0, cut));
      expect(got).toHaveLength(0);
      p.push(frame.subarray(cut));
      expect(got.map((g) => g.text)).toEqual(["hello, partial world"]);
    }
  });

  test("byte-by-byte delivery of a 16-bit length frame", () => {
    const text = "x".repeat(300);
    const frame = encodeServerFrame(OP_TEXT, text);
    expect(frame[1]).toBe(126);
    const { p, got } = collect();
    for (const b of frame) p.push(new Uint8Array([b]));
    expect(got).toHaveLength(1);
    expect(got[0].text).toBe(text);
  });

  test("16-bit boundary lengths (125, 126, 65535) and a 64-bit length frame", () => {
    for (const n of [125, 126, 65_535, 65_536, 70_000]) {
      const payload = new Uint8Array(n).fill(0x61);
      const frame = encodeServerFrame(OP_BINARY, payload);
      expect(frame[1]).toBe(n < 126 ? n : n < 65_536 ? 126 : 127);
      const { p, got } = collect();
      p.push(frame.subarray(0, 7));
      p.push(frame.subarray(7));
      expect(got.map((g) => g.len)).toEqual([n]);
    }
  });

  test("hand-built 64-bit header", () => {
    const payload = enc.encode("z".repeat(70_000));
    const hdr = [0x81, 127, 0, 0, 0, 0, 0, 0x01, 0x11, 0x70]; // 0x011170 = 70000
    const { p, got } = collect();
    p.push(new Uint8Array([...hdr, ...payload.subarray(0, 10)]));
    p.push(payload.subarray(10));
    expect(got).toHaveLength(1);
    expect(got[0].len).toBe(70_000);
  });

  test("fragmented message is assembled once, with a ping interleaved", () => {
    const { p, got } = collect();
    p.push(encodeServerFrame(OP_TEXT, '{"t":"m', false));
    p.push(encodeServerFrame(OP_PING, "hb"));
    p.push(new Uint8Array([...encodeServerFrame(OP_CONT, 'sg","x"', false), ...encodeServerFrame(OP_CONT, ":1}", true)]));
    expect(got.map((g) => g.op)).toEqual([OP_PING, OP_TEXT]);
    expect(got[1].text).toBe('{"t":"msg","x":1}');
    expect(p.frames).toBe(2);
  });

  test("masked server frames and orphan continuations are protocol errors", () => {
    expect(() => collect().p.push(new Uint8Array([0x81, 0x81, 1, 2, 3, 4, 5]))).toThrow();
    expect(() => collect().p.push(encodeServerFrame(OP_CONT, "x"))).toThrow();
  });

  test("client frames are masked and decode back to the payload", () => {
    const mask = new Uint8Array([1, 2, 3, 4]);
    for (const n of [5, 200, 70_000]) {
      const text = "q".repeat(n);
      const f = encodeClientFrame(OP_TEXT, text, mask);
      expect(f[0]).toBe(0x81);
      expect(f[1] & 0x80).toBe(0x80);
      const hdr = n < 126 ? 2 : n < 65_536 ? 4 : 10;
      const body = f.subarray(hdr + 4).map((b, i) => b ^ mask[i & 3]);
      expect(dec.decode(body)).toBe(text);
    }
  });

  test("message matching and timestamp extraction without decoding", () => {
    const bytes = enc.encode('xx{"t":"msg","ch":"room:bench","data":{"bt":1732000000123456},"ts":1}');
    expect(startsWith(bytes, 2, bytes.length, enc.encode('{"t":"msg"'))).toBe(true);
    expect(startsWith(bytes, 0, bytes.length, enc.encode('{"t":"msg"'))).toBe(false);
    expect(readIntAfter(bytes, 2, bytes.length, enc.encode('"bt":'))).toBe(1732000000123456);
    expect(readIntAfter(bytes, 2, bytes.length, enc.encode('"zz":'))).toBe(-1);
    // A key cut off by the end bound is not found.
    expect(readIntAfter(bytes, 2, 40, enc.encode('"bt":'))).toBe(-1);
  });
});

describe("rounds", () => {
  test("the reported round is the median by the scenario's first figure; failed rounds are ignored", () => {
    const run = (delivered: number, ok = true): RunResult => ({
      scenario: "chat", target: "switchboard", ok, metrics: { deliveredPerSec: delivered }, latency: {}, cpu: {}, params: {}, notes: [],
    });
    const m = pickMedian([run(3), run(1), run(0, false), run(2)]);
    expect(m.metrics.deliveredPerSec).toBe(2);
    expect(m.rounds).toHaveLength(4);
    expect(m.notes[0]).toContain("median of 3");
    expect(pickMedian([run(0, false)]).ok).toBe(false);
  });
});

describe("command line", () => {
  test("scenarios, targets, quick", () => {
    const a = parseArgs(["chat", "--targets", "bun-raw,switchboard", "--quick"]);
    expect(a.scenarios).toEqual(["chat"]);
    expect(a.targets).toEqual(["bun-raw", "switchboard"]);
    expect(a.quick).toBe(true);
    expect(parseArgs(["all"]).scenarios).toHaveLength(5);
    expect(() => parseArgs(["nope"])).toThrow();
    expect(() => parseArgs(["chat", "--targets", "bogus"])).toThrow();
    expect(parseArgs(["chat", "--rounds", "3"]).rounds).toBe(3);
    expect(() => parseArgs(["chat", "--rounds", "0"])).toThrow();
  });
});

describe("lean client against a real Bun.serve", () => {
  test("hello sent with the 101 is not lost, sub is acknowledged, every publication is counted once", async () => {
    const server = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      fetch(req, srv) {
        if (srv.upgrade(req)) return;
        return new Response("no", { status: 400 });
      },
      websocket: {
        open(ws) {
          ws.send('{"t":"hello","conn":"c1"}');
        },
        message(ws, raw) {
          const f = JSON.parse(String(raw)) as { id: number; ch: string };
          ws.subscribe(f.ch);
          ws.send(`{"t":"ok","id":${f.id}}`);
          // 1000 publications of mixed sizes (7-, 16- and 64-bit lengths) plus non-publication frames.
          for (let i = 0; i < 1000; i++) {
            ws.send(`{"t":"msg","ch":"${f.ch}","data":{"bt":${i}},"pad":"${"p".repeat(i % 50 === 0 ? 70_000 : i % 3 === 1 ? 300 : 1)}"}`);
            if (i % 100 === 0) ws.send('{"t":"ok","id":99}');
          }
        },
      },
    });
    try {
      const { openClient, subscribe } = await import("../../bench/load/dialects.ts");
      const spec = { dialect: "switchboard" as const, token: "t" };
      const c = await openClient({ host: "127.0.0.1", port: server.port as number }, spec);
      let sum = 0;
      const bt = enc.encode('"bt":');
      const done = Promise.withResolvers<void>();
      c.onMsg = (buf, s, e) => {
        sum += readIntAfter(buf, s, e, bt);
        if (c.received === 1000) done.resolve();
      };
      await subscribe(c, spec, "room:x", 1);
      await done.promise;
      expect(c.received).toBe(1000);
      expect(sum).toBe((999 * 1000) / 2);
      expect(c.acks).toBe(1 + 10);
      c.close();
    } finally {
      server.stop(true);
    }
  });
});

describe("what a subscriber counts as received", () => {
  const frame = (ch: string, fields: string) => enc.encode(`{"t":"msg","ch":"${ch}","ev":"m","data":{${fields}},"ts":1}`);
  const feed = (f: SeqFilter, b: Uint8Array) => f.accept(b, 0, b.length);

  test("duplicates, out-of-order frames, other channels' frames and frames without a sequence are not received", () => {
    const t = newTally();
    const f = new SeqFilter(t, channelBytes("room:bench"));
    expect(feed(f, frame("room:bench", '"bt":5,"q":1'))).toBe(true);
    expect(feed(f, frame("room:bench", '"bt":5,"q":1'))).toBe(false); // the same again
    expect(feed(f, frame("room:bench", '"bt":6,"q":3'))).toBe(true);
    expect(feed(f, frame("room:bench", '"bt":6,"q":2'))).toBe(false); // older than the last one
    expect(feed(f, frame("room:other", '"bt":7,"q":4'))).toBe(false);
    expect(feed(f, frame("room:bench", '"bt":7'))).toBe(false);
    expect(t).toEqual({ valid: 2, duplicates: 2, foreign: 1, unparsed: 1 });
  });

  test("sequences are per sender: interleaved senders are not duplicates of each other", () => {
    const t = newTally();
    const f = new SeqFilter(t, channelBytes("room:bench"));
    for (const [s, q] of [[0, 0], [1, 0], [1, 1], [0, 1], [2, 0], [0, 1]]) feed(f, frame("room:bench", `"s":${s},"q":${q}`));
    expect(t).toEqual({ valid: 5, duplicates: 1, foreign: 0, unparsed: 0 });
  });

  test("a negative latency is recorded as 0 and reported to the caller", () => {
    const h = newHistogram();
    expect(recordMicros(h, -1)).toBe(true);
    expect(recordMicros(h, 10)).toBe(false);
  });
});

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
    const chat = [run("chat", "bun-raw", { deliveredPerSec: 1_000_000 }), run("chat", "switchboard", { deliveredPerSec: 900_000 })];
    expect(goals(chat).find((g) => g.text.startsWith("chat"))!.verdict).toBe("0.90× — met");
    const flaggedChat = [chat[0], run("chat", "switchboard", { deliveredPerSec: 900_000 }, ["whole run: 5 of 100 deliveries missing"])];
    expect(goals(flaggedChat).find((g) => g.text.startsWith("chat"))!.verdict).toContain("not measured");

    const conn = run("connect", "switchboard", { rssPerConnBytes: 3000, connections: 15_000, connectsPerSec: 12_000 });
    const verdicts = goals([conn]).map((g) => g.verdict);
    expect(verdicts).toContain("2.93 KiB at 15000 connections — met");
    expect(verdicts).toContain("12,000/s — met");

    const fan = (t: string, p: number, flags: string[] = []) => run("fanout", t, {}, flags, { "10/s": lat(p, 2 * p), "100/s": lat(p, 2 * p) });
    expect(goals([fan("bun-raw", 1), fan("switchboard", 1.3)]).find((g) => g.text.startsWith("fanout"))!.verdict).toContain("**not met**");
    expect(goals([fan("bun-raw", 1), fan("switchboard", 1.1)]).find((g) => g.text.startsWith("fanout"))!.verdict).toContain("— met");
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

describe("against real processes", () => {
  test("lean client against a real Switchboard: answers matched by id, refusals counted, other channels' frames not received", async () => {
    const { startServer, token } = await import("../helpers/server.ts");
    const { openClient, subscribe, pubFrame } = await import("../../bench/load/dialects.ts");
    const s = await startServer();
    try {
      const spec = { dialect: "switchboard" as const, token: await token({ sub: "bench-1", rooms: ["bench", "other"] }) };
      const c = await openClient({ host: "127.0.0.1", port: s.port }, spec);
      await subscribe(c, spec, "room:bench", 1);
      await subscribe(c, spec, "room:other", 2);
      const answers: [boolean, number][] = [];
      const tally = newTally();
      const filter = new SeqFilter(tally, channelBytes("room:bench"));
      const fresh: number[] = [];
      c.onMsg = (buf, st, e) => {
        if (filter.accept(buf, st, e)) fresh.push(readIntAfter(buf, st, e, enc.encode('"q":')));
      };
      const all = Promise.withResolvers<void>();
      c.onAnswer = (ok, id) => {
        answers.push([ok, id]);
        if (answers.length === 7) all.resolve();
      };
      for (let q = 0; q < 5; q++) c.sendText(pubFrame(spec, "room:bench", "m", `{"bt":1,"q":${q}}`, 10 + q));
      c.sendText(pubFrame(spec, "nowhere:x", "m", `{"q":0}`, 15));
      c.sendText(pubFrame(spec, "room:other", "m", `{"bt":1,"q":99}`, 16));
      await all.promise;
      expect(answers.sort((a, b) => a[1] - b[1])).toEqual([[true, 10], [true, 11], [true, 12], [true, 13], [true, 14], [false, 15], [true, 16]]);
      expect(c.errs).toBe(1);
      // The subscribe acks (ids 1, 2) came before onAnswer was set; all 7 answers after it carried their id.
      await until(async () => (tally.valid + tally.foreign === 6 ? true : undefined), "six deliveries");
      expect(fresh).toEqual([0, 1, 2, 3, 4]);
      expect(tally).toEqual({ valid: 5, duplicates: 0, foreign: 1, unparsed: 0 });
      c.close();
    } finally {
      await s.stop();
    }
  }, 30_000);

  test("a run against a deliberately broken target (drops 1 in 10, duplicates 1 in 20) comes out flagged, with no figures", async () => {
    const { targets } = await import("../../bench/targets.ts");
    const { runPubSub } = await import("../../bench/scenarios/pubsub.ts");
    const { applyTally, newResult } = await import("../../bench/scenarios/common.ts");
    const t = targets["lossy-peer"];
    const servers = await t.start({ nodes: 1 });
    const workers: import("../../bench/lib/workers.ts").LoadWorker[] = [];
    try {
      const ep = { host: "127.0.0.1", port: servers[0]!.port };
      const phases = [
        { name: "warmup", fromMs: 0, toMs: 300, rate: 20 },
        { name: "100/s", fromMs: 300, toMs: 1300, rate: 100 },
      ];
      const o = await runPubSub(t, "lossy", [{ name: "subs", ep, subscribers: 40, workers: 1 }], ep, phases, workers, servers.map((x) => x.pid));
      const res = newResult("fanout", t.name, {});
      res.ok = true;
      applyTally(res, fanoutTally(o, [100], 40));
      expect(o.published["100/s"]!.sent).toBe(100);
      const missing = res.flags!.find((f) => f.startsWith("100/s:") && f.endsWith("deliveries missing"));
      expect(missing).toBeDefined();
      // One in ten of 100 × 40 deliveries dropped (the pattern runs over warm-up deliveries too).
      expect(Number(/^100\/s: (\d+) of 4000/.exec(missing!)?.[1])).toBeGreaterThanOrEqual(350);
      expect(res.flags!.some((f) => /^subscribers: \d+ duplicate/.test(f))).toBe(true);
      const md = renderMarkdown({ meta: fakeMeta(), runs: [res] });
      expect(md).toContain("| lossy-peer | **flagged, figures withheld**: ");
      expect(md).toContain("fanout p50/p99 within 1.2× of bun-raw: not measured");
    } finally {
      await Promise.all(workers.map((w) => w.stop()));
      await Promise.all(servers.map((x) => x.stop()));
    }
  }, 60_000);
});
