import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { RedisEngine, type RedisEngineOptions } from "../../src/engine/redis/redis-engine.ts";
import { createLogger } from "../../src/observability/logger.ts";
import { SwitchboardError } from "../../src/protocol/errors.ts";
import { startRedis, type RedisServer } from "../helpers/redis.ts";
import { engineContract, pub, type EngineNode } from "./contract.ts";
import { RecordingSink } from "./recording-sink.ts";

const logger = createLogger(process.env.TEST_LOG_LEVEL === "warn" ? "warn" : "error", {}, (line) => process.stderr.write(line));
let redis: RedisServer;
let seq = 0;

beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

function options(prefix: string, nodeId: string, over: Partial<RedisEngineOptions> = {}): RedisEngineOptions {
  return {
    url: redis.url,
    prefix,
    nodeId,
    shards: 4,
    commandTimeoutMs: 300,
    presenceTtlSec: 1.5,
    streamMaxLen: 10_000,
    readBlockMs: 200,
    readCount: 500,
    logger,
    ...over,
  };
}

async function startNode(prefix: string, nodeId: string, over: Partial<RedisEngineOptions> = {}): Promise<EngineNode & { engine: RedisEngine }> {
  const sink = new RecordingSink();
  const engine = new RedisEngine(options(prefix, nodeId, over));
  await engine.start(sink);
  return { engine, sink };
}

function uniquePrefix(): string {
  return `t${process.pid}x${++seq}`;
}

engineContract("RedisEngine", async () => {
  const prefix = uniquePrefix();
  const nodes: EngineNode[] = [];
  return {
    async node() {
      const n = await startNode(prefix, `n${nodes.length}`);
      nodes.push(n);
      return n;
    },
    async peer() {
      const n = await startNode(prefix, `n${nodes.length}`);
      nodes.push(n);
      return n;
    },
    async cleanup() {
      await Promise.all(nodes.map((n) => n.engine.stop()));
    },
  };
});

describe("RedisEngine specifics", () => {
  test("start rejects SERVICE_UNAVAILABLE when Redis is unreachable", async () => {
    const engine = new RedisEngine({ ...options(uniquePrefix(), "n0"), url: "redis://127.0.0.1:1" });
    const err = await engine.start(new RecordingSink()).catch((e) => e);
    expect(err).toBeInstanceOf(SwitchboardError);
    expect(err.code).toBe("SERVICE_UNAVAILABLE");
    await engine.stop();
  });

  test("a dead node's presence members vanish within two heartbeats and leave is emitted once", async () => {
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
      // still alive after several heartbeats: the live member is refreshed
      await a.sink.until(() => false, 1500).catch(() => {});
      expect(await b.engine.presence("/room:p")).toEqual([{ user: "alive", conns: 1 }]);
      expect(a.sink.frames("/room:p").filter(isLeave).length).toBe(1);
      expect(b.sink.frames("/room:p").filter(isLeave).length).toBe(1);
    } finally {
      await Promise.all([a.engine.stop(), b.engine.stop()]);
    }
  });

  test("Redis frozen (SIGSTOP): publish rejects SERVICE_UNAVAILABLE within the command timeout, health says why, recovers after SIGCONT", async () => {
    const own = await startRedis();
    const sink = new RecordingSink();
    const engine = new RedisEngine({ ...options(uniquePrefix(), "n0"), url: own.url });
    await engine.start(sink);
    try {
      const before = await engine.publish("/room:f", pub("room:f", 0), { historySize: 10, historyTtlSec: 60 });
      own.pause();
      const t0 = Date.now();
      const err = await engine.publish("/room:f", pub("room:f", 1), { historySize: 10, historyTtlSec: 60 }).catch((e) => e);
      expect(Date.now() - t0).toBeLessThan(300 + 200);
      expect(err).toBeInstanceOf(SwitchboardError);
      expect(err.code).toBe("SERVICE_UNAVAILABLE");
      await sink.until(() => sink.availabilityChanges.at(-1)?.up === false, 3000, "availability down");
      expect(engine.health().up).toBe(false);
      expect(engine.health().detail).toContain("redis unavailable");
      own.resume();
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
  });

  test("Redis killed: publish fails fast, the bus resumes without duplicates after restart (AOF)", async () => {
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
  });

  test("entries trimmed off the bus while a node was away are delivered from history, in order", async () => {
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
    } finally {
      await Promise.all([a.engine.stop(), b.engine.stop()]);
      await own.stop();
    }
  }, 30_000);
});
