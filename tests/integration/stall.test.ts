import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startServer, token, TEST_API_KEY, type TestServer } from "../helpers/server.ts";
import { TestClient } from "../helpers/ws-client.ts";
import { percentile, probeRoundTrips } from "../helpers/probe.ts";

/**
 * DESIGN.md guarantee 7: no single client, frame or request stalls the event
 * loop. Each attack runs while an innocent client on the same node measures
 * its round trips; the bound is generous (the unbounded code stalled for seconds).
 */

/**
 * What the attacks must not do to an innocent client's round trips: the
 * unbounded code stalled them for seconds (p50 15 s with the deep frames,
 * 6.7 s for the history reads). The typical round trip may grow by at most
 * 100 ms plus four times the quiet median measured just before (a heavily
 * shared machine slows everything, and the bound must judge the attack, not
 * the machine), and no round trip (p99) may reach a second.
 */
interface StallBound {
  p50: number;
  p99: number;
}

async function stallBound(probe: TestClient): Promise<StallBound> {
  const quiet = await probeRoundTrips(probe, "room:r1", Promise.resolve(), 30);
  return { p50: 100 + 4 * percentile(quiet, 0.5), p99: 1000 };
}

function expectNoStall(rtts: number[], bound: StallBound): void {
  expect(percentile(rtts, 0.5)).toBeLessThan(bound.p50);
  expect(percentile(rtts, 0.99)).toBeLessThan(bound.p99);
}

const jwtFor = (sub: string) => token({ sub, tenant: "t1", rooms: ["r1", "big"] });
const deep = (levels: number) => "[".repeat(levels) + "]".repeat(levels);

