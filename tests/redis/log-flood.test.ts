import { afterAll, beforeAll, expect, test } from "bun:test";
import { startServer, token, type TestServer } from "../helpers/server.ts";
import { TestClient } from "../helpers/ws-client.ts";
import { until } from "../helpers/until.ts";
import { nodeEnv, policyFile, startBackend, type Backend } from "./nodes.ts";

/** Issue 16: a short Redis outage must not write a warning per request; repeats end in one "suppressed N similar" line. */

let backend: Backend;
let policy: ReturnType<typeof policyFile>;
let s: TestServer;
beforeAll(async () => {
  policy = policyFile();
  backend = await startBackend("standalone");
  s = await startServer({ env: nodeEnv(backend, policy.path, { REDIS_COMMAND_TIMEOUT_MS: "200" }) });
});
afterAll(async () => {
  await s.stop();
  await backend.stop();
  policy.cleanup();
});

const noisy = () => s.logs.filter((l) => l.level === "warn" || l.level === "error");

test("3,000 publishes during a Redis outage: at most a few lines per message, then a summary with the count", async () => {
  const c = (await TestClient.auth(s.wsUrl, await token({ sub: "flood", tenant: "t1", rooms: ["a"] }))).client;
  expect(await c.request({ t: "sub", ch: "room:a" })).toMatchObject({ t: "ok" });
  const before = noisy().length;
  await backend.redis!.kill();
  let failed = 0;
  for (let round = 0; round < 30; round++) {
    const ids: number[] = [];
    for (let i = 0; i < 100; i++) {
      const id = 10_000 + round * 100 + i;
      ids.push(id);
      c.send({ t: "pub", id, ch: "room:a", ev: "e", data: i });
    }
    const answers = await c.waitCount((f) => (f.t === "ok" || f.t === "err") && ids.includes(f.id), 100, 30_000);
    failed += answers.filter((f) => f.t === "err" && ids.includes(f.id)).length;
  }
  expect(failed).toBeGreaterThan(2000);
  const during = noisy().slice(before);
  const perMsg = new Map<string, number>();
  for (const l of during) if (!String(l.msg).startsWith("suppressed")) perMsg.set(String(l.msg), (perMsg.get(String(l.msg)) ?? 0) + 1);
  // 10 per message per 5 s window; the flood above takes far less than a minute.
  for (const [msg, n] of perMsg) expect(n, msg).toBeLessThanOrEqual(10 * 12);
  expect(during.length).toBeLessThan(500);
  const summary = await until(async () => s.logs.find((l) => String(l.msg).startsWith("suppressed ") && (l.suppressed as number) > 0), "a suppressed-lines summary", 20_000);
  expect(summary.msg).toBe(`suppressed ${summary.suppressed} similar`);
  expect(typeof summary.similar).toBe("string");
  await backend.redis!.restart();
  await until(async () => ((await fetch(s.url + "/health/ready")).status === 200 ? true : undefined), "readiness after the outage", 30_000);
  c.close();
}, 120_000);
