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

type Job = { name: string; runs: number; lastError: string | null; lastRun: string | null };
async function trimJob(url: string): Promise<Job> {
  const h = (await (await fetch(`${url}/health`)).json()) as { components: { scheduler: { status: string; jobs: Job[] } } };
  expect(h.components.scheduler.status).toBe("ok");
  return h.components.scheduler.jobs.find((j) => j.name === "history-trim")!;
}

test("embedded engine: the history-trim job runs on its schedule and deletes expired history", async () => {
  const s = await startServer({ env });
  try {
    for (let i = 0; i < 5; i++) expect((await s.api("/v1/publish", { method: "POST", json: { ch: "tmp:a", ev: "e", data: i } })).status).toBe(200);
    // The job says what it deleted (debug line): at least the 5 messages' storage, once they expired.
    const done = await until(async () => s.logs.find((l) => l.msg === "job done" && l.job === "history-trim" && (l.result as number) > 0), "a trim run that deleted something", 15_000);
    expect(done.result as number).toBeGreaterThanOrEqual(1);
    const job = await trimJob(s.url);
    expect(job.runs).toBeGreaterThanOrEqual(2);
    expect(job.lastError).toBeNull();
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
      const j = await trimJob(s.url);
      return j.runs >= 2 ? j : undefined;
    }, "two trim runs", 15_000);
    expect(job.lastError).toBeNull();
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
