import { afterAll, beforeAll, expect, test } from "bun:test";
import type { Socket } from "socket.io-client";
import { startServer, token, type TestServer } from "../helpers/server.ts";
import { until } from "../helpers/until.ts";
import { TestClient } from "../helpers/ws-client.ts";
import { collect, connect } from "./support.ts";

/** A Socket.IO client is subscribed to its `user:<sub>` by the default mapping: ringing reaches it there as `call` events. */
let server: TestServer;
const open: { close(): void }[] = [];
beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => {
  for (const c of open) c.close();
  await server?.stop();
});

test("Socket.IO: a legacy client rings on its user channel (`call` events) and hears the answer from a native device", async () => {
  const T = "clinic";
  const s: Socket = await connect(server.url, { auth: { token: await token({ sub: "pat", tenant: T }) }, transports: ["websocket"] });
  open.push(s);
  const seen = collect(s, "call");
  const doc = (await TestClient.auth(server.wsUrl, await token({ sub: "doc", tenant: T }))).client;
  const phone = (await TestClient.auth(server.wsUrl, await token({ sub: "pat", tenant: T }))).client;
  open.push(doc, phone);
  const call = (await doc.request({ t: "invite", to: ["pat"], media: "audio" })).call;
  const ring = await until(async () => seen.find((e) => (e.data as any).call.id === call.id), "ringing on the Socket.IO client");
  expect(ring.data).toMatchObject({ ev: "ringing", user: "doc", call: { id: call.id, state: "ringing", media: "audio" } });
  expect(ring.meta).toMatchObject({ ch: "user:pat" });
  // The native phone (not subscribed to user:pat) answers; the Socket.IO client learns which device did.
  await phone.next((f) => f.t === "call" && f.ev === "ringing");
  await phone.request({ t: "accept", call: call.id });
  const answered = await until(async () => seen.find((e) => (e.data as any).ev === "accepted"), "the answer on the Socket.IO client");
  expect(answered.data).toMatchObject({ user: "pat", conn: phone.frames.find((f) => f.t === "hello")!.conn, call: { state: "live" } });
});
