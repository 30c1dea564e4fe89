import { afterAll, beforeAll, describe, expect, test, setDefaultTimeout } from "bun:test";
import { startServer, token, type TestServer } from "../helpers/server.ts";
import { until } from "../helpers/until.ts";
import { TestClient, type Frame } from "../helpers/ws-client.ts";
import { SETUPS, type Deployment } from "./setups.ts";

// Real PostgreSQL and Redis processes are started, stopped and restarted here.
setDefaultTimeout(60_000);

const T = "acme";

async function user(s: TestServer, sub: string, tenant = T): Promise<TestClient> {
  return (await TestClient.auth(s.wsUrl, await token({ sub, tenant }))).client;
}

const post = (s: TestServer, body: Record<string, unknown>) => s.api("/v1/notifications", { method: "POST", json: { tenant: T, type: "appointment", ...body } });

for (const setup of SETUPS) {
  describe(`notifications on ${setup.name}`, () => {
    let d: Deployment;
    let onA: TestClient;
    let onB: TestClient;
    let ids: string[] = [];

    beforeAll(async () => {
      d = await setup.start();
      onA = await user(d.a, "ann");
      onB = await user(d.b, "ann");
      expect(await onA.request({ t: "sub", ch: "user:ann" })).toMatchObject({ t: "ok" });
      expect(await onB.request({ t: "sub", ch: "user:ann" })).toMatchObject({ t: "ok" });
    });
    afterAll(async () => {
      onA?.close();
      onB?.close();
      await d?.stop();
    });

    test("a posted notification is stored, delivered live on user:<id>, and every connection of the user gets the count", async () => {
      const res = await post(d.a, { users: ["ann", "bob"], title: "Visit at 10:00", body: "Room 3", data: { room: 3 }, priority: "high" });
      expect(res.status).toBe(200);
      const first = (await res.json()).ids as string[];
      expect(first.length).toBe(2);
      for (const c of [onA, onB]) {
        const live = await c.next((f) => f.t === "msg" && f.ev === "notification");
        expect(live).toMatchObject({ ch: "user:ann", data: { id: first[0], type: "appointment", title: "Visit at 10:00", body: "Room 3", data: { room: 3 }, priority: "high", readTs: null } });
        expect(await c.next((f) => f.t === "inbox")).toEqual({ t: "inbox", unread: 1 });
      }
      const second = (await (await post(d.b, { users: ["ann"], title: "Lab results" })).json()).ids as string[];
      await onA.next((f) => f.t === "inbox" && f.unread === 2);
      await onB.next((f) => f.t === "inbox" && f.unread === 2);
      ids = [second[0]!, first[0]!];
    });

    test("listed newest first with an unread filter; marked read from one connection, the other (other node) sees the count", async () => {
      const list = await onA.request({ t: "inbox", unread: true });
      expect(list.unread).toBe(2);
      expect(list.notifications.map((n: Frame) => [n.id, n.title])).toEqual([
        [ids[0], "Lab results"],
        [ids[1], "Visit at 10:00"],
      ]);
      const mark = onB.frames.length;
      expect(await onA.request({ t: "inbox_read", ids: [ids[1]] })).toMatchObject({ t: "ok", unread: 1 });
      expect(await onB.next((f) => f.t === "inbox" && f.unread === 1, 5000, mark)).toEqual({ t: "inbox", unread: 1 });
      const http = await (await d.b.api(`/v1/users/ann/notifications?tenant=${T}&unread=true`)).json();
      expect(http.unread).toBe(1);
      expect(http.notifications.map((n: Frame) => n.id)).toEqual([ids[0]]);
      const all = await d.a.api("/v1/users/ann/notifications/read", { method: "POST", json: { tenant: T } });
      expect(await all.json()).toEqual({ unread: 0 });
      await onA.next((f) => f.t === "inbox" && f.unread === 0);
      await onB.next((f) => f.t === "inbox" && f.unread === 0);
      const page = await (await d.a.api(`/v1/users/ann/notifications?tenant=${T}&limit=1`)).json();
      expect(page.notifications.length).toBe(1);
      expect(page.notifications[0].readTs).toBeGreaterThan(0);
      const older = await (await d.a.api(`/v1/users/ann/notifications?tenant=${T}&before=${ids[0]}`)).json();
      expect(older.notifications.map((n: Frame) => n.id)).toEqual([ids[1]]);
    });

    test("another tenant sees none of them, over WebSocket or HTTP", async () => {
      const stranger = await user(d.a, "ann", "globex");
      expect(await stranger.request({ t: "inbox" })).toMatchObject({ t: "ok", unread: 0, notifications: [] });
      stranger.close();
      expect(await (await d.b.api("/v1/users/ann/notifications?tenant=globex")).json()).toEqual({ notifications: [], unread: 0 });
    });

    test("counts survive a restart of every process", async () => {
      onA.close();
      onB.close();
      await d.restartAll();
      onA = await user(d.a, "bob");
      expect(await onA.request({ t: "inbox" })).toMatchObject({ t: "ok", unread: 1 });
      onB = await user(d.b, "ann");
      expect(await onB.request({ t: "inbox", unread: true })).toMatchObject({ unread: 0, notifications: [] });
    });

    test("bad input to every notification frame and route gets a clear code", async () => {
      const frames: Frame[] = [{ t: "inbox", limit: 0 }, { t: "inbox", before: "x" }, { t: "inbox", page: 2 }, { t: "inbox_read", ids: [] }, { t: "inbox_read", ids: "all" }];
      for (const f of frames) expect([JSON.stringify(f), (await onA.request(f)).code]).toEqual([JSON.stringify(f), "VALIDATION_ERROR"]);
      const routes: [string, RequestInit & { json?: unknown }, string][] = [
        ["/v1/notifications", { method: "POST", json: { tenant: T, users: [], type: "x", title: "t" } }, "users: must not be empty"],
        ["/v1/notifications", { method: "POST", json: { tenant: T, users: ["a"], title: "t" } }, "type: is required"],
        ["/v1/notifications", { method: "POST", json: { tenant: T, users: ["a"], type: "x", title: "t", priority: "urgent" } }, "priority: must be low, normal or high"],
        ["/v1/notifications", { method: "POST", json: { tenant: T, users: ["a"], type: "x", title: "t", colour: 1 } }, "colour: unknown field"],
        ["/v1/users/ann/notifications?tenant=acme&unread=yes", {}, "unread: must be true or false"],
        ["/v1/users/ann/notifications?tenant=acme&limit=1000", {}, "limit: must be"],
        ["/v1/users/ann/notifications/read", { method: "POST", json: { tenant: T, ids: ["nope"] } }, "ids.0: must be a notification id"],
      ];
      for (const [path, init, text] of routes) {
        const r = await d.a.api(path, init);
        const body = await r.json();
        expect([path, r.status, body.error.code, body.error.message]).toEqual([path, 400, "VALIDATION_ERROR", expect.stringContaining(text)]);
      }
    });
  });
}

