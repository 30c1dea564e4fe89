/**
 * How long one large `history` read blocks the event loop on the embedded
 * engine (issue 16, item 1): a room filled with ~1 MB messages, then reads
 * bounded by the answer caps (HISTORY_ANSWER_MAX_BYTES for `history`,
 * RECOVERY_MAX_BYTES for a `sub since` backlog). The engine's read is
 * synchronous, so its wall time is the stall; each case runs REPS times and
 * prints min / median / max (min is the figure without other load; the
 * machine is shared, so max includes being descheduled) plus CPU time.
 * Usage: node_modules/.bin/bun bench/history-stall.ts   (HS_MESSAGES 100, HS_BYTES 1000000, HS_REPS 30)
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { EngineSink } from "../src/engine/engine.ts";
import { HISTORY_ANSWER_MAX_BYTES, RECOVERY_MAX_BYTES } from "../src/engine/history-budget.ts";
import { LocalEngine } from "../src/engine/local/local-engine.ts";
import { createLogger } from "../src/observability/logger.ts";

const messages = Number(process.env.HS_MESSAGES ?? 100);
const bytes = Number(process.env.HS_BYTES ?? 1_000_000);
const reps = Number(process.env.HS_REPS ?? 30);
const dir = mkdtempSync(join(tmpdir(), "sb-hs-"));
const sink: EngineSink = { deliver() {}, hasSubscribers: () => false, control() {}, availability() {} };
const engine = new LocalEngine({ dataDir: dir, nodeId: "hs", logger: createLogger("error") });
await engine.start(sink);
const opts = { historySize: messages, historyTtlSec: 3600 };
const key = "/room:big";
const data = JSON.stringify({ blob: "x".repeat(bytes - 12) });
let first = "";
for (let i = 0; i < messages; i++) {
  const off = await engine.publish(key, { ch: "room:big", ev: "n", data, ts: Date.now() }, opts);
  if (i === 0) first = off;
}

function measure(name: string, read: () => { frames: string[] }): void {
  const wall: number[] = [];
  const cpu: number[] = [];
  let answerBytes = 0;
  for (let r = 0; r < reps; r++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const res = read();
    // What the hub does next on the same tick: one answer string.
    const answer = '{"t":"ok","id":1,"messages":[' + res.frames.join(",") + "]}";
    wall.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
    answerBytes = answer.length;
  }
  wall.sort((a, b) => a - b);
  cpu.sort((a, b) => a - b);
  const f = (x: number) => x.toFixed(2);
  console.log(`${name}: answer ${(answerBytes / 1048576).toFixed(2)} MiB; wall ms min ${f(wall[0]!)} p50 ${f(wall[Math.floor(reps / 2)]!)} max ${f(wall.at(-1)!)}; cpu ms p50 ${f(cpu[Math.floor(reps / 2)]!)}`);
}

console.log(`history-stall: ${messages} messages of ${bytes} bytes in one room, ${reps} reads per case`);
const read = (q: Parameters<LocalEngine["history"]>[1]) => () => engine.history(key, q, opts);
measure("history newest, limit 100, 1 MiB cap", read({ limit: 100, maxBytes: HISTORY_ANSWER_MAX_BYTES }));
measure("history since 0, limit 100, 1 MiB cap", read({ since: "0", limit: 100, maxBytes: HISTORY_ANSWER_MAX_BYTES }));
measure(`sub since first, limit 100, recovery cap ${RECOVERY_MAX_BYTES / 1048576} MiB`, read({ since: first, limit: 100, maxBytes: RECOVERY_MAX_BYTES }));
await engine.stop();
rmSync(dir, { recursive: true, force: true });
