/**
 * Publishes per second through the Redis engine on one redis-server the
 * bench starts itself (issue 16: what the publish marker, one more GET and
 * SET per publish, costs). Closed loop: WINDOW publications in flight over
 * CHANNELS channels with history, for MS milliseconds after a warm-up; prints
 * publishes/s, publish latency p50/p99, and the CPU of redis-server (from
 * /proc/<pid>/stat) and of this process, per publish; then the key count and
 * Redis memory (redis-cli).
 * Usage: node_modules/.bin/bun bench/micro/redis-publish.ts   (MS 5000, WINDOW 64, CHANNELS 16)
 */
import { readFileSync } from "node:fs";
import type { EngineSink } from "../../src/engine/engine.ts";
import { RedisEngine } from "../../src/engine/redis/redis-engine.ts";
import { createLogger } from "../../src/observability/logger.ts";
import { startRedis } from "../targets.ts";

const ms = Number(process.env.MS ?? 5000);
const window = Number(process.env.WINDOW ?? 64);
const channels = Number(process.env.CHANNELS ?? 16);
const redis = await startRedis();
const sink: EngineSink = { deliver() {}, hasSubscribers: () => false, control() {}, availability() {} };
const engine = new RedisEngine({
  url: redis.url,
  prefix: "bench",
  nodeId: "n0",
  shards: 16,
  commandTimeoutMs: 1000,
  presenceTtlSec: 15,
  streamMaxLen: 100_000,
  readBlockMs: 1000,
  readCount: 500,
  logger: createLogger("error"),
});
await engine.start(sink);
const opts = { historySize: 100, historyTtlSec: 3600 };
const data = JSON.stringify({ text: "a chat line of about sixty bytes, as the chat bench sends" });

/** Clock ticks (utime + stime) of a process. */
function ticks(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, "utf8");
  const rest = f.slice(f.lastIndexOf(")") + 2).split(" ");
  return Number(rest[11]) + Number(rest[12]);
}
const TICK_MS = 10; // USER_HZ 100

async function run(durationMs: number, record: boolean): Promise<{ n: number; lat: number[] }> {
  const lat: number[] = [];
  let n = 0;
  const end = performance.now() + durationMs;
  const lane = async (i: number) => {
    const key = `/room:c${i % channels}`;
    while (performance.now() < end) {
      const t0 = performance.now();
      await engine.publish(key, { ch: `room:c${i % channels}`, ev: "m", data, ts: Date.now() }, opts);
      n++;
      if (record) lat.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: window }, (_, i) => lane(i)));
  return { n, lat };
}

await run(1000, false);
const r0 = ticks(redis.pid);
const c0 = process.cpuUsage();
const t0 = performance.now();
const { n, lat } = await run(ms, true);
const wall = performance.now() - t0;
const redisMs = (ticks(redis.pid) - r0) * TICK_MS;
const c = process.cpuUsage(c0);
lat.sort((a, b) => a - b);
const q = (p: number) => lat[Math.min(lat.length - 1, Math.floor(lat.length * p))]!.toFixed(2);
console.log(
  `redis-publish: ${Math.round((n * 1000) / wall)} publishes/s (window ${window}, ${channels} channels); latency ms p50 ${q(0.5)} p99 ${q(0.99)}; ` +
    `redis-server CPU ${((redisMs * 1000) / n).toFixed(1)} µs/publish (${(redisMs / wall).toFixed(2)} cores); node CPU ${((c.user + c.system) / n).toFixed(1)} µs/publish`,
);
// What the keys hold after the run (markers live 30 s): key count and Redis memory, read with redis-cli.
const cli = (...args: string[]) => Bun.spawnSync(["redis-cli", "-u", redis.url, ...args]).stdout.toString();
const usedMemory = /used_memory:(\d+)/.exec(cli("info", "memory"))?.[1];
const oneMarker = cli("--scan", "--pattern", "*:t:*").split("\n")[0];
const markerBytes = oneMarker ? cli("memory", "usage", oneMarker).trim() : "-";
console.log(`redis-publish: after the run ${cli("dbsize").trim()} keys, used_memory ${(Number(usedMemory) / 1048576).toFixed(1)} MiB; one publish marker (MEMORY USAGE) ${markerBytes} B`);
await engine.stop();
await redis.stop();
