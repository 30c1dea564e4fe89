import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { freePort } from "../helpers/redis.ts";
import { startServer, token, type TestServer } from "../helpers/server.ts";
import { TestClient } from "../helpers/ws-client.ts";
import { nodeEnv, policyFile, startBackend, startNodes, type Backend } from "./nodes.ts";

describe("user-wide controls across nodes", () => {
  let backend: Backend;
  let policy: ReturnType<typeof policyFile>;
  let nodes: TestServer[];
  beforeAll(async () => {
    backend = await startBackend("standalone");
    policy = policyFile();
    nodes = await startNodes(3, nodeEnv(backend, policy.path, { WS_MAX_CONNECTIONS_PER_USER: "2" }));
  });
  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.stop()));
    await backend.stop();
    policy.cleanup();
  });

  test("the connections-per-user limit counts connections on every node", async () => {
    const jwt = await token({ sub: "nurse-limit", tenant: "t" });
    const a = (await TestClient.auth(nodes[0]!.wsUrl, jwt)).client;
    const b = (await TestClient.auth(nodes[1]!.wsUrl, jwt)).client;
    const third = await TestClient.connect(nodes[2]!.wsUrl);
    third.send({ t: "auth", token: jwt });
    expect(await third.next((f) => f.t === "err")).toMatchObject({ code: "LIMIT_EXCEEDED" });
    expect((await third.closed).code).toBe(4008);
    a.close();
    await a.closed;
    // The lease is released in Redis: a connection on the third node now fits.
    const deadline = Date.now() + 5000;
    let ok = false;
    while (!ok && Date.now() < deadline) {
      const c = await TestClient.connect(nodes[2]!.wsUrl);
      c.send({ t: "auth", token: jwt });
      const f = await c.next((x) => x.t === "hello" || x.t === "err");
      ok = f.t === "hello";
      c.close();
      if (!ok) await c.closed;
    }
    expect(ok).toBe(true);
    b.close();
  });

  test("POST /v1/users/:user/disconnect closes that user's sockets on every node, and only theirs", async () => {
    const jwt = await token({ sub: "to-kick", tenant: "t" });
    const other = (await TestClient.auth(nodes[2]!.wsUrl, await token({ sub: "stays", tenant: "t" }))).client;
    const k0 = (await TestClient.auth(nodes[0]!.wsUrl, jwt)).client;
    const k1 = (await TestClient.auth(nodes[1]!.wsUrl, jwt)).client;
    const res = await nodes[2]!.api("/v1/users/to-kick/disconnect", { method: "POST", json: { tenant: "t", reason: "account suspended" } });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ closed: 2 });
    const [c0, c1] = await Promise.all([k0.closed, k1.closed]);
    expect(c0).toEqual({ code: 1000, reason: "account suspended" });
    expect(c1.code).toBe(1000);
    expect((await other.request({ t: "sub", ch: "user:stays" })).t).toBe("ok");
    other.close();
  });
});

describe("start-up with Redis unreachable", () => {
  test("production exits non-zero with a message that names Redis", async () => {
    const port = await freePort();
    const err = await startServer({ env: { NODE_ENV: "production", CORS_ORIGINS: "*", REDIS_URL: `redis://127.0.0.1:${port}`, REDIS_COMMAND_TIMEOUT_MS: "300" } }).then(
      () => "started",
      (e: Error) => e.message,
    );
    expect(err).toMatch(/exited with 1/);
    expect(err).toMatch(/redis/i);
  });

  test("development falls back to the embedded engine with a loud warning and serves", async () => {
    const port = await freePort();
    const s = await startServer({ env: { NODE_ENV: "development", REDIS_URL: `redis://127.0.0.1:${port}`, REDIS_COMMAND_TIMEOUT_MS: "300" } });
    try {
      const warning = s.logs.find((l) => l.level === "error" && String(l.msg).includes("REDIS UNREACHABLE"));
      expect(warning).toBeDefined();
      expect(s.logs.find((l) => l.msg === "listening")?.engine).toBe("local");
      expect((await fetch(s.url + "/health/ready")).status).toBe(200);
      const health = (await (await fetch(s.url + "/health")).json()) as any;
      expect(health.components.engine.kind).toBe("local");
    } finally {
      await s.stop();
    }
  });
});
