/**
 * Calls outliving what a node does: a participant whose node is SIGKILLed is
 * marked away once its device lease expires and left after the grace period;
 * ended call records are deleted by the built-in history-trim job.
 */
import { afterAll, expect, test } from "bun:test";
import { startPostgres, type PostgresServer } from "../helpers/postgres.ts";
import { startRedis, type RedisServer } from "../helpers/redis.ts";
import { startServer, token, type TestServer } from "../helpers/server.ts";
import { until } from "../helpers/until.ts";
import { TestClient, type Frame } from "../helpers/ws-client.ts";
import { CALL_ENV } from "./call-setups.ts";

const T = "clinic";
const started: { stop(): Promise<unknown> }[] = [];
afterAll(async () => {
  for (const s of started.reverse()) await s.stop().catch(() => {});
});

async function device(s: TestServer, sub: string): Promise<TestClient> {
  return (await TestClient.auth(s.wsUrl, await token({ sub, tenant: T }))).client;
}
const callEvent = (id: string, ev: string) => (f: Frame) => f.t === "call" && f.call?.id === id && f.ev === ev;

test("Redis + PostgreSQL: the node of a participant is SIGKILLed; the other side sees it away once its lease expires, and the call ends after the grace period", async () => {
  const pg: PostgresServer = await startPostgres();
  const redis: RedisServer = await startRedis();
  started.push(pg, redis);
  // Leases last two heartbeats (PRESENCE_TTL_SEC / 3 each): 2 s; then 3 s of grace.
  const env = { ...CALL_ENV, CALL_GRACE_MS: "3000", PRESENCE_TTL_SEC: "3", DATABASE_URL: await pg.createDatabase("callkill"), REDIS_URL: redis.url, REDIS_PREFIX: `callkill${process.pid}` };
  const [A, B] = await Promise.all([startServer({ env }), startServer({ env })]);
  started.push(A, B);
  const doc = await device(A, "doc");
  const pat = await device(B, "pat");
  const call = (await doc.request({ t: "invite", to: ["pat"], media: "video" })).call;
  await pat.next(callEvent(call.id, "ringing"));
  expect(await pat.request({ t: "accept", call: call.id })).toMatchObject({ t: "ok", call: { state: "live" } });
  await doc.next(callEvent(call.id, "accepted"));

  // No close frame, no close handler, no lease release: the process is gone.
  expect(await B.stop("SIGKILL")).not.toBe(0);
  expect(await doc.next(callEvent(call.id, "away"), 20_000)).toMatchObject({ user: "pat", call: { state: "live", participants: [{ state: "joined" }, { state: "away" }] } });
  expect(await doc.next(callEvent(call.id, "ended"), 20_000)).toMatchObject({ call: { outcome: "failed", reason: "connection lost", participants: [{ state: "left" }, { state: "left" }] } });
  expect(doc.count(callEvent(call.id, "ended"))).toBe(1);
  const rec = await (await A.api(`/v1/calls/${call.id}?tenant=${T}`)).json();
  expect(rec).toMatchObject({ state: "ended", outcome: "failed" });
  doc.close();
}, 60_000);

const RETENTION_SETUPS = [
  { name: "SQLite", env: async (): Promise<Record<string, string>> => ({}) },
  {
    name: "PostgreSQL",
    env: async (): Promise<Record<string, string>> => {
      const pg = await startPostgres();
      started.push(pg);
      return { DATABASE_URL: await pg.createDatabase("callretention") };
    },
  },
];

for (const setup of RETENTION_SETUPS) {
  test(`${setup.name}: call records are deleted CALL_RETENTION_SEC after the call ended, by the built-in history-trim job; calls not ended stay`, async () => {
    // The job runs on HISTORY_TRIM_CRON: every second here (croner's seconds field).
    const s = await startServer({ env: { ...CALL_ENV, ...(await setup.env()), CALL_RETENTION_SEC: "2", HISTORY_TRIM_CRON: "* * * * * *" } });
    started.push(s);
    const post = async (path: string, json: unknown) => {
      const res = await s.api(path, { method: "POST", json });
      expect(res.status).toBe(200);
      return (await res.json()).call;
    };
    const ringing = await post("/v1/calls", { tenant: T, from: "doc", to: ["pat"], media: "audio", ringMs: 600_000 });
    const done = await post("/v1/calls", { tenant: T, from: "doc", to: ["ann"], media: "audio" });
    await post(`/v1/calls/${done.id}/end`, { tenant: T });
    expect((await s.api(`/v1/calls/${done.id}?tenant=${T}`)).status).toBe(200);

    await until(async () => ((await s.api(`/v1/calls/${done.id}?tenant=${T}`)).status === 404 ? true : undefined), "the ended call to be deleted", 20_000);
    expect((await (await s.api(`/v1/users/ann/calls?tenant=${T}`)).json()).calls).toEqual([]);
    // Older than the retention too, but not ended: kept.
    expect(await (await s.api(`/v1/calls/${ringing.id}?tenant=${T}`)).json()).toMatchObject({ id: ringing.id, state: "ringing" });
    const { jobs } = await (await s.api("/v1/jobs")).json();
    const job = jobs.find((j: Frame) => j.name === "history-trim");
    expect(job).toMatchObject({ key: "builtin:history-trim", kind: "builtin" });
    expect(job.lastError).toBeUndefined();
  }, 60_000);
}
