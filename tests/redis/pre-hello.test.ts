import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startServer, token, type TestServer } from "../helpers/server.ts";
import { TestClient } from "../helpers/ws-client.ts";
import { nodeEnv, policyFile, startBackend, type Backend } from "./nodes.ts";

/**
 * Issue 16: on the Redis engine `hello` waits for the connection lease, so a
 * client that sends frames right after the upgrade (or right after `auth`)
 * gets them answered after `hello`, not refused; a second `auth` is refused.
 */
describe("frames before hello (Redis engine)", () => {
  let backend: Backend;
  let policy: ReturnType<typeof policyFile>;
  let s: TestServer;
  beforeAll(async () => {
    policy = policyFile();
    backend = await startBackend("standalone");
    s = await startServer({ env: nodeEnv(backend, policy.path) });
  });
  afterAll(async () => {
    await s.stop();
    await backend.stop();
    policy.cleanup();
  });

  test("a header-authenticated socket's first frames are answered after hello, not refused", async () => {
    const jwt = await token({ sub: "early", tenant: "t1", rooms: ["a", "b"] });
    for (let round = 0; round < 20; round++) {
      const c = new TestClient(s.wsUrl, { headers: { authorization: `Bearer ${jwt}` } });
      await c.opened;
      c.send({ t: "sub", id: 1, ch: "room:a" });
      c.send({ t: "sub", id: 2, ch: "room:b" });
      c.send({ t: "presence", id: 3, ch: "room:a" });
      await c.waitCount((f) => f.id !== undefined, 3);
      // Answers may come in any order (each request has its own); all come after hello and none is an error.
      expect(c.frames[0]!.t).toBe("hello");
      expect(c.frames.slice(1).map((f) => f.t + f.id).sort()).toEqual(["ok1", "ok2", "ok3"]);
      c.close();
      await c.closed;
    }
  });

  test("auth immediately followed by a second auth and a sub: one hello, the second auth refused, the sub answered", async () => {
    const jwt = await token({ sub: "twice", tenant: "t1", rooms: ["a"] });
    const c = await TestClient.connect(s.wsUrl);
    c.send({ t: "auth", id: 1, token: jwt });
    c.send({ t: "auth", id: 2, token: jwt });
    c.send({ t: "sub", id: 3, ch: "room:a" });
    await c.next((f) => f.id === 3);
    expect(c.frames.filter((f) => f.t === "hello")).toHaveLength(1);
    expect(c.frames.find((f) => f.id === 2)).toMatchObject({ t: "err", code: "BAD_REQUEST" });
    expect(c.frames.find((f) => f.id === 3)).toMatchObject({ t: "ok" });
    // One connection for this user, not two per-user entries.
    const r = await s.api("/v1/users/twice/disconnect", { method: "POST", json: { tenant: "t1" } });
    expect(((await r.json()) as { closed: number }).closed).toBe(1);
  });
});