describe("the feature routes' rate limit (HTTP_FEATURE_RATE_LIMIT_*)", () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startServer({ env: { API_KEYS: "key-one,key-two", HTTP_FEATURE_RATE_LIMIT_PER_SEC: "1", HTTP_FEATURE_RATE_LIMIT_BURST: "3" } });
  });
  afterAll(async () => {
    await s?.stop();
  });
  const as = (key: string, path: string, init: RequestInit & { json?: unknown } = {}) => s.api(path, { ...init, headers: { authorization: `Bearer ${key}` } });

  test("one bucket per API key over conversations, notifications and status: 429 RATE_LIMIT_EXCEEDED with Retry-After; other keys and the core API unaffected", async () => {
    const calls: [string, RequestInit & { json?: unknown }][] = [
      ["/v1/notifications", { method: "POST", json: { tenant: T, users: ["ann"], type: "t", title: "hi" } }],
      [`/v1/users/status?tenant=${T}&ids=ann`, {}],
      [`/v1/users/ann/conversations?tenant=${T}`, {}],
    ];
    for (const [path, init] of calls) expect([path, (await as("key-one", path, init)).status]).toEqual([path, 200]);
    const refused = await as("key-one", `/v1/users/ann/notifications?tenant=${T}`);
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    const body = await refused.json();
    expect(body).toEqual({ error: { code: "RATE_LIMIT_EXCEEDED", message: expect.stringContaining("requests a second"), retryAfter: expect.any(Number) } });
    expect((await as("key-one", "/v1/conversations/c1", { method: "PUT", json: { tenant: T, members: ["ann"] } })).status).toBe(429);
    // Another key has its own budget; the core API is outside this one.
    expect((await as("key-two", `/v1/users/status?tenant=${T}&ids=ann`)).status).toBe(200);
    expect((await as("key-one", "/v1/publish", { method: "POST", json: { tenant: T, ch: "room:lobby", ev: "e", data: 1 } })).status).toBe(200);
    // A bad key is still told so, not rate limited.
    expect((await as("wrong", `/v1/users/status?tenant=${T}&ids=ann`)).status).toBe(401);
    // The bucket refills: once Retry-After has passed, the key gets in again.
    await until(async () => ((await as("key-one", `/v1/users/status?tenant=${T}&ids=ann`)).status === 200 ? true : undefined), "key-one allowed again", 10_000);
  });
});
