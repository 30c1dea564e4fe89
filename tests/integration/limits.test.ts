import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { RUNTIMES, startServer, token, type TestServer } from "../helpers/server.ts";
import { RawWs } from "../helpers/raw-ws.ts";
import { TestClient, type Frame } from "../helpers/ws-client.ts";
import { until } from "../helpers/until.ts";

/** Per-connection, per-user and per-node limits of PROTOCOL.md §1, §5 and DESIGN.md guarantee 6. */

const jwtFor = (sub: string, tenant = "t1") => token({ sub, tenant, rooms: ["r1", "r2", "r3", "r4"] });
const login = async (s: TestServer, sub: string) => (await TestClient.auth(s.wsUrl, await jwtFor(sub))).client;

async function metric(s: TestServer, series: string): Promise<number> {
  const text = await (await fetch(s.url + "/metrics")).text();
  for (const line of text.split("\n")) if (line.startsWith(series + " ")) return Number(line.slice(series.length + 1));
  return 0;
}


/** Connects, sends `auth`, and resolves with the first hello/err frame and the client (which may then close). */
async function tryAuth(s: TestServer, sub: string): Promise<{ client: TestClient; first: Frame }> {
  const client = await TestClient.connect(s.wsUrl);
  client.send({ t: "auth", token: await jwtFor(sub) });
  const first = await client.next((f) => f.t === "hello" || f.t === "err", 10_000);
  return { client, first };
}

describe("rate limit and protocol errors (rate 5/s, burst 5, 5 errors per minute)", () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startServer({ env: { WS_RATE_LIMIT_PER_SEC: "5", WS_RATE_LIMIT_BURST: "5", WS_MAX_ERRORS_PER_MIN: "5" } });
  });
  afterAll(async () => {
    await s.stop();
  });

  test("a burst of 20 requests: some RATE_LIMIT_EXCEEDED with retryAfter; the connection stays open and works after waiting", async () => {
    const c = await login(s, "flood");
    for (let i = 1; i <= 20; i++) c.send({ t: "pub", id: 1000 + i, ch: "room:r1", ev: "burst", data: i });
    const answers = await c.waitCount((f) => (f.t === "ok" || f.t === "err") && f.id > 1000, 20, 15_000);
    // Every request answered exactly once, refused or not.
    expect(answers.map((f) => f.id).sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => 1001 + i));
    const ok = answers.filter((f) => f.t === "ok");
    const limited = answers.filter((f) => f.t === "err");
    // Burst 5 plus whatever refilled while the frames were in flight; never all 20.
    expect(ok.length).toBeGreaterThanOrEqual(5);
    expect(limited.length).toBeGreaterThanOrEqual(10);
    for (const e of limited) {
      expect(e.code).toBe("RATE_LIMIT_EXCEEDED");
      expect(typeof e.retryAfter).toBe("number");
      expect(e.retryAfter).toBeGreaterThan(0);
      expect(e.retryAfter).toBeLessThanOrEqual(1000);
    }
    // 15+ rate errors are far over maxErrors (5), yet the connection is not closed for them.
    expect(c.closeCode).toBeUndefined();
    const wait = Math.max(...limited.map((e) => e.retryAfter as number));
    await Bun.sleep(wait + 20);
    expect(await c.request({ t: "pub", ch: "room:r1", ev: "after", data: 0 })).toMatchObject({ t: "ok" });
    expect(c.closeCode).toBeUndefined();
    expect(await metric(s, "switchboard_rate_limit_rejections_total")).toBeGreaterThanOrEqual(limited.length);
    c.close();
  });

  test("publications the policy refuses count towards the error budget also in the SDK's member order: 1008 at the fifth", async () => {
    const c = await login(s, "refused");
    // Frames as the SDK writes them (t, id, ch, ev, data), read from their text; room:r9 is not in the token.
    for (let i = 1; i <= 4; i++) c.send(`{"t":"pub","id":${700 + i},"ch":"room:r9","ev":"e","data":{"i":${i}}}`);
    const refused = await c.waitCount((f) => f.t === "err" && f.id > 700, 4);
    expect(refused.map((f) => [f.id, f.code])).toEqual([1, 2, 3, 4].map((i) => [700 + i, "AUTHORIZATION_FAILED"]));
    await Bun.sleep(1100);
    expect(await c.request({ t: "pub", ch: "room:r1", ev: "fine", data: 1 })).toMatchObject({ t: "ok" });
    c.send('{"t":"pub","id":705,"ch":"room:r9","ev":"e","data":5}');
    const { code } = await c.closed;
    expect(code).toBe(1008);
  });

  test("repeated protocol errors close the connection with 1008 at the fifth", async () => {
    const c = await login(s, "garbler");
    for (let i = 0; i < 4; i++) c.send("{not json");
    await c.waitCount((f) => f.t === "err" && f.code === "BAD_REQUEST", 4);
    // Still open and usable after four errors.
    expect(await c.request({ t: "sub", ch: "room:r2" })).toMatchObject({ t: "ok" });
    c.send("{still not json");
    const { code } = await c.closed;
    expect(code).toBe(1008);
  });
});

