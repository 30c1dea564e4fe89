/**
 * The bench against real processes: the lean client against a real
 * Switchboard, and a small fanout run against the deliberately broken
 * lossy-peer target, which must come out flagged.
 */
import { describe, expect, test } from "bun:test";
import { channelBytes, newTally, SeqFilter } from "../../bench/load/delivery-check.ts";
import { readIntAfter } from "../../bench/lib/ws-frames.ts";
import { renderMarkdown } from "../../bench/report/markdown.ts";
import type { Report } from "../../bench/scenarios/common.ts";
import { fanoutTally } from "../../bench/scenarios/tally.ts";
import { until } from "../helpers/until.ts";

const enc = new TextEncoder();

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
      expect(md).toContain("fanout p50/p99 within 1.1× of bun-raw: not measured");
    } finally {
      await Promise.all(workers.map((w) => w.stop()));
      await Promise.all(servers.map((x) => x.stop()));
    }
  }, 60_000);

  test("the saturating chat shape: Bun's bare chat server comes out clean with CPU per publication and bytes per message; the lossy target comes out flagged", async () => {
    const { targets } = await import("../../bench/targets.ts");
    const { chatScenario } = await import("../../bench/scenarios/chat.ts");
    const ctx = { quick: true, workers: 1, log() {} };
    const clean = await chatScenario(targets["bun-chat"], ctx);
    expect(clean.error).toBeUndefined();
    expect(clean.flags).toEqual([]);
    // Everything every client sent reached all 32 clients; each client sends whole rounds of 1,600.
    expect(clean.metrics.receivedTotal).toBe(clean.metrics.expectedTotal);
    expect(clean.metrics.sent % 1600).toBe(0);
    expect(clean.metrics.sent).toBeGreaterThanOrEqual(32 * 1600);
    expect(clean.metrics.serverCpuUsPerPub).toBeGreaterThan(0);
    // The shortest text the client sends, `{"ch":"room:bench","s":0,"q":0,"text":"zoo"}`, is 45 bytes.
    expect(clean.metrics.wireBytesPerMsg).toBeGreaterThan(45);
    const md = renderMarkdown({ meta: fakeMeta(), runs: [clean] });
    expect(md).toMatch(/\| bun-chat \| [\d,]+ \| [\d.]+ µs \| [\d.]+ \|/);

    const lossy = await chatScenario(targets["lossy-peer"], ctx);
    expect(lossy.flags!.some((f) => /^whole run: \d+ of \d+ deliveries missing$/.test(f))).toBe(true);
    expect(renderMarkdown({ meta: fakeMeta(), runs: [lossy] })).toContain("| lossy-peer | **flagged, figures withheld**: ");
  }, 180_000);
});
