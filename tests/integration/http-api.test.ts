import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startServer, token, TEST_API_KEY, type TestServer } from "../helpers/server.ts";
import { TestClient } from "../helpers/ws-client.ts";
import { until } from "../helpers/until.ts";

/** The server HTTP API of PROTOCOL.md §6, health and metrics, against a real server process. */

const MAX_BODY = 65_536;
let s: TestServer;
beforeAll(async () => {
  s = await startServer({ env: { WS_MAX_MESSAGE_SIZE: String(MAX_BODY) } });
});
afterAll(async () => {
  await s.stop();
});

const login = async (sub: string, tenant = "t1", claims: Record<string, unknown> = {}) =>
  (await TestClient.auth(s.wsUrl, await token({ sub, tenant, rooms: ["r1", "r2", "iso"], ...claims }))).client;

const post = (path: string, json: unknown) => s.api(path, { method: "POST", json });

/** Asserts the error body shape of §6 and returns it. */
async function expectError(res: Response, status: number, code: string): Promise<{ code: string; message: string }> {
  expect(res.status).toBe(status);
  expect(res.headers.get("content-type") ?? "").toContain("application/json");
  const body = (await res.json()) as { error: { code: string; message: string } };
  expect(body.error.code).toBe(code);
  expect(typeof body.error.message).toBe("string");
  expect(body.error.message).not.toBe("");
  return body.error;
}


async function metricsText(): Promise<string> {
  const res = await fetch(s.url + "/metrics");
  expect(res.status).toBe(200);
  return res.text();
}

/** Value of one sample line (`name{labels}`), 0 when absent. */
function sample(text: string, series: string): number {
  for (const line of text.split("\n")) {
    if (line.startsWith(series + " ")) return Number(line.slice(series.length + 1));
  }
  return 0;
}

describe("publishing", () => {
  test("POST /v1/publish → {off}; subscribers get the msg without `from`", async () => {
    const a = await login("pub-sub-a");
    await a.request({ t: "sub", ch: "room:r1" });
    const res = await post("/v1/publish", { tenant: "t1", ch: "room:r1", ev: "notice", data: { text: "from the backend" } });
    expect(res.status).toBe(200);
    const { off } = (await res.json()) as { off: string };
    expect(off).toMatch(/^\d+$/);
    const m = await a.next((f) => f.t === "msg" && f.ev === "notice");
    expect(m).toMatchObject({ ch: "room:r1", off, data: { text: "from the backend" }, ts: expect.any(Number) });
    expect(m.from).toBeUndefined();
    const res2 = await post("/v1/publish", { tenant: "t1", ch: "room:r1", ev: "notice", data: 2 });
    expect(Number(((await res2.json()) as { off: string }).off)).toBeGreaterThan(Number(off));
    a.close();
  });

  test("POST /v1/broadcast → {offs} per channel, each delivered to that channel's subscribers only", async () => {
    const a = await login("bc-a");
    const b = await login("bc-b");
    await a.request({ t: "sub", ch: "room:r1" });
    await b.request({ t: "sub", ch: "room:r2" });
    // Advance room:r2 so the two channels have different offsets.
    await post("/v1/publish", { tenant: "t1", ch: "room:r2", ev: "warmup", data: 0 });
    await post("/v1/publish", { tenant: "t1", ch: "room:r2", ev: "warmup", data: 0 });
    const res = await post("/v1/broadcast", { tenant: "t1", chs: ["room:r1", "room:r2"], ev: "all", data: { n: 7 } });
    expect(res.status).toBe(200);
    const { offs } = (await res.json()) as { offs: string[] };
    expect(offs).toHaveLength(2);
    const ma = await a.next((f) => f.t === "msg" && f.ev === "all");
    const mb = await b.next((f) => f.t === "msg" && f.ev === "all");
    expect(ma).toMatchObject({ ch: "room:r1", off: offs[0], data: { n: 7 } });
    expect(mb).toMatchObject({ ch: "room:r2", off: offs[1], data: { n: 7 } });
    // Each subscriber got exactly its own channel's copy: counted once a later broadcast has arrived
    // (delivery is in offset order, so a second copy would have come before it).
    await post("/v1/broadcast", { tenant: "t1", chs: ["room:r1", "room:r2"], ev: "after", data: 0 });
    await a.next((f) => f.t === "msg" && f.ev === "after");
    await b.next((f) => f.t === "msg" && f.ev === "after");
    expect(a.count((f) => f.t === "msg" && f.ev === "all")).toBe(1);
    expect(b.count((f) => f.t === "msg" && f.ev === "all")).toBe(1);
    // And nothing arrived out of order (a late copy would): offsets strictly increase on each socket.
    for (const c of [a, b]) {
      const offs = c.frames.filter((f) => f.t === "msg").map((f) => BigInt(f.off));
      expect(offs.every((o, i) => i === 0 || o > offs[i - 1]!)).toBe(true);
    }
    a.close();
    b.close();
  });
});

