import { expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startSentinelSetup, startTlsRedis } from "../helpers/redis-topologies.ts";
import { startServer, TEST_API_KEY, TEST_SECRET, token, type TestServer } from "../helpers/server.ts";
import { until } from "../helpers/until.ts";
import { TestClient } from "../helpers/ws-client.ts";

async function engineKind(s: TestServer): Promise<string> {
  return ((await (await fetch(s.url + "/health")).json()) as any).components.engine.kind;
}

/** A client on `sub` receives a publication made through `pub`'s HTTP API: the two nodes share Redis. */
async function expectCrossNode(pub: TestServer, sub: TestServer, n: number): Promise<void> {
  const { client } = await TestClient.auth(sub.wsUrl, await token({ sub: `u${n}`, rooms: ["x"] }));
  expect(await client.request({ t: "sub", ch: "room:x" })).toMatchObject({ t: "ok" });
  const res = await pub.api("/v1/publish", { method: "POST", json: { ch: "room:x", ev: "e", data: { n } } });
  expect(res.status).toBe(200);
  expect((await client.next((f) => f.t === "msg" && f.data.n === n)).data).toEqual({ n });
  client.ws.close();
}

/** Two nodes on the same Redis set-up, checked to be on the Redis engine and delivering across nodes. */
async function startSharingPair(env: Record<string, string>, servers: TestServer[]): Promise<[TestServer, TestServer]> {
  servers.push(await startServer({ env }), await startServer({ env }));
  const [a, b] = servers as [TestServer, TestServer];
  expect(await engineKind(a)).toBe("redis");
  expect(await engineKind(b)).toBe("redis");
  await expectCrossNode(a, b, 1);
  return [a, b];
}

test("REDIS_SENTINELS: nodes find the primary through Sentinel, and after kill -9 of the primary they publish to the promoted replica", async () => {
  const setup = await startSentinelSetup();
  const env = {
    NODE_ENV: "production",
    CORS_ORIGINS: "*",
    REDIS_SENTINELS: setup.sentinels,
    REDIS_SENTINEL_NAME: setup.name,
    REDIS_PASSWORD: setup.password,
    REDIS_PREFIX: `sent${Date.now() % 1_000_000}`,
  };
  const servers: TestServer[] = [];
  try {
    const [a, b] = await startSharingPair(env, servers);

    await setup.killPrimary();
    await until(async () => ((await setup.currentPrimaryPort()) === setup.replicaPort ? true : undefined), "Sentinel to promote the replica", 30_000);
    // Publishes fail while the primary is gone and work again once the nodes follow Sentinel to the new one.
    await until(
      async () => {
        const r = await a.api("/v1/publish", { method: "POST", json: { ch: "room:probe", ev: "e", data: 0 } });
        return r.status === 200 ? true : undefined;
      },
      "publishes to succeed after the failover",
      30_000,
    );
    await until(async () => ((await fetch(b.url + "/health/ready")).status === 200 ? true : undefined), "node b ready after the failover", 30_000);
    await expectCrossNode(a, b, 2);
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
    await setup.stop();
  }
}, 120_000);

test("rediss:// with REDIS_TLS_CA_FILE: nodes talk to a TLS-only Redis, verifying its certificate", async () => {
  const redis = await startTlsRedis();
  const env = { NODE_ENV: "production", CORS_ORIGINS: "*", REDIS_URL: redis.url, REDIS_TLS_CA_FILE: redis.caFile, REDIS_PREFIX: `tls${Date.now() % 1_000_000}` };
  const servers: TestServer[] = [];
  try {
    const [a, b] = await startSharingPair(env, servers);

    // Without the CA the certificate is not trusted: a production node refuses to start.
    const dataDir = mkdtempSync(join(tmpdir(), "sb-tls-"));
    try {
      const proc = Bun.spawn([process.execPath, join(import.meta.dir, "../../src/main.ts")], {
        env: { PATH: process.env.PATH ?? "", NODE_ENV: "production", CORS_ORIGINS: "*", HOST: "127.0.0.1", PORT: "0", JWT_SECRET: TEST_SECRET, API_KEYS: TEST_API_KEY, DATA_DIR: dataDir, REDIS_URL: redis.url },
        stdin: "ignore",
        stdout: "pipe",
        stderr: "pipe",
      });
      const [stderr, , code] = await Promise.all([new Response(proc.stderr).text(), new Response(proc.stdout).text(), proc.exited]);
      expect(code).toBe(1);
      expect(stderr).toContain("cannot start the redis engine");
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
    await redis.stop();
  }
}, 60_000);
