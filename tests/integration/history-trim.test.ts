import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startRedis, type RedisServer } from "../helpers/redis.ts";
import { startServer } from "../helpers/server.ts";
import { until } from "../helpers/until.ts";

const dir = mkdtempSync(join(tmpdir(), "sb-trim-"));
const config = join(dir, "switchboard.json");
// `tmp:` keeps history for one second; the trim job runs every second (croner's seconds field).
writeFileSync(config, JSON.stringify({ namespaces: { tmp: { subscribe: ["tenant"], publish: ["server"], history: { size: 100, ttlSec: 1 } } } }));
const env = { SWITCHBOARD_CONFIG: config, HISTORY_TRIM_CRON: "* * * * * *", LOG_LEVEL: "debug" };
let redis: RedisServer | undefined;
afterAll(async () => {
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

type Job = { name: string; state: string; lastError?: string; lastRun?: string; runs: { completed: number; failedAttempts: number; dead: number } };
/** The built-in trim job as the jobs API lists it (a job in the shared queue: once per cluster). */
async function trimJob(s: { api(path: string): Promise<Response> }): Promise<Job> {
  const { jobs } = (await (await s.api("/v1/jobs")).json()) as { jobs: Job[] };
  const job = jobs.find((j) => j.name === "history-trim");
  expect(job).toBeDefined();
  return job!;
}

test("embedded engine: the history-trim job runs on its schedule and deletes expired history", async () => {
  const s = await startServer({ env });
  try {
    for (let i = 0; i < 5; i++) expect((await s.api("/v1/publish", { method: "POST", json: { ch: "tmp:a", ev: "e", data: i } })).status).toBe(200);
    // The job says what it deleted (debug line): at least the 5 messages' storage, once they expired.
    const h0 = () => s.api("/v1/channels/tmp:a/history").then((r) => r.json() as Promise<{ messages: unknown[] }>);
    await until(async () => ((await h0()).messages.length === 0 ? true : undefined), "the expired history to be deleted", 15_000);
    const job = await until(async () => {
      const j = await trimJob(s);
      return j.runs.completed >= 2 ? j : undefined;
    }, "two completed trim runs", 15_000);
    expect(job.lastError).toBeUndefined();
    expect(job.runs.dead).toBe(0);
    const h = (await (await s.api("/v1/channels/tmp:a/history")).json()) as { messages: unknown[] };
    expect(h.messages).toEqual([]);
  } finally {
    await s.stop();
  }
}, 30_000);

test("Redis engine: the job runs on its schedule without error (Redis expires history keys itself)", async () => {
  redis = await startRedis();
  const s = await startServer({ env: { ...env, REDIS_URL: redis.url, REDIS_PREFIX: "trim" } });
  try {
    expect((await s.api("/v1/publish", { method: "POST", json: { ch: "tmp:a", ev: "e", data: 1 } })).status).toBe(200);
    // What deletes expired history on Redis: the channel's history stream carries the namespace's TTL…
    const keys = (await redis.cli("--scan", "--pattern", "{trim:s*}:h:*")).split("\n").filter(Boolean);
    expect(keys).toHaveLength(1);
    const pttl = Number(await redis.cli("pttl", keys[0]!));
    expect(pttl).toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(1000);
    // …and it is gone once that passed, while the job keeps running.
    await until(async () => ((await redis!.cli("exists", keys[0]!)).trim() === "0" ? true : undefined), "the history key to expire");
    const job = await until(async () => {
      const j = await trimJob(s);
      return j.runs.completed >= 2 ? j : undefined;
    }, "two completed trim runs", 15_000);
    expect(job.lastError).toBeUndefined();
  } finally {
    await s.stop();
  }
}, 30_000);

test("a bad HISTORY_TRIM_CRON is refused at start with the setting named", async () => {
  const err = await startServer({ env: { HISTORY_TRIM_CRON: "every tuesday" } }).then(
    (s) => (s.stop(), undefined),
    (e: Error) => e,
  );
  expect(err).toBeInstanceOf(Error);
  expect(err!.message).toMatch(/exited with 1 before listening/);
  expect(err!.message).toContain("HISTORY_TRIM_CRON");
});