describe("presence, history, disconnect", () => {
  test("GET presence lists members with connection counts (two connections of one user count 2)", async () => {
    const n1 = await login("nurse-p");
    const n2 = await login("nurse-p");
    const d = await login("doctor-p");
    for (const c of [n1, n2, d]) expect(await c.request({ t: "sub", ch: "room:iso" })).toMatchObject({ t: "ok" });
    const members = await until(async () => {
      const res = await s.api("/v1/channels/room:iso/presence?tenant=t1");
      expect(res.status).toBe(200);
      const body = (await res.json()) as { members: { user: string; conns: number; status?: string }[] };
      const sorted = [...body.members].sort((x, y) => x.user.localeCompare(y.user));
      return sorted.length === 2 && sorted[1]!.conns === 2 ? sorted : undefined;
    }, "presence of three connections");
    expect(members).toEqual([
      { user: "doctor-p", conns: 1, status: "online" },
      { user: "nurse-p", conns: 2, status: "online" },
    ]);
    n1.close();
    await n1.closed;
    await until(async () => {
      const body = (await (await s.api("/v1/channels/room:iso/presence?tenant=t1")).json()) as { members: { user: string; conns: number }[] };
      return body.members.find((m) => m.user === "nurse-p")?.conns === 1 ? true : undefined;
    }, "presence to drop to one nurse connection");
    n2.close();
    d.close();
  });

  test("GET history: all, since, limit, recovered", async () => {
    const ch = "room:r2";
    const first = Number(((await (await post("/v1/publish", { tenant: "hist", ch, ev: "h", data: "x0" })).json()) as { off: string }).off);
    for (let i = 1; i < 5; i++) expect((await post("/v1/publish", { tenant: "hist", ch, ev: "h", data: `x${i}` })).status).toBe(200);
    const all = (await (await s.api(`/v1/channels/${ch}/history?tenant=hist&since=${first - 1}`)).json()) as any;
    expect(all.messages.map((m: any) => m.data)).toEqual(["x0", "x1", "x2", "x3", "x4"]);
    expect(all).toMatchObject({ off: String(first + 4), recovered: true });
    expect(all.messages[0]).toMatchObject({ t: "msg", ch, ev: "h", off: String(first) });
    const since = (await (await s.api(`/v1/channels/${ch}/history?tenant=hist&since=${first + 2}`)).json()) as any;
    expect(since.messages.map((m: any) => m.data)).toEqual(["x3", "x4"]);
    const two = (await (await s.api(`/v1/channels/${ch}/history?tenant=hist&limit=2`)).json()) as any;
    expect(two.messages.map((m: any) => m.data)).toEqual(["x3", "x4"]);
    const ahead = (await (await s.api(`/v1/channels/${ch}/history?tenant=hist&since=${first + 1000}`)).json()) as any;
    expect(ahead).toMatchObject({ messages: [], recovered: false });
    await expectError(await s.api(`/v1/channels/${ch}/history?tenant=hist&limit=5000`), 400, "VALIDATION_ERROR");
    await expectError(await s.api(`/v1/channels/${ch}/history?tenant=hist&since=abc`), 400, "VALIDATION_ERROR");
  });

  test("POST disconnect closes every socket of that user, answers {closed}, leaves other users connected", async () => {
    const v1 = await login("victim");
    const v2 = await login("victim");
    const bystander = await login("bystander");
    const sameNameOtherTenant = await login("victim", "t2");
    const res = await post("/v1/users/victim/disconnect", { tenant: "t1", reason: "account suspended" });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ closed: 2 });
    const [c1, c2] = await Promise.all([v1.closed, v2.closed]);
    expect(c1.code).toBe(1000);
    expect(c2.code).toBe(1000);
    // The others still work.
    expect(await bystander.request({ t: "sub", ch: "room:r1" })).toMatchObject({ t: "ok" });
    expect(await sameNameOtherTenant.request({ t: "sub", ch: "room:r1" })).toMatchObject({ t: "ok" });
    expect(bystander.closeCode).toBeUndefined();
    expect(sameNameOtherTenant.closeCode).toBeUndefined();
    const none = await post("/v1/users/nobody-here/disconnect", { tenant: "t1" });
    expect(await none.json()).toEqual({ closed: 0 });
    bystander.close();
    sameNameOtherTenant.close();
  });
});

