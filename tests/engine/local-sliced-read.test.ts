import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RECOVERY_MAX_BYTES } from "../../src/engine/history-budget.ts";
import { LocalEngine } from "../../src/engine/local/local-engine.ts";
import { RecordingSink } from "./recording-sink.ts";
import { testLogger } from "../helpers/test-log.ts";

/** The embedded engine's large `since` reads go on across event-loop turns (issue 16): same answer, exact `recovered`. */
const logger = testLogger("engine-local-sliced");
const dirs: string[] = [];
const engines: LocalEngine[] = [];
afterEach(async () => {
  await Promise.all(engines.splice(0).map((e) => e.stop()));
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function filled(n: number, bytes: number, historySize: number) {
  const dir = mkdtempSync(join(tmpdir(), "sb-sliced-"));
  dirs.push(dir);
  const engine = new LocalEngine({ dataDir: dir, nodeId: "n1", logger });
  engines.push(engine);
  await engine.start(new RecordingSink());
  const opts = { historySize, historyTtlSec: 3600 };
  const blob = "b".repeat(bytes);
  for (let i = 1; i <= n; i++) await engine.publish("/room:big", { ch: "room:big", ev: "e", data: JSON.stringify({ i, blob }), ts: Date.now() }, opts);
  return { engine, opts };
}

const seqs = (frames: string[]) => frames.map((f) => Number(JSON.parse(f).off));
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

test("a 4 MiB since-read answers later, read in slices, with the same frames as one read and the offset current when it began", async () => {
  const { engine, opts } = await filled(50, 100_000, 100);
  const pending = engine.history("/room:big", { since: "0", limit: 100, maxBytes: RECOVERY_MAX_BYTES }, opts);
  expect(pending).toBeInstanceOf(Promise);
  // Published while the read is under way: not part of it.
  const later = engine.publish("/room:big", { ch: "room:big", ev: "e", data: '"later"', ts: Date.now() }, opts);
  const res = await pending;
  expect(await later).toBe("51");
  expect(res.off).toBe("50");
  expect(res.recovered).toBe(true);
  expect(res.more).toBe(true);
  const n = res.frames.length;
  // As many as fit 4 MiB (frames are ~100 KB), in order from 1.
  expect(n).toBeGreaterThanOrEqual(40);
  expect(n).toBeLessThan(50);
  expect(seqs(res.frames)).toEqual(range(1, n));
  const whole = await engine.history("/room:big", { since: "0", limit: 100 }, opts);
  expect(res.frames).toEqual(whole.frames.slice(0, n));
  // The rest pages on, up to the offset the first read reported and past it.
  const rest = await engine.history("/room:big", { since: String(n), limit: 100, maxBytes: RECOVERY_MAX_BYTES }, opts);
  expect(seqs(rest.frames)).toEqual(range(n + 1, 51));
  expect(rest).toMatchObject({ recovered: true, off: "51" });
});

test("a small since-read still answers at once", async () => {
  const { engine, opts } = await filled(5, 1000, 100);
  const res = engine.history("/room:big", { since: "2", limit: 100, maxBytes: RECOVERY_MAX_BYTES }, opts);
  expect(res).not.toBeInstanceOf(Promise);
  expect(seqs((res as { frames: string[] }).frames)).toEqual([3, 4, 5]);
});

test("messages trimmed away while a sliced read is under way: the read stops before them and says recovered: false", async () => {
  const { engine, opts } = await filled(40, 100_000, 40);
  const pending = engine.history("/room:big", { since: "0", limit: 100, maxBytes: RECOVERY_MAX_BYTES }, opts);
  expect(pending).toBeInstanceOf(Promise);
  // 40 more publications in one batch: the size trim drops every message the read has not reached yet.
  await Promise.all(range(1, 40).map((i) => engine.publish("/room:big", { ch: "room:big", ev: "e", data: String(i), ts: Date.now() }, opts)));
  const res = await pending;
  expect(res.recovered).toBe(false);
  expect(res.more).toBe(true);
  expect(res.off).toBe("40");
  // What it did send is contiguous from the start: no hole inside an answer.
  expect(res.frames.length).toBeGreaterThan(0);
  expect(res.frames.length).toBeLessThan(40);
  expect(seqs(res.frames)).toEqual(range(1, res.frames.length));
});
