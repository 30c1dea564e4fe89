import { afterAll, beforeAll, expect, test } from "bun:test";
import { startServer, token, type TestServer } from "../helpers/server.ts";
import { TestClient } from "../helpers/ws-client.ts";

let s: TestServer;
beforeAll(async () => {
  s = await startServer({ env: { JWT_EXPIRY_WARNING_SEC: "30" } });
});
afterAll(async () => {
  await s.stop();
});

test("expiring → refresh keeps the same connection past the old exp", async () => {
  const claims = { sub: "ed", tenant: "t", rooms: ["r"] };
  const { client, hello } = await TestClient.auth(s.wsUrl, await token(claims, { expSec: 4 }));
  await client.request({ t: "sub", ch: "room:r" });
  const warn = await client.next((f) => f.t === "expiring", 8000);
  expect(warn.in).toBeGreaterThan(0);
  expect(warn.in).toBeLessThanOrEqual(30);
  const ok = await client.request({ t: "refresh", token: await token(claims, { expSec: 3600 }) });
  expect(ok.exp).toBeGreaterThan(hello.exp);
  // Wait (by the wall clock, which is what expiry is about) until the old token is well past its exp.
  await Bun.sleep(Math.max(0, hello.exp * 1000 + 1500 - Date.now()));
  // Same connection still delivers after the refresh.
  await s.api("/v1/publish", { method: "POST", json: { tenant: "t", ch: "room:r", ev: "e", data: "after-refresh" } });
  await client.next((f) => f.t === "msg" && f.data === "after-refresh");
  expect(client.closeCode).toBeUndefined();
  client.close();
}, 20_000);

test("a token that expires unrefreshed closes the connection with 4003", async () => {
  const { client } = await TestClient.auth(s.wsUrl, await token({ sub: "late", tenant: "t" }, { expSec: 2 }));
  await client.next((f) => f.t === "expiring", 4000);
  const closed = await client.closed;
  expect(closed.code).toBe(4003);
}, 15_000);
