import { afterEach, expect, test } from "bun:test";
import { startServer, token, type TestServer } from "../helpers/server.ts";
import { apiPublish, clientPool, Inbox, nextEvent, recordEvents } from "./support.ts";

const pool = clientPool();
const servers: TestServer[] = [];
afterEach(async () => {
  pool.closeAll();
  await Promise.all(servers.splice(0).map((s) => s.stop("SIGKILL")));
});

test("a draining node's reconnect frame: the client waits the advised delay, then reconnects to the new node and resubscribes", async () => {
  const env = { DRAIN_RECONNECT_MAX_MS: "1500", DRAIN_DEADLINE_MS: "3000" };
  const a = await startServer({ env });
  servers.push(a);
  const client = pool.create(a.wsUrl, { token: await token({ sub: "gus" }), minReconnectDelayMs: 100, maxReconnectDelayMs: 400 });
  const events = recordEvents(client);
  const inbox = new Inbox<{ n: number }>();
  await client.connect();
  await client.subscribe("user:gus", inbox.push).ready;

  const reconnecting = nextEvent(client, "reconnecting");
  const disconnected = nextEvent(client, "disconnected");
  const aExited = a.stop("SIGTERM");
  const advice = await reconnecting;
  // When the client scheduled the retry: the moment it emitted `reconnecting`, not when this await resumed.
  const scheduledAt = events.find((e) => e.name === "reconnecting")!.at;
  expect(advice.cause).toBe("server");
  expect(advice.delayMs).toBeLessThanOrEqual(1500);
  expect(await disconnected).toMatchObject({ code: 1012, willReconnect: true });
  expect(await aExited).toBe(0);

  const b = await startServer({ port: a.port, env });
  servers.push(b);
  await nextEvent(client, "connected", (h) => h.node === b.node, 15_000);
  const firstRetry = events.find((e) => e.name === "connecting" && e.at >= scheduledAt);
  expect(firstRetry!.at - scheduledAt).toBeGreaterThanOrEqual(advice.delayMs - 5);

  await apiPublish(b, "user:gus", "tick", { n: 1 });
  await inbox.waitFor(1);
  expect(inbox.data).toEqual([{ n: 1 }]);
}, 20_000);
