import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHmac, timingSafeEqual } from "node:crypto";
import { startReceiver, type HttpReceiver, type Received } from "../helpers/http-receiver.ts";
import { startServer, token, type TestServer } from "../helpers/server.ts";
import { until } from "../helpers/until.ts";
import { TestClient } from "../helpers/ws-client.ts";
import { configFile, createJob } from "../jobs/support.ts";

const T = "clinic-3";

/** The README's verification recipe. */
function verified(secret: string, r: Received): boolean {
  const ts = r.headers["x-switchboard-timestamp"] ?? "";
  const got = r.headers["x-switchboard-signature"] ?? "";
  const want = "v1=" + createHmac("sha256", secret).update(ts + "." + r.body).digest("hex");
  return Math.abs(Date.now() / 1000 - Number(ts)) <= 300 && got.length === want.length && timingSafeEqual(Buffer.from(got), Buffer.from(want));
}

const publish = (s: TestServer, ch: string, data: unknown) => s.api("/v1/publish", { method: "POST", json: { tenant: T, ch, ev: "note", data } });

describe("webhooks on the embedded node", () => {
  let s: TestServer;
  let rx: HttpReceiver;
  let cfg: ReturnType<typeof configFile>;
  let secret: string;
  let hookId: string;
  const env = () => ({ SWITCHBOARD_CONFIG: cfg.path, WEBHOOK_POLL_MS: "50", WEBHOOK_BACKOFF_MS: "100", WEBHOOK_ATTEMPTS: "8", WEBHOOK_BREAKER_FAILURES: "3", WEBHOOK_BREAKER_COOLDOWN_MS: "1000", JOBS_POLL_MS: "50" });
  const start = () => startServer({ env: env(), dataDir: cfg.dir + "/data", keepData: true });
  /** Deliveries the receiver accepted (2xx), by delivery id. */
  const accepted = new Map<string, number>();

  beforeAll(async () => {
    rx = startReceiver();
    cfg = configFile();
    s = await start();
    const res = await s.api("/v1/webhooks", { method: "POST", json: { tenant: T, url: rx.url + "/hook", events: ["publication", "disconnect", "job.failed"], namespaces: ["room"] } });
    expect(res.status).toBe(201);
    const body = await res.json();
    secret = body.secret;
    hookId = body.id;
    expect(body).toMatchObject({ url: rx.url + "/hook", events: ["publication", "disconnect", "job.failed"], namespaces: ["room"] });
  }, 30_000);
  afterAll(async () => {
    await s?.stop();
    rx?.stop();
    cfg?.cleanup();
  }, 30_000);

  const answer = (ok: boolean) => {
    rx.respond = (r) => {
      if (!ok) return new Response("down", { status: 503 });
      const id = r.headers["x-switchboard-delivery"]!;
      accepted.set(id, (accepted.get(id) ?? 0) + 1);
      return new Response("ok");
    };
  };
  const deliveredData = (pred: (r: Received) => boolean) => [...accepted.keys()].map((id) => rx.received.find((r) => r.headers["x-switchboard-delivery"] === id)!).filter(pred);

  test("publications on a chosen namespace, disconnects and failed jobs are delivered signed; other namespaces cost no delivery", async () => {
    answer(true);
    expect((await publish(s, "student:9", { skip: true })).status).toBe(200);
    expect((await publish(s, "room:a", { text: "hello" })).status).toBe(200);
    const [pub] = await rx.waitFor(1, (r) => r.json?.type === "publication");
    expect(pub!.json).toMatchObject({ type: "publication", tenant: T, data: { ch: "room:a", ev: "note", data: { text: "hello" }, off: expect.any(String) } });
    expect(pub!.headers["x-switchboard-event"]).toBe("publication");
    expect(verified(secret, pub!)).toBe(true);
    expect(verified("not-the-secret-xxxxxxxx", pub!)).toBe(false);

    // A client's own publication (the WebSocket path) is an event too.
    const { client: c, hello } = await TestClient.auth(s.wsUrl, await token({ sub: "dr-who", tenant: T }));
    expect(await c.request({ t: "pub", ch: "room:a", ev: "said", data: { text: "from a client" } })).toMatchObject({ t: "ok" });
    const [own] = await rx.waitFor(1, (r) => r.json?.data?.ev === "said");
    expect(own!.json.data).toMatchObject({ ch: "room:a", ev: "said", from: "dr-who", data: { text: "from a client" } });
    expect(rx.received.filter((r) => r.json?.data?.ev === "said")).toHaveLength(1);
    c.close();
    const [disc] = await rx.waitFor(1, (r) => r.json?.type === "disconnect");
    expect(disc!.json.data).toEqual({ user: "dr-who", conn: hello.conn, node: s.node, code: 1000, reason: "closed" });

    await createJob(s, { tenant: T, name: "export", delayMs: 0, retry: { attempts: 1 }, action: { webhook: { url: "http://127.0.0.1:9/closed" } } });
    const [failed] = await rx.waitFor(1, (r) => r.json?.type === "job.failed");
    expect(failed!.json.data).toMatchObject({ name: "export", kind: "webhook", attempts: 1, error: expect.any(String) });
    expect(verified(secret, failed!)).toBe(true);
    // Nothing was ever sent for student:9.
    expect(rx.received.filter((r) => r.json?.data?.ch === "student:9")).toEqual([]);
  }, 30_000);

  test("receiver down: retries, the breaker opens (in /health) and closes on recovery (through its half-open trial); every event is delivered exactly once", async () => {
    answer(false);
    const endpoint = new URL(rx.url).origin;
    for (let i = 0; i < 10; i++) expect((await publish(s, "room:b", { i })).status).toBe(200);
    const breaker = async () => ((await (await fetch(s.url + "/health")).json()).components.externalAPIs.endpoints as any[]).find((e) => e.endpoint === endpoint);
    const open = await until(async () => ((await breaker())?.state === "open" ? await breaker() : undefined), "breaker open");
    expect(open.failures).toBeGreaterThanOrEqual(3);
    expect((await (await fetch(s.url + "/health")).json()).components.externalAPIs.status).toBe("degraded");
    answer(true);
    await until(async () => (deliveredData((r) => r.json?.data?.ch === "room:b").length === 10 ? true : undefined), "all 10 delivered", 30_000);
    expect((await breaker()).state).toBe("closed");
    const got = deliveredData((r) => r.json?.data?.ch === "room:b").map((r) => r.json.data.data.i).sort((a: number, b: number) => a - b);
    expect(got).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    for (const n of accepted.values()) expect(n).toBe(1);
    // The delivery log says what happened.
    const log = await (await s.api(`/v1/webhooks/${hookId}/deliveries?tenant=${T}&state=delivered`)).json();
    const retried = log.deliveries.filter((d: any) => d.body.data.ch === "room:b");
    expect(retried).toHaveLength(10);
    expect(retried.some((d: any) => d.attempts > 1 && d.lastStatus === 200)).toBe(true);
    const metrics = await (await fetch(s.url + "/metrics")).text();
    expect(metrics).toContain(`switchboard_external_api_circuit_state{endpoint="${endpoint}"} 0`);
  }, 60_000);

  test("a node restart in the middle loses none of the pending deliveries", async () => {
    answer(false);
    for (let i = 0; i < 5; i++) expect((await publish(s, "room:c", { i })).status).toBe(200);
    await s.stop();
    answer(true);
    s = await start();
    await until(async () => (deliveredData((r) => r.json?.data?.ch === "room:c").length === 5 ? true : undefined), "all 5 delivered after the restart", 30_000);
    expect(deliveredData((r) => r.json?.data?.ch === "room:c").map((r) => r.json.data.data.i).sort()).toEqual([0, 1, 2, 3, 4]);
    for (const n of accepted.values()) expect(n).toBe(1);
  }, 60_000);

  test("bad input gets a clear code", async () => {
    const bad = async (b: unknown) => (await (await s.api("/v1/webhooks", { method: "POST", json: b })).json()).error;
    expect(await bad({ tenant: T, url: "ftp://x", events: ["publication"] })).toMatchObject({ code: "VALIDATION_ERROR", message: "url: must be an http(s) URL" });
    expect(await bad({ tenant: T, url: rx.url, events: ["sneeze"] })).toMatchObject({ code: "VALIDATION_ERROR", message: expect.stringMatching(/^events\.0: must be one of/) });
    expect(await bad({ tenant: T, url: rx.url, events: ["publication"] })).toMatchObject({ code: "VALIDATION_ERROR", message: "namespaces: publication webhooks need the namespaces to send" });
    expect((await s.api(`/v1/webhooks/deliveries/dlv_nope/replay?tenant=${T}`, { method: "POST" })).status).toBe(404);
  });
});

