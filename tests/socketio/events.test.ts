import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { io, type Socket } from "socket.io-client";
import { startServer, token, type TestServer } from "../helpers/server.ts";
import { TestClient } from "../helpers/ws-client.ts";
import { apiPublish, collect, connect, ENGINES, next, refusal, startEngineDeps, stopEngineDeps, type ClientOptions } from "./support.ts";

// Real server and redis-server processes on a shared machine: well past bun's 5 s default.
setDefaultTimeout(30_000);

beforeAll(() => startEngineDeps());
afterAll(() => stopEngineDeps());

const TRANSPORTS: [string, ClientOptions][] = [
  ["polling then upgrade", {}],
  ["websocket only", { transports: ["websocket"] }],
];

describe.each(ENGINES)("Socket.IO events on the $name engine", (engine) => {
  let server: TestServer;
  const sockets: Socket[] = [];
  beforeAll(async () => {
    server = await startServer({ env: { ...engine.env(), WS_RATE_LIMIT_PER_SEC: "0", WS_MAX_CONNECTIONS_PER_USER: "0" } });
  });
  afterAll(async () => {
    for (const s of sockets) s.close();
    await server?.stop();
  });

  async function as(claims: Record<string, unknown>, opts: ClientOptions = {}, nsp = "/"): Promise<Socket> {
    const s = await connect(server.url + nsp, { auth: { token: await token(claims) }, ...opts });
    sockets.push(s);
    return s;
  }

  test.each(TRANSPORTS)("connects with auth.token (%s) and a bad token gets connect_error with its code", async (_name, opts) => {
    const s = await as({ sub: "alice", tenant: "acme" }, opts);
    expect(s.connected).toBe(true);
    if (!opts.transports) {
      // Starts on long-polling and upgrades to WebSocket.
      if (s.io.engine.transport.name !== "websocket") await new Promise((r) => s.io.engine.once("upgrade", r));
      expect(s.io.engine.transport.name).toBe("websocket");
    }
    const bad = await refusal(server.url, { auth: { token: "not-a-jwt" }, ...opts });
    expect(bad.data?.code).toBe("AUTHENTICATION_FAILED");
    const expired = await refusal(server.url, { auth: { token: await token({ sub: "alice" }, { expSec: -60 }) }, ...opts });
    expect(expired.data?.code).toBe("AUTHENTICATION_FAILED");
    const none = await refusal(server.url, { ...opts });
    expect(none.data?.code).toBe("AUTHENTICATION_FAILED");
    expect(none.message).toContain("auth.token");
  });

  test("a token also works from the Authorization header or the query, and unknown namespaces are refused", async () => {
    const t = await token({ sub: "hdr", tenant: "acme" });
    const viaHeader = await connect(server.url, { extraHeaders: { authorization: `Bearer ${t}` }, transports: ["polling"] });
    const viaQuery = await connect(server.url, { query: { token: t }, transports: ["websocket"] });
    sockets.push(viaHeader, viaQuery);
    const got = [next(viaHeader, "note"), next(viaQuery, "note")];
    await apiPublish(server, "acme", "user:hdr", "note", { n: 1 });
    for (const args of await Promise.all(got)) expect(args[0]).toEqual({ n: 1 });
    const wrong = await refusal(server.url + "/nope", { auth: { token: t } });
    expect(wrong.message).toBe("Invalid namespace");
    expect(wrong.data?.code).toBe("RESOURCE_NOT_FOUND");
  });

  test.each(TRANSPORTS)("generic subscribe / publish with acks reach Socket.IO and native subscribers (%s)", async (_name, opts) => {
    const ch = `room:g${opts.transports ? "ws" : "poll"}`;
    const rooms = [ch.slice(5)];
    const alice = await as({ sub: "alice", tenant: "acme", rooms }, opts);
    const bob = await as({ sub: "bob", tenant: "acme", rooms }, { transports: ["polling"] });
    const { client: native } = await TestClient.auth(server.wsUrl, await token({ sub: "nat", tenant: "acme", rooms }));
    expect(await alice.emitWithAck("subscribe", { ch })).toEqual({ off: "0", recovered: true });
    expect(await bob.emitWithAck("subscribe", { ch })).toEqual({ off: "0", recovered: true });
    expect((await native.request({ t: "sub", id: 1, ch })).t).toBe("ok");

    const atBob = next(bob, "chat");
    const { off } = (await alice.emitWithAck("publish", { ch, ev: "chat", data: { text: "hi" } })) as { off: string };
    expect(Number(off)).toBeGreaterThan(0);
    const [data, meta] = await atBob;
    expect(data).toEqual({ text: "hi" });
    expect(meta).toEqual({ ch, off, from: "alice", ts: expect.any(Number) });
    const msg = await native.next((f) => f.t === "msg");
    expect(msg).toMatchObject({ ch, off, ev: "chat", data: { text: "hi" }, from: "alice" });

    // One HTTP-API publication reaches all three.
    const api = [next(alice, "alert"), next(bob, "alert")];
    const apiOff = await apiPublish(server, "acme", ch, "alert", { level: "high" });
    for (const [d, m] of await Promise.all(api)) {
      expect(d).toEqual({ level: "high" });
      expect(m).toEqual({ ch, off: apiOff, ts: expect.any(Number) });
    }
    expect(await native.next((f) => f.t === "msg" && f.ev === "alert")).toMatchObject({ off: apiOff });

    const history = (await bob.emitWithAck("history", { ch })) as { messages: { ev: string; data: unknown; meta: { off: string } }[]; off: string };
    expect(history.off).toBe(apiOff);
    expect(history.messages.map((m) => [m.ev, m.meta.off])).toEqual([
      ["chat", off],
      ["alert", apiOff],
    ]);
    expect(await bob.emitWithAck("unsubscribe", { ch })).toEqual({});
    expect(await bob.emitWithAck("unsubscribe", { ch })).toEqual({ error: { code: "RESOURCE_NOT_FOUND", message: `not subscribed to ${ch}` } });
    native.close();
  });

  test("legacy events map onto channels with their ack shapes, per namespace", async () => {
    const nurse = await as({ sub: "nurse1", tenant: "acme", cases: ["c7"], rooms: ["ward"] });
    const other = await as({ sub: "nurse2", tenant: "acme", rooms: ["ward"] }, { transports: ["websocket"] });
    expect(await nurse.emitWithAck("subscribe:case", { caseId: "c7" })).toEqual({ status: "subscribed", caseId: "c7" });
    expect(await other.emitWithAck("join_room", { room: "ward" })).toEqual({ success: true });
    const med = next(nurse, "medication:created");
    await apiPublish(server, "acme", "case:c7", "medication:created", { drug: "ibuprofen" });
    expect((await med)[0]).toEqual({ drug: "ibuprofen" });

    const msg = next(other, "message");
    expect(await nurse.emitWithAck("send_message", { room: "ward", message: "on my way" })).toEqual({ success: true });
    const [data, meta] = await msg;
    expect(data).toEqual({ room: "ward", message: "on my way" });
    expect(meta).toMatchObject({ ch: "room:ward", from: "nurse1" });

    // A case the token does not list, and a field that cannot be a channel name.
    // Failures answer the shape these gateways used ({status: "error", error} / {success: false, error}), plus the code.
    expect(await nurse.emitWithAck("subscribe:case", { caseId: "c8" })).toMatchObject({ status: "error", code: "AUTHORIZATION_FAILED", error: expect.any(String) });
    expect(await nurse.emitWithAck("subscribe:case", { caseId: "a b" })).toEqual({
      status: "error",
      code: "VALIDATION_ERROR",
      error: "subscribe:case.caseId: must be a string of [A-Za-z0-9_.:@=-]",
    });
    expect(await other.emitWithAck("join_room", { room: "icu" })).toMatchObject({ success: false, code: "AUTHORIZATION_FAILED" });
    expect(await other.emitWithAck("leave_room", { room: "ward" })).toEqual({ success: true });

    // /messaging reaches rooms only; /events reaches cases but not rooms.
    const chat = await as({ sub: "nurse3", tenant: "acme", rooms: ["ward"] }, {}, "/messaging");
    expect(await chat.emitWithAck("join_room", { room: "ward" })).toEqual({ success: true });
    const events = await as({ sub: "nurse3", tenant: "acme", rooms: ["ward"], cases: ["c7"] }, {}, "/events");
    expect(await events.emitWithAck("subscribe", { ch: "room:ward" })).toMatchObject({ error: { code: "RESOURCE_NOT_FOUND" } });
    expect(await events.emitWithAck("subscribe:case", { caseId: "c7" })).toEqual({ status: "subscribed", caseId: "c7" });
    expect(await events.emitWithAck("join_room", { room: "ward" })).toEqual({ error: { code: "RESOURCE_NOT_FOUND", message: "unknown event join_room" } });
  });

  test("auto-subscribed user and org channels receive HTTP-API publications without a subscribe", async () => {
    const s = io(server.url, { auth: { token: await token({ sub: "auto", tenant: "acme" }) }, transports: ["polling"] });
    sockets.push(s);
    // Gateways greet with a `connected` event once their connection handler ran; clients wait for it.
    const [hello] = await next(s, "connected");
    expect(hello).toEqual({ socketId: s.id, user: "auto", tenant: "acme", node: server.node, recovered: false });
    const mine = next(s, "appointment:reminder");
    const org = next(s, "emergency:alert");
    await apiPublish(server, "acme", "user:auto", "appointment:reminder", { at: "10:00" });
    await apiPublish(server, "acme", "org:acme", "emergency:alert", { text: "lockdown" });
    expect((await mine)[1]).toMatchObject({ ch: "user:auto" });
    expect((await org)[1]).toMatchObject({ ch: "org:acme" });
  });

  test("presence lists the members of a channel", async () => {
    const a = await as({ sub: "pa", tenant: "acme", rooms: ["pres"] });
    const b = await as({ sub: "pb", tenant: "acme", rooms: ["pres"] }, { transports: ["websocket"] });
    await a.emitWithAck("subscribe", { ch: "room:pres" });
    await b.emitWithAck("subscribe", { ch: "room:pres" });
    const { members } = (await a.emitWithAck("presence", { ch: "room:pres" })) as { members: { user: string }[] };
    expect(members.map((m) => m.user).sort()).toEqual(["pa", "pb"]);
  });

  test("subscribe with presence: true emits presence:join / presence:leave", async () => {
    const a = await as({ sub: "ja", tenant: "acme", rooms: ["jl"], cases: ["k"] }, { transports: ["polling"] });
    const b = await as({ sub: "jb", tenant: "acme", rooms: ["jl"] });
    const of = (ev: string, user: string) =>
      new Promise<unknown>((resolve) => {
        const f = (e: { user: string }) => e.user === user && (a.off(ev, f), resolve(e));
        a.on(ev, f);
      });
    const own = of("presence:join", "ja");
    expect(await a.emitWithAck("subscribe", { ch: "room:jl", presence: true })).toEqual({ off: "0", recovered: true });
    expect(await own).toEqual({ ch: "room:jl", user: "ja", conn: expect.any(String) });
    const joined = of("presence:join", "jb");
    await b.emitWithAck("subscribe", { ch: "room:jl" });
    expect(await joined).toEqual({ ch: "room:jl", user: "jb", conn: expect.any(String) });
    const left = of("presence:leave", "jb");
    await b.emitWithAck("unsubscribe", { ch: "room:jl" });
    expect(await left).toMatchObject({ ch: "room:jl", user: "jb" });
    // A namespace without join/leave refuses the flag, as on /v1/ws.
    expect(await a.emitWithAck("subscribe", { ch: "case:k", presence: true })).toMatchObject({ error: { code: "BAD_REQUEST" } });
  });

  test("validation errors come back in the ack, and binary payloads are refused", async () => {
    const s = await as({ sub: "val", tenant: "acme", rooms: ["v"] });
    expect(await s.emitWithAck("subscribe", { ch: "room:v", sicne: "1" })).toEqual({ error: { code: "VALIDATION_ERROR", message: "sicne: unknown field" } });
    expect(await s.emitWithAck("subscribe", "room:v")).toEqual({ error: { code: "VALIDATION_ERROR", message: "subscribe: expects {ch, since?, presence?}" } });
    expect(await s.emitWithAck("publish", { ch: "user:val", ev: "x", data: 1 })).toMatchObject({ error: { code: "AUTHORIZATION_FAILED" } });
    expect(await s.emitWithAck("nonsense", {})).toEqual({ error: { code: "RESOURCE_NOT_FOUND", message: "unknown event nonsense" } });
    expect(await s.emitWithAck("publish", { ch: "room:v", ev: "file", data: Buffer.from("abc") })).toEqual({
      error: { code: "BAD_REQUEST", message: "binary payloads are not supported; send JSON" },
    });
    // Without an ack the error arrives as an `error` event naming the event.
    const err = next(s, "error");
    s.emit("publish", { ch: "room:v" });
    expect((await err)[0]).toMatchObject({ code: "VALIDATION_ERROR", event: "publish" });
    // The socket is still usable.
    expect(await s.emitWithAck("subscribe", { ch: "room:v" })).toEqual({ off: "0", recovered: true });
  });

  test("a server-side disconnect through the API ends the socket without an automatic reconnect", async () => {
    const s = await as({ sub: "kicked", tenant: "acme" }, { transports: ["websocket"] });
    const gone = next(s, "disconnect");
    const res = await server.api("/v1/users/kicked/disconnect", { method: "POST", json: { tenant: "acme", reason: "account suspended" } });
    expect(res.status).toBe(200);
    expect((await gone)[0]).toBe("io server disconnect");
    expect(s.active).toBe(false);
  });

  test("tenants are isolated: same channel name, different tenants", async () => {
    const acme = await as({ sub: "t1", tenant: "acme", rooms: ["iso"] });
    const globex = await as({ sub: "t2", tenant: "globex", rooms: ["iso"] }, { transports: ["websocket"] });
    await acme.emitWithAck("subscribe", { ch: "room:iso" });
    await globex.emitWithAck("subscribe", { ch: "room:iso" });
    const seenByGlobex = collect(globex, "secret");
    const atAcme = next(acme, "secret");
    await apiPublish(server, "acme", "room:iso", "secret", { for: "acme" });
    expect((await atAcme)[0]).toEqual({ for: "acme" });
    const own = next(globex, "own");
    await globex.emitWithAck("publish", { ch: "room:iso", ev: "own", data: 1 });
    await own;
    expect(seenByGlobex).toEqual([]);
    // An org channel of another tenant is not reachable.
    expect(await globex.emitWithAck("subscribe", { ch: "org:acme" })).toMatchObject({ error: { code: "AUTHORIZATION_FAILED" } });
  });
});

test("the rate limit answers RATE_LIMIT_EXCEEDED with retryAfter in the ack", async () => {
  const server = await startServer({ env: { WS_RATE_LIMIT_PER_SEC: "1", WS_RATE_LIMIT_BURST: "3" } });
  try {
    const s = await connect(server.url, { auth: { token: await token({ sub: "fast", tenant: "acme", rooms: ["r"] }) }, transports: ["websocket"] });
    const acks = await Promise.all(Array.from({ length: 8 }, (_, i) => s.emitWithAck("publish", { ch: "room:r", ev: "m", data: i })));
    const limited = acks.filter((a) => (a as { error?: { code: string } }).error?.code === "RATE_LIMIT_EXCEEDED");
    expect(limited.length).toBeGreaterThan(0);
    expect((limited[0] as { error: { retryAfter: number } }).error.retryAfter).toBeGreaterThan(0);
    expect(acks.filter((a) => "off" in (a as object)).length).toBeGreaterThan(0);
    s.close();
  } finally {
    await server.stop();
  }
});
