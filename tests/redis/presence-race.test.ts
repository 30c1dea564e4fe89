import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startServer, token, type TestServer } from "../helpers/server.ts";
import { TestClient } from "../helpers/ws-client.ts";
import { until } from "../helpers/until.ts";
import { nodeEnv, policyFile, startBackend, type Backend } from "./nodes.ts";

/**
 * Issue 16: closing a socket right after its `sub` is acknowledged must not
 * leave a presence member behind (the Redis engine's add was still in
 * flight, and the node's heartbeat then kept the ghost alive forever).
 */

const CYCLES = 300;

async function churn(s: TestServer): Promise<void> {
  const jwt = await token({ sub: "ghost", tenant: "t1", rooms: ["ward"] });
  for (let i = 0; i < CYCLES; i++) {
    const c = await TestClient.connect(s.wsUrl + "?access_token=" + jwt);
    await c.next((f) => f.t === "hello");
    const id = 1;
    c.send({ t: "sub", id, ch: "room:ward" });
    await c.next((f) => f.t === "ok" && f.id === id);
    c.close();
    await c.closed;
  }
}

async function members(s: TestServer): Promise<unknown[]> {
  const r = await s.api("/v1/channels/room:ward/presence?tenant=t1");
  return ((await r.json()) as { members: unknown[] }).members;
}

for (const engine of ["redis", "embedded"] as const) {
  describe(`presence join/close race (${engine} engine, ${CYCLES} connect/sub/close cycles)`, () => {
    let backend: Backend | undefined;
    let policy: ReturnType<typeof policyFile>;
    let s: TestServer;
    beforeAll(async () => {
      policy = policyFile();
      if (engine === "redis") {
        backend = await startBackend("standalone");
        s = await startServer({ env: nodeEnv(backend, policy.path, { WS_MAX_CONNECTIONS_PER_USER: "0" }) });
      } else {
        s = await startServer({ env: { SWITCHBOARD_CONFIG: policy.path, WS_RATE_LIMIT_PER_SEC: "0", WS_MAX_CONNECTIONS_PER_USER: "0" } });
      }
    });
    afterAll(async () => {
      await s.stop();
      await backend?.stop();
      policy.cleanup();
    });

    test("no member outlives its connection", async () => {
      await churn(s);
      // Removals after the last close are asynchronous; the heartbeat would keep a ghost forever.
      await until(async () => ((await members(s)).length === 0 ? true : undefined), "presence to be empty", 15_000).catch(() => {});
      expect(await members(s)).toEqual([]);
      // A live subscriber is still listed (the check above is not vacuous).
      const live = await TestClient.connect(s.wsUrl + "?access_token=" + (await token({ sub: "alive", tenant: "t1", rooms: ["ward"] })));
      expect(await live.request({ t: "sub", ch: "room:ward" })).toMatchObject({ t: "ok" });
      await until(async () => ((await members(s)).length === 1 ? true : undefined), "the live member", 10_000);
      expect(await members(s)).toMatchObject([{ user: "alive" }]);
      live.close();
    }, 180_000);
  });
}
