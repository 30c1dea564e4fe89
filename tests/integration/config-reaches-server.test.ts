import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startRedis, type RedisServer } from "../helpers/redis.ts";
import { RawWs } from "../helpers/raw-ws.ts";
import { startServer, token, type TestServer } from "../helpers/server.ts";
import { until } from "../helpers/until.ts";
import { TestClient } from "../helpers/ws-client.ts";

describe("settings reach the running server", () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startServer({
      env: { NODE_ID: "ward-7", LOG_LEVEL: "debug", WS_MAX_MESSAGE_SIZE: "4096", WS_MAX_ROOMS_PER_USER: "2", WS_RATE_LIMIT_PER_SEC: "7", WS_RATE_LIMIT_BURST: "9", WS_IDLE_TIMEOUT_SEC: "20", HISTORY_TRIM_CRON: "* * * * * *" },
    });
  });
  afterAll(() => s.stop());

  test("NODE_ID names the node in hello, connection ids, /health and every log line; LOG_LEVEL=debug writes debug lines", async () => {
    const { client, hello } = await TestClient.auth(s.wsUrl, await token({ sub: "nina", rooms: ["a", "b", "c"] }));
    expect(hello.node).toBe("ward-7");
    expect(hello.conn).toStartWith("ward-7.");
    expect(s.node).toBe("ward-7");
    expect(((await (await fetch(`${s.url}/health`)).json()) as { node: string }).node).toBe("ward-7");
    // The trim job (every second here) reports each run at debug level.
    await until(async () => s.logs.find((l) => l.level === "debug" && l.msg === "job done"), "a debug line");
    const json = s.logs.filter((l) => !("raw" in l));
    expect(json.every((l) => l.node === "ward-7")).toBe(true);
    client.close();
  });

  test("hello.limits and hello.ping announce the configured values, and the server holds to them", async () => {
    const { client, hello } = await TestClient.auth(s.wsUrl, await token({ sub: "lena", rooms: ["a", "b", "c"] }));
    expect(hello.ping).toBe(10);
    expect(hello.limits).toEqual({ maxFrame: 4096, maxSubs: 2, rate: 7, burst: 9 });
    expect((await client.request({ t: "sub", ch: "room:a" })).t).toBe("ok");
    expect((await client.request({ t: "sub", ch: "room:b" })).t).toBe("ok");
    expect(await client.request({ t: "sub", ch: "room:c" })).toMatchObject({ t: "err", code: "LIMIT_EXCEEDED" });
    client.send({ t: "pub", ch: "room:a", ev: "e", data: "x".repeat(4096) });
    expect((await client.closed).code).toBe(1009);
  });

  test("per-message deflate is off: an offer of permessage-deflate is not accepted", async () => {
    const jwt = await token({ sub: "dora" });
    const hs = await RawWs.connect(s.wsUrl, { authorization: `Bearer ${jwt}`, "sec-websocket-extensions": "permessage-deflate; client_max_window_bits" });
    if (!hs.ok) throw new Error(`upgrade refused: ${hs.status}`);
    expect(hs.headers).toStartWith("HTTP/1.1 101");
    expect(hs.headers.toLowerCase()).not.toContain("sec-websocket-extensions");
    expect((await hs.ws.nextJson((f) => f.t === "hello")).user).toBe("dora");
    hs.ws.end();
  });

  test("authentication sources in order: Authorization header over access_token over an auth frame", async () => {
    const [alice, bob, carol] = await Promise.all(["alice", "bob", "carol"].map((sub) => token({ sub })));
    const both = await TestClient.connect(`${s.wsUrl}?access_token=${bob}`, { headers: { authorization: `Bearer ${alice}` } });
    expect((await both.next((f) => f.t === "hello")).user).toBe("alice");
    both.close();
    const query = await TestClient.connect(`${s.wsUrl}?access_token=${bob}`);
    expect((await query.next((f) => f.t === "hello")).user).toBe("bob");
    expect(await query.request({ t: "auth", token: carol })).toMatchObject({ t: "err", code: "BAD_REQUEST", msg: "already authenticated" });
    expect(query.frames.filter((f) => f.t === "hello")).toHaveLength(1);
    query.close();
  });
});

test("a second process on the same DATA_DIR is refused, and the first keeps serving", async () => {
  const dataDir = mkdtempSync(join(tmpdir(), "sb-one-owner-"));
  const first = await startServer({ dataDir });
  try {
    const err = await startServer({ dataDir }).then(
      async (second) => (await second.stop(), undefined),
      (e: Error) => e,
    );
    expect(err).toBeInstanceOf(Error);
    expect(err!.message).toContain("before listening");
    expect((await first.api("/v1/publish", { method: "POST", json: { ch: "user:u1", ev: "e", data: 1 } })).status).toBe(200);
  } finally {
    await first.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}, 30_000);

test("REDIS_SHARDS sets how many bus streams a Redis node uses", async () => {
  const redis: RedisServer = await startRedis();
  const s = await startServer({ env: { REDIS_URL: redis.url, REDIS_PREFIX: "shards", REDIS_SHARDS: "3" } });
  try {
    const health = (await (await fetch(`${s.url}/health`)).json()) as { components: { engine: { shards: number; readers: number } } };
    expect(health.components.engine).toMatchObject({ shards: 3 });
    for (let i = 0; i < 30; i++) expect((await s.api("/v1/publish", { method: "POST", json: { ch: `user:u${i}`, ev: "e", data: i } })).status).toBe(200);
    const streams = (await redis.cli("--scan", "--pattern", "{shards:s*}:bus")).split("\n").filter(Boolean).sort();
    expect(streams.length).toBeGreaterThan(0);
    for (const k of streams) expect(["{shards:s0}:bus", "{shards:s1}:bus", "{shards:s2}:bus"]).toContain(k);
  } finally {
    await s.stop();
    await redis.stop();
  }
}, 30_000);
