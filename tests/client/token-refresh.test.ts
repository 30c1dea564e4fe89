import { afterAll, afterEach, beforeAll, expect, test } from "bun:test";
import { startServer, token, type TestServer } from "../helpers/server.ts";
import { apiPublish, clientPool, Inbox, nextEvent, recordEvents } from "./support.ts";

// Tokens live 5 s and the server warns 3 s ahead, so `expiring` comes ~2 s after connecting.
let server: TestServer;
const pool = clientPool();
beforeAll(async () => {
  server = await startServer({ env: { JWT_EXPIRY_WARNING_SEC: "3" } });
});
afterEach(() => pool.closeAll());
afterAll(() => server.stop());

test("expiring → getToken → refresh keeps the same connection past the first token's expiry; without getToken it closes with 4003", async () => {
  const short = await token({ sub: "hana" }, { expSec: 5 });
  let calls = 0;
  const renewing = pool.create(server.wsUrl, { getToken: async () => (++calls === 1 ? short : token({ sub: "hana" }, { expSec: 3600 })) });
  const events = recordEvents(renewing);
  const inbox = new Inbox();
  const hello = await renewing.connect();
  await renewing.subscribe("user:hana", inbox.push).ready;

  // The same token without a way to renew it: its close marks the moment the first token expired.
  const fixed = pool.create(server.wsUrl, { token: short });
  await fixed.connect();
  const fixedClosed = nextEvent(fixed, "disconnected");
  const refreshed = await nextEvent(renewing, "tokenRefreshed");
  expect(refreshed.exp).toBeGreaterThan(hello.exp! + 60);
  expect(await fixedClosed).toMatchObject({ code: 4003, willReconnect: false });
  expect(fixed.state).toBe("closed");

  expect(renewing.state).toBe("connected");
  expect(renewing.hello!.conn).toBe(hello.conn);
  await apiPublish(server, "user:hana", "tick", { n: 1 });
  await inbox.waitFor(1);
  expect(events.filter((e) => e.name === "disconnected" || e.name === "error")).toEqual([]);
  expect(calls).toBe(2);
}, 20_000);

test("a failed refresh ends in close 4003; the client fetches a fresh token, reconnects and resubscribes", async () => {
  let calls = 0;
  const client = pool.create(server.wsUrl, {
    getToken: async () => {
      calls++;
      if (calls === 1) return token({ sub: "iris" }, { expSec: 5 });
      if (calls === 2) throw new Error("token service down");
      return token({ sub: "iris" }, { expSec: 3600 });
    },
  });
  const inbox = new Inbox();
  const first = await client.connect();
  await client.subscribe("user:iris", inbox.push).ready;
  const refreshError = nextEvent(client, "error");
  const dropped = nextEvent(client, "disconnected");
  const retry = nextEvent(client, "reconnecting");
  expect((await refreshError).code).toBe("AUTHENTICATION_FAILED");
  expect(await dropped).toMatchObject({ code: 4003, willReconnect: true });
  expect(await retry).toMatchObject({ cause: "token", delayMs: 0 });
  const second = await nextEvent(client, "connected");
  expect(second.conn).not.toBe(first.conn);
  expect(calls).toBe(3);
  await apiPublish(server, "user:iris", "tick", { n: 1 });
  await inbox.waitFor(1);
}, 20_000);

test("a refresh that drops a room ends that subscription: onError with ch and AUTHORIZATION_FAILED, no more messages, not resubscribed", async () => {
  let calls = 0;
  const client = pool.create(server.wsUrl, {
    getToken: async () => (++calls === 1 ? token({ sub: "jun", rooms: ["ward-a", "ward-b"] }, { expSec: 5 }) : token({ sub: "jun", rooms: ["ward-b"] }, { expSec: 3600 })),
  });
  const events = recordEvents(client);
  const a = new Inbox();
  const b = new Inbox();
  await client.connect();
  const ended = Promise.withResolvers<{ code: string; ch?: string }>();
  const subA = client.subscribe("room:ward-a", a.push, { onError: (err) => ended.resolve(err) });
  await subA.ready;
  await client.subscribe("room:ward-b", b.push).ready;
  await nextEvent(client, "tokenRefreshed");
  expect(await ended.promise).toMatchObject({ code: "AUTHORIZATION_FAILED", ch: "room:ward-a" });
  expect(subA.state).toBe("unsubscribed");
  await apiPublish(server, "room:ward-a", "note", { n: 1 });
  await apiPublish(server, "room:ward-b", "note", { n: 2 });
  await b.waitFor(1);
  expect(a.messages).toEqual([]);
  // The connection itself is fine: nothing else went wrong.
  expect(client.state).toBe("connected");
  expect(events.filter((e) => e.name === "disconnected" || e.name === "error")).toEqual([]);
}, 20_000);
