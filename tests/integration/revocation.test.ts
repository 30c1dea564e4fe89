import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startServer, TEST_SECRET, token, type TestServer } from "../helpers/server.ts";
import { TestClient } from "../helpers/ws-client.ts";

/** PROTOCOL.md §2: a refresh re-checks live subscriptions; a token's numeric dates must be safe integers. */

const jwt = (rooms: string[]) => token({ sub: "clinician", tenant: "t1", rooms });

describe("revocation on refresh", () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startServer();
  });
  afterAll(async () => {
    await s.stop();
  });

  test("a refresh whose token drops a room ends that subscription with err ch + AUTHORIZATION_FAILED; no further msg arrives on it; other rooms keep streaming", async () => {
    const c = (await TestClient.auth(s.wsUrl, await jwt(["patient-1", "patient-2"]))).client;
    expect(await c.request({ t: "sub", ch: "room:patient-1", presence: true })).toMatchObject({ t: "ok" });
    expect(await c.request({ t: "sub", ch: "room:patient-2" })).toMatchObject({ t: "ok" });
    const before = await s.api("/v1/channels/room:patient-1/presence?tenant=t1");
    expect(((await before.json()) as { members: { user: string }[] }).members.map((m) => m.user)).toEqual(["clinician"]);

    expect(await c.request({ t: "refresh", token: await jwt(["patient-2"]) })).toMatchObject({ t: "ok" });
    const ended = await c.next((f) => f.t === "err" && f.ch === "room:patient-1");
    expect(ended).toMatchObject({ code: "AUTHORIZATION_FAILED" });
    expect(ended.id).toBeUndefined();
    const endedAt = c.frames.indexOf(ended);

    await s.api("/v1/publish", { method: "POST", json: { tenant: "t1", ch: "room:patient-1", ev: "vitals", data: { hr: 80 } } });
    await s.api("/v1/publish", { method: "POST", json: { tenant: "t1", ch: "room:patient-2", ev: "vitals", data: { hr: 90 } } });
    await c.next((f) => f.t === "msg" && f.ch === "room:patient-2");
    expect(c.frames.slice(endedAt).filter((f) => f.t === "msg" && f.ch === "room:patient-1")).toEqual([]);
    // The ended subscription is gone: unsub says so, presence no longer lists the user.
    expect(await c.request({ t: "unsub", ch: "room:patient-1" })).toMatchObject({ t: "err", code: "RESOURCE_NOT_FOUND" });
    const after = await s.api("/v1/channels/room:patient-1/presence?tenant=t1");
    expect(((await after.json()) as { members: unknown[] }).members).toEqual([]);
    // A refresh that keeps every room ends nothing.
    const mark = c.frames.length;
    expect(await c.request({ t: "refresh", token: await jwt(["patient-2", "patient-3"]) })).toMatchObject({ t: "ok" });
    await s.api("/v1/publish", { method: "POST", json: { tenant: "t1", ch: "room:patient-2", ev: "vitals", data: { hr: 91 } } });
    await c.next((f) => f.t === "msg" && f.data?.hr === 91);
    expect(c.frames.slice(mark).filter((f) => f.t === "err")).toEqual([]);
    c.close();
  });
});

describe("numeric dates of a token", () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startServer();
  });
  afterAll(async () => {
    await s.stop();
  });

  const signRaw = (payload: string) => {
    const b64 = (x: string) => Buffer.from(x).toString("base64url");
    const head = b64('{"alg":"HS256","typ":"JWT"}') + "." + b64(payload);
    return head + "." + new Bun.CryptoHasher("sha256", TEST_SECRET).update(head).digest("base64url");
  };

  test("exp: 1e400 is refused (auth frame and upgrade) instead of a hello with exp Infinity", async () => {
    const bad = signRaw('{"sub":"u","tenant":"t1","exp":1e400}');
    const c = await TestClient.connect(s.wsUrl);
    c.send({ t: "auth", token: bad });
    expect(await c.next((f) => f.t === "err" || f.t === "hello")).toMatchObject({ t: "err", code: "AUTHENTICATION_FAILED", msg: "token exp claim must be an integer" });
    expect((await c.closed).code).toBe(4001);
    const r = await fetch(s.url + "/v1/ws?access_token=" + bad, { headers: { upgrade: "websocket", connection: "upgrade", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==", "sec-websocket-version": "13" } });
    expect(r.status).toBe(401);
    const ok = signRaw(`{"sub":"u","tenant":"t1","exp":${Math.floor(Date.now() / 1000) + 600}}`);
    const { hello } = await TestClient.auth(s.wsUrl, ok);
    expect(Number.isSafeInteger(hello.exp)).toBe(true);
  });
});
