import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { token, type TestServer } from "../helpers/server.ts";
import { TestClient } from "../helpers/ws-client.ts";
import { isMsg, nodeEnv, policyFile, readyStatus, startBackend, startNodes, type Backend } from "./nodes.ts";

const TIMEOUT_MS = 500;

describe("Redis outages", () => {
  let backend: Backend;
  let nodes: TestServer[];
  const policy = policyFile();
  const clients: TestClient[] = [];

  beforeAll(async () => {
    backend = await startBackend("standalone", { appendonly: true, appendfsync: "always" });
    nodes = await startNodes(2, nodeEnv(backend, policy.path, { REDIS_COMMAND_TIMEOUT_MS: String(TIMEOUT_MS) }));
  }, 30_000);
  afterAll(async () => {
    backend?.redis?.resume();
    for (const c of clients) c.close();
    await Promise.all((nodes ?? []).map((n) => n.stop()));
    await backend?.stop();
    policy.cleanup();
  });

  async function connect(node: TestServer, sub: string, room: string): Promise<TestClient> {
    const { client } = await TestClient.auth(node.wsUrl, await token({ sub, tenant: "t1", rooms: [room] }));
    clients.push(client);
    return client;
  }

  test("Redis SIGKILLed mid-stream and restarted (AOF, fsync always): publishes in between are refused, every acknowledged message is recovered, no duplicates", async () => {
    const redis = backend.redis!;
    const sub = await connect(nodes[1]!, "listener", "aof");
    await sub.request({ t: "sub", ch: "room:aof" });
    const pub = await connect(nodes[0]!, "writer", "aof");
    const acked: string[] = [];
    const refused: string[] = [];
    // In flight when Redis died: it may be in the AOF. Held until Redis says, or answered "outcome unknown".
    const unknown: string[] = [];
    let stop = false;
    let i = 0;
    const publishing = (async () => {
      while (!stop) {
        const r = await pub.request({ t: "pub", ch: "room:aof", ev: "n", data: i++ }, 15_000);
        if (r.t === "ok") acked.push(r.off);
        else if (r.code === "INTERNAL_ERROR" && String(r.msg).includes("outcome unknown")) unknown.push(r.code);
        else refused.push(r.code);
        if (r.t === "err") await Bun.sleep(20);
      }
    })();
    const until = async (cond: () => boolean, what: string) => {
      const deadline = Date.now() + 15_000;
      while (!cond()) {
        if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
        await Bun.sleep(10);
      }
    };
    await until(() => acked.length >= 100, "100 acks before the kill");
    await redis.kill();
    await until(() => refused.length >= 10, "refusals during the outage");
    expect(unknown.length).toBeLessThanOrEqual(1);
    await readyStatus(nodes[0]!, 503);
    const ackedBefore = acked.length;
    await redis.restart();
    await until(() => acked.length >= ackedBefore + 100, "100 acks after the restart");
    stop = true;
    await publishing;
    await readyStatus(nodes[0]!, 200);
    await readyStatus(nodes[1]!, 200);

    expect(new Set(refused)).toEqual(new Set(["SERVICE_UNAVAILABLE"]));
    // live subscriber on the other node: every acknowledged message, once, in order
    await sub.next((f) => isMsg("room:aof")(f) && f.off === acked.at(-1), 10_000);
    const live = sub.frames.filter(isMsg("room:aof")).map((f) => f.off as string);
    expect(new Set(live).size).toBe(live.length);
    expect(live.every((o, k) => k === 0 || BigInt(o) > BigInt(live[k - 1]!))).toBe(true);
    const liveSet = new Set(live);
    expect(acked.filter((o) => !liveSet.has(o))).toEqual([]);
    // a reconnecting client recovers every acknowledged message from history
    const late = await connect(nodes[1]!, "late", "aof");
    const ok = await late.request({ t: "sub", ch: "room:aof", since: acked[0] });
    expect(ok).toMatchObject({ t: "ok", recovered: true });
    const recovered = late.frames.filter(isMsg("room:aof")).map((f) => f.off as string);
    expect(new Set(recovered).size).toBe(recovered.length);
    const recSet = new Set(recovered);
    expect(acked.slice(1).filter((o) => !recSet.has(o))).toEqual([]);
  }, 60_000);

  test("Redis frozen (SIGSTOP): the publish in flight is held and then refused, later ones are refused at once, /health/ready is 503, all recovers after SIGCONT", async () => {
    const redis = backend.redis!;
    await readyStatus(nodes[0]!, 200);
    const sub = await connect(nodes[1]!, "listener", "frz");
    await sub.request({ t: "sub", ch: "room:frz" });
    const pub = await connect(nodes[0]!, "writer", "frz");
    const before = await pub.request({ t: "pub", ch: "room:frz", ev: "n", data: "before" });
    expect(before.t).toBe("ok");
    redis.pause();
    let held: Promise<Record<string, unknown>>;
    try {
      // Sent to the frozen Redis: the node cannot know whether Redis will run it, so it holds the answer.
      held = pub.request({ t: "pub", ch: "room:frz", ev: "n", data: "frozen" }, 15_000);
      await readyStatus(nodes[0]!, 503);
      await readyStatus(nodes[1]!, 503);
      // Now known unreachable: refused at once, without sending.
      expect(await pub.request({ t: "pub", ch: "room:frz", ev: "n", data: "frozen-2" }, 5000)).toMatchObject({ t: "err", code: "SERVICE_UNAVAILABLE" });
      const http = await nodes[1]!.api("/v1/publish", { method: "POST", json: { tenant: "t1", ch: "room:frz", ev: "n", data: "frozen-http" } });
      expect(http.status).toBe(503);
      const health = (await (await nodes[0]!.api("/health")).json()) as { components: { engine: { detail: string } } };
      expect(health.components.engine.detail).toContain("redis unavailable");
    } finally {
      redis.resume();
    }
    // Redis reaches the held publish past its deadline and refuses it; the node fences it and answers.
    expect(await held).toMatchObject({ t: "err", code: "SERVICE_UNAVAILABLE" });
    await readyStatus(nodes[0]!, 200);
    await readyStatus(nodes[1]!, 200);
    const after = await pub.request({ t: "pub", ch: "room:frz", ev: "n", data: "after" });
    expect(after.t).toBe("ok");
    await sub.next((f) => isMsg("room:frz")(f) && f.off === after.off);
    // refused publishes were not applied late: the subscriber saw only "before" and "after"
    expect(sub.frames.filter(isMsg("room:frz")).map((f) => f.data)).toEqual(["before", "after"]);
    expect(BigInt(after.off)).toBe(BigInt(before.off) + 1n);
  }, 60_000);

  test("Redis stalled for 1.2 command timeouts (one slow moment, not an outage): /health/ready stays 200 on both nodes while the publish that missed its deadline is answered", async () => {
    const redis = backend.redis!;
    for (const n of nodes) await readyStatus(n, 200);
    const sub = await connect(nodes[1]!, "listener", "slow");
    await sub.request({ t: "sub", ch: "room:slow" });
    const pub = await connect(nodes[0]!, "writer", "slow");
    expect((await pub.request({ t: "pub", ch: "room:slow", ev: "n", data: "before" })).t).toBe("ok");
    const seen: number[] = [];
    let polling = true;
    const poll = (async () => {
      while (polling) {
        for (const n of nodes) seen.push((await fetch(n.url + "/health/ready")).status);
        await Bun.sleep(20);
      }
    })();
    redis.pause();
    let late: Record<string, unknown>;
    try {
      // Sent into the stall: it misses its deadline, which alone must not drain the node.
      const inFlight = pub.request({ t: "pub", ch: "room:slow", ev: "n", data: "stalled" }, 15_000);
      await Bun.sleep(TIMEOUT_MS * 1.2);
      redis.resume();
      late = await inFlight;
      // Past the point where the confirming probe answered (it was sent at the deadline, inside the stall).
      await Bun.sleep(TIMEOUT_MS * 2);
    } finally {
      redis.resume();
      polling = false;
      await poll;
    }
    expect(seen.length).toBeGreaterThan(10);
    expect(seen.filter((s) => s !== 200)).toEqual([]);
    // The stall did make a command miss its deadline: the publish sent into it was fenced and refused.
    expect(late!).toMatchObject({ t: "err", code: "SERVICE_UNAVAILABLE" });
    expect(nodes[0]!.logs.some((l) => l.msg === "redis command failed")).toBe(true);
    const after = await pub.request({ t: "pub", ch: "room:slow", ev: "n", data: "after" });
    expect(after.t).toBe("ok");
    await sub.next((f) => isMsg("room:slow")(f) && f.off === after.off);
    // The subscriber saw exactly what was acknowledged.
    expect(sub.frames.filter(isMsg("room:slow")).map((f) => f.data)).toEqual(["before", "after"]);
  }, 60_000);
});
