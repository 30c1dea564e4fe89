import { afterAll, beforeAll, expect, test } from "bun:test";
import { SwitchboardClient } from "../../src/client/index.ts";
import { startServer, token, type TestServer } from "../helpers/server.ts";
import { nodeEnv, policyFile, startBackend, type Backend } from "../redis/nodes.ts";
import { apiPublish, Inbox } from "./support.ts";

/**
 * Found by the chaos run: a subscribe refused with SERVICE_UNAVAILABLE (the
 * node's Redis stalled) ended the subscription for good. It is retried on
 * the same connection instead, and delivers once Redis is back.
 */
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

test("a subscribe that meets a Redis stall is retried, not given up, and then delivers", async () => {
  const client = new SwitchboardClient(s.wsUrl, { getToken: () => token({ sub: "patient", rooms: ["ward"] }), minReconnectDelayMs: 100, maxReconnectDelayMs: 500 });
  await client.connect();
  const errors: string[] = [];
  const inbox = new Inbox();
  backend.redis!.pause();
  let sub;
  try {
    sub = client.subscribe("room:ward", inbox.push, { onError: (e) => errors.push(e.code) });
    // The node answers SERVICE_UNAVAILABLE once its Redis command times out; give it that long, as a condition.
    const deadline = Date.now() + 10_000;
    while ((await fetch(s.url + "/health/ready")).status === 200 && Date.now() < deadline) await Bun.sleep(20);
  } finally {
    backend.redis!.resume();
  }
  await sub.ready;
  expect(sub.state).toBe("subscribed");
  expect(errors).toEqual([]);
  await apiPublish(s, "room:ward", "note", { n: 1 });
  await inbox.waitFor(1);
  client.close();
}, 60_000);
