import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import type { Socket } from "socket.io-client";
import { startServer, token, type TestServer } from "../helpers/server.ts";
import { TestClient } from "../helpers/ws-client.ts";
import { connect, ENGINES, next, startEngineDeps, stopEngineDeps, type ClientOptions } from "./support.ts";

// Real server and redis-server processes on a shared machine: well past bun's 5 s default.
setDefaultTimeout(30_000);

beforeAll(() => startEngineDeps());
afterAll(() => stopEngineDeps());

const T = "acme";

/** Emits `ev` with an ack callback and resolves with the ack. */
function ask(s: Socket, ev: string, payload?: unknown): Promise<any> {
  return new Promise((resolve) => (payload === undefined ? s.emit(ev, resolve) : s.emit(ev, payload, resolve)));
}

describe.each(ENGINES)("Socket.IO legacy events onto the features, $name engine", (engine) => {
  let server: TestServer;
  const sockets: Socket[] = [];
  const natives: TestClient[] = [];
  beforeAll(async () => {
    server = await startServer({ env: { ...engine.env(), WS_RATE_LIMIT_PER_SEC: "0", WS_MAX_CONNECTIONS_PER_USER: "0" } });
    const put = await server.api("/v1/conversations/visit-1", { method: "PUT", json: { tenant: T, members: ["ann", "bob", "cy"], title: "Visit" } });
    expect(put.status).toBe(200);
  });
  afterAll(async () => {
    for (const s of sockets) s.close();
    for (const c of natives) c.close();
    await server?.stop();
  });

  async function sio(sub: string, opts: ClientOptions = {}, nsp = "/"): Promise<Socket> {
    const s = await connect(server.url + nsp, { auth: { token: await token({ sub, tenant: T }) }, ...opts });
    sockets.push(s);
    return s;
  }
  async function native(sub: string): Promise<TestClient> {
    const c = (await TestClient.auth(server.wsUrl, await token({ sub, tenant: T }))).client;
    natives.push(c);
    return c;
  }

  test("notifications: unread counts arrive as notifications:unread; notification:read {id} and notifications:read_all mark read with their acks", async () => {
    const s = await sio("nan", { transports: ["websocket"] });
    const polling = await sio("nan", { transports: ["polling"] });
    const other = await native("nan");
    const live = next(s, "notification");
    const counted = [next(s, "notifications:unread"), next(polling, "notifications:unread")];
    const res = await server.api("/v1/notifications", { method: "POST", json: { tenant: T, users: ["nan"], type: "appointment", title: "Visit at 10:00" } });
    expect(res.status).toBe(200);
    const [id] = (await res.json()).ids as string[];
    expect((await live)[0]).toMatchObject({ id, title: "Visit at 10:00", readTs: null });
    for (const args of await Promise.all(counted)) expect(args[0]).toEqual({ unread: 1 });
    const two = new Promise<void>((resolve) => s.on("notifications:unread", (c: { unread: number }) => c.unread === 2 && resolve()));
    await server.api("/v1/notifications", { method: "POST", json: { tenant: T, users: ["nan"], type: "lab", title: "Lab results" } });
    await two;

    const list = await ask(s, "notifications:list", { unreadOnly: true, limit: 10 });
    expect(list.unread).toBe(2);
    expect(list.notifications.map((n: { title: string }) => n.title)).toEqual(["Lab results", "Visit at 10:00"]);

    const mark = other.frames.length;
    const seenByPolling = new Promise<void>((resolve) => polling.on("notifications:unread", (c: { unread: number }) => c.unread === 1 && resolve()));
    expect(await ask(s, "notification:read", { id })).toEqual({ success: true, unread: 1 });
    // The user's native connection and other Socket.IO connections learn the new count.
    expect(await other.next((f) => f.t === "inbox", 5000, mark)).toEqual({ t: "inbox", unread: 1 });
    await seenByPolling;
    expect(await ask(s, "notifications:read_all")).toEqual({ success: true, unread: 0 });
    expect((await ask(s, "notifications:list", { unreadOnly: true })).notifications).toEqual([]);

    // A bad id is refused in the mapped error ack, and the socket stays usable.
    const bad = await ask(s, "notification:read", { id: "nope" });
    expect(bad).toMatchObject({ success: false, code: "VALIDATION_ERROR" });
    expect(bad.error).toContain("ids");
    expect(await ask(s, "notification:read", {})).toMatchObject({ success: false, code: "VALIDATION_ERROR", error: "notification:read.id: is required" });
    expect(s.connected).toBe(true);
  });

  test("chat: typing {conversationId} reaches native and Socket.IO members but not the sender; a native sender's typing reaches Socket.IO members", async () => {
    const ann = await sio("ann", { transports: ["websocket"] });
    const cy = await sio("cy", { transports: ["polling"] }, "/messaging");
    const bob = await native("bob");
    expect(await ask(ann, "conversation:join", { conversationId: "visit-1" })).toMatchObject({ success: true, conversationId: "visit-1" });
    expect(await ask(cy, "conversation:join", { conversationId: "visit-1" })).toMatchObject({ success: true });
    expect(await bob.request({ t: "sub", ch: "chat:visit-1" })).toMatchObject({ t: "ok" });

    const annTyping: unknown[] = [];
    ann.on("typing", (e: unknown) => annTyping.push(e));
    const cySees = next(cy, "typing");
    const mark = bob.frames.length;
    expect(await ask(ann, "typing", { conversationId: "visit-1", isTyping: true })).toEqual({ success: true });
    expect((await cySees)[0]).toMatchObject({ ch: "chat:visit-1", conversationId: "visit-1", user: "ann", active: true, expires: 5000 });
    expect(await bob.next((f) => f.t === "typing", 5000, mark)).toMatchObject({ ch: "chat:visit-1", user: "ann", active: true });

    // Bob (native) types: both Socket.IO members see it; ann's first typing event is Bob's, never her own.
    const annSees = new Promise<void>((resolve) => ann.on("typing", (e: { user: string }) => e.user === "bob" && resolve()));
    const cySeesBob = next(cy, "typing");
    expect(await bob.request({ t: "typing", ch: "chat:visit-1", active: false })).toMatchObject({ t: "ok" });
    await annSees;
    expect((await cySeesBob)[0]).toMatchObject({ user: "bob", active: false, conversationId: "visit-1" });
    expect(annTyping.map((e) => (e as { user: string }).user)).toEqual(["bob"]);

    // Typing where the socket did not join is refused in the error ack.
    expect(await ask(ann, "typing", { conversationId: "visit-2" })).toMatchObject({ success: false, code: "BAD_REQUEST" });
  });

  test("chat: message:read {conversationId, off} moves the read position; members get message:read", async () => {
    const ann = await sio("ann");
    const cy = await sio("cy", { transports: ["websocket"] });
    await ask(ann, "conversation:join", { conversationId: "visit-1" });
    await ask(cy, "conversation:join", { conversationId: "visit-1" });
    const got = next(ann, "note");
    const bob = await native("bob");
    const pub = await bob.request({ t: "pub", ch: "chat:visit-1", ev: "note", data: { text: "hello" } });
    expect(pub).toMatchObject({ t: "ok" });
    const [, meta] = (await got) as [unknown, { off: string }];
    expect(meta.off).toBe(pub.off);

    const receipt = next(cy, "message:read");
    expect(await ask(ann, "message:read", { conversationId: "visit-1", off: meta.off })).toEqual({ success: true, off: meta.off, unread: 0 });
    expect((await receipt)[0]).toEqual({ ch: "chat:visit-1", conversationId: "visit-1", user: "ann", off: meta.off });
    expect(await ask(ann, "message:read", { conversationId: "visit-1", off: String(BigInt(meta.off) + 1000n) })).toMatchObject({ success: false, code: "BAD_REQUEST" });
  });

  test("presence: presence:watch gets status events when a watched user sets a status; presence:status sets one", async () => {
    const ann = await sio("wat", { transports: ["websocket"] });
    const bob = await native("wbob");
    const watched = await ask(ann, "presence:watch", { users: ["wbob"] });
    expect(watched.users).toEqual([expect.objectContaining({ user: "wbob", status: "online", online: true })]);
    const changed = next(ann, "status");
    expect(await bob.request({ t: "status", status: "busy", text: "in surgery" })).toMatchObject({ t: "ok" });
    expect((await changed)[0]).toMatchObject({ user: "wbob", status: "busy", text: "in surgery", online: true });

    const watcher = await native("wcy");
    expect(await watcher.request({ t: "watch", users: ["wat"] })).toMatchObject({ t: "ok" });
    const mark = watcher.frames.length;
    expect(await ask(ann, "presence:status", { status: "away" })).toEqual({ success: true, status: "away" });
    expect(await watcher.next((f) => f.t === "status", 5000, mark)).toMatchObject({ user: "wat", status: "away" });
    expect(await ask(ann, "presence:status", { status: "sleeping" })).toMatchObject({ success: false, code: "VALIDATION_ERROR" });

    // After unwatching, the next change is not delivered; a later event from a still-watched user proves the order.
    expect(await ask(ann, "presence:unwatch", { users: ["wbob"] })).toEqual({ success: true });
    const seen: { user: string }[] = [];
    ann.on("status", (e: { user: string }) => seen.push(e));
    const dan = await native("wdan");
    await ask(ann, "presence:watch", { users: ["wdan"] });
    const danChanged = new Promise<void>((resolve) => ann.on("status", (e: { user: string }) => e.user === "wdan" && resolve()));
    await bob.request({ t: "status", status: "online" });
    await dan.request({ t: "status", status: "busy" });
    await danChanged;
    expect(seen.map((e) => e.user)).toEqual(["wdan"]);
  });
});
