import { afterAll, expect, test } from "bun:test";
import { startRedis, type RedisServer } from "../helpers/redis.ts";
import { startServer, token } from "../helpers/server.ts";
import { until } from "../helpers/until.ts";
import { TestClient } from "../helpers/ws-client.ts";

let redis: RedisServer | undefined;
afterAll(async () => {
  redis?.resume();
  await redis?.stop();
});

test("a drain stuck on a frozen Redis ends at DRAIN_DEADLINE_MS: the process exits 0 while Redis is still frozen", async () => {
  redis = await startRedis();
  // The command timeout is far beyond the test's own: only the drain deadline can end this process in time.
  const s = await startServer({ env: { REDIS_URL: redis.url, REDIS_PREFIX: "dl", REDIS_COMMAND_TIMEOUT_MS: "60000", DRAIN_DEADLINE_MS: "1500" } });
  const { client } = await TestClient.auth(s.wsUrl, await token({ sub: "w", rooms: ["d"] }));
  expect((await client.request({ t: "pub", ch: "room:d", ev: "e", data: 0 })).t).toBe("ok");
  redis.pause();
  client.send({ t: "pub", id: 99, ch: "room:d", ev: "e", data: 1 });
  await until(async () => {
    const m = await (await fetch(`${s.url}/metrics`)).text();
    return /^switchboard_messages_in_total\{type="pub"\} 2$/m.test(m) ? true : undefined;
  }, "the second publish to reach the server");
  s.proc.kill("SIGTERM");
  expect(await s.exited).toBe(0);
  // Redis is resumed only below: the exit cannot have waited for it.
  expect(s.logs.map((l) => l.msg)).toContain("drain deadline passed; exiting");
  expect(s.logs.map((l) => l.msg)).not.toContain("stopped");
  redis.resume();
}, 30_000);
