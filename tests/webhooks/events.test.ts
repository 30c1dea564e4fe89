import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startReceiver, type HttpReceiver, type Received } from "../helpers/http-receiver.ts";
import { startServer, token, type TestServer } from "../helpers/server.ts";
import { until } from "../helpers/until.ts";
import { TestClient } from "../helpers/ws-client.ts";
import { tempConfig, verified } from "./support.ts";

const T = "clinic-7";
const OTHER = "clinic-8";
const SECRET = "from-the-environment-0123456789";

const NAMESPACES = {
  chat: { subscribe: ["member"], publish: ["member"], history: { size: 100, ttlSec: 3600 }, retention: 30 },
  call: { subscribe: ["participant"], publish: ["participant"], history: false },
  user: { subscribe: ["self"], publish: ["server"], history: { size: 100, ttlSec: 3600 } },
  room: { subscribe: ["tenant"], publish: ["tenant"], history: { size: 100, ttlSec: 3600 } },
};

describe("connect, disconnect, read and call.missed events, from an endpoint of the config file", () => {
  let rx: HttpReceiver;
  let cfg: ReturnType<typeof tempConfig>;
  let s: TestServer;
  const of = (type: string, tenant = T) => (r: Received) => r.json?.type === type && r.json?.tenant === tenant;

  beforeAll(async () => {
    rx = startReceiver();
    cfg = tempConfig({
      namespaces: NAMESPACES,
      webhooks: [{ tenant: T, id: "backend", url: rx.url + "/events", secretEnv: "EVENTS_HOOK_SECRET", events: ["connect", "disconnect", "read", "call.missed"] }],
    });
    s = await startServer({ env: { SWITCHBOARD_CONFIG: cfg.path, EVENTS_HOOK_SECRET: SECRET, WEBHOOK_POLL_MS: "50" } });
  }, 30_000);
  afterAll(async () => {
    await s?.stop();
    rx?.stop();
    cfg?.cleanup();
  }, 30_000);

  test("the config file's endpoint is in place, listed without its secret", async () => {
    const list = await (await s.api(`/v1/webhooks?tenant=${T}`)).json();
    expect(list).toEqual({ webhooks: [{ id: "backend", url: rx.url + "/events", events: ["connect", "disconnect", "read", "call.missed"], namespaces: [], ratePerSec: 50, created: expect.any(String) }] });
  });

  test("connect and disconnect name the user, the connection and the node, and the close reason; nothing of the token", async () => {
    const { client, hello } = await TestClient.auth(s.wsUrl, await token({ sub: "nurse-ann", tenant: T, roles: ["nurse"], rooms: ["r1"] } as never));
    const [conn] = await rx.waitFor(1, (r) => of("connect")(r) && r.json.data.conn === hello.conn);
    expect(conn!.json.data).toEqual({ user: "nurse-ann", conn: hello.conn, node: s.node });
    expect(conn!.headers["x-switchboard-event"]).toBe("connect");
    // Signed with the secret the environment holds (the config file only names the variable).
    expect(verified(SECRET, conn!)).toBe(true);
    client.close(1000);
    const [disc] = await rx.waitFor(1, (r) => of("disconnect")(r) && r.json.data.conn === hello.conn);
    expect(disc!.json.data).toEqual({ user: "nurse-ann", conn: hello.conn, node: s.node, code: 1000, reason: "closed" });
  }, 30_000);

  test("a read receipt is an event: conversation, user and offset", async () => {
    expect((await s.api(`/v1/conversations/visit-9`, { method: "PUT", json: { tenant: T, members: ["ann", "bob"], title: "Visit" } })).status).toBe(200);
    const ann = (await TestClient.auth(s.wsUrl, await token({ sub: "ann", tenant: T }))).client;
    const bob = (await TestClient.auth(s.wsUrl, await token({ sub: "bob", tenant: T }))).client;
    const sent = await ann.request({ t: "pub", ch: "chat:visit-9", ev: "msg", data: { text: "see you at 3" } });
    // Read before matching: bun's toMatchObject leaves the asymmetric matcher in the object.
    const off = sent.off as string;
    expect(sent).toMatchObject({ t: "ok", off: expect.any(String) });
    expect(await bob.request({ t: "read", ch: "chat:visit-9", off })).toMatchObject({ t: "ok", off });
    const [read] = await rx.waitFor(1, of("read"));
    expect(read!.json.data).toEqual({ conversation: "visit-9", user: "bob", off });
    expect(verified(SECRET, read!)).toBe(true);
    ann.close();
    bob.close();
  }, 30_000);

  test("a missed call is an event per invitee who missed it: call, invitee, caller", async () => {
    const doc = (await TestClient.auth(s.wsUrl, await token({ sub: "doc", tenant: T }))).client;
    const ok = await doc.request({ t: "invite", to: ["pat", "kim"], media: "audio", ringMs: 1000 });
    expect(ok).toMatchObject({ t: "ok", call: { state: "ringing" } });
    const missed = await rx.waitFor(2, of("call.missed"));
    expect(missed.map((r) => r.json.data).sort((a, b) => a.invitee.localeCompare(b.invitee))).toEqual([
      { call: ok.call.id, invitee: "kim", caller: "doc" },
      { call: ok.call.id, invitee: "pat", caller: "doc" },
    ]);
    doc.close();
  }, 30_000);

  test("a tenant without endpoints, and event types nobody asked for, produce no delivery at all", async () => {
    const c = (await TestClient.auth(s.wsUrl, await token({ sub: "eve", tenant: OTHER }))).client;
    expect(await c.request({ t: "pub", ch: "room:x", ev: "note", data: 1 })).toMatchObject({ t: "ok" });
    c.close();
    // A marker event of the watched tenant, sent after the others: once it is in, the others would be too.
    const { client: marker, hello } = await TestClient.auth(s.wsUrl, await token({ sub: "marker", tenant: T }));
    await rx.waitFor(1, (r) => of("connect")(r) && r.json.data.conn === hello.conn);
    marker.close();
    expect(rx.received.filter((r) => r.json?.tenant === OTHER)).toEqual([]);
    expect(rx.received.filter((r) => r.json?.type === "publication")).toEqual([]);
    const log = await (await s.api(`/v1/webhooks/backend/deliveries?tenant=${OTHER}`)).json();
    expect(log).toEqual({ deliveries: [] });
  }, 30_000);
});

