import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startServer, token, type TestServer } from "../helpers/server.ts";
import { TestClient } from "../helpers/ws-client.ts";

let s: TestServer;
beforeAll(async () => {
  s = await startServer();
});
afterAll(async () => {
  await s.stop();
});

async function can(claims: Record<string, unknown>, frame: Record<string, unknown>): Promise<string> {
  const { client } = await TestClient.auth(s.wsUrl, await token({ tenant: "t1", ...claims } as any));
  const r = await client.request(frame);
  client.close();
  return r.t === "ok" ? "ok" : r.code;
}

describe("default policy", () => {
  test("user:<id> — self or admin may subscribe; clients may not publish", async () => {
    expect(await can({ sub: "ann" }, { t: "sub", ch: "user:ann" })).toBe("ok");
    expect(await can({ sub: "bob" }, { t: "sub", ch: "user:ann" })).toBe("AUTHORIZATION_FAILED");
    expect(await can({ sub: "boss", roles: ["admin"] }, { t: "sub", ch: "user:ann" })).toBe("ok");
    expect(await can({ sub: "ann" }, { t: "pub", ch: "user:ann", ev: "e", data: 1 })).toBe("AUTHORIZATION_FAILED");
  });

  test("org:<id> — only users whose tenant is <id>; server publish only", async () => {
    expect(await can({ sub: "a", tenant: "acme" }, { t: "sub", ch: "org:acme" })).toBe("ok");
    expect(await can({ sub: "a", tenant: "other" }, { t: "sub", ch: "org:acme" })).toBe("AUTHORIZATION_FAILED");
    expect(await can({ sub: "a", tenant: "acme" }, { t: "pub", ch: "org:acme", ev: "e", data: 1 })).toBe("AUTHORIZATION_FAILED");
  });

  test("room:<id> — rooms claim or admin, for subscribe and publish", async () => {
    expect(await can({ sub: "a", rooms: ["x"] }, { t: "sub", ch: "room:x" })).toBe("ok");
    expect(await can({ sub: "a", rooms: ["x"] }, { t: "pub", ch: "room:x", ev: "e", data: 1 })).toBe("ok");
    expect(await can({ sub: "a", rooms: ["y"] }, { t: "sub", ch: "room:x" })).toBe("AUTHORIZATION_FAILED");
    expect(await can({ sub: "a", rooms: ["y"] }, { t: "pub", ch: "room:x", ev: "e", data: 1 })).toBe("AUTHORIZATION_FAILED");
    expect(await can({ sub: "a", roles: ["admin"] }, { t: "pub", ch: "room:x", ev: "e", data: 1 })).toBe("ok");
    expect(await can({ sub: "a", rooms: "x" }, { t: "sub", ch: "room:xy" })).toBe("AUTHORIZATION_FAILED");
  });

  test("student:<id> — nurse, admin or students claim; server publish only", async () => {
    expect(await can({ sub: "n", roles: ["nurse"] }, { t: "sub", ch: "student:s1" })).toBe("ok");
    expect(await can({ sub: "p", students: ["s1"] }, { t: "sub", ch: "student:s1" })).toBe("ok");
    expect(await can({ sub: "p", students: ["s2"] }, { t: "sub", ch: "student:s1" })).toBe("AUTHORIZATION_FAILED");
    expect(await can({ sub: "t", roles: ["teacher"] }, { t: "sub", ch: "student:s1" })).toBe("AUTHORIZATION_FAILED");
    expect(await can({ sub: "n", roles: ["nurse"] }, { t: "pub", ch: "student:s1", ev: "e", data: 1 })).toBe("AUTHORIZATION_FAILED");
  });

  test("case:<id> — cases claim or admin; server publish only", async () => {
    expect(await can({ sub: "w", cases: ["c9"] }, { t: "sub", ch: "case:c9" })).toBe("ok");
    expect(await can({ sub: "w", cases: ["c8"] }, { t: "sub", ch: "case:c9" })).toBe("AUTHORIZATION_FAILED");
    expect(await can({ sub: "w", roles: ["admin"] }, { t: "sub", ch: "case:c9" })).toBe("ok");
    expect(await can({ sub: "w", cases: ["c9"] }, { t: "pub", ch: "case:c9", ev: "e", data: 1 })).toBe("AUTHORIZATION_FAILED");
  });

  test("call:<id> — calls claim for subscribe and publish, nobody else (not even admin)", async () => {
    expect(await can({ sub: "d", calls: ["k1"] }, { t: "sub", ch: "call:k1" })).toBe("ok");
    expect(await can({ sub: "d", calls: ["k1"] }, { t: "pub", ch: "call:k1", ev: "offer", data: { sdp: "v=0" } })).toBe("ok");
    expect(await can({ sub: "d", roles: ["admin"] }, { t: "sub", ch: "call:k1" })).toBe("AUTHORIZATION_FAILED");
  });
});

