import { afterAll, beforeAll, expect, test } from "bun:test";
import { startServer, token, type TestServer } from "../helpers/server.ts";
import { TestClient } from "../helpers/ws-client.ts";

let s: TestServer;
beforeAll(async () => {
  s = await startServer();
});
afterAll(async () => {
  await s.stop();
});

test("a client subscribes, another publishes, both get the message in order with offsets", async () => {
  const jwt = await token({ sub: "alice", tenant: "t1", rooms: ["r1"] });
  const { client: a, hello } = await TestClient.auth(s.wsUrl, jwt);
  expect(hello).toMatchObject({ t: "hello", user: "alice", tenant: "t1", node: s.node });
  const sub = await a.request({ t: "sub", ch: "room:r1" });
  expect(sub).toMatchObject({ t: "ok", off: "0", recovered: true, missed: 0 });
  const { client: b } = await TestClient.auth(s.wsUrl, await token({ sub: "bob", tenant: "t1", rooms: ["r1"] }));
  const p1 = await b.request({ t: "pub", ch: "room:r1", ev: "chat", data: { text: "hi" } });
  expect(p1).toMatchObject({ t: "ok", off: "1" });
  const m = await a.next((f) => f.t === "msg");
  expect(m).toMatchObject({ t: "msg", ch: "room:r1", off: "1", ev: "chat", data: { text: "hi" }, from: "bob" });
  const res = await s.api("/v1/publish", { method: "POST", json: { tenant: "t1", ch: "room:r1", ev: "sys", data: 42 } });
  expect(res.status).toBe(200);
  expect(await res.json()).toEqual({ off: "2" });
  const m2 = await a.next((f) => f.t === "msg" && f.off === "2");
  expect(m2.from).toBeUndefined();
  a.close();
  b.close();
});
