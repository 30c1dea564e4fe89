import { expect, test } from "bun:test";
import { startServer, TEST_API_KEY, token, type TestServer } from "../helpers/server.ts";
import { until } from "../helpers/until.ts";
import { TestClient } from "../helpers/ws-client.ts";

/** Behind a balancer, audit lines name the client, not the balancer, and only when the balancer is trusted. */

const audit = (s: TestServer, event: string, pred: (l: Record<string, unknown>) => boolean = () => true) =>
  until(async () => s.logs.find((l) => l.audit === true && l.msg === event && pred(l)), `audit line ${event}`);

async function connectVia(s: TestServer, sub: string, xff: string): Promise<TestClient> {
  const c = await TestClient.connect(s.wsUrl, { headers: { "x-forwarded-for": xff } });
  c.send({ t: "auth", token: await token({ sub }) });
  await c.next((f) => f.t === "hello");
  return c;
}

test("TRUST_PROXY set to the balancer: connect, auth failure and API audit lines carry the forwarded client address", async () => {
  const s = await startServer({ env: { TRUST_PROXY: "127.0.0.0/8" } });
  try {
    const c = await connectVia(s, "ann", "203.0.113.7");
    expect((await audit(s, "connect", (l) => l.user === "ann")).ip).toBe("203.0.113.7");
    c.ws.close();
    // A forged entry to the left of what the balancer appended is not believed.
    const d = await connectVia(s, "bob", "6.6.6.6, 198.51.100.23");
    expect((await audit(s, "connect", (l) => l.user === "bob")).ip).toBe("198.51.100.23");
    d.ws.close();

    const bad = new TestClient(`${s.wsUrl}?access_token=not-a-token`, { headers: { "x-forwarded-for": "192.0.2.44" } });
    await bad.closed.catch(() => {});
    expect((await audit(s, "auth_failure", (l) => l.via === "upgrade")).ip).toBe("192.0.2.44");

    const res = await s.api("/v1/publish", { method: "POST", headers: { "x-forwarded-for": "198.51.100.80" }, json: { ch: "user:ann", ev: "e", data: 1 } });
    expect(res.status).toBe(200);
    expect((await audit(s, "api_publish")).ip).toBe("198.51.100.80");
    const denied = await fetch(`${s.url}/v1/publish`, { method: "POST", headers: { authorization: `Bearer wrong-${TEST_API_KEY}`, forwarded: "for=192.0.2.99;proto=https" }, body: "{}" });
    expect(denied.status).toBe(401);
    expect((await audit(s, "api_auth_failure")).ip).toBe("192.0.2.99");
  } finally {
    await s.stop();
  }
}, 30_000);

test("without TRUST_PROXY a client cannot put another address in the audit trail", async () => {
  const s = await startServer();
  try {
    const c = await connectVia(s, "eve", "203.0.113.7");
    expect((await audit(s, "connect", (l) => l.user === "eve")).ip).toBe("127.0.0.1");
    c.ws.close();
    await s.api("/v1/publish", { method: "POST", headers: { "x-forwarded-for": "198.51.100.80" }, json: { ch: "user:eve", ev: "e", data: 1 } });
    expect((await audit(s, "api_publish")).ip).toBe("127.0.0.1");
  } finally {
    await s.stop();
  }
}, 30_000);
