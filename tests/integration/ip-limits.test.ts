import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startServer, token, type TestServer } from "../helpers/server.ts";
import { RawWs } from "../helpers/raw-ws.ts";
import { TestClient } from "../helpers/ws-client.ts";

/** Per-IP admission at the upgrade (issue 16): a rate of upgrades and a cap on sockets waiting to authenticate. */

describe("unauthenticated sockets per IP (at most 5)", () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startServer({ env: { WS_MAX_UNAUTHENTICATED_PER_IP: "5" } });
  });
  afterAll(async () => {
    await s.stop();
  });

  test("a sixth socket without a token is refused with 429 LIMIT_EXCEEDED; authenticating one frees its slot; token upgrades are not counted", async () => {
    const waiting = await Promise.all(Array.from({ length: 5 }, () => TestClient.connect(s.wsUrl)));
    const sixth = await RawWs.connect(s.wsUrl);
    expect(sixth.ok).toBe(false);
    if (!sixth.ok) {
      expect(sixth.status).toBe(429);
      expect(JSON.parse(sixth.body).error.code).toBe("LIMIT_EXCEEDED");
    }
    const jwt = await token({ sub: "u1", tenant: "t1" });
    // A token on the upgrade is an authenticated socket: not limited by the cap.
    const withToken = await TestClient.connect(s.wsUrl + "?access_token=" + jwt);
    expect((await withToken.next((f) => f.t === "hello" || f.t === "err")).t).toBe("hello");
    waiting[0]!.send({ t: "auth", token: jwt });
    expect((await waiting[0]!.next((f) => f.t === "hello" || f.t === "err")).t).toBe("hello");
    const again = await TestClient.connect(s.wsUrl);
    expect(again.closeCode).toBeUndefined();
    // Closing a waiting socket frees its slot too.
    waiting[1]!.close();
    await waiting[1]!.closed;
    const third = await TestClient.connect(s.wsUrl);
    expect(third.closeCode).toBeUndefined();
    for (const c of [...waiting, withToken, again, third]) c.close();
  });
});

describe("upgrades per IP (1 per second, bursts of 10)", () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startServer({ env: { WS_UPGRADES_PER_IP_PER_SEC: "1" } });
  });
  afterAll(async () => {
    await s.stop();
  });

  test("a burst of 20 upgrades: the first 10 are admitted, the rest answer 429 RATE_LIMIT_EXCEEDED with retryAfter", async () => {
    const results = [];
    for (let i = 0; i < 20; i++) results.push(await RawWs.connect(s.wsUrl));
    const admitted = results.filter((r) => r.ok);
    const refused = results.filter((r) => !r.ok);
    // A refill of 1/s may add one while the burst runs on a slow machine.
    expect(admitted.length).toBeGreaterThanOrEqual(10);
    expect(admitted.length).toBeLessThanOrEqual(12);
    for (const r of refused) {
      if (r.ok) continue;
      expect(r.status).toBe(429);
      const body = JSON.parse(r.body);
      expect(body.error.code).toBe("RATE_LIMIT_EXCEEDED");
      expect(body.error.retryAfter).toBe(1000);
    }
    for (const r of admitted) if (r.ok) r.ws.end();
  });
});
