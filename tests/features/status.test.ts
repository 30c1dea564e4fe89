import { afterAll, beforeAll, describe, expect, test, setDefaultTimeout } from "bun:test";
import { token, type TestServer } from "../helpers/server.ts";
import { until } from "../helpers/until.ts";
import { TestClient, type Frame } from "../helpers/ws-client.ts";
import { SETUPS, type Deployment } from "./setups.ts";

// Real PostgreSQL and Redis processes are started, stopped and restarted here.
setDefaultTimeout(60_000);

const T = "acme";

async function user(s: TestServer, sub: string, tenant = T): Promise<TestClient> {
  return (await TestClient.auth(s.wsUrl, await token({ sub, tenant }))).client;
}

async function roster(s: TestServer, ids: string, tenant = T): Promise<Frame[]> {
  const r = await s.api(`/v1/users/status?tenant=${tenant}&ids=${ids}`);
  expect(r.status).toBe(200);
  return (await r.json()).users;
}

for (const setup of SETUPS) {
  describe(`presence status on ${setup.name}`, () => {
    let d: Deployment;
    let carol: TestClient;
    let stranger: TestClient;
    let seenAt = 0;

    beforeAll(async () => {
      d = await setup.start();
    });
    afterAll(async () => {
      carol?.close();
      stranger?.close();
      await d?.stop();
    });

    test("a watcher gets the roster, then the status a user sets on another node; it survives one connection going", async () => {
      carol = await user(d.b, "carol");
      const w = await carol.request({ t: "watch", users: ["ann", "bob"] });
      expect(w).toMatchObject({ t: "ok", users: [{ user: "ann", status: "offline", online: false, lastSeen: null }, { user: "bob", status: "offline", online: false, lastSeen: null }] });
      stranger = await user(d.b, "carol", "globex");
      expect(await stranger.request({ t: "watch", users: ["ann"] })).toMatchObject({ t: "ok" });

      const phone = await user(d.a, "ann");
      const laptop = await user(d.b, "ann");
      expect(await roster(d.a, "ann")).toEqual([{ user: "ann", status: "online", online: true, lastSeen: null }]);
      expect(await phone.request({ t: "status", status: "busy", text: "in clinic" })).toMatchObject({ t: "ok", status: "busy", text: "in clinic" });
      expect(await carol.next((f) => f.t === "status")).toEqual({ t: "status", user: "ann", status: "busy", text: "in clinic", online: true, lastSeen: null });
      phone.close();
      await phone.closed;
      const again = await user(d.a, "ann");
      expect(await roster(d.b, "ann,bob")).toEqual([
        { user: "ann", status: "busy", text: "in clinic", online: true, lastSeen: null },
        { user: "bob", status: "offline", online: false, lastSeen: null },
      ]);
      expect(await again.request({ t: "roster", users: ["ann"] })).toMatchObject({ users: [{ status: "busy" }] });

      // invisible: connected, but shown offline
      expect(await laptop.request({ t: "status", status: "offline" })).toMatchObject({ t: "ok", status: "offline" });
      expect(await carol.next((f) => f.t === "status" && f.status === "offline")).toMatchObject({ user: "ann", online: false });
      expect(await laptop.request({ t: "status", status: "away" })).toMatchObject({ status: "away" });
      await carol.next((f) => f.t === "status" && f.status === "away");

      const mark = carol.frames.length;
      again.close();
      laptop.close();
      const gone = await carol.next((f) => f.t === "status" && f.online === false && f.lastSeen !== null, 10_000, mark);
      expect(gone).toEqual({ t: "status", user: "ann", status: "offline", online: false, lastSeen: expect.any(Number) });
      // Both nodes may see their connection as the last one and both record; the store keeps the later time.
      const [entry] = await roster(d.a, "ann");
      expect(entry).toEqual({ user: "ann", status: "offline", online: false, lastSeen: expect.any(Number) });
      expect(entry!.lastSeen).toBeGreaterThanOrEqual(gone.lastSeen);
      seenAt = entry!.lastSeen;
    });

    test("subscribers of a presence channel the user is on get the status change, with the channel", async () => {
      const ann = (await TestClient.auth(d.a.wsUrl, await token({ sub: "ann", tenant: T, rooms: ["ward"] }))).client;
      const nurse = (await TestClient.auth(d.b.wsUrl, await token({ sub: "nurse", tenant: T, rooms: ["ward"] }))).client;
      expect(await nurse.request({ t: "sub", ch: "room:ward", presence: true })).toMatchObject({ t: "ok" });
      expect(await ann.request({ t: "sub", ch: "room:ward" })).toMatchObject({ t: "ok" });
      await nurse.next((f) => f.t === "join" && f.user === "ann");
      expect(await ann.request({ t: "status", status: "away", text: "break" })).toMatchObject({ t: "ok" });
      expect(await nurse.next((f) => f.t === "status" && f.ch === "room:ward")).toEqual({ t: "status", ch: "room:ward", user: "ann", status: "away", text: "break", online: true, lastSeen: expect.any(Number) });
      const mark = carol.frames.length;
      ann.close();
      nurse.close();
      // carol still watches ann: she sees ann go offline again before the next test
      await carol.next((f) => f.t === "status" && f.user === "ann" && f.online === false, 10_000, mark);
      const [e] = await roster(d.a, "ann");
      seenAt = Math.max(seenAt, e!.lastSeen);
    });

    test("presence members and join events carry each member's status and text, on every node and over HTTP", async () => {
      const ann = (await TestClient.auth(d.a.wsUrl, await token({ sub: "ann", tenant: T, rooms: ["ward2"] }))).client;
      const nurse = (await TestClient.auth(d.b.wsUrl, await token({ sub: "nurse", tenant: T, rooms: ["ward2"] }))).client;
      expect(await ann.request({ t: "status", status: "busy", text: "on rounds" })).toMatchObject({ t: "ok" });
      expect(await nurse.request({ t: "sub", ch: "room:ward2", presence: true })).toMatchObject({ t: "ok" });
      expect(await ann.request({ t: "sub", ch: "room:ward2" })).toMatchObject({ t: "ok" });
      expect(await nurse.next((f) => f.t === "join" && f.user === "ann")).toEqual({ t: "join", ch: "room:ward2", user: "ann", conn: expect.any(String), status: "busy", text: "on rounds" });
      const byUser = (ms: Frame[]) => Object.fromEntries(ms.map((m) => [m.user, m]));
      for (const c of [nurse, ann]) {
        const p = await c.request({ t: "presence", ch: "room:ward2" });
        expect(byUser(p.members)).toEqual({ ann: { user: "ann", conns: 1, status: "busy", text: "on rounds" }, nurse: { user: "nurse", conns: 1, status: "online" } });
      }
      expect(await nurse.request({ t: "status", status: "in_call" })).toMatchObject({ t: "ok" });
      const http = await (await d.a.api(`/v1/channels/room:ward2/presence?tenant=${T}`)).json();
      expect(byUser(http.members)).toEqual({ ann: { user: "ann", conns: 1, status: "busy", text: "on rounds" }, nurse: { user: "nurse", conns: 1, status: "in_call" } });
      const mark = carol.frames.length;
      ann.close();
      nurse.close();
      await carol.next((f) => f.t === "status" && f.user === "ann" && f.online === false, 10_000, mark);
      const [e] = await roster(d.a, "ann");
      seenAt = Math.max(seenAt, e!.lastSeen);
    });

    test("another tenant never sees the status or last seen", async () => {
      expect(stranger.frames.some((f) => f.t === "status")).toBe(false);
      expect(await roster(d.a, "ann", "globex")).toEqual([{ user: "ann", status: "offline", online: false, lastSeen: null }]);
      expect(await stranger.request({ t: "roster", users: ["ann"] })).toMatchObject({ users: [{ user: "ann", lastSeen: null }] });
    });

    test("unwatch stops the events; a new connection starts as online again; last seen survives a restart", async () => {
      expect(await carol.request({ t: "unwatch", users: ["ann"] })).toMatchObject({ t: "ok" });
      const ann = await user(d.a, "ann");
      const [back] = await roster(d.b, "ann");
      expect(back).toEqual({ user: "ann", status: "online", online: true, lastSeen: expect.any(Number) });
      expect(back!.lastSeen).toBeGreaterThanOrEqual(seenAt);
      expect(await ann.request({ t: "status", status: "in_call" })).toMatchObject({ t: "ok" });
      const probe = await carol.request({ t: "roster", users: ["ann"] });
      expect(probe.users[0].status).toBe("in_call");
      expect(carol.frames.some((f) => f.t === "status" && f.status === "in_call")).toBe(false);
      ann.close();
      const after = await until(async () => {
        const [e] = await roster(d.a, "ann");
        return !e!.online && e!.lastSeen > seenAt ? (e!.lastSeen as number) : undefined;
      }, "ann offline with a new last seen");
      carol.close();
      stranger.close();
      await d.restartAll();
      expect(await roster(d.b, "ann")).toEqual([{ user: "ann", status: "offline", online: false, lastSeen: after }]);
      carol = await user(d.a, "carol");
      stranger = await user(d.a, "x", "globex");
    });

    test("bad input to every status frame and route gets a clear code", async () => {
      const frames: Frame[] = [
        { t: "status", status: "sleeping" },
        { t: "status", status: "away", text: "x".repeat(101) },
        { t: "status", status: "away", mood: "ok" },
        { t: "watch", users: [] },
        { t: "watch", users: Array.from({ length: 101 }, (_, i) => `u${i}`) },
        { t: "roster" },
        { t: "unwatch", users: "ann" },
      ];
      for (const f of frames) expect([JSON.stringify(f).slice(0, 60), (await carol.request(f)).code]).toEqual([JSON.stringify(f).slice(0, 60), "VALIDATION_ERROR"]);
      for (const [q, text] of [
        ["tenant=acme", "ids: is required"],
        [`tenant=acme&ids=${Array.from({ length: 101 }, (_, i) => `u${i}`).join(",")}`, "ids: at most 100 users"],
        ["tenant=acme&ids=a&watch=1", "watch: unknown query parameter"],
        ["tenant=bad%20tenant&ids=a", "tenant: must be"],
      ]) {
        const r = await d.a.api(`/v1/users/status?${q}`);
        const body = await r.json();
        expect([q, r.status, body.error.code, body.error.message]).toEqual([q, 400, "VALIDATION_ERROR", expect.stringContaining(text!)]);
      }
    });
  });
}