describe("static endpoints are checked at start", () => {
  test("every bad field is named, and a secret never shows", async () => {
    const cfg = tempConfig({
      webhooks: [
        { tenant: T, id: "a", url: "ftp://backend", secret: "a-secret-that-is-long-enough", events: ["connect"] },
        { tenant: T, id: "b", url: "http://backend/hook", secretEnv: "NOT_SET_ANYWHERE", events: ["sneeze"] },
        { tenant: T, id: "c", url: "http://backend/hook", events: ["publication"], colour: "red" },
        { tenant: T, id: "d", url: "http://backend/hook", secret: "short", events: ["read"] },
      ],
    });
    try {
      const err = String(await startServer({ env: { SWITCHBOARD_CONFIG: cfg.path } }).catch((e: Error) => e));
      expect(err).toContain("webhooks.0.url: must be an http(s) URL");
      expect(err).toContain("webhooks.1.events.0: must be one of publication, connect, disconnect, read, call.missed, job.failed");
      expect(err).toContain('webhooks.2.colour: unknown key "colour"');
      expect(err).toContain("webhooks.3.secret: must be at least 16 characters");
      expect(err).not.toContain("a-secret-that-is-long-enough");
      const secretless = cfg.write({ webhooks: [{ tenant: T, id: "e", url: "http://backend/hook", secretEnv: "NOT_SET_ANYWHERE", events: ["read"] }, { id: "f", url: "http://backend/hook", events: ["publication"] }] }, "second.json");
      const err2 = String(await startServer({ env: { SWITCHBOARD_CONFIG: secretless } }).catch((e: Error) => e));
      expect(err2).toContain("webhooks.0.secretEnv: environment variable NOT_SET_ANYWHERE is not set");
      expect(err2).toContain("webhooks.1.secret: give either secret or secretEnv");
      expect(err2).toContain("webhooks.1.namespaces: publication webhooks need the namespaces to send");
    } finally {
      cfg.cleanup();
    }
  }, 30_000);
});
