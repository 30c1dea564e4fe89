import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { RedisEngine } from "../../src/engine/redis/redis-engine.ts";
import { PRESENCE_REMOVE } from "../../src/engine/redis/scripts.ts";
import { capturedLogger } from "../helpers/captured-log.ts";
import { startRedis, type RedisServer } from "../helpers/redis.ts";
import { until } from "../helpers/until.ts";
import { RecordingSink } from "./recording-sink.ts";

// A real redis-server is started and stopped here.
const log = capturedLogger("error");
let redis: RedisServer;

beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  log.flush();
  await redis?.stop();
});

/** Waits until Redis holds the node's command connection (flag b) on an EVALSHA: its heartbeat, sent after the pause began. */
async function heartbeatHeld(nodeId: string): Promise<true> {
  return until(async () => {
    const line = (await redis.cli("client", "list")).split("\n").find((l) => l.includes(`name=sb:${nodeId}:cmd `));
    return line && /flags=\S*b/.test(line) && line.includes("cmd=evalsha") ? true : undefined;
  }, "a heartbeat held by CLIENT PAUSE");
}

describe("RedisEngine lease release against a heartbeat in flight", () => {
  test("a connection lease and a presence member released while a heartbeat is in flight stay released, even when Redis lost its scripts", async () => {
    const sink = new RecordingSink();
    const engine = new RedisEngine({
      url: redis.url,
      prefix: `lr${process.pid}`,
      nodeId: "lr1",
      shards: 1,
      // Longer than the pause below (itself longer than the 1 s heartbeat period): held commands must not time out.
      commandTimeoutMs: 5000,
      presenceTtlSec: 3,
      streamMaxLen: 10_000,
      readBlockMs: 200,
      readCount: 500,
      logger: log.logger,
    });
    await engine.start(sink);
    try {
      const userKey = "acme/ann";
      const key = "acme/room:ward";
      expect(await engine.acquireUserConn(userKey, "c1", 0)).toBe(true);
      await engine.presenceAdd(key, { user: "ann", conn: "c1" });
      expect(await engine.userConnCount(userKey)).toBe(1);

      for (let round = 0; round < 3; round++) {
        // Redis restarted or failed over: its script cache is empty, so the
        // next heartbeat's EVALSHA gets NOSCRIPT and is sent again as EVAL.
        // Another node already loaded the removal script since.
        await redis.cli("script", "flush");
        await redis.cli("script", "load", PRESENCE_REMOVE);
        await redis.cli("client", "pause", "1500", "write");
        await heartbeatHeld("lr1");
        // The connection closes while that heartbeat waits for its answer.
        const released = Promise.all([engine.presenceRemove(key, "c1"), engine.releaseUserConn(userKey, "c1")]);
        const [removed] = await released;
        expect(removed).toBe(true);
        expect(await engine.userConnCount(userKey)).toBe(0);
        expect(await engine.presence(key)).toEqual([]);
        expect(sink.frames(key).filter((f) => f.t === "join")).toEqual([]);
        if (round < 2) {
          expect(await engine.acquireUserConn(userKey, "c1", 0)).toBe(true);
          await engine.presenceAdd(key, { user: "ann", conn: "c1" });
        }
      }
    } finally {
      await engine.stop();
    }
  }, 30_000);
});
