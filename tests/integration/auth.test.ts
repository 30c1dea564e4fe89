import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { SignJWT, exportSPKI, generateKeyPair } from "jose";
import { startServer, token, type TestServer } from "../helpers/server.ts";
import { until } from "../helpers/until.ts";
import { TestClient } from "../helpers/ws-client.ts";

let s: TestServer;
beforeAll(async () => {
  s = await startServer({ env: { JWT_AUDIENCE: "care-app", JWT_ISSUER: "https://idp.test", WS_AUTH_TIMEOUT_MS: "300" } });
});
afterAll(async () => {
  await s.stop();
});

const good = () => token({ sub: "alice", tenant: "t1", rooms: ["r1"] }, { aud: "care-app", iss: "https://idp.test" });

async function upgradeStatus(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  const res = await fetch(url.replace("ws://", "http://"), {
    headers: { connection: "Upgrade", upgrade: "websocket", "sec-websocket-version": "13", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==", ...headers },
  });
  return { status: res.status, body: await res.json().catch(() => null) };
}

describe("the three ways to authenticate", () => {
  test("Authorization header on the upgrade gets hello without an auth frame", async () => {
    const c = await TestClient.connect(s.wsUrl, { headers: { authorization: `Bearer ${await good()}` } });
    const hello = await c.next((f) => f.t === "hello");
    expect(hello).toMatchObject({ user: "alice", tenant: "t1", ping: expect.any(Number), limits: { maxFrame: 1048576 } });
    expect(hello.conn).toStartWith(s.node + ".");
    c.close();
  });

  test("access_token query parameter gets hello, and the token never appears in logs", async () => {
    const jwt = await good();
    const c = await TestClient.connect(`${s.wsUrl}?access_token=${jwt}`);
    await c.next((f) => f.t === "hello");
    c.close();
    await c.closed;
    // A refused upgrade logs its path, query included: the one line where redact() has a token to remove.
    const stale = await token({ sub: "alice", tenant: "t1" }, { aud: "care-app", iss: "https://idp.test", expSec: -60 });
    expect((await upgradeStatus(`${s.wsUrl}?access_token=${stale}&v=1`)).status).toBe(401);
    const refused = await until(
      async () => s.logs.find((l) => l.msg === "auth_failure" && l.via === "upgrade" && String(l.path).endsWith("&v=1")),
      "the refused upgrade's audit line",
    );
    expect(refused.path).toBe("/v1/ws?access_token=[redacted]&v=1");
    const text = JSON.stringify(s.logs);
    expect(text).toContain('"connect"');
    for (const t of [jwt, stale]) {
      expect(text).not.toContain(t);
      expect(text).not.toContain(t.split(".")[2]!);
    }
  });

  test("auth frame gets hello with exp", async () => {
    const { client, hello } = await TestClient.auth(s.wsUrl, await good());
    expect(hello.exp).toBeGreaterThan(Date.now() / 1000);
    client.close();
  });
});

describe("bad tokens", () => {
  test("forged signature on the upgrade answers 401 JSON and no upgrade", async () => {
    const forged = await token({ sub: "mallory", tenant: "t1" }, { aud: "care-app", iss: "https://idp.test", secret: "another-secret-of-enough-length-1234567" });
    const r = await upgradeStatus(s.wsUrl, { authorization: `Bearer ${forged}` });
    expect(r.status).toBe(401);
    expect(r.body.error).toEqual({ code: "AUTHENTICATION_FAILED", message: "token signature is invalid" });
  });

  test("expired token in the query answers 401", async () => {
    const expired = await token({ sub: "alice", tenant: "t1" }, { aud: "care-app", iss: "https://idp.test", expSec: -60 });
    const r = await upgradeStatus(`${s.wsUrl}?access_token=${expired}`);
    expect(r.status).toBe(401);
    expect(r.body.error.message).toBe("token expired");
  });

  test("wrong audience in an auth frame gets err AUTHENTICATION_FAILED and close 4001", async () => {
    const c = await TestClient.connect(s.wsUrl);
    c.send({ t: "auth", id: 7, token: await token({ sub: "alice" }, { aud: "other-app", iss: "https://idp.test" }) });
    const err = await c.next((f) => f.t === "err");
    expect(err).toMatchObject({ id: 7, code: "AUTHENTICATION_FAILED", msg: "token audience is not accepted" });
    expect((await c.closed).code).toBe(4001);
  });

  test("wrong issuer and garbage tokens are refused with 4001", async () => {
    for (const bad of [await token({ sub: "a" }, { aud: "care-app", iss: "https://evil" }), "not.a.jwt", "x"]) {
      const c = await TestClient.connect(s.wsUrl);
      c.send({ t: "auth", token: bad });
      const err = await c.next((f) => f.t === "err");
      expect(err.code).toBe("AUTHENTICATION_FAILED");
      expect(err.msg).not.toContain(bad);
      expect((await c.closed).code).toBe(4001);
    }
  });

  test("an alg=none token is refused", async () => {
    const header = Buffer.from(JSON.stringify({ alg: "none", typ: "JWT" })).toString("base64url");
    const body = Buffer.from(JSON.stringify({ sub: "root", aud: "care-app", iss: "https://idp.test", exp: Date.now() / 1000 + 60 })).toString("base64url");
    const r = await upgradeStatus(s.wsUrl, { authorization: `Bearer ${header}.${body}.` });
    expect(r.status).toBe(401);
  });

  test("a token without sub is refused", async () => {
    const r = await upgradeStatus(s.wsUrl, { authorization: `Bearer ${await token({ tenant: "t1" }, { aud: "care-app", iss: "https://idp.test" })}` });
    expect(r.status).toBe(401);
    expect(r.body.error.code).toBe("AUTHENTICATION_FAILED");
  });

  test("a tenant claim with a slash (would break channel keys) is refused", async () => {
    const r = await upgradeStatus(s.wsUrl, { authorization: `Bearer ${await token({ sub: "a", tenant: "t1/room:x" }, { aud: "care-app", iss: "https://idp.test" })}` });
    expect(r.status).toBe(401);
  });
});

describe("before authentication", () => {
  test("any frame but auth gets err AUTHENTICATION_FAILED and the connection stays open", async () => {
    const c = await TestClient.connect(s.wsUrl);
    const err = await c.request({ t: "sub", ch: "room:r1" });
    expect(err).toMatchObject({ t: "err", code: "AUTHENTICATION_FAILED" });
    c.send({ t: "auth", token: await good() });
    await c.next((f) => f.t === "hello");
    expect(c.closeCode).toBeUndefined();
    c.close();
  });

  test("no auth frame within the timeout closes with 4001", async () => {
    const c = await TestClient.connect(s.wsUrl);
    const closed = await c.closed;
    expect(closed.code).toBe(4001);
    expect(c.frames.some((f) => f.t === "err" && f.code === "AUTHENTICATION_FAILED")).toBe(true);
  });

  test("a second auth frame is a BAD_REQUEST, not a re-login", async () => {
    const { client } = await TestClient.auth(s.wsUrl, await good());
    const r = await client.request({ t: "auth", token: await good() });
    expect(r).toMatchObject({ t: "err", code: "BAD_REQUEST" });
    client.close();
  });
});

test("RS256 public key and ES256 tokens verify; production refuses tokens without exp", async () => {
  const rsa = await generateKeyPair("RS256");
  const pem = await exportSPKI(rsa.publicKey);
  const srv = await startServer({ env: { JWT_SECRET: "", JWT_PUBLIC_KEY: pem, JWT_ALGORITHM: "RS256", NODE_ENV: "production", CORS_ORIGINS: "*" } });
  try {
    const withExp = await new SignJWT({ sub: "rsa-user" }).setProtectedHeader({ alg: "RS256" }).setExpirationTime("5m").sign(rsa.privateKey);
    const { hello, client } = await TestClient.auth(srv.wsUrl, withExp);
    expect(hello.user).toBe("rsa-user");
    client.close();
    const noExp = await new SignJWT({ sub: "rsa-user" }).setProtectedHeader({ alg: "RS256" }).sign(rsa.privateKey);
    const c = await TestClient.connect(srv.wsUrl);
    c.send({ t: "auth", token: noExp });
    expect((await c.next((f) => f.t === "err")).code).toBe("AUTHENTICATION_FAILED");
    expect((await c.closed).code).toBe(4001);
    const hs = await token({ sub: "x" });
    const c2 = await TestClient.connect(srv.wsUrl);
    c2.send({ t: "auth", token: hs });
    expect((await c2.next((f) => f.t === "err")).msg).toBe("token algorithm is not accepted");
  } finally {
    await srv.stop();
  }
  const ec = await generateKeyPair("ES256");
  const srv2 = await startServer({ env: { JWT_SECRET: "", JWT_PUBLIC_KEY: await exportSPKI(ec.publicKey), JWT_ALGORITHM: "ES256" } });
  try {
    const jwt = await new SignJWT({ sub: "ec-user", tenant: "t9" }).setProtectedHeader({ alg: "ES256" }).setExpirationTime("5m").sign(ec.privateKey);
    const { hello, client } = await TestClient.auth(srv2.wsUrl, jwt);
    expect(hello).toMatchObject({ user: "ec-user", tenant: "t9" });
    client.close();
  } finally {
    await srv2.stop();
  }
});