describe("subscriptions per connection (WS_MAX_ROOMS_PER_USER=2)", () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startServer({ env: { WS_MAX_ROOMS_PER_USER: "2" } });
  });
  afterAll(async () => {
    await s.stop();
  });

  test("the third sub gets LIMIT_EXCEEDED; after an unsub it succeeds", async () => {
    const c = await login(s, "collector");
    expect(await c.request({ t: "sub", ch: "room:r1" })).toMatchObject({ t: "ok" });
    expect(await c.request({ t: "sub", ch: "room:r2" })).toMatchObject({ t: "ok" });
    const third = await c.request({ t: "sub", ch: "room:r3" });
    expect(third).toMatchObject({ t: "err", code: "LIMIT_EXCEEDED" });
    // Not subscribed: a publish to r3 does not arrive, one to r1 does.
    const p = await login(s, "publisher");
    await p.request({ t: "pub", ch: "room:r3", ev: "x", data: "r3" });
    await p.request({ t: "pub", ch: "room:r1", ev: "x", data: "r1" });
    await c.next((f) => f.t === "msg" && f.data === "r1");
    expect(c.count((f) => f.t === "msg" && f.data === "r3")).toBe(0);
    expect(await c.request({ t: "unsub", ch: "room:r2" })).toMatchObject({ t: "ok" });
    expect(await c.request({ t: "sub", ch: "room:r3" })).toMatchObject({ t: "ok" });
    // A second connection has its own allowance.
    const other = await login(s, "collector-2");
    expect(await other.request({ t: "sub", ch: "room:r1" })).toMatchObject({ t: "ok" });
    expect(await other.request({ t: "sub", ch: "room:r2" })).toMatchObject({ t: "ok" });
    expect(c.closeCode).toBeUndefined();
    for (const x of [c, p, other]) x.close();
  });
});

describe("connections per user (WS_MAX_CONNECTIONS_PER_USER=2)", () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startServer({ env: { WS_MAX_CONNECTIONS_PER_USER: "2" } });
  });
  afterAll(async () => {
    await s.stop();
  });

  test("the third connection gets err LIMIT_EXCEEDED and close 4008; after one closes a new one succeeds", async () => {
    const a = await login(s, "busy");
    const b = await login(s, "busy");
    const { client: c, first } = await tryAuth(s, "busy");
    expect(first).toMatchObject({ t: "err", code: "LIMIT_EXCEEDED" });
    expect((await c.closed).code).toBe(4008);
    // Another user is unaffected; so is the same name in another tenant.
    const other = await login(s, "calm");
    const otherTenant = (await TestClient.auth(s.wsUrl, await jwtFor("busy", "t2"))).client;
    // The two allowed connections keep working.
    expect(await a.request({ t: "sub", ch: "room:r1" })).toMatchObject({ t: "ok" });
    expect(await b.request({ t: "sub", ch: "room:r1" })).toMatchObject({ t: "ok" });
    a.close();
    await a.closed;
    // The per-user lease is released asynchronously after the close.
    const again = await until(async () => {
      const r = await tryAuth(s, "busy");
      if (r.first.t === "hello") return r.client;
      await r.client.closed;
      return undefined;
    }, "a new connection after one closed", 15_000);
    expect(await again.request({ t: "sub", ch: "room:r2" })).toMatchObject({ t: "ok" });
    // And the limit still holds with two open again.
    const { client: d, first: dFirst } = await tryAuth(s, "busy");
    expect(dFirst).toMatchObject({ t: "err", code: "LIMIT_EXCEEDED" });
    expect((await d.closed).code).toBe(4008);
    for (const x of [b, again, other, otherTenant]) x.close();
  });
});

describe("connections per node (WS_MAX_GLOBAL_CONNECTIONS=2)", () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startServer({ env: { WS_MAX_GLOBAL_CONNECTIONS: "2" } });
  });
  afterAll(async () => {
    await s.stop();
  });

  test("the third upgrade is answered HTTP 429 with a JSON error; a WebSocket cannot open; after a close one can", async () => {
    const a = await login(s, "g1");
    const b = await login(s, "g2");
    const raw = await RawWs.connect(s.wsUrl);
    expect(raw.ok).toBe(false);
    if (raw.ok) throw new Error("unreachable");
    expect(raw.status).toBe(429);
    expect(raw.headers.toLowerCase()).toContain("application/json");
    expect(JSON.parse(raw.body)).toMatchObject({ error: { code: "LIMIT_EXCEEDED", message: expect.any(String) } });
    await expect(TestClient.connect(s.wsUrl)).rejects.toThrow();
    // The two open connections are unaffected.
    expect(await a.request({ t: "sub", ch: "room:r1" })).toMatchObject({ t: "ok" });
    b.close();
    await b.closed;
    const c = await until(async () => {
      try {
        return await TestClient.connect(s.wsUrl);
      } catch {
        return undefined;
      }
    }, "an upgrade after a connection closed", 15_000);
    c.send({ t: "auth", token: await jwtFor("g3") });
    expect(await c.next((f) => f.t === "hello" || f.t === "err")).toMatchObject({ t: "hello" });
    a.close();
    c.close();
  });
});

