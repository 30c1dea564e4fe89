import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startRedis, type RedisServer } from "../helpers/redis.ts";
import { startServer, TEST_API_KEY, token, type TestServer } from "../helpers/server.ts";
import { until } from "../helpers/until.ts";
import { TestClient } from "../helpers/ws-client.ts";
import { deliverLate, LossyProxy } from "./lossy-proxy.ts";
import { isMsg, nodeEnv, policyFile } from "./nodes.ts";

/**
 * A publish whose command reached Redis but whose answer did not reach the
 * node (the network failed mid-command) must not be answered
 * SERVICE_UNAVAILABLE if Redis performed it: that answer promises nothing
 * was published. Node A talks to Redis through a proxy that loses one
 * direction; node B talks to Redis directly and has the subscriber.
 */
describe("publishes in doubt (Redis engine)", () => {
  let redis: RedisServer;
  let proxy: LossyProxy;
  let a: TestServer;
  let b: TestServer;
  const policy = policyFile();
  const clients: TestClient[] = [];
  const prefix = `doubt${process.pid}`;

  beforeAll(async () => {
    redis = await startRedis({ appendonly: true, appendfsync: "always" });
    proxy = new LossyProxy(redis.port).start();
    const env = nodeEnv({ kind: "standalone", env: { REDIS_PREFIX: prefix }, stop: async () => {} }, policy.path);
    [a, b] = await Promise.all([startServer({ env: { ...env, REDIS_URL: proxy.url } }), startServer({ env: { ...env, REDIS_URL: redis.url } })]);
  }, 30_000);
  afterAll(async () => {
    for (const c of clients) c.close();
    await Promise.all([a?.stop(), b?.stop()]);
    proxy?.stop();
    await redis?.stop();
    policy.cleanup();
  });

  async function connect(node: TestServer, sub: string): Promise<TestClient> {
    const { client } = await TestClient.auth(node.wsUrl, await token({ sub, tenant: "t1", rooms: ["doubt"] }));
    clients.push(client);
    return client;
  }

  async function inDoubt(node: TestServer): Promise<number> {
    const h = (await (await fetch(node.url + "/health")).json()) as { components: { engine: { publishesInDoubt?: number } } };
    return h.components.engine.publishesInDoubt ?? 0;
  }

  async function historyIds(node: TestServer): Promise<string[]> {
    const r = await fetch(`${node.url}/v1/channels/room:doubt/history?tenant=t1&since=0&limit=1000`, { headers: { authorization: `Bearer ${TEST_API_KEY}` } });
    const body = (await r.json()) as { messages: { data: { id: string } }[] };
    return body.messages.map((m) => m.data.id);
  }

  test("Redis performed it and the answer was lost: the publisher gets ok with the offset subscribers got, once", async () => {
    const sub = await connect(b, "listener");
    expect(await sub.request({ t: "sub", ch: "room:doubt" })).toMatchObject({ t: "ok" });
    const pub = await connect(a, "writer");
    expect(await pub.request({ t: "pub", ch: "room:doubt", ev: "n", data: { id: "warm-up" } })).toMatchObject({ t: "ok" });

    proxy.dropReplies = true;
    const answer = pub.request({ t: "pub", ch: "room:doubt", ev: "n", data: { id: "lost-reply" } }, 20_000);
    // Redis performed it: the subscriber on the other node has it.
    const delivered = await sub.next((f) => isMsg("room:doubt")(f) && f.data.id === "lost-reply", 10_000);
    // The node gave up waiting for the reply and holds the publish in doubt.
    await until(async () => ((await inDoubt(a)) >= 1 ? true : undefined), "node A to hold the publish in doubt");
    proxy.dropReplies = false;
    proxy.cut();

    const r = await answer;
    expect(r).toMatchObject({ t: "ok", off: delivered.off });
    expect(await inDoubt(a)).toBe(0);
    expect((await historyIds(b)).filter((id) => id === "lost-reply")).toHaveLength(1);
    expect(sub.frames.filter((f) => isMsg("room:doubt")(f) && f.data.id === "lost-reply")).toHaveLength(1);
  }, 40_000);

  test("Redis never got it: the publish is fenced and answered SERVICE_UNAVAILABLE, and a late copy of the command is refused", async () => {
    const sub = await connect(b, "listener2");
    expect(await sub.request({ t: "sub", ch: "room:doubt" })).toMatchObject({ t: "ok" });
    const pub = await connect(a, "writer2");
    expect(await pub.request({ t: "pub", ch: "room:doubt", ev: "n", data: { id: "warm-up-2" } })).toMatchObject({ t: "ok" });

    proxy.held.length = 0;
    proxy.holdCommands = true;
    const answer = pub.request({ t: "pub", ch: "room:doubt", ev: "n", data: { id: "never-arrived" } }, 20_000);
    await until(async () => ((await inDoubt(a)) >= 1 ? true : undefined), "node A to hold the publish in doubt");
    const late = [...proxy.held];
    proxy.holdCommands = false;
    proxy.cut();

    expect(await answer).toMatchObject({ t: "err", code: "SERVICE_UNAVAILABLE" });
    // The network delivers the held bytes after all: the fenced publish must not run.
    const replies = await deliverLate(redis.port, late);
    expect(replies).toContain("FENCED");
    expect(await pub.request({ t: "pub", ch: "room:doubt", ev: "n", data: { id: "after" } })).toMatchObject({ t: "ok" });
    await sub.next((f) => isMsg("room:doubt")(f) && f.data.id === "after", 10_000);
    expect(sub.frames.filter((f) => isMsg("room:doubt")(f) && f.data.id === "never-arrived")).toHaveLength(0);
    expect(await historyIds(b)).not.toContain("never-arrived");
  }, 40_000);
});
