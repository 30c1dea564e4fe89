import { afterAll, beforeAll, expect, test } from "bun:test";
import { RawWs } from "../helpers/raw-ws.ts";
import { startServer, TEST_API_KEY, token, type TestServer } from "../helpers/server.ts";
import { until } from "../helpers/until.ts";
import { TestClient } from "../helpers/ws-client.ts";

/** Appears only inside payloads: finding it in a log line means a payload was logged. */
const PAYLOAD = "PHI-PAYLOAD-7c1e";

let s: TestServer;
beforeAll(async () => {
  s = await startServer({ env: { WS_MAX_CONNECTIONS_PER_USER: "1" } });
});
afterAll(() => s.stop());

function auditLine(msg: string, match: Record<string, unknown>): Promise<Record<string, unknown>> {
  return until(
    async () => s.logs.find((l) => l.audit === true && l.msg === msg && Object.entries(match).every(([k, v]) => l[k] === v)),
    `audit line ${msg} ${JSON.stringify(match)}`,
    5_000,
  );
}

test("every audited action writes one line with ids and channel, never a payload, token or API key", async () => {
  const tokens: string[] = [];
  const sign = async (claims: Parameters<typeof token>[0], opts?: Parameters<typeof token>[1]) => {
    const t = await token(claims, opts);
    tokens.push(t);
    return t;
  };
  const { client: alice, hello } = await TestClient.auth(s.wsUrl, await sign({ sub: "alice", tenant: "t1", rooms: ["r1"] }));
  const conn = hello.conn as string;
  const who = { conn, user: "alice", tenant: "t1" };
  expect(await auditLine("connect", who)).toHaveProperty("ip");

  expect(await alice.request({ t: "sub", ch: "room:r1", presence: true })).toMatchObject({ t: "ok" });
  await auditLine("subscribe", { ...who, ch: "room:r1" });
  expect(await alice.request({ t: "pub", ch: "room:r1", ev: "note", data: { text: PAYLOAD } })).toMatchObject({ t: "ok" });
  await auditLine("publish", { ...who, ch: "room:r1", ev: "note" });
  expect(await alice.request({ t: "history", ch: "room:r1" })).toMatchObject({ t: "ok" });
  await auditLine("history", { ...who, ch: "room:r1", messages: 1 });
  expect(await alice.request({ t: "presence", ch: "room:r1" })).toMatchObject({ t: "ok" });
  await auditLine("presence", { ...who, ch: "room:r1", members: 1 });
  expect(await alice.request({ t: "unsub", ch: "room:r1" })).toMatchObject({ t: "ok" });
  await auditLine("unsubscribe", { ...who, ch: "room:r1" });
  expect(await alice.request({ t: "refresh", token: await sign({ sub: "alice", tenant: "t1", rooms: ["r1"] }, { expSec: 7200 }) })).toMatchObject({ t: "ok" });
  await auditLine("refresh", who);

  // A second connection of alice (limit 1) is refused; a forged token fails on the auth frame and on the upgrade.
  const second = await TestClient.auth(s.wsUrl, await sign({ sub: "alice", tenant: "t1" })).catch(() => undefined);
  second?.client.close();
  await auditLine("connect_refused", { user: "alice", tenant: "t1", reason: "connections per user" });
  const forged = await sign({ sub: "mallory", tenant: "t1" }, { secret: "another-secret-of-enough-length-1234567" });
  const m = await TestClient.connect(s.wsUrl);
  m.send({ t: "auth", id: 1, token: forged });
  await m.closed;
  expect((await auditLine("auth_failure", { reason: "token signature is invalid" })).conn).toStartWith(s.node + ".");
  const refused = await RawWs.connect(`${s.wsUrl}?access_token=${forged}`);
  expect(refused.ok).toBe(false);
  // The one line that carries a URL: redact() must have replaced the token in it.
  await auditLine("auth_failure", { via: "upgrade", path: "/v1/ws?access_token=[redacted]" });

  // The server HTTP API: the key is identified by its number, never its value.
  const api = (path: string, json?: unknown) => s.api(path, json === undefined ? {} : { method: "POST", json });
  expect((await api("/v1/publish", { tenant: "t1", ch: "room:r1", ev: "note", data: { text: PAYLOAD } })).status).toBe(200);
  await auditLine("api_publish", { key: 0, tenant: "t1", ch: "room:r1", ev: "note" });
  expect((await api("/v1/broadcast", { tenant: "t1", chs: ["room:r1", "room:r2"], ev: "note", data: { text: PAYLOAD } })).status).toBe(200);
  await auditLine("api_broadcast", { key: 0, tenant: "t1", chs: 2, ev: "note" });
  expect((await api("/v1/channels/room:r1/history?tenant=t1")).status).toBe(200);
  await auditLine("api_history", { key: 0, tenant: "t1", ch: "room:r1", messages: 3 });
  expect((await api("/v1/channels/room:r1/presence?tenant=t1")).status).toBe(200);
  await auditLine("api_presence", { key: 0, tenant: "t1", ch: "room:r1", members: 0 });
  expect((await api("/v1/users/alice/disconnect", { tenant: "t1", reason: "suspended" })).status).toBe(200);
  await auditLine("api_disconnect", { key: 0, tenant: "t1", user: "alice", closed: 1 });
  await auditLine("disconnect", { ...who, code: 1000 });

  for (const read of ["history", "presence", "unsubscribe"]) {
    expect(s.logs.filter((l) => l.audit === true && l.msg === read && l.conn === conn)).toHaveLength(1);
  }
  const text = JSON.stringify(s.logs);
  expect(text).not.toContain(PAYLOAD);
  expect(text).not.toContain(TEST_API_KEY);
  for (const t of tokens) {
    expect(text).not.toContain(t);
    expect(text).not.toContain(t.split(".")[2]!);
  }
}, 60_000);
