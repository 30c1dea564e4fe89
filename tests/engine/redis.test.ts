import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { RedisEngine, type RedisEngineOptions } from "../../src/engine/redis/redis-engine.ts";
import { SwitchboardError } from "../../src/protocol/errors.ts";
import { startRedis, type RedisServer } from "../helpers/redis.ts";
import { engineContract, pub, type EngineNode } from "./contract.ts";
import { capturedLogger } from "../helpers/captured-log.ts";
import { until } from "../helpers/until.ts";
import { redisHarness, redisOptions, startRedisNode, uniquePrefix } from "./harnesses.ts";
import { onNode } from "../helpers/on-node.ts";
import { RecordingSink } from "./recording-sink.ts";

const log = capturedLogger(process.env.TEST_LOG_LEVEL === "warn" ? "warn" : "error");
const logger = log.logger;
let redis: RedisServer;

beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  log.flush();
  await redis?.stop();
});

function options(prefix: string, nodeId: string, over: Partial<RedisEngineOptions> = {}): RedisEngineOptions {
  return redisOptions(redis.url, prefix, nodeId, logger, over);
}

function startNode(prefix: string, nodeId: string, over: Partial<RedisEngineOptions> = {}): Promise<EngineNode & { engine: RedisEngine }> {
  return startRedisNode(options(prefix, nodeId, over));
}

/** The expiry (ms) Redis holds for a presence member's lease, over every shard of `prefix`. */
async function leaseExpiry(prefix: string, key: string, conn: string): Promise<number> {
  for (const zset of (await redis.cli("--scan", "--pattern", `{${prefix}:s*}:pe`)).split("\n").filter(Boolean)) {
    const lines = (await redis.cli("zrange", zset, "0", "-1", "withscores")).split("\n");
    const i = lines.findIndex((l) => l === `${key}\0${conn}`);
    if (i >= 0) return Number(lines[i + 1]);
  }
  throw new Error(`no lease for ${key} ${conn}`);
}

engineContract("RedisEngine", redisHarness(() => redis.url, logger), { multiNode: true });
// The same contract on Node (tests/engine/redis.node.ts, on this file's redis-server), checked here case by case.
onNode("engine contract: RedisEngine", "tests/engine/redis.node.ts", { env: () => ({ SB_TEST_REDIS_URL: redis.url }) });