describe("API authentication and input errors", () => {
  test("missing API key → 401 AUTHENTICATION_FAILED JSON", async () => {
    const res = await fetch(s.url + "/v1/publish", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ ch: "room:r1", ev: "x", data: 1 }) });
    await expectError(res, 401, "AUTHENTICATION_FAILED");
    await expectError(await fetch(s.url + "/v1/channels/room:r1/history"), 401, "AUTHENTICATION_FAILED");
  });

  test("wrong API key → 401", async () => {
    const res = await s.api("/v1/publish", { method: "POST", json: { ch: "room:r1", ev: "x", data: 1 }, headers: { authorization: `Bearer ${TEST_API_KEY}-wrong` } });
    await expectError(res, 401, "AUTHENTICATION_FAILED");
  });

  test("a valid user JWT as bearer → 401 saying user tokens are not accepted", async () => {
    const jwt = await token({ sub: "alice", tenant: "t1", roles: ["admin"] });
    const res = await s.api("/v1/publish", { method: "POST", json: { tenant: "t1", ch: "room:r1", ev: "x", data: 1 }, headers: { authorization: `Bearer ${jwt}` } });
    const err = await expectError(res, 401, "AUTHENTICATION_FAILED");
    expect(err.message).toMatch(/user tokens are not accepted/i);
    expect(err.message).not.toContain(jwt);
  });

  test("malformed JSON → 400 BAD_REQUEST", async () => {
    const res = await s.api("/v1/publish", { method: "POST", body: '{"ch":"room:r1",', headers: { "content-type": "application/json" } });
    await expectError(res, 400, "BAD_REQUEST");
  });

  test("unknown field or wrong type → 400 VALIDATION_ERROR naming the field", async () => {
    const unknown = await expectError(await post("/v1/publish", { ch: "room:r1", ev: "x", data: 1, chanel: "typo" }), 400, "VALIDATION_ERROR");
    expect(unknown.message).toContain("chanel");
    const wrongType = await expectError(await post("/v1/publish", { ch: 42, ev: "x", data: 1 }), 400, "VALIDATION_ERROR");
    expect(wrongType.message).toContain("ch");
    const chs = await expectError(await post("/v1/broadcast", { chs: "room:r1", ev: "x", data: 1 }), 400, "VALIDATION_ERROR");
    expect(chs.message).toContain("chs");
    const missing = await expectError(await post("/v1/publish", { ch: "room:r1", ev: "x" }), 400, "VALIDATION_ERROR");
    expect(missing.message).toContain("data");
    const reason = await expectError(await post("/v1/users/u/disconnect", { reason: 5 }), 400, "VALIDATION_ERROR");
    expect(reason.message).toContain("reason");
  });

  test("unknown namespace → 404 RESOURCE_NOT_FOUND (publish, broadcast, history, presence)", async () => {
    await expectError(await post("/v1/publish", { ch: "nope:1", ev: "x", data: 1 }), 404, "RESOURCE_NOT_FOUND");
    await expectError(await post("/v1/broadcast", { chs: ["room:r1", "nope:1"], ev: "x", data: 1 }), 404, "RESOURCE_NOT_FOUND");
    await expectError(await s.api("/v1/channels/nope:1/history"), 404, "RESOURCE_NOT_FOUND");
    await expectError(await s.api("/v1/channels/nope:1/presence"), 404, "RESOURCE_NOT_FOUND");
  });

  test("a broadcast with one bad channel publishes to none of them", async () => {
    const a = await login("bc-atomic");
    await a.request({ t: "sub", ch: "room:r1" });
    await expectError(await post("/v1/broadcast", { tenant: "t1", chs: ["room:r1", "nope:1"], ev: "partial", data: 1 }), 404, "RESOURCE_NOT_FOUND");
    // A later publish arrives, the broadcast's never did.
    await post("/v1/publish", { tenant: "t1", ch: "room:r1", ev: "after", data: 1 });
    await a.next((f) => f.t === "msg" && f.ev === "after");
    expect(a.count((f) => f.t === "msg" && f.ev === "partial")).toBe(0);
    a.close();
  });

  test("history on a namespace without history (call:) → 400", async () => {
    await expectError(await s.api("/v1/channels/call:c1/history?tenant=t1"), 400, "BAD_REQUEST");
  });

  test("a body over WS_MAX_MESSAGE_SIZE → 413 MESSAGE_TOO_LARGE, nothing published", async () => {
    const a = await login("big-sub");
    await a.request({ t: "sub", ch: "room:r1" });
    const res = await post("/v1/publish", { tenant: "t1", ch: "room:r1", ev: "big", data: "x".repeat(MAX_BODY + 10) });
    await expectError(res, 413, "MESSAGE_TOO_LARGE");
    // Far above the limit the answer is still the JSON error (checked by Content-Length before reading the body).
    const huge = await post("/v1/publish", { tenant: "t1", ch: "room:r1", ev: "big", data: "x".repeat(3 * 1024 * 1024) });
    await expectError(huge, 413, "MESSAGE_TOO_LARGE");
    await post("/v1/publish", { tenant: "t1", ch: "room:r1", ev: "small", data: 1 });
    await a.next((f) => f.t === "msg" && f.ev === "small");
    expect(a.count((f) => f.t === "msg" && f.ev === "big")).toBe(0);
    a.close();
  });
});

