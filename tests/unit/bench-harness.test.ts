/**
 * The bench checks itself: a broken histogram, ratio or frame parser would
 * print plausible but wrong numbers, so each is tested on known inputs.
 */
import { describe, expect, test } from "bun:test";
import { encodeHistogram, mergeHistograms, newHistogram, recordMicros, summarize } from "../../bench/lib/latency.ts";
import { FrameParser, OP_BINARY, OP_CONT, OP_PING, OP_TEXT, encodeClientFrame, encodeServerFrame, readIntAfter, startsWith } from "../../bench/lib/ws-frames.ts";
import { fmtRatio, ratio, ratiosAgainstBaseline } from "../../bench/report/figures.ts";
import { channelBytes, newTally, SeqFilter } from "../../bench/load/delivery-check.ts";
import { spread, type RunResult } from "../../bench/scenarios/common.ts";
import { parseArgs, pickMedian } from "../../bench/run.ts";

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
    expect(parseArgs(["all"]).scenarios).toEqual(["connect", "chat", "chat-rtt", "fanout", "crossnode", "http-publish"]);
    // Scenarios that start their own PostgreSQL or need 60,000 sockets run only by name.
    expect(parseArgs(["chat-store"]).scenarios).toEqual(["chat-store"]);
    expect(parseArgs(["call-setup"]).scenarios).toEqual(["call-setup"]);
    expect(() => parseArgs(["nope"])).toThrow();
    expect(() => parseArgs(["chat", "--targets", "bogus"])).toThrow();
    expect(parseArgs(["chat", "--rounds", "3"]).rounds).toBe(3);
    expect(() => parseArgs(["chat", "--rounds", "0"])).toThrow();
  });

  test("a run writes its own files; only --save touches RESULTS.md; --no-save writes nothing", () => {
    expect(parseArgs(["chat"]).output).toBe("write");
    expect(parseArgs(["chat", "--save"]).output).toBe("save");
    expect(parseArgs(["chat", "--no-save"]).output).toBe("none");
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
