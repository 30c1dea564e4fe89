import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startRedis, type RedisServer } from "../helpers/redis.ts";
import { startServer, token, type TestServer } from "../helpers/server.ts";
import { TestClient } from "../helpers/ws-client.ts";
import { LossyProxy } from "./lossy-proxy.ts";
import { isMsg, nodeEnv, policyFile } from "./nodes.ts";

/**
 * A client that resubscribes with `since` gets the messages it missed from
 * history. If this node's bus reader has not delivered the newest of them
 * yet (it is behind, e.g. still reconnecting after a Redis restart), the live
 * copy arrives after the subscription was added: the client must not get
 * that message twice. Node B's bus reader is held back by a proxy while its
 * command connection works; node A publishes directly.
 */
describe("resubscribing while the node's bus reader is behind", () => {
  let redis: RedisServer;
  let proxy: LossyProxy;
  let a: TestServer;
  let b: TestServer;
  const policy = policyFile();
  const clients: TestClient[] = [];

  beforeAll(async () => {
    redis = await startRedis();
    proxy = new LossyProxy(redis.port).start();
    const env = nodeEnv({ kind: "standalone", env: { REDIS_PREFIX: `backlog${process.pid}` }, stop: async () => {} }, policy.path);
    [a, b] = await Promise.all([startServer({ env: { ...env, REDIS_URL: redis.url } }), startServer({ env: { ...env, REDIS_URL: proxy.url } })]);
  }, 30_000);
  afterAll(async () => {
    for (const c of clients) c.close();
    await Promise.all([a?.stop(), b?.stop()]);
    proxy?.stop();
    await redis?.stop();
    policy.cleanup();
  });

  async function connect(node: TestServer, sub: string): Promise<TestClient> {
    const { client } = await TestClient.auth(node.wsUrl, await token({ sub, tenant: "t1", rooms: ["bk"] }));
    clients.push(client);
    return client;
  }

  test("a message in the recovered backlog is not delivered again live", async () => {
    const pub = await connect(a, "writer");
    const first = await pub.request({ t: "pub", ch: "room:bk", ev: "n", data: { id: "one" } });
    expect(first).toMatchObject({ t: "ok" });

    proxy.stallReaders = true;
    const missed = await pub.request({ t: "pub", ch: "room:bk", ev: "n", data: { id: "missed" } });
    expect(missed).toMatchObject({ t: "ok" });
    const sub = await connect(b, "reader");
    let answer = await sub.request({ t: "sub", ch: "room:bk", since: first.off }, 10_000);
    proxy.releaseReaders();
    // The node may refuse while its bus is behind; the client asks again, as the SDK does.
    for (let i = 0; answer.t === "err" && answer.code === "SERVICE_UNAVAILABLE" && i < 20; i++) {
      await Bun.sleep(100);
      answer = await sub.request({ t: "sub", ch: "room:bk", since: first.off }, 10_000);
    }
    expect(answer).toMatchObject({ t: "ok", recovered: true });

    // Everything published before `after` reached B's subscriber before it.
    await pub.request({ t: "pub", ch: "room:bk", ev: "n", data: { id: "after" } });
    await sub.next((f) => isMsg("room:bk")(f) && f.data.id === "after", 10_000);
    expect(sub.frames.filter((f) => isMsg("room:bk")(f)).map((f) => f.data.id)).toEqual(["missed", "after"]);
  }, 40_000);
});
