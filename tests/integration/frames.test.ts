import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { RUNTIMES, startServer, token, type TestServer } from "../helpers/server.ts";
import { TestClient, type Frame } from "../helpers/ws-client.ts";

// The protocol as PROTOCOL.md states it, on both runtimes (Bun.serve, and Node + uWebSockets.js).
for (const runtime of RUNTIMES) describe(`on ${runtime}`, () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startServer({ runtime });
  });
  afterAll(async () => {
    await s.stop();
  });

  const login = async (sub: string, claims: Record<string, unknown> = {}) =>
    (await TestClient.auth(s.wsUrl, await token({ sub, tenant: "t1", rooms: ["r1", "r2"], ...claims }))).client;

  describe("requests and answers", () => {
    test("sub → ok {off, recovered, missed}; unsub → ok; unsub again → RESOURCE_NOT_FOUND", async () => {
      const c = await login("u1");
      expect(await c.request({ t: "sub", ch: "room:r2" })).toMatchObject({ t: "ok", off: expect.any(String), recovered: true, missed: 0 });
      expect(await c.request({ t: "sub", ch: "room:r2" })).toMatchObject({ t: "err", code: "CONFLICT" });
      expect(await c.request({ t: "unsub", ch: "room:r2" })).toEqual({ t: "ok", id: expect.any(Number) });
      expect(await c.request({ t: "unsub", ch: "room:r2" })).toMatchObject({ t: "err", code: "RESOURCE_NOT_FOUND" });
      c.close();
    });

    test("after unsub no more messages arrive", async () => {
      const c = await login("u2");
      await c.request({ t: "sub", ch: "room:r1" });
      await c.request({ t: "pub", ch: "room:r1", ev: "a", data: 1 });
      await c.next((f) => f.t === "msg" && f.data === 1);
      await c.request({ t: "unsub", ch: "room:r1" });
      const other = await login("u3");
      await other.request({ t: "sub", ch: "room:r1" });
      await other.request({ t: "pub", ch: "room:r1", ev: "a", data: 2 });
      await other.next((f) => f.t === "msg" && f.data === 2);
      expect(c.count((f) => f.t === "msg" && f.data === 2)).toBe(0);
      c.close();
      other.close();
    });

    test("pub → ok {off} increasing; every subscriber gets identical msg frames in order", async () => {
      const subs = await Promise.all([login("a"), login("b"), login("c")]);
      for (const c of subs) await c.request({ t: "sub", ch: "room:r2" });
      const pub = await login("p");
      const offs: number[] = [];
      for (let i = 0; i < 50; i++) offs.push(Number((await pub.request({ t: "pub", ch: "room:r2", ev: "n", data: { i } })).off));
      expect(offs).toEqual([...offs].sort((x, y) => x - y));
      expect(new Set(offs).size).toBe(50);
      const seqs = await Promise.all(subs.map((c) => c.waitCount((f) => f.t === "msg" && f.ch === "room:r2", 50)));
      for (const seq of seqs) {
        expect(seq.map((f) => f.data.i)).toEqual([...Array(50).keys()]);
        expect(seq.map((f) => f.off)).toEqual(offs.map(String));
        expect(seq[0]).toMatchObject({ ev: "n", from: "p", ts: expect.any(Number) });
      }
      for (const c of [...subs, pub]) c.close();
    });

    test("presence → members grouped by user with connection counts; join/leave for presence subscribers", async () => {
      const watcher = await login("watcher");
      await watcher.request({ t: "sub", ch: "room:r1", presence: true });
      await watcher.next((f) => f.t === "join" && f.user === "watcher");
      const n1 = await login("nurse");
      const n2 = await login("nurse");
      await n1.request({ t: "sub", ch: "room:r1" });
      await n2.request({ t: "sub", ch: "room:r1" });
      const join = await watcher.next((f) => f.t === "join" && f.user === "nurse");
      expect(join).toMatchObject({ ch: "room:r1", conn: expect.stringContaining(".") });
      const pres = await watcher.request({ t: "presence", ch: "room:r1" });
      const members = [...pres.members].sort((x: any, y: any) => x.user.localeCompare(y.user));
      // Members carry their presence status (online when the user set none: the presence feature).
      expect(members).toEqual([{ user: "nurse", conns: 2, status: "online" }, { user: "watcher", conns: 1, status: "online" }]);
      n1.close();
      const leave = await watcher.next((f) => f.t === "leave" && f.user === "nurse");
      expect(leave.ch).toBe("room:r1");
      const after = await watcher.request({ t: "presence", ch: "room:r1" });
      expect(after.members.find((m: any) => m.user === "nurse").conns).toBe(1);
      // A subscriber without presence:true gets no join/leave frames.
      expect(n2.count((f) => f.t === "join" || f.t === "leave")).toBe(0);
      n2.close();
      watcher.close();
    });

    test("history → messages and off; since and limit; recovered", async () => {
      const c = await login("h");
      const first = Number((await c.request({ t: "pub", ch: "room:r1", ev: "h", data: "x0" })).off);
      for (let i = 1; i < 5; i++) await c.request({ t: "pub", ch: "room:r1", ev: "h", data: `x${i}` });
      const all = await c.request({ t: "history", ch: "room:r1", since: String(first - 1) });
      expect(all.messages.map((m: any) => m.data)).toEqual(["x0", "x1", "x2", "x3", "x4"]);
      expect(all).toMatchObject({ off: String(first + 4), recovered: true });
      const two = await c.request({ t: "history", ch: "room:r1", limit: 2 });
      expect(two.messages.map((m: any) => m.data)).toEqual(["x3", "x4"]);
      const ahead = await c.request({ t: "history", ch: "room:r1", since: String(first + 1000) });
      expect(ahead).toMatchObject({ messages: [], recovered: false });
      c.close();
    });

    test("history on a namespace without history is a BAD_REQUEST", async () => {
      const c = await login("caller", { calls: ["c1"] });
      expect(await c.request({ t: "history", ch: "call:c1" })).toMatchObject({ t: "err", code: "BAD_REQUEST" });
      c.close();
    });

    test("refresh → ok {exp} with a new token of the same user; another user's token is refused", async () => {
      const c = await login("r");
      const fresh = await token({ sub: "r", tenant: "t1", rooms: ["r1"] }, { expSec: 7200 });
      const ok = await c.request({ t: "refresh", token: fresh });
      expect(ok.t).toBe("ok");
      expect(ok.exp).toBeGreaterThan(Date.now() / 1000 + 7000);
      const other = await c.request({ t: "refresh", token: await token({ sub: "someone-else", tenant: "t1" }) });
      expect(other).toMatchObject({ t: "err", code: "AUTHENTICATION_FAILED" });
      const forged = await c.request({ t: "refresh", token: await token({ sub: "r", tenant: "t1" }, { secret: "x".repeat(40) }) });
      expect(forged).toMatchObject({ t: "err", code: "AUTHENTICATION_FAILED" });
      expect(c.closeCode).toBeUndefined();
      c.close();
    });
  });

  describe("pub frames in the SDK's member order (read from their text, without re-encoding data)", () => {
    /** Sends a pub as the SDK writes it (t, id, ch, ev, data) with `data` as the given JSON text; resolves with its answer. */
    const pubText = (c: TestClient, id: number, ch: string, data: string) => {
      const mark = c.frames.length;
      c.send(`{"t":"pub","id":${id},"ch":"${ch}","ev":"e","data":${data}}`);
      return c.next((f) => (f.t === "ok" || f.t === "err") && f.id === id, 5000, mark);
    };

    test("data of any shape arrives with the same value, sender and offset, and history returns it", async () => {
      const sub = await login("txt-sub");
      await sub.request({ t: "sub", ch: "room:r2" });
      const c = await login("txt-pub");
      const texts = ['{ "a" : [1, 2.50, -0.0], "s":"\\u00e9 \\n \\" x" }', "[]", '"plain"', "null", "12345", '{"nested":{"deep":[{"k":true}]}}'];
      const values = texts.map((t) => JSON.parse(t));
      const offs: string[] = [];
      for (let i = 0; i < texts.length; i++) {
        const ok = await pubText(c, 500 + i, "room:r2", texts[i]!);
        expect([ok.t, ok.id, typeof ok.off]).toEqual(["ok", 500 + i, "string"]);
        offs.push(ok.off);
      }
      const got = await sub.waitCount((f) => f.t === "msg" && f.ch === "room:r2" && f.from === "txt-pub", texts.length);
      expect(got.map((f) => f.data)).toEqual(values);
      expect(got.map((f) => f.off)).toEqual(offs);
      const h = await sub.request({ t: "history", ch: "room:r2", since: String(Number(offs[0]) - 1) });
      expect(h.messages.map((m: Frame) => [m.off, m.data, m.from])).toEqual(offs.map((off, i) => [off, values[i], "txt-pub"]));
      sub.close();
      c.close();
    });

    test("a line break, a second data member or an unknown namespace: answered as in any member order", async () => {
      const c = await login("txt-odd");
      await c.request({ t: "sub", ch: "room:r1" });
      // A line break inside data (whitespace): published, and history stays readable around it.
      const a = await pubText(c, 601, "room:r1", '{"a":\n1}');
      expect(a).toMatchObject({ t: "ok" });
      // A second data member: the last one is the publication (as JSON.parse of the frame reads it).
      const mark = c.frames.length;
      c.send('{"t":"pub","id":602,"ch":"room:r1","ev":"e","data":1,"data":2}');
      const b = await c.next((f) => f.id === 602 && f.t === "ok", 5000, mark);
      const msgs = await c.waitCount((f) => f.t === "msg" && (f.off === a.off || f.off === b.off), 2);
      expect(msgs.map((f) => f.data)).toEqual([{ a: 1 }, 2]);
      const h = await c.request({ t: "history", ch: "room:r1", since: String(Number(a.off) - 1) });
      expect(h.messages.map((m: Frame) => m.data)).toEqual([{ a: 1 }, 2]);
      expect(await pubText(c, 603, "nosuch:x", "1")).toMatchObject({ t: "err", id: 603, code: "RESOURCE_NOT_FOUND" });
      expect(await pubText(c, 604, "room:r9", "1")).toMatchObject({ t: "err", id: 604, code: "AUTHORIZATION_FAILED" });
      const bad = c.frames.length;
      c.send('{"t":"pub","id":605,"ch":"room:r1","ev":"e","data":{}');
      expect(await c.next((f) => f.t === "err", 5000, bad)).toMatchObject({ code: "BAD_REQUEST", msg: "frame is not valid JSON" });
      expect(await pubText(c, 606, "room:r1", "1")).toMatchObject({ t: "ok", id: 606 });
      c.close();
    });
  });

  describe("bad input gets a clear error and the connection stays usable", () => {
    test("malformed JSON → BAD_REQUEST", async () => {
      const c = await login("bad1");
      c.send("{not json");
      expect(await c.next((f) => f.t === "err")).toMatchObject({ code: "BAD_REQUEST", msg: "frame is not valid JSON" });
      expect((await c.request({ t: "sub", ch: "room:r1" })).t).toBe("ok");
      c.close();
    });

    test("binary frame → BAD_REQUEST", async () => {
      const c = await login("bad2");
      c.ws.send(new Uint8Array([1, 2, 3]));
      expect(await c.next((f) => f.t === "err")).toMatchObject({ code: "BAD_REQUEST", msg: "binary frames are not supported" });
      c.close();
    });

    test("unknown field, missing field, wrong type, unknown t → VALIDATION_ERROR naming the field", async () => {
      const c = await login("bad3");
      expect(await c.request({ t: "sub", ch: "room:r1", sicne: "1" })).toMatchObject({ code: "VALIDATION_ERROR", msg: "sicne: unknown field" });
      expect(await c.request({ t: "pub", ch: "room:r1", ev: "e" })).toMatchObject({ code: "VALIDATION_ERROR", msg: "data: is required" });
      expect(await c.request({ t: "pub", ch: 5, ev: "e", data: 1 })).toMatchObject({ code: "VALIDATION_ERROR", msg: expect.stringMatching(new RegExp("^" + "ch:")) });
      expect(await c.request({ t: "history", ch: "room:r1", limit: 5000 })).toMatchObject({ code: "VALIDATION_ERROR", msg: expect.stringMatching(new RegExp("^" + "limit:")) });
      expect(await c.request({ t: "explode" })).toMatchObject({ code: "VALIDATION_ERROR", msg: "t: unknown frame type" });
      expect(await c.request({ t: "sub", ch: "room:r1", since: "-1" })).toMatchObject({ code: "VALIDATION_ERROR" });
      expect(await c.request({ t: "sub", ch: "room with spaces" })).toMatchObject({ code: "VALIDATION_ERROR", msg: expect.stringMatching(new RegExp("^" + "ch:")) });
      c.close();
    });

    test("unknown namespace → RESOURCE_NOT_FOUND", async () => {
      const c = await login("bad4");
      expect(await c.request({ t: "sub", ch: "nosuch:thing" })).toMatchObject({ code: "RESOURCE_NOT_FOUND" });
      expect(await c.request({ t: "sub", ch: "__proto__:x" })).toMatchObject({ code: "RESOURCE_NOT_FOUND" });
      expect(await c.request({ t: "sub", ch: "constructor:x" })).toMatchObject({ code: "RESOURCE_NOT_FOUND" });
      c.close();
    });

    test("error messages never echo the payload", async () => {
      const c = await login("bad5");
      const secret = "PATIENT-DOB-1999-01-01";
      const r = await c.request({ t: "pub", ch: "room:nope", ev: "e", data: { secret } });
      expect(r.code).toBe("AUTHORIZATION_FAILED");
      expect(JSON.stringify(r)).not.toContain(secret);
      expect(JSON.stringify(s.logs)).not.toContain(secret);
      c.close();
    });
  });
});