describe("bounded work per frame and per request", () => {
  let s: TestServer;
  let probe: TestClient;
  beforeAll(async () => {
    // The probe's round trips are many; the per-connection rate limit is not what is tested here.
    s = await startServer({ env: { WS_RATE_LIMIT_PER_SEC: "0" } });
    probe = (await TestClient.auth(s.wsUrl, await jwtFor("probe"))).client;
    expect(await probe.request({ t: "sub", ch: "room:r1" })).toMatchObject({ t: "ok" });
  });
  afterAll(async () => {
    probe.close();
    await s.stop();
  }, 120_000);

  test("deeply nested pub data is refused with BAD_REQUEST, counts against the error budget, and does not stall others", async () => {
    const bound = await stallBound(probe);
    const attacker = (await TestClient.auth(s.wsUrl, await jwtFor("attacker"))).client;
    const frame = '{"t":"pub","id":7,"ch":"room:r1","ev":"x","data":' + deep(50_000) + "}";
    const attack = (async () => {
      for (let i = 0; i < 40 && attacker.closeCode === undefined; i++) attacker.send(frame);
      return attacker.closed;
    })();
    const rtts = await probeRoundTrips(probe, "room:r1", attack);
    const { code } = await attacker.closed;
    expect(code).toBe(1008);
    const errs = attacker.frames.filter((f) => f.t === "err");
    expect(errs.length).toBeGreaterThanOrEqual(29);
    for (const e of errs) expect(e).toMatchObject({ t: "err", code: "BAD_REQUEST" });
    expect(errs[0]!.msg).toContain("deeper than 64");
    expectNoStall(rtts, bound);
    // Nothing of it reached the room.
    expect(probe.frames.some((f) => f.t === "msg" && f.ev === "x")).toBe(false);
  }, 120_000);

  test("data nested within the budget is still published", async () => {
    const c = (await TestClient.auth(s.wsUrl, await jwtFor("nested"))).client;
    const data = JSON.parse(deep(60));
    expect(await c.request({ t: "pub", ch: "room:r1", ev: "nested", data })).toMatchObject({ t: "ok" });
    const msg = await probe.next((f) => f.t === "msg" && f.ev === "nested");
    expect(msg.data).toEqual(data);
    c.close();
  }, 120_000);

  test("before auth: 1 MB frames of deep arrays are cut off at the small pre-auth limit (1009) without stalling others", async () => {
    const bound = await stallBound(probe);
    const sockets = await Promise.all(Array.from({ length: 10 }, () => TestClient.connect(s.wsUrl)));
    const big = deep(500_000);
    const attack = Promise.all(
      sockets.map((c) => {
        c.send(big);
        return c.closed;
      }),
    );
    const rtts = await probeRoundTrips(probe, "room:r1", attack);
    for (const c of sockets) {
      expect(c.closeCode).toBe(1009);
      expect(c.frames[0]).toMatchObject({ t: "err", code: "MESSAGE_TOO_LARGE" });
    }
    expectNoStall(rtts, bound);
  }, 120_000);

  test("an auth frame still fits the pre-auth limit", async () => {
    const { hello } = await TestClient.auth(s.wsUrl, await token({ sub: "long", tenant: "t1", rooms: Array.from({ length: 300 }, (_, i) => "room-" + i) }));
    expect(hello.t).toBe("hello");
  }, 120_000);

  test("HTTP: a publish body nested 100,000 deep answers 400 BAD_REQUEST at once, and others are not stalled", async () => {
    const bound = await stallBound(probe);
    const body = '{"ch":"room:r1","tenant":"t1","ev":"x","data":' + deep(100_000) + "}";
    const statuses: number[] = [];
    const attack = (async () => {
      for (let i = 0; i < 10; i++) {
        const r = await fetch(s.url + "/v1/publish", { method: "POST", headers: { authorization: `Bearer ${TEST_API_KEY}`, "content-type": "application/json" }, body });
        statuses.push(r.status);
        const e = (await r.json()) as { error: { code: string; message: string } };
        expect(e.error.code).toBe("BAD_REQUEST");
        expect(e.error.message).toContain("deeper than 64");
      }
    })();
    const rtts = await probeRoundTrips(probe, "room:r1", attack);
    await attack;
    expect(statuses).toEqual(Array(10).fill(400));
    expectNoStall(rtts, bound);
  });

  test("history of a room filled with 100 × 1 MB messages: answers are bounded in bytes, page with since, and do not stall others", async () => {
    const filler = "x".repeat(1_000_000);
    for (let i = 1; i <= 100; i++) {
      const r = await s.api("/v1/publish", { method: "POST", json: { tenant: "t1", ch: "room:big", ev: "big", data: { i, filler } } });
      expect(r.status).toBe(200);
    }
    const reader = (await TestClient.auth(s.wsUrl, await jwtFor("reader"))).client;
    const bound = await stallBound(probe);
    const attack = (async () => {
      const answers = [];
      for (let i = 0; i < 10; i++) answers.push(await reader.request({ t: "history", ch: "room:big", limit: 100 }, 60_000));
      return answers;
    })();
    const rtts = await probeRoundTrips(probe, "room:r1", attack);
    for (const a of await attack) {
      expect(a).toMatchObject({ t: "ok", off: "100", more: true });
      expect(a.messages.length).toBeGreaterThanOrEqual(1);
      expect(a.messages.length).toBeLessThanOrEqual(2);
      // Without since: the newest ones.
      expect(a.messages.at(-1).data.i).toBe(100);
    }
    expectNoStall(rtts, bound);

    // Paging from the start reads every message once, in order.
    const seen: number[] = [];
    let since = "0";
    for (let page = 0; page < 200; page++) {
      const a = await reader.request({ t: "history", ch: "room:big", since, limit: 100 }, 60_000);
      expect(a.t).toBe("ok");
      for (const m of a.messages) seen.push(m.data.i);
      if (!a.more) break;
      since = a.messages.at(-1).off;
    }
    expect(seen).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));

    // HTTP history is bounded the same way.
    const h = (await (await s.api("/v1/channels/room:big/history?tenant=t1&limit=100")).json()) as { messages: unknown[]; more?: boolean };
    expect(h.more).toBe(true);
    expect(h.messages.length).toBeLessThanOrEqual(2);
    reader.close();
  }, 300_000);
});