test("tenant isolation through the HTTP API: publish, history and presence are per tenant", async () => {
  const ch = "room:iso";
  const alpha = await login("iso-user", "alpha");
  const beta = await login("iso-user", "beta");
  await alpha.request({ t: "sub", ch });
  await beta.request({ t: "sub", ch });
  const res = await post("/v1/publish", { tenant: "alpha", ch, ev: "secret", data: "alpha-only" });
  expect(res.status).toBe(200);
  await alpha.next((f) => f.t === "msg" && f.data === "alpha-only");
  // A later beta publish arrives at beta; alpha's never did.
  await post("/v1/publish", { tenant: "beta", ch, ev: "mark", data: "beta-mark" });
  await beta.next((f) => f.t === "msg" && f.data === "beta-mark");
  expect(beta.count((f) => f.t === "msg" && f.data === "alpha-only")).toBe(0);
  expect(alpha.count((f) => f.t === "msg" && f.data === "beta-mark")).toBe(0);
  const hb = (await (await s.api(`/v1/channels/${ch}/history?tenant=beta&limit=1000`)).json()) as any;
  expect(hb.messages.map((m: any) => m.data)).toEqual(["beta-mark"]);
  const ha = (await (await s.api(`/v1/channels/${ch}/history?tenant=alpha&limit=1000`)).json()) as any;
  expect(ha.messages.map((m: any) => m.data)).toEqual(["alpha-only"]);
  // No tenant means the "" tenant: it sees neither.
  const hn = (await (await s.api(`/v1/channels/${ch}/history?limit=1000`)).json()) as any;
  expect(hn.messages).toEqual([]);
  alpha.close();
  await alpha.closed;
  const pb = await until(async () => {
    const body = (await (await s.api(`/v1/channels/${ch}/presence?tenant=beta`)).json()) as any;
    return body.members.length === 1 ? body.members : undefined;
  }, "beta presence");
  expect(pb).toEqual([{ user: "iso-user", conns: 1, status: "online" }]);
  const pa = await until(async () => {
    const body = (await (await s.api(`/v1/channels/${ch}/presence?tenant=alpha`)).json()) as any;
    return body.members.length === 0 ? body.members : undefined;
  }, "alpha presence to empty after its only connection closed");
  expect(pa).toEqual([]);
  beta.close();
});