describe("RedisEngine specifics", () => {
  test("start rejects SERVICE_UNAVAILABLE when Redis is unreachable", log.wrap(async () => {
    const engine = new RedisEngine({ ...options(uniquePrefix(), "n0"), url: "redis://127.0.0.1:1" });
    const err = await engine.start(new RecordingSink()).catch((e) => e);
    expect(err).toBeInstanceOf(SwitchboardError);
    expect(err.code).toBe("SERVICE_UNAVAILABLE");
    await engine.stop();
  }));

  test("a dead node's presence members vanish within two heartbeats and leave is emitted once", log.wrap(async () => {
    const prefix = uniquePrefix();
    const a = await startNode(prefix, "a");
    const b = await startNode(prefix, "b");
    const dying = await startNode(prefix, "dying");
    try {
      await dying.engine.presenceAdd("/room:p", { user: "ghost", conn: "dying.1" });
      await a.engine.presenceAdd("/room:p", { user: "alive", conn: "a.1" });
      expect((await a.engine.presence("/room:p")).length).toBe(2);
      const diedAt = Date.now();
      await dying.engine.stop(); // stops heartbeats without removing members, like a crash
      const isLeave = (f: Record<string, any>) => f.t === "leave" && f.conn === "dying.1";
      await a.sink.until(() => a.sink.frames("/room:p").some(isLeave), 4000, "leave");
      await b.sink.until(() => b.sink.frames("/room:p").some(isLeave), 2000, "leave on b");
      expect(Date.now() - diedAt).toBeLessThan(2 * 500 + 600);
      expect(await a.engine.presence("/room:p")).toEqual([{ user: "alive", conns: 1 }]);
      // The live member outlives its first lease: its expiry in Redis is pushed forward by
      // heartbeats until it lies past the time the lease it had when the other died ran out.
      const expiry = () => leaseExpiry(prefix, "/room:p", "a.1");
      const first = await expiry();
      await until(async () => ((await expiry()) > first + 1500 ? true : undefined), "two heartbeats of the live member");
      expect(await b.engine.presence("/room:p")).toEqual([{ user: "alive", conns: 1 }]);
      expect(a.sink.frames("/room:p").filter(isLeave).length).toBe(1);
      expect(b.sink.frames("/room:p").filter(isLeave).length).toBe(1);
    } finally {
      await Promise.all([a.engine.stop(), b.engine.stop()]);
    }
  }));

  test("Redis frozen (SIGSTOP): the publish in flight is held until Redis answers and then refused, later ones are refused at once, health says why, recovers after SIGCONT", log.wrap(async () => {
    const own = await startRedis();
    const sink = new RecordingSink();
    const engine = new RedisEngine({ ...options(uniquePrefix(), "n0"), url: own.url });
    await engine.start(sink);
    try {
      const before = await engine.publish("/room:f", pub("room:f", 0), { historySize: 10, historyTtlSec: 60 });
      own.pause();
      // Sent to the frozen Redis: whether it will run is unknown, so the answer waits for Redis.
      const held = engine.publish("/room:f", pub("room:f", 1), { historySize: 10, historyTtlSec: 60 }).catch((e) => e);
      await sink.until(() => sink.availabilityChanges.at(-1)?.up === false, 3000, "availability down");
      expect(engine.health().up).toBe(false);
      expect(engine.health().detail).toContain("redis unavailable");
      expect(engine.health().publishesInDoubt).toBe(1);
      // Known unreachable now: refused without being sent.
      const err = await engine.publish("/room:f", pub("room:f", 9), { historySize: 10, historyTtlSec: 60 }).catch((e) => e);
      expect(err).toBeInstanceOf(SwitchboardError);
      expect(err.code).toBe("SERVICE_UNAVAILABLE");
      own.resume();
      // Redis reaches the held publish after its deadline and refuses it; the marker is fenced and the publish refused.
      const late = await held;
      expect(late).toBeInstanceOf(SwitchboardError);
      expect(late.code).toBe("SERVICE_UNAVAILABLE");
      await sink.until(() => sink.availabilityChanges.at(-1)?.up === true, 5000, "availability up");
      const after = await engine.publish("/room:f", pub("room:f", 2), { historySize: 10, historyTtlSec: 60 });
      // the refused publish was not applied late: offsets continue without a hole and history holds only 0 and 2
      expect(BigInt(after)).toBe(BigInt(before) + 1n);
      const h = await engine.history("/room:f", { limit: 10 }, { historySize: 10, historyTtlSec: 60 });
      expect(h.frames.map((f) => JSON.parse(f).data.n)).toEqual([0, 2]);
    } finally {
      own.resume();
      await engine.stop();
      await own.stop();
    }
  }));

  test("Redis killed: publish fails fast, the bus resumes without duplicates after restart (AOF)", log.wrap(async () => {
    const own = await startRedis({ appendonly: true, appendfsync: "always" });
    const prefix = uniquePrefix();
    const a = await startNode(prefix, "a", { url: own.url });
    const b = await startNode(prefix, "b", { url: own.url });
    const opts = { historySize: 100, historyTtlSec: 60 };
    try {
      const acked: string[] = [];
      for (let i = 0; i < 5; i++) acked.push(await a.engine.publish("/room:k", pub("room:k", i), opts));
      await b.sink.until(() => b.sink.frames("/room:k").length === 5);
      await own.kill();
      const t0 = Date.now();
      const err = await a.engine.publish("/room:k", pub("room:k", 99), opts).catch((e) => e);
      expect(err.code).toBe("SERVICE_UNAVAILABLE");
      expect(Date.now() - t0).toBeLessThan(400);
      await b.sink.until(() => b.sink.availabilityChanges.at(-1)?.up === false, 3000, "b down");
      await own.restart();
      await a.sink.until(() => a.sink.availabilityChanges.at(-1)?.up === true, 8000, "a up");
      await b.sink.until(() => b.sink.availabilityChanges.at(-1)?.up === true, 8000, "b up");
      for (let i = 5; i < 10; i++) acked.push(await a.engine.publish("/room:k", pub("room:k", i), opts));
      await b.sink.until(() => b.sink.frames("/room:k").length >= 10, 5000, "b deliveries");
      expect(b.sink.frames("/room:k").map((f) => f.off)).toEqual(acked);
      const h = await b.engine.history("/room:k", { since: acked[0], limit: 100 }, opts);
      expect(h.recovered).toBe(true);
      expect(h.frames.map((f) => JSON.parse(f).off)).toEqual(acked.slice(1));
    } finally {
      await Promise.all([a.engine.stop(), b.engine.stop()]);
      await own.stop();
    }
  }));

  test("entries trimmed off the bus while a node was away are delivered from history, in order", log.wrap(async () => {
    const own = await startRedis();
    const prefix = uniquePrefix();
    const a = await startNode(prefix, "a", { url: own.url, shards: 1, streamMaxLen: 100, commandTimeoutMs: 3000 });
    const b = await startNode(prefix, "b", { url: own.url, shards: 1, streamMaxLen: 100, commandTimeoutMs: 3000 });
    const opts = { historySize: 5000, historyTtlSec: 60 };
    try {
      await a.engine.publish("/room:g", pub("room:g", 0), opts);
      await b.sink.until(() => b.sink.frames("/room:g").length === 1);
      // b's bus connection is dropped; while it reconnects the bus is trimmed far past b's last id
      const clients = await own.cli("client", "list");
      const id = /id=(\d+) [^\n]*name=sb:b:bus0/.exec(clients)?.[1];
      expect(id).toBeDefined();
      await own.cli("client", "kill", "id", id!);
      await Promise.all(Array.from({ length: 2000 }, (_, i) => a.engine.publish("/room:g", pub("room:g", i + 1), opts)));
      await b.sink.until(() => b.sink.frames("/room:g").length >= 2001, 10_000, "b catches up");
      const got = b.sink.frames("/room:g").map((f) => f.data.n);
      expect(got).toEqual(Array.from({ length: 2001 }, (_, i) => i));
      // The gap was seen and repaired from history, not merely absent.
      expect(b.engine.health()).toMatchObject({ busGaps: expect.any(Number), gapRepairs: expect.any(Number) });
      expect(b.engine.health().busGaps as number).toBeGreaterThanOrEqual(1);
      expect(b.engine.health().gapRepairs as number).toBeGreaterThanOrEqual(1);
    } finally {
      await Promise.all([a.engine.stop(), b.engine.stop()]);
      await own.stop();
    }
    // 2,000 publishes and a reconnect: past bun's 5 s default on a loaded 2-core box.
  }), 30_000);
});
