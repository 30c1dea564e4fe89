import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startRedis, type RedisServer } from "../helpers/redis.ts";
import { startServer, token, type TestServer } from "../helpers/server.ts";
import { TestClient, type Frame } from "../helpers/ws-client.ts";

/**
 * Issue 16: a `sub` with `since` over a multi-MiB backlog must not hold the
 * node's event loop for the whole backlog. The backlog goes out in slices
 * with other sockets served in between, while live publications on the
 * channel are held for the recovering client and follow the backlog: every
 * message once, in order, no gap. On the embedded engine (whose read was
 * the synchronous part) and on Redis (same hub path, asynchronous reads).
 */
const jwtFor = (sub: string) => token({ sub, tenant: "t1", rooms: ["big", "side", "slow"] });
const msgsOf = (c: TestClient, ch: string, from = 0, to = c.frames.length): Frame[] => c.frames.slice(from, to).filter((f) => f.t === "msg" && f.ch === ch);

describe.each(["local", "redis"] as const)("%s engine", (engine) => {
  let s: TestServer;
  let redis: RedisServer | undefined;
  beforeAll(async () => {
    const env: Record<string, string> = { WS_RATE_LIMIT_PER_SEC: "0" };
    if (engine === "redis") {
      redis = await startRedis();
      Object.assign(env, { REDIS_URL: redis.url, REDIS_PREFIX: `slices${process.pid}` });
    }
    s = await startServer({ env });
  }, 30_000);
  afterAll(async () => {
    await s?.stop();
    await redis?.stop();
  }, 60_000);

  /** Publishes over HTTP (one `fill` event) and answers its offset. */
  const fill = async (ch: string, data: unknown): Promise<string> => {
    const r = await s.api("/v1/publish", { method: "POST", json: { tenant: "t1", ch, ev: "fill", data } });
    expect(r.status).toBe(200);
    return ((await r.json()) as { off: string }).off;
  };

  test("a 3 MB recovery while others publish and round-trip: backlog then live, each once and in order, and the node answers other sockets meanwhile", async () => {
    // The backlog: 30 messages of ~110 KB after a first one (3.3 MB, under the 4 MiB recovery cap).
    const publishHttp = (data: unknown) => fill("room:big", data);
    const since = await publishHttp({ i: 0 });
    const filler = "y".repeat(110_000);
    for (let i = 1; i <= 30; i++) await publishHttp({ i, filler });

    const recovering = (await TestClient.auth(s.wsUrl, await jwtFor("recovering"))).client;
    // Live on a second room: what else the node sends it while its recovery is under way shows on its own socket.
    expect(await recovering.request({ t: "sub", ch: "room:side" })).toMatchObject({ t: "ok" });
    const prober = (await TestClient.auth(s.wsUrl, await jwtFor("prober"))).client;
    const publisher = (await TestClient.auth(s.wsUrl, await jwtFor("publisher"))).client;

    let stop = false;
    // Round trips on another socket: publications to room:side, one at a time.
    let answered = 0;
    const probing = (async () => {
      for (let q = 0; !stop; q++) {
        const a = await prober.request({ t: "pub", ch: "room:side", ev: "probe", data: { q } }, 30_000);
        expect(a.t).toBe("ok");
        answered++;
      }
    })();
    // Live publications on the recovering room, one at a time, numbered.
    const acked: string[] = [];
    const publishing = (async () => {
      for (let p = 0; !stop || acked.length < 20; p++) {
        const a = await publisher.request({ t: "pub", ch: "room:big", ev: "live", data: { p } }, 30_000);
        expect(a.t).toBe("ok");
        acked.push(a.off);
      }
    })();
    await prober.nextNew((f) => f.t === "ok");
    await publisher.nextNew((f) => f.t === "ok");

    const before = answered;
    const mark = recovering.frames.length;
    const ok = await recovering.request({ t: "sub", ch: "room:big", since }, 60_000);
    const duringRecovery = answered - before;
    const okAt = recovering.frames.indexOf(ok);
    // Some live publications after the answer too, then stop.
    await publisher.waitCount((f) => f.t === "ok", publisher.count((f) => f.t === "ok") + 10, 30_000);
    stop = true;
    await Promise.all([probing, publishing]);
    const lastOff = acked.at(-1)!;
    await recovering.next((f) => f.t === "msg" && f.ch === "room:big" && f.off === lastOff, 30_000);

    expect(ok).toMatchObject({ t: "ok", recovered: true });
    expect(ok.missed).toBeGreaterThanOrEqual(30);
    // Every message after `since`, backlog then live: consecutive offsets, none twice, none missing.
    const got = msgsOf(recovering, "room:big", mark);
    const offs = got.map((f) => Number(f.off));
    const expected = Array.from({ length: Number(lastOff) - Number(since) }, (_, i) => Number(since) + 1 + i);
    expect(offs).toEqual(expected);
    expect(got.slice(0, 30).map((f) => f.data.i)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    const live = got.slice(30).map((f) => f.data.p);
    expect(live).toEqual(Array.from({ length: live.length }, (_, i) => live[0] + i));
    expect(live.at(-1)).toBe(acked.length - 1);
    // The backlog went out before the answer, and its count is what the answer says.
    expect(msgsOf(recovering, "room:big", mark, okAt)).toHaveLength(ok.missed);
    expect(got.slice(ok.missed).every((f) => Number(f.off) > Number(ok.off))).toBe(true);

    // The node kept answering the other socket while the backlog was sent: the prober's
    // publications reached the recovering socket between the backlog's first frame and the answer.
    const firstBacklog = recovering.frames.findIndex((f, i) => i >= mark && f.t === "msg" && f.ch === "room:big");
    expect(msgsOf(recovering, "room:side", firstBacklog, okAt).length).toBeGreaterThan(0);
    expect(duringRecovery).toBeGreaterThan(0);
    for (const c of [recovering, prober, publisher]) c.close();
  }, 180_000);

  test("a recovering client that stops reading: live publications meanwhile are not held without bound, and it still gets every message once, in order, when it reads again", async () => {
    const filler = "z".repeat(100_000);
    const first = await s.api("/v1/publish", { method: "POST", json: { tenant: "t1", ch: "room:slow", ev: "fill", data: { i: 0 } } });
    const since = ((await first.json()) as { off: string }).off;
    for (let i = 1; i <= 10; i++) {
      const r = await s.api("/v1/publish", { method: "POST", json: { tenant: "t1", ch: "room:slow", ev: "fill", data: { i, filler } } });
      expect(r.status).toBe(200);
    }
    const recovering = (await TestClient.auth(s.wsUrl, await jwtFor("stalled"))).client;
    const publisher = (await TestClient.auth(s.wsUrl, await jwtFor("publisher2"))).client;
    const mark = recovering.frames.length;
    recovering.send({ t: "sub", id: 99, ch: "room:slow", since });
    // Stops reading while the backlog is being sent; meanwhile 2 MB of live publications (over the 1 MiB the node
    // holds for one pending subscription, and over the 1 MiB send buffer of a live subscriber).
    (recovering.ws as unknown as { pause(): void }).pause();
    const acked: string[] = [];
    for (let p = 0; p < 20; p++) {
      const a = await publisher.request({ t: "pub", ch: "room:slow", ev: "live", data: { p, filler } }, 30_000);
      expect(a.t).toBe("ok");
      acked.push(a.off);
    }
    (recovering.ws as unknown as { resume(): void }).resume();
    const ok = await recovering.next((f) => f.id === 99, 60_000);
    expect(ok).toMatchObject({ t: "ok", recovered: true });
    const lastOff = acked.at(-1)!;
    await recovering.next((f) => f.t === "msg" && f.ch === "room:slow" && f.off === lastOff, 60_000);
    expect(recovering.closeCode).toBeUndefined();
    const got = msgsOf(recovering, "room:slow", mark);
    expect(got.map((f) => Number(f.off))).toEqual(Array.from({ length: Number(lastOff) - Number(since) }, (_, i) => Number(since) + 1 + i));
    expect(got.map((f) => (f.ev === "fill" ? `i${f.data.i}` : `p${f.data.p}`))).toEqual([
      ...Array.from({ length: 10 }, (_, i) => `i${i + 1}`),
      ...Array.from({ length: 20 }, (_, p) => `p${p}`),
    ]);
    recovering.close();
    publisher.close();
  }, 180_000);

  test("a refresh that takes the room away while its 3 MB recovery is under way ends the recovery with AUTHORIZATION_FAILED for that sub: part of the backlog at most, nothing of the room after, the connection goes on", async () => {
    const publishHttp = (data: unknown) => fill("room:revoke", data);
    const since = await publishHttp({ i: 0 });
    const filler = "x".repeat(100_000);
    for (let i = 1; i <= 30; i++) await publishHttp({ i, filler });
    const c = (await TestClient.auth(s.wsUrl, await token({ sub: "nurse", tenant: "t1", rooms: ["revoke", "side"] }))).client;
    const mark = c.frames.length;
    // The sub and the refresh leave together: the refresh is read while the backlog goes out slice by slice.
    c.send({ t: "sub", id: 77, ch: "room:revoke", since });
    c.send({ t: "refresh", id: 78, token: await token({ sub: "nurse", tenant: "t1", rooms: ["side"] }) });
    expect(await c.next((f) => f.id === 78, 30_000)).toMatchObject({ t: "ok" });
    const ended = await c.next((f) => f.id === 77, 60_000);
    expect(ended).toMatchObject({ t: "err", code: "AUTHORIZATION_FAILED" });
    const endAt = c.frames.indexOf(ended);
    // Not the whole backlog: the recovery stopped at the first slice after the refresh.
    expect(msgsOf(c, "room:revoke", mark, endAt).length).toBeLessThan(30);
    // Nothing of the room after: not the rest of the backlog, not a later publication.
    await publishHttp({ i: "after" });
    expect(await c.request({ t: "sub", ch: "room:side" })).toMatchObject({ t: "ok" });
    expect(await c.request({ t: "sub", ch: "room:revoke" })).toMatchObject({ t: "err", code: "AUTHORIZATION_FAILED" });
    expect(msgsOf(c, "room:revoke", endAt)).toEqual([]);
    expect(c.closeCode).toBeUndefined();
    c.close();
  }, 120_000);
});
