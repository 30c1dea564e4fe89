import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startRedis, type RedisServer } from "../helpers/redis.ts";
import { startServer, token, type TestServer } from "../helpers/server.ts";
import { until } from "../helpers/until.ts";
import { TestClient } from "../helpers/ws-client.ts";
import { nodeEnv, policyFile } from "./nodes.ts";

/**
 * Redis that answers but refuses writes, because its persistence failed
 * (MISCONF) or because it is a replica now (READONLY): a node must say so on /health/ready, refuse publishes with
 * SERVICE_UNAVAILABLE, and come back by itself once Redis accepts writes.
 * The failure is real: a directory stands where Redis must rename its
 * snapshot, so BGSAVE fails and `stop-writes-on-bgsave-error` (the default)
 * makes it refuse every write until a save succeeds again.
 */
describe("Redis refusing writes (MISCONF, READONLY)", () => {
  let redis: RedisServer;
  let node: TestServer;
  const policy = policyFile();
  const clients: TestClient[] = [];

  beforeAll(async () => {
    redis = await startRedis();
    node = await startServer({ env: nodeEnv({ kind: "standalone", env: { REDIS_URL: redis.url, REDIS_PREFIX: `misconf${process.pid}` }, stop: async () => {} }, policy.path) });
  }, 30_000);
  afterAll(async () => {
    for (const c of clients) c.close();
    await node?.stop();
    await redis?.stop();
    policy.cleanup();
  });

  async function ready(): Promise<{ status: number; reason?: string }> {
    const r = await fetch(node.url + "/health/ready");
    const body = (await r.json()) as { reason?: string };
    return { status: r.status, reason: body.reason };
  }

  async function bgsave(): Promise<string> {
    await redis.cli("BGSAVE");
    // BGSAVE runs in a child; its outcome shows in INFO once it ended.
    return until(async () => {
      const info = await redis.cli("INFO", "persistence");
      if (info.includes("rdb_bgsave_in_progress:1")) return undefined;
      return /rdb_last_bgsave_status:(\w+)/.exec(info)?.[1];
    }, "BGSAVE to finish");
  }

  test("readiness is 503 naming MISCONF while publishes are refused, and 200 again once Redis can save", async () => {
    const { client } = await TestClient.auth(node.wsUrl, await token({ sub: "writer", tenant: "t1", rooms: ["disk"] }));
    clients.push(client);
    expect(await client.request({ t: "pub", ch: "room:disk", ev: "n", data: 1 })).toMatchObject({ t: "ok" });
    expect((await ready()).status).toBe(200);

    // The snapshot cannot be moved into place: a directory sits where dump.rdb goes.
    const blocker = join(redis.dir, "dump.rdb");
    mkdirSync(blocker);
    writeFileSync(join(blocker, "keep"), "x");
    await redis.cli("CONFIG", "SET", "save", "3600 1");
    expect(await bgsave()).toBe("err");

    // Nobody publishes: the node notices by itself.
    const down = await until(async () => {
      const r = await ready();
      return r.status === 503 ? r : undefined;
    }, "readiness to turn 503");
    expect(down.reason).toContain("MISCONF");
    const refused = await client.request({ t: "pub", ch: "room:disk", ev: "n", data: 2 });
    expect(refused).toMatchObject({ t: "err", code: "SERVICE_UNAVAILABLE" });

    rmSync(blocker, { recursive: true, force: true });
    expect(await bgsave()).toBe("ok");
    await until(async () => ((await ready()).status === 200 ? true : undefined), "readiness to turn 200 again");
    expect(await client.request({ t: "pub", ch: "room:disk", ev: "n", data: 3 })).toMatchObject({ t: "ok" });
    const hist = await client.request({ t: "history", ch: "room:disk", since: "0" });
    expect(hist).toMatchObject({ t: "ok" });
  }, 40_000);

  test("readiness is 503 naming READONLY while Redis is a replica (a failover the node has not followed), and 200 again once it is a master", async () => {
    const { client } = await TestClient.auth(node.wsUrl, await token({ sub: "writer2", tenant: "t1", rooms: ["disk"] }));
    clients.push(client);
    await until(async () => ((await ready()).status === 200 ? true : undefined), "readiness 200 at the start");
    const primary = await startRedis();
    try {
      await redis.cli("REPLICAOF", "127.0.0.1", String(primary.port));
      // The bus readers are unblocked by the role change first (a short 503 of their own); the refusal stays.
      const down = await until(async () => {
        const r = await ready();
        return r.status === 503 && r.reason?.includes("READONLY") ? r : undefined;
      }, "readiness to turn 503 naming READONLY");
      expect(down.reason).toContain("redis refuses writes");
      expect(await client.request({ t: "pub", ch: "room:disk", ev: "n", data: 4 })).toMatchObject({ t: "err", code: "SERVICE_UNAVAILABLE" });
    } finally {
      await redis.cli("REPLICAOF", "NO", "ONE");
      await primary.stop();
    }
    await until(async () => ((await ready()).status === 200 ? true : undefined), "readiness to turn 200 again");
    expect(await client.request({ t: "pub", ch: "room:disk", ev: "n", data: 5 })).toMatchObject({ t: "ok" });
  }, 40_000);
});
