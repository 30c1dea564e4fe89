import { afterEach, expect, test } from "bun:test";
import { startServer, token, type TestServer } from "../helpers/server.ts";
import { TcpProxy } from "../helpers/tcp-proxy.ts";
import { until } from "../helpers/until.ts";
import { clientPool, Inbox, nextEvent, recordEvents } from "./support.ts";

/** WS_IDLE_TIMEOUT_SEC's floor: hello.ping is half of it, 4 s. */
const IDLE_SEC = 8;
const pool = clientPool();
const cleanup: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  pool.closeAll();
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function pingsAnswered(s: TestServer): Promise<number> {
  const text = await (await s.api("/metrics")).text();
  return Number(/switchboard_messages_in_total\{[^}]*type="ping"[^}]*\} (\d+)/.exec(text)?.[1] ?? 0);
}

test("a frozen server (SIGSTOP, the socket stays open) is noticed by the SDK, which reconnects elsewhere within 2.25 × hello.ping", async () => {
  const env = { WS_IDLE_TIMEOUT_SEC: String(IDLE_SEC) };
  const [a, b] = await Promise.all([startServer({ env }), startServer({ env })]);
  cleanup.push(() => b.stop());
  cleanup.push(async () => {
    a.proc.kill("SIGCONT"); // never leave a stopped process behind
    await a.stop();
  });
  const lb = new TcpProxy(a.port).start();
  cleanup.push(() => lb.stop());

  const client = pool.create(`ws://127.0.0.1:${lb.port}/v1/ws`, { token: await token({ sub: "lia", rooms: ["ward"] }) });
  const events = recordEvents(client);
  const inbox = new Inbox<{ text: string }>();
  const ward = client.subscribe("room:ward", inbox.push);
  const hello = await client.connect();
  await ward.ready;
  expect(hello.node).toBe(a.node);
  expect(hello.ping).toBe(IDLE_SEC / 2);

  // A quiet, healthy connection is probed and answered, and stays up.
  await until(async () => ((await pingsAnswered(a)) > 0 ? true : undefined), "a ping answered by the live server", 20_000);
  expect(events.filter((e) => e.name === "disconnected")).toEqual([]);

  // New connections now reach b; the open one still leads to a, which freezes.
  lb.target = b.port;
  const frozenAt = Date.now();
  a.proc.kill("SIGSTOP");
  const again = await nextEvent(client, "connected", (h) => h.node === b.node, 30_000);
  expect(again.node).toBe(b.node);
  const gone = events.find((e) => e.name === "disconnected")!;
  expect(gone.payload).toMatchObject({ code: 1006, willReconnect: true });
  expect((gone.payload as { reason: string }).reason).toMatch(/^server silent for \d+ s$/);
  // The announced bound is 2.25 × ping after the last frame; the extra 0.75 × ping absorbs timer lateness on a loaded box.
  expect(gone.at - frozenAt).toBeLessThanOrEqual(3 * hello.ping * 1000);
  expect(a.proc.signalCode).toBeNull(); // still stopped, not dead: the client noticed on its own

  // The subscription came back with the connection.
  await until(async () => (ward.state === "subscribed" ? true : undefined), "resubscribed on b");
  const res = await b.api("/v1/publish", { method: "POST", json: { ch: "room:ward", ev: "note", data: { text: "after the freeze" } } });
  expect(res.status).toBe(200);
  await inbox.waitForMessage((m) => m.data.text === "after the freeze");
}, 60_000);

test("a ping is answered only on an authenticated connection and costs a rate-limit token", async () => {
  const s = await startServer({ env: { WS_RATE_LIMIT_PER_SEC: "1", WS_RATE_LIMIT_BURST: "2" } });
  cleanup.push(() => s.stop());
  const { TestClient } = await import("../helpers/ws-client.ts");
  const anon = await TestClient.connect(s.wsUrl);
  anon.ws.send('{"t":"ping","id":1}');
  expect(await anon.next((f) => f.t === "err")).toMatchObject({ t: "err", code: "VALIDATION_ERROR" });
  anon.close();

  const { client } = await TestClient.auth(s.wsUrl, await token({ sub: "pat" }));
  client.ws.send('{"t":"ping","id":7}');
  expect(await client.next((f) => f.id === 7)).toEqual({ t: "ok", id: 7 });
  client.ws.send('{"t":"ping","id":8}');
  client.ws.send('{"t":"ping","id":9}');
  const answers = [await client.next((f) => f.id === 8), await client.next((f) => f.id === 9)];
  expect(answers.some((f) => f.t === "err" && f.code === "RATE_LIMIT_EXCEEDED")).toBe(true);
  client.ws.send('{"t":"ping","id":10,"x":1}');
  expect(await client.next((f) => f.id === 10 || f.t === "err")).toMatchObject({ t: "err" });
  client.close();
});