describe("dead-lettered deliveries", () => {
  test("a delivery that fails every attempt is dead in the log with its last error, and a replay delivers it", async () => {
    const rx = startReceiver();
    const cfg = configFile();
    const s = await startServer({ env: { SWITCHBOARD_CONFIG: cfg.path, WEBHOOK_POLL_MS: "50", WEBHOOK_BACKOFF_MS: "50", WEBHOOK_ATTEMPTS: "2" } });
    try {
      rx.respond = () => new Response("nope", { status: 400 });
      const { id } = await (await s.api("/v1/webhooks", { method: "POST", json: { tenant: T, url: rx.url, events: ["publication"], namespaces: ["room"] } })).json();
      await publish(s, "room:z", { x: 1 });
      const dead = await until(async () => (await (await s.api(`/v1/webhooks/${id}/deliveries?tenant=${T}&state=dead`)).json()).deliveries[0], "dead delivery");
      expect(dead).toMatchObject({ state: "dead", attempts: 2, lastStatus: 400, lastError: "endpoint answered HTTP 400", body: { data: { ch: "room:z" } } });
      rx.respond = () => new Response("ok");
      expect(await (await s.api(`/v1/webhooks/deliveries/${dead.id}/replay?tenant=${T}`, { method: "POST" })).json()).toEqual({ replayed: true });
      const ok = await until(async () => (await (await s.api(`/v1/webhooks/${id}/deliveries?tenant=${T}&state=delivered`)).json()).deliveries[0], "replayed delivery");
      expect(ok).toMatchObject({ id: dead.id, state: "delivered", lastStatus: 200 });
      expect(rx.received.filter((r) => r.headers["x-switchboard-delivery"] === dead.id)).toHaveLength(3);
    } finally {
      await s.stop();
      rx.stop();
      cfg.cleanup();
    }
  }, 30_000);
});