describe("health and metrics", () => {
  test("/health/live and /health/ready answer 200; /health reports components", async () => {
    const live = await fetch(s.url + "/health/live");
    expect(live.status).toBe(200);
    const ready = await fetch(s.url + "/health/ready");
    expect(ready.status).toBe(200);
    const res = await fetch(s.url + "/health");
    expect(res.status).toBe(200);
    const h = (await res.json()) as any;
    expect(h.node).toBe(s.node);
    expect(Object.keys(h.components).sort()).toEqual(["engine", "eventLoop", "externalAPIs", "jobQueue", "store", "websocket"]);
    expect(h.components.engine.status).toBe("ok");
    expect(h.components.websocket.status).toBe("ok");
    // A fresh node's queue is reachable and holds the built-in history-trim job, due at the next minute.
    expect(h.components.jobQueue.status).toBe("ok");
    const trim = (await (await s.api("/v1/jobs")).json()).jobs.find((j: any) => j.name === "history-trim");
    expect(trim).toMatchObject({ key: "builtin:history-trim", kind: "builtin", schedule: { cron: "*/1 * * * *", tz: "UTC" }, nextRun: expect.stringMatching(/:00\.000Z$/) });
    // The loop's status follows its measured lag (which depends on the machine), by the documented thresholds.
    const lag = h.components.eventLoop.lagMs as number;
    expect(typeof lag).toBe("number");
    expect(h.components.eventLoop.status).toBe(lag > 1000 ? "down" : lag > 100 ? "degraded" : "ok");
    expect(h.status).toBe(h.components.eventLoop.status);
  });

  test("/metrics is Prometheus text whose counters move with traffic", async () => {
    const before = await metricsText();
    expect(before).toContain("# TYPE switchboard_connections gauge");
    expect(before).toContain("# TYPE switchboard_publishes_total counter");
    const conns0 = sample(before, "switchboard_connections");
    const pubIn0 = sample(before, 'switchboard_messages_in_total{type="pub"}');
    const api0 = sample(before, 'switchboard_publishes_total{source="api"}');
    const ws0 = sample(before, 'switchboard_publishes_total{source="ws"}');
    const val0 = sample(before, 'switchboard_errors_total{code="VALIDATION_ERROR"}');
    const chans0 = sample(before, "switchboard_channels");

    const c = await login("metrics-user");
    const c2 = await login("metrics-user-2");
    for (let i = 0; i < 3; i++) expect(await c.request({ t: "pub", ch: "room:r1", ev: "m", data: i })).toMatchObject({ t: "ok" });
    expect(await c.request({ t: "sub", ch: "room:r1", bogus: 1 })).toMatchObject({ t: "err", code: "VALIDATION_ERROR" });
    expect((await post("/v1/publish", { tenant: "t1", ch: "room:r1", ev: "m", data: 1 })).status).toBe(200);

    const during = await metricsText();
    expect(sample(during, "switchboard_connections")).toBe(conns0 + 2);
    expect(sample(during, 'switchboard_messages_in_total{type="pub"}')).toBe(pubIn0 + 3);
    expect(sample(during, 'switchboard_publishes_total{source="ws"}')).toBe(ws0 + 3);
    expect(sample(during, 'switchboard_publishes_total{source="api"}')).toBe(api0 + 1);
    expect(sample(during, 'switchboard_errors_total{code="VALIDATION_ERROR"}')).toBe(val0 + 1);
    // A channel nobody had published to before now has engine state.
    expect((await post("/v1/publish", { tenant: "t1", ch: `room:metrics-${crypto.randomUUID()}`, ev: "m", data: 1 })).status).toBe(200);
    expect(sample(await metricsText(), "switchboard_channels")).toBe(chans0 + 1);
    c.close();
    c2.close();
    await Promise.all([c.closed, c2.closed]);
    await until(async () => (sample(await metricsText(), "switchboard_connections") === conns0 ? true : undefined), "connections gauge to drop back");
  });
});

test("an API publish writes an audit line with ch and ev, never the payload", async () => {
  const marker = `payload-marker-${crypto.randomUUID()}`;
  const res = await post("/v1/publish", { tenant: "t1", ch: "room:r2", ev: "audited", data: { secret: marker } });
  expect(res.status).toBe(200);
  const line = await until(async () => s.logs.find((l) => l.msg === "api_publish" && l.ev === "audited"), "api_publish audit line");
  expect(line).toMatchObject({ audit: true, ch: "room:r2", tenant: "t1" });
  expect(JSON.stringify(s.logs)).not.toContain(marker);
  expect(JSON.stringify(s.logs)).not.toContain(TEST_API_KEY);
});