describe("frame size (WS_MAX_MESSAGE_SIZE=1024)", () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startServer({ env: { WS_MAX_MESSAGE_SIZE: "1024" } });
  });
  afterAll(async () => {
    await s.stop();
  });

  test("hello announces maxFrame; a 5000-byte frame closes with 1009; a frame at the limit is fine", async () => {
    const { client: c, hello } = await TestClient.auth(s.wsUrl, await jwtFor("sizer"));
    expect(hello.limits.maxFrame).toBe(1024);
    const fits = { t: "pub", id: 7, ch: "room:r1", ev: "x", data: "" };
    fits.data = "y".repeat(1024 - JSON.stringify(fits).length);
    expect(JSON.stringify(fits).length).toBe(1024);
    c.send(fits);
    expect(await c.next((f) => f.id === 7)).toMatchObject({ t: "ok" });
    c.send({ t: "pub", id: 8, ch: "room:r1", ev: "x", data: "z".repeat(5000) });
    expect((await c.closed).code).toBe(1009);
    expect(c.count((f) => f.id === 8)).toBe(0);
    // The server still serves others.
    const d = await login(s, "sizer-2");
    expect(await d.request({ t: "sub", ch: "room:r1" })).toMatchObject({ t: "ok" });
    d.close();
  });
});

for (const runtime of RUNTIMES) describe(`slow consumer (WS_BACKPRESSURE_LIMIT=65536) on ${runtime}`, () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startServer({ runtime, env: { WS_BACKPRESSURE_LIMIT: "65536" } });
  });
  afterAll(async () => {
    await s.stop();
  });

  test("a subscriber that stops reading is closed while the server keeps serving others", async () => {
    const slow = await login(s, "slowpoke");
    expect(await slow.request({ t: "sub", ch: "room:r1" })).toMatchObject({ t: "ok" });
    // The control: a reader on the same channel gets everything and is never cut off.
    const healthy = await login(s, "healthy");
    expect(await healthy.request({ t: "sub", ch: "room:r1" })).toMatchObject({ t: "ok" });
    expect(await healthy.request({ t: "sub", ch: "room:r2" })).toMatchObject({ t: "ok" });
    const conns0 = await metric(s, "switchboard_connections");
    expect(conns0).toBe(2);
    // Bun's client WebSocket can stop reading (not in the DOM type): the server then sees TCP backpressure.
    const paused = slow.ws as unknown as { pause(): boolean; resume(): boolean };
    expect(paused.pause()).toBe(true);

    const chunk = "p".repeat(256 * 1024);
    let published = 0;
    let count = 0;
    let gone = false;
    // Up to 64 MiB; the kernel buffers a few MiB before the server sees backpressure.
    for (let i = 0; i < 256 && !gone; i++) {
      const res = await s.api("/v1/publish", { method: "POST", json: { tenant: "t1", ch: "room:r1", ev: "bulk", data: chunk } });
      expect(res.status).toBe(200);
      published += chunk.length;
      count++;
      if (i % 4 === 3) gone = (await metric(s, "switchboard_connections")) === conns0 - 1;
    }
    expect(gone).toBe(true);
    expect(published).toBeGreaterThan(65536);
    expect(await metric(s, "switchboard_backpressure_closes_total")).toBe(1);

    const got = await healthy.waitCount((f) => f.t === "msg" && f.ev === "bulk", count, 60_000);
    expect(got.length).toBe(count);
    expect(healthy.closeCode).toBeUndefined();
    // The healthy client still gets messages and answers.
    const p = await s.api("/v1/publish", { method: "POST", json: { tenant: "t1", ch: "room:r2", ev: "still", data: "here" } });
    expect(p.status).toBe(200);
    await healthy.next((f) => f.t === "msg" && f.ev === "still");
    expect(await healthy.request({ t: "pub", ch: "room:r2", ev: "x", data: 1 })).toMatchObject({ t: "ok" });
    expect((await fetch(s.url + "/health/ready")).status).toBe(200);

    // Once it reads again, the slow client learns it was closed.
    paused.resume();
    const { code } = await slow.closed;
    // uWS (Bun's and uWebSockets.js alike) closes a socket over the limit itself, without a close frame
    // (nothing more fits in its buffer): the client sees 1006 and the server counts exactly that one disconnect.
    expect(code).toBe(1006);
    const disconnectLines = (await (await fetch(s.url + "/metrics")).text()).split("\n").filter((l) => l.startsWith("switchboard_disconnects_total{"));
    expect(disconnectLines).toEqual(['switchboard_disconnects_total{code="1006"} 1']);
    healthy.close();
  }, 120_000);
});
