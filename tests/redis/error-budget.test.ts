import { afterAll, beforeAll, expect, test } from "bun:test";
import { token, type TestServer } from "../helpers/server.ts";
import { TestClient } from "../helpers/ws-client.ts";
import { nodeEnv, policyFile, readyStatus, startBackend, startNodes, type Backend } from "./nodes.ts";

/**
 * SERVICE_UNAVAILABLE is not the client's fault: refusals during a Redis
 * outage must not spend the connection's error budget, or every client of a
 * node would be disconnected by its own retries when Redis hiccups.
 */
let backend: Backend;
let node: TestServer;
const policy = policyFile();
beforeAll(async () => {
  backend = await startBackend("standalone");
  [node] = await startNodes(1, nodeEnv(backend, policy.path, { WS_MAX_ERRORS_PER_MIN: "3", REDIS_COMMAND_TIMEOUT_MS: "300", WS_RATE_LIMIT_PER_SEC: "0" }));
}, 30_000);
afterAll(async () => {
  backend?.redis?.resume();
  await node?.stop();
  await backend?.stop();
  policy.cleanup();
});

test("more SERVICE_UNAVAILABLE refusals than WS_MAX_ERRORS_PER_MIN during a Redis freeze leave the connection open; client errors do not", async () => {
  const auth = async (sub: string) => (await TestClient.auth(node.wsUrl, await token({ sub, tenant: "t1", rooms: ["eb"] }))).client;
  const writer = await auth("writer");
  expect((await writer.request({ t: "pub", ch: "room:eb", ev: "n", data: 0 })).t).toBe("ok");
  backend.redis!.pause();
  let first: Promise<Record<string, unknown>>;
  try {
    // Sent to the frozen Redis: its outcome is unknown until Redis answers again, so it is held.
    first = writer.request({ t: "pub", ch: "room:eb", ev: "n", data: 1 }, 10_000);
    await readyStatus(node, 503);
    // Redis is known to be out of reach: refused at once, nothing sent.
    for (let i = 2; i <= 7; i++) {
      expect(await writer.request({ t: "pub", ch: "room:eb", ev: "n", data: i }, 5000)).toMatchObject({ t: "err", code: "SERVICE_UNAVAILABLE" });
    }
  } finally {
    backend.redis!.resume();
  }
  // Redis reaches the held publish after its deadline and refuses it; the node fences it and says so.
  expect(await first).toMatchObject({ t: "err", code: "SERVICE_UNAVAILABLE" });
  await readyStatus(node, 200);
  expect(writer.closeCode).toBeUndefined();
  expect((await writer.request({ t: "pub", ch: "room:eb", ev: "n", data: 8 })).t).toBe("ok");

  // The budget itself is live: 4 malformed requests (the client's fault) close a connection at 3.
  const sloppy = await auth("sloppy");
  for (let i = 0; i < 4; i++) sloppy.send({ t: "pub", id: 100 + i, ch: "room:eb" });
  expect((await sloppy.closed).code).toBe(1008);
  writer.close();
}, 60_000);