test("tenant isolation: same channel name in two tenants never cross-delivers, also history and presence", async () => {
  const a = (await TestClient.auth(s.wsUrl, await token({ sub: "same-user", tenant: "alpha", rooms: ["shared"] }))).client;
  const b = (await TestClient.auth(s.wsUrl, await token({ sub: "same-user", tenant: "beta", rooms: ["shared"] }))).client;
  await a.request({ t: "sub", ch: "room:shared", presence: true });
  await b.request({ t: "sub", ch: "room:shared", presence: true });
  await a.request({ t: "pub", ch: "room:shared", ev: "secret", data: "alpha-only" });
  await b.request({ t: "pub", ch: "room:shared", ev: "secret", data: "beta-only" });
  await a.next((f) => f.t === "msg" && f.data === "alpha-only");
  await b.next((f) => f.t === "msg" && f.data === "beta-only");
  const viaApi = await s.api("/v1/publish", { method: "POST", json: { tenant: "beta", ch: "room:shared", ev: "x", data: "api-beta" } });
  expect(viaApi.status).toBe(200);
  await b.next((f) => f.t === "msg" && f.data === "api-beta");
  expect(a.count((f) => f.t === "msg" && f.data !== "alpha-only")).toBe(0);
  expect(b.count((f) => f.t === "msg" && f.data === "alpha-only")).toBe(0);
  const hist = await a.request({ t: "history", ch: "room:shared", limit: 100 });
  expect(hist.messages.map((m: any) => m.data)).toEqual(["alpha-only"]);
  const pres = await a.request({ t: "presence", ch: "room:shared" });
  expect(pres.members).toEqual([{ user: "same-user", conns: 1, status: "online" }]);
  expect(a.count((f) => f.t === "join")).toBe(1);
  a.close();
  b.close();
});

test("a policy file: tenant and role rules, server-only publish, history and presence switches, default deny", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sb-policy-"));
  const file = join(dir, "switchboard.json");
  writeFileSync(
    file,
    JSON.stringify({
      WS_RATE_LIMIT_PER_SEC: 0,
      namespaces: {
        lobby: { subscribe: ["tenant"], publish: ["role:staff"], history: { size: 2, ttlSec: 60 } },
        alerts: { subscribe: ["tenant"], publish: ["server"] },
      },
    }),
  );
  const srv = await startServer({ env: { SWITCHBOARD_CONFIG: file } });
  try {
    const staff = (await TestClient.auth(srv.wsUrl, await token({ sub: "s", tenant: "t", roles: ["staff"] }))).client;
    const guest = (await TestClient.auth(srv.wsUrl, await token({ sub: "g", tenant: "t" }))).client;
    expect((await guest.request({ t: "sub", ch: "lobby:main" })).t).toBe("ok");
    expect((await guest.request({ t: "pub", ch: "lobby:main", ev: "e", data: 1 })).code).toBe("AUTHORIZATION_FAILED");
    for (let i = 0; i < 3; i++) expect((await staff.request({ t: "pub", ch: "lobby:main", ev: "e", data: i })).t).toBe("ok");
    const h = await guest.request({ t: "history", ch: "lobby:main" });
    expect(h.messages.map((m: any) => m.data)).toEqual([1, 2]);
    expect((await staff.request({ t: "pub", ch: "alerts:x", ev: "e", data: 1 })).code).toBe("AUTHORIZATION_FAILED");
    expect((await guest.request({ t: "presence", ch: "lobby:main" })).code).toBe("BAD_REQUEST");
    expect((await guest.request({ t: "sub", ch: "room:r1" })).code).toBe("RESOURCE_NOT_FOUND");
    const api = await srv.api("/v1/publish", { method: "POST", json: { tenant: "t", ch: "alerts:x", ev: "e", data: 1 } });
    expect(api.status).toBe(200);
    staff.close();
    guest.close();
  } finally {
    await srv.stop();
  }
});
