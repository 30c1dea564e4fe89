import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startReceiver, type HttpReceiver, type Received } from "../helpers/http-receiver.ts";
import { startServer, token, type TestServer } from "../helpers/server.ts";
import { TestClient } from "../helpers/ws-client.ts";
import { tempConfig, verified } from "./support.ts";

const T = "ward-tenant";
const SIGNING = "job-and-hook-signing-secret-0123";
const keep = { size: 100, ttlSec: 3600 };

describe("the backend publish rule: a synchronous may-publish hook", () => {
  let rx: HttpReceiver;
  let cfg: ReturnType<typeof tempConfig>;
  let closed: TestServer;
  let open: TestServer;
  const asked = (pred: (r: Received) => boolean) => rx.received.filter((r) => r.json?.action === "publish" && pred(r));

  beforeAll(async () => {
    rx = startReceiver();
    rx.respond = (r) => {
      if (r.json?.ev === "slow") return new Promise<Response>(() => {});
      if (r.json?.ev === "broken") return new Response("oops", { status: 500 });
      // The backend's own decision: only orders with a reason may go out.
      return Response.json({ allow: r.json?.ev === "order" && typeof r.json?.data?.reason === "string" });
    };
    cfg = tempConfig({
      namespaces: {
        // Subscribing is decided by the token; publishing by the backend.
        desk: { subscribe: ["tenant"], publish: ["backend"], history: keep },
        // Its own hook URL, over WEBHOOK_PUBLISH_URL.
        pharmacy: { subscribe: ["tenant"], publish: ["backend"], publishUrl: rx.url + "/pharmacy-hook", history: keep },
        // No backend rule: never asked.
        room: { subscribe: ["tenant"], publish: ["tenant"], history: keep },
      },
    });
    const env = (fail: string) => ({ SWITCHBOARD_CONFIG: cfg.path, WEBHOOK_PUBLISH_URL: rx.url + "/may-publish", WEBHOOK_PUBLISH_TIMEOUT_MS: "300", WEBHOOK_PUBLISH_FAIL: fail, WEBHOOK_SECRET: SIGNING });
    [closed, open] = await Promise.all([startServer({ env: env("closed") }), startServer({ env: env("open") })]);
  }, 30_000);
  afterAll(async () => {
    await Promise.all([closed?.stop(), open?.stop()]);
    rx?.stop();
    cfg?.cleanup();
  }, 30_000);

  const client = async (s: TestServer, sub = "nurse-1") => (await TestClient.auth(s.wsUrl, await token({ sub, tenant: T, roles: ["nurse"] }))).client;
  const history = async (s: TestServer, ch: string) => (await (await s.api(`/v1/channels/${ch}/history?tenant=${T}`)).json()).messages as any[];

  test("a yes publishes; a no is AUTHORIZATION_FAILED to the publisher and nothing goes out", async () => {
    const pub = await client(closed);
    const watcher = await client(closed, "watcher");
    expect(await watcher.request({ t: "sub", ch: "desk:7" })).toMatchObject({ t: "ok" });
    expect(await pub.request({ t: "pub", ch: "desk:7", ev: "order", data: { reason: "fever", dose: 2 } })).toMatchObject({ t: "ok", off: expect.any(String) });
    expect(await pub.request({ t: "pub", ch: "desk:7", ev: "order", data: { dose: 9 } })).toMatchObject({ t: "err", code: "AUTHORIZATION_FAILED" });
    expect(await pub.request({ t: "pub", ch: "desk:7", ev: "chatter", data: { reason: "x" } })).toMatchObject({ t: "err", code: "AUTHORIZATION_FAILED" });
    // A marker publication (allowed) after the refused ones: the watcher gets it, and nothing refused came before it.
    expect(await pub.request({ t: "pub", ch: "desk:7", ev: "order", data: { reason: "marker" } })).toMatchObject({ t: "ok" });
    await watcher.next((f) => f.t === "msg" && f.data?.reason === "marker");
    expect(watcher.frames.filter((f) => f.t === "msg").map((f) => f.data)).toEqual([{ reason: "fever", dose: 2 }, { reason: "marker" }]);
    // The question names who, where, the event and its data, and is signed like every outgoing call.
    const q = asked((r) => r.json.data?.dose === 9)[0]!;
    expect(q.path).toBe("/may-publish");
    expect(q.json).toEqual({ action: "publish", tenant: T, user: "nurse-1", roles: ["nurse"], ch: "desk:7", ev: "order", data: { dose: 9 } });
    expect(verified(SIGNING, q)).toBe(true);
    pub.close();
    watcher.close();
  }, 30_000);

  test("a namespace's publishUrl is asked instead; a namespace without the rule never asks", async () => {
    const pub = await client(closed);
    const before = rx.received.length;
    expect(await pub.request({ t: "pub", ch: "room:1", ev: "order", data: { reason: "not asked" } })).toMatchObject({ t: "ok" });
    expect(await pub.request({ t: "pub", ch: "pharmacy:main", ev: "order", data: { reason: "refill" } })).toMatchObject({ t: "ok" });
    const since = rx.received.slice(before);
    expect(since.map((r) => [r.path, r.json.ch])).toEqual([["/pharmacy-hook", "pharmacy:main"]]);
    pub.close();
  }, 30_000);

  test("a hook that times out or fails follows the configured rule: closed refuses, open publishes", async () => {
    const a = await client(closed);
    const b = await client(open);
    expect(await a.request({ t: "pub", ch: "desk:8", ev: "slow", data: 1 }, 5000)).toMatchObject({ t: "err", code: "AUTHORIZATION_FAILED" });
    expect(await b.request({ t: "pub", ch: "desk:8", ev: "slow", data: 1 }, 5000)).toMatchObject({ t: "ok" });
    expect(await a.request({ t: "pub", ch: "desk:8", ev: "broken", data: 2 })).toMatchObject({ t: "err", code: "AUTHORIZATION_FAILED" });
    expect(await b.request({ t: "pub", ch: "desk:8", ev: "broken", data: 2 })).toMatchObject({ t: "ok" });
    // A definite no is a no even when failing open.
    expect(await b.request({ t: "pub", ch: "desk:8", ev: "chatter", data: 3 })).toMatchObject({ t: "err", code: "AUTHORIZATION_FAILED" });
    expect((await history(closed, "desk:8")).map((p: any) => p.data)).toEqual([]);
    expect((await history(open, "desk:8")).map((p: any) => p.data)).toEqual([1, 2]);
    a.close();
    b.close();
  }, 30_000);
});
