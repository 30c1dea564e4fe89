import { expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RawWs } from "../helpers/raw-ws.ts";
import { freePort, startRedis } from "../helpers/redis.ts";
import { startServer, TEST_API_KEY, TEST_SECRET, token } from "../helpers/server.ts";
import { TestClient } from "../helpers/ws-client.ts";

/** Runs a node that is expected not to start: its exit code and everything it wrote to stderr. */
async function refusedStart(env: Record<string, string>): Promise<{ code: number; stderr: string }> {
  const proc = Bun.spawn([process.execPath, join(import.meta.dir, "../../src/main.ts")], {
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", NODE_ENV: "test", HOST: "127.0.0.1", PORT: "0", JWT_SECRET: TEST_SECRET, API_KEYS: TEST_API_KEY, DATA_DIR: mkdtempSync(join(tmpdir(), "sb-seed-")), ...env },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stderr, stdout, code] = await Promise.all([new Response(proc.stderr).text(), new Response(proc.stdout).text(), proc.exited]);
  return { code, stderr: stderr + stdout };
}

/** A `.env` ported from the seeds' Socket.IO + Redis-adapter stacks, as a user would bring it. */

test("a seed .env (REDIS_ENABLED, REDIS_HOST/PORT/PASSWORD, REALTIME_CORS_ORIGIN) runs a real cluster with the origin allowlist", async () => {
  const redis = await startRedis();
  await redis.cli("config", "set", "requirepass", "seed-password");
  const env = {
    REDIS_ENABLED: "true",
    REDIS_HOST: "127.0.0.1",
    REDIS_PORT: String(redis.port),
    REDIS_PASSWORD: "seed-password",
    REALTIME_CORS_ORIGIN: "https://app.example",
    REDIS_PREFIX: `seed${Date.now() % 1_000_000}`,
  };
  const a = await startServer({ env });
  const b = await startServer({ env });
  try {
    for (const s of [a, b]) {
      const health = (await (await fetch(s.url + "/health")).json()) as any;
      expect(health.components.engine.kind).toBe("redis");
      expect(s.logs.some((l) => l.msg === "configuration alias: REDIS_HOST/REDIS_PORT/REDIS_PASSWORD → REDIS_URL")).toBe(true);
    }
    // Across nodes: subscribed on b, published through a.
    const { client } = await TestClient.auth(b.wsUrl, await token({ sub: "sam", rooms: ["seed"] }));
    expect(await client.request({ t: "sub", ch: "room:seed" })).toMatchObject({ t: "ok" });
    const res = await a.api("/v1/publish", { method: "POST", json: { ch: "room:seed", ev: "hi", data: { n: 1 } } });
    expect(res.status).toBe(200);
    expect((await client.next((f) => f.t === "msg")).data).toEqual({ n: 1 });
    // The ported allowlist holds: another origin is refused, the listed one accepted.
    const evil = await RawWs.connect(a.wsUrl, { origin: "https://evil.example" });
    expect(evil.ok).toBe(false);
    if (!evil.ok) expect(evil.status).toBe(403);
    const good = await RawWs.connect(a.wsUrl, { origin: "https://app.example" });
    expect(good.ok).toBe(true);
    client.ws.close();
  } finally {
    await a.stop();
    await b.stop();
    await redis.stop();
  }
}, 60_000);

test("REDIS_ENABLED=true and Redis unreachable: the node refuses to start instead of running alone, even in development", async () => {
  const port = await freePort();
  const r = await refusedStart({ NODE_ENV: "development", REDIS_ENABLED: "true", REDIS_HOST: "127.0.0.1", REDIS_PORT: String(port) });
  expect(r.code).toBe(1);
  expect(r.stderr).toContain("cannot start the redis engine");
  expect(r.stderr).not.toContain("falling back to the embedded engine");
}, 30_000);

test("seed settings with another meaning stop the start and name the replacement", async () => {
  const r = await refusedStart({ WS_RATE_LIMIT_EVENTS_PER_MINUTE: "100", REDIS_MAX_RETRIES: "10", REDIS_RETRY_DELAY: "3000" });
  expect(r.code).toBe(1);
  expect(r.stderr).toContain("WS_RATE_LIMIT_EVENTS_PER_MINUTE: not supported: use WS_RATE_LIMIT_PER_SEC");
  expect(r.stderr).toContain("WS_RATE_LIMIT_PER_SEC=2 WS_RATE_LIMIT_BURST=100");
  expect(r.stderr).toContain("REDIS_MAX_RETRIES: not supported");
  expect(r.stderr).toContain("REDIS_RETRY_DELAY: not supported");
}, 30_000);
