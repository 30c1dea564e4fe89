import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { SwitchboardClientError, type PresenceEvent } from "../../src/client/index.ts";
import { startServer, token, type TestServer } from "../helpers/server.ts";
import { apiPublish, clientPool, Inbox, nextEvent, recordEvents } from "./support.ts";

describe("SwitchboardClient against a real server", () => {
  let server: TestServer;
  const pool = clientPool();
  beforeAll(async () => {
    server = await startServer({ env: { WS_RATE_LIMIT_PER_SEC: "0" } });
  });
  afterEach(() => pool.closeAll());
  afterAll(() => server.stop());

  test("connects, subscribes, receives API and client publications, sees presence and history", async () => {
    const alice = pool.create(server.wsUrl, { token: await token({ sub: "alice", rooms: ["r1"] }) });
    const events = recordEvents(alice);
    const hello = await alice.connect();
    expect(hello.user).toBe("alice");
    expect(alice.state).toBe("connected");

    const inbox = new Inbox<{ n: number }>();
    const bobJoined = Promise.withResolvers<PresenceEvent>();
    const sub = alice.subscribe("room:r1", inbox.push, { presence: true, onJoin: (e) => e.user === "bob" && bobJoined.resolve(e) });
    const first = await sub.ready;
    expect(first).toMatchObject({ ch: "room:r1", recovered: true, resubscribed: false });
    expect(sub.state).toBe("subscribed");

    const apiOff = await apiPublish(server, "room:r1", "note", { n: 1 });
    const { off } = await alice.publish("room:r1", "note", { n: 2 });
    expect(typeof off).toBe("string");
    await inbox.waitFor(2);
    expect(inbox.data).toEqual([{ n: 1 }, { n: 2 }]);
    expect(inbox.messages.map((m) => m.off)).toEqual([apiOff, off]);
    expect(inbox.messages[1]!.from).toBe("alice");

    const bob = pool.create(server.wsUrl, { token: await token({ sub: "bob", rooms: ["r1"] }) });
    await bob.connect();
    const aliceLeft = Promise.withResolvers<PresenceEvent>();
    await bob.subscribe("room:r1", () => {}, { presence: true, onLeave: (e) => e.user === "alice" && aliceLeft.resolve(e) }).ready;
    expect((await bobJoined.promise).ch).toBe("room:r1");
    const members = await alice.presence("room:r1");
    expect(members.map((m) => m.user).sort()).toEqual(["alice", "bob"]);

    const history = await bob.history<{ n: number }>("room:r1", { limit: 10 });
    expect(history.messages.map((m) => m.data)).toEqual([{ n: 1 }, { n: 2 }]);
    expect(history.off).toBe(off!);
    const after = await bob.history("room:r1", { since: apiOff });
    expect(after.messages.map((m) => m.off)).toEqual([off]);

    sub.unsubscribe();
    expect(sub.state).toBe("unsubscribed");
    // The server saw the unsub (the SDK could drop messages locally without ever sending it):
    // alice left the room's presence, for bob and for the server's own answer.
    expect((await aliceLeft.promise).ch).toBe("room:r1");
    expect((await bob.presence("room:r1")).map((m) => m.user)).toEqual(["bob"]);
    await alice.publish("room:r1", "note", { n: 3 }); // the answer arrives after the unsub was processed
    await bob.publish("room:r1", "note", { n: 4 });
    expect(inbox.data).toEqual([{ n: 1 }, { n: 2 }]);
    expect(events.filter((e) => e.name === "reconnecting")).toEqual([]);
  });

  test("the server's error codes reject with a typed error", async () => {
    const c = pool.create(server.wsUrl, { token: await token({ sub: "carol", rooms: ["r1"] }) });
    await c.connect();
    const refused = c.subscribe("room:secret", () => {}, { onError: () => {} });
    const err = await refused.ready.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SwitchboardClientError);
    expect(err).toMatchObject({ code: "AUTHORIZATION_FAILED", ch: "room:secret" });
    expect(refused.state).toBe("unsubscribed");
    await expect(c.publish("nowhere:x", "e", 1)).rejects.toMatchObject({ code: "RESOURCE_NOT_FOUND" });
    await expect(c.publish("user:carol", "e", 1)).rejects.toMatchObject({ code: "AUTHORIZATION_FAILED" });
    // The connection survives request errors.
    expect(c.state).toBe("connected");
    await c.subscribe("room:r1", () => {}).ready;
  });

  test("a refused token ends the client with AUTHENTICATION_FAILED and no reconnect", async () => {
    const c = pool.create(server.wsUrl, { token: await token({ sub: "mallory" }, { secret: "not-the-server-secret-but-32-bytes-long" }) });
    const events = recordEvents(c);
    const err = await c.connect().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SwitchboardClientError);
    expect((err as SwitchboardClientError).code).toBe("AUTHENTICATION_FAILED");
    expect(c.state).toBe("closed");
    expect(events.find((e) => e.name === "disconnected")?.payload).toMatchObject({ code: 4001, willReconnect: false });
    expect(events.filter((e) => e.name === "reconnecting")).toEqual([]);
  });

  test("getToken gets one more try after 4001 but stops when it returns the refused token again", async () => {
    const bad = await token({ sub: "mallory" }, { secret: "not-the-server-secret-but-32-bytes-long" });
    let calls = 0;
    const c = pool.create(server.wsUrl, { getToken: () => (calls++, bad) });
    const events = recordEvents(c);
    const err = await c.connect().catch((e: unknown) => e);
    expect((err as SwitchboardClientError).code).toBe("AUTHENTICATION_FAILED");
    expect(calls).toBe(2);
    expect(events.filter((e) => e.name === "connecting")).toHaveLength(2);
    expect(events.filter((e) => e.name === "reconnecting").map((e) => (e.payload as { cause: string }).cause)).toEqual(["token"]);
  });

  test("POST /v1/users/:user/disconnect ends the client: disconnected 1000, willReconnect false, no reconnect even with getToken", async () => {
    let fetched = 0;
    const c = pool.create(server.wsUrl, { getToken: () => (fetched++, token({ sub: "suspended" })) });
    const events = recordEvents(c);
    await c.connect();
    const gone = nextEvent(c, "disconnected");
    const failed = nextEvent(c, "error");
    const res = await server.api("/v1/users/suspended/disconnect", { method: "POST", json: { reason: "account suspended" } });
    expect(await res.json()).toEqual({ closed: 1 });
    expect(await gone).toEqual({ code: 1000, reason: "account suspended", willReconnect: false });
    expect(await failed).toMatchObject({ code: "DISCONNECTED", message: "closed by the server: account suspended" });
    expect(c.state).toBe("closed");
    // The decision is taken when the close arrives: a reconnect would have been scheduled (and announced) by now.
    expect(events.filter((e) => e.name === "reconnecting" || e.name === "connecting").map((e) => e.name)).toEqual(["connecting"]);
    expect(fetched).toBe(1);
  });

  test("getToken replacing a refused token connects", async () => {
    const tokens = [await token({ sub: "dave" }, { secret: "not-the-server-secret-but-32-bytes-long" }), await token({ sub: "dave" })];
    const c = pool.create(server.wsUrl, { getToken: () => tokens.shift()! });
    const hello = await c.connect();
    expect(hello.user).toBe("dave");
  });
});
