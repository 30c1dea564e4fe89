import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startReceiver, type HttpReceiver } from "../helpers/http-receiver.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { until } from "../helpers/until.ts";
import { configFile, createJob, getJob, untilJob } from "./support.ts";

const T = "district-4";

describe("retention of finished jobs (JOBS_RETENTION_SEC=1)", () => {
  let s: TestServer;
  let rx: HttpReceiver;
  let cfg: ReturnType<typeof configFile>;

  beforeAll(async () => {
    rx = startReceiver();
    rx.respond = (r) => new Response(r.path === "/fail" ? "no" : "ok", { status: r.path === "/fail" ? 500 : 200 });
    cfg = configFile();
    s = await startServer({ env: { SWITCHBOARD_CONFIG: cfg.path, JOBS_POLL_MS: "100", JOBS_RETENTION_SEC: "1", JOBS_SWEEP_MS: "200" } });
  }, 60_000);
  afterAll(async () => {
    await s?.stop();
    rx?.stop();
    cfg?.cleanup();
  });

  test("completed and dead one-shot jobs are deleted once retention passed; waiting and recurring jobs stay", async () => {
    const done = await createJob(s, { tenant: T, delayMs: 0, action: { webhook: { url: rx.url + "/ok" } } });
    const dead = await createJob(s, { tenant: T, delayMs: 0, retry: { attempts: 1 }, action: { webhook: { url: rx.url + "/fail" } } });
    const later = await createJob(s, { tenant: T, delayMs: 3_600_000, action: { webhook: { url: rx.url + "/later" } } });
    const every = await createJob(s, { tenant: T, everyMs: 300, action: { webhook: { url: rx.url + "/every" } } });
    const finished = [await untilJob(s, T, done.id, (j) => j.state === "completed", "completed"), await untilJob(s, T, dead.id, (j) => j.state === "dead", "dead-lettered")];
    expect(finished[1].lastError).toBe("webhook answered HTTP 500");
    for (const j of finished) {
      const goneAt = await until(async () => ((await s.api(`/v1/jobs/${j.id}?tenant=${T}`)).status === 404 ? Date.now() : undefined), `job ${j.id} deleted`, 20_000);
      // Kept at least for the retention time after it finished.
      expect(goneAt).toBeGreaterThanOrEqual(Date.parse(j.lastRun) + 1000);
    }
    const listed = (await (await s.api(`/v1/jobs?tenant=${T}`)).json()).jobs.map((j: { id: string }) => j.id).sort();
    expect(listed).toEqual([later.id, every.id].sort());
    const recurring = await getJob(s, T, every.id);
    expect(recurring.runs.completed).toBeGreaterThan(0);
    expect(recurring.state).not.toBe("completed");
    // The sweeper is itself a built-in job, run once per cluster from the shared queue.
    const builtins = (await (await s.api("/v1/jobs?tenant=")).json()).jobs;
    expect(builtins.find((j: { name: string }) => j.name === "retention")).toMatchObject({ kind: "builtin", schedule: { everyMs: 200 }, runs: expect.objectContaining({ dead: 0 }) });
  }, 60_000);
});
