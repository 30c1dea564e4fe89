/**
 * The three care-team reminders of the README, on the real SQLite store and
 * the real runner, with a clock the test moves (no waiting for 6 hours or
 * midnight). The embedded and cluster tests run the same actions through
 * real server processes.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { JobRunner } from "../../src/jobs/job-runner.ts";
import { JobService } from "../../src/jobs/job-service.ts";
import { createLogger } from "../../src/observability/logger.ts";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.ts";
import { until } from "../helpers/until.ts";

const T = "school-1";
let now = Date.parse("2027-03-12T12:00:00Z");
const effects: { what: string; at: string; [k: string]: unknown }[] = [];
let dir: string;
let store: SqliteStore;
let runner: JobRunner;
let jobs: JobService;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "sb-reminders-"));
  store = new SqliteStore(dir);
  await store.start();
  const fx = {
    publish: async (tenant: string, ch: string, ev: string, data: string) => void effects.push({ what: "publish", at: new Date(now).toISOString(), tenant, ch, ev, data: JSON.parse(data) }),
    notify: async (tenant: string, users: readonly string[], n: { title: string }) => void effects.push({ what: "notify", at: new Date(now).toISOString(), tenant, users, title: n.title }),
    builtins: new Map(),
  };
  const logger = createLogger("error");
  runner = new JobRunner(store.jobs, fx, { owner: "test", pollMs: 60_000, leaseMs: 30_000, concurrency: { default: 8 }, missedGraceMs: 60_000, now: () => now, logger });
  jobs = new JobService({ store: store.jobs, defaults: { attempts: 3, backoffMs: 1000, timeoutMs: 5000 }, now: () => now, checkChannel: () => {}, builtins: new Set(), created: () => runner.wake() });
  runner.start();
});
afterAll(async () => {
  await runner?.stop(1000);
  await store?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Moves the clock to `iso` and lets the runner look. */
async function advanceTo(iso: string, expectEffects: number): Promise<void> {
  now = Date.parse(iso);
  runner.wake();
  await until(async () => (effects.length >= expectEffects ? true : undefined), `${expectEffects} effects by ${iso}`);
}

test("appointment reminder 24 h before: appointment:reminder to student:<id> and the nurse's user:<id>, plus an inbox notification", async () => {
  const appointment = Date.parse("2027-03-13T15:30:00Z");
  const data = { student: "42", appointment: new Date(appointment).toISOString() };
  const { job } = await jobs.create(T, {
    key: "appointment:9001",
    at: new Date(appointment - 86_400_000).toISOString(),
    action: { publish: { ch: ["student:42", "user:nurse-7"], ev: "appointment:reminder", data }, notify: { users: ["nurse-7"], type: "appointment", title: "Appointment tomorrow" } },
  });
  expect(job.runAtMs).toBe(appointment - 86_400_000);
  await advanceTo("2027-03-12T15:29:59Z", 0);
  expect(effects).toEqual([]);
  await advanceTo("2027-03-12T15:30:00Z", 3);
  expect(effects.splice(0)).toEqual([
    { what: "publish", at: "2027-03-12T15:30:00.000Z", tenant: T, ch: "student:42", ev: "appointment:reminder", data },
    { what: "publish", at: "2027-03-12T15:30:00.000Z", tenant: T, ch: "user:nurse-7", ev: "appointment:reminder", data },
    { what: "notify", at: "2027-03-12T15:30:00.000Z", tenant: T, users: ["nurse-7"], title: "Appointment tomorrow" },
  ]);
  await until(async () => ((await jobs.get(T, job.id)).state === "completed" ? true : undefined), "completed");
}, 30_000);

test("medication reminder every 6 h and the immunization alert at midnight in the tenant's time zone, across a DST change", async () => {
  // US DST starts 2027-03-14 02:00 local: Chicago midnight is 06:00Z before, 05:00Z after.
  const med = await jobs.create(T, { name: "medication", cron: "0 */6 * * *", tz: "America/Chicago", action: { publish: { ch: "user:nurse-7", ev: "medication:due", data: { student: "42", drug: "insulin" } } } });
  const imm = await jobs.create(T, { name: "immunization", cron: "0 0 * * *", tz: "America/Chicago", action: { notify: { users: ["nurse-7"], type: "immunization", title: "Immunizations due today" } } });
  expect(new Date(med.job.runAtMs!).toISOString()).toBe("2027-03-12T18:00:00.000Z");
  expect(new Date(imm.job.runAtMs!).toISOString()).toBe("2027-03-13T06:00:00.000Z");
  const steps: [string, number][] = [
    ["2027-03-12T18:00:00Z", 1], // noon Chicago: medication
    ["2027-03-13T00:00:00Z", 2], // 18:00
    ["2027-03-13T06:00:00Z", 4], // midnight: medication and immunization
    ["2027-03-13T12:00:00Z", 5],
    ["2027-03-13T18:00:00Z", 6],
    ["2027-03-14T00:00:00Z", 7],
    ["2027-03-14T06:00:00Z", 9], // midnight CST, the night of the change
    ["2027-03-14T11:00:00Z", 10], // 06:00 CDT
    ["2027-03-14T17:00:00Z", 11], // 12:00 CDT
    ["2027-03-14T23:00:00Z", 12],
    ["2027-03-15T05:00:00Z", 14], // midnight CDT: both
  ];
  for (const [at, n] of steps) await advanceTo(at, n);
  const byWhat = (w: string) => effects.filter((e) => e.what === w).map((e) => e.at);
  expect(byWhat("notify")).toEqual(["2027-03-13T06:00:00.000Z", "2027-03-14T06:00:00.000Z", "2027-03-15T05:00:00.000Z"]);
  expect(byWhat("publish")).toEqual([
    "2027-03-12T18:00:00.000Z",
    "2027-03-13T00:00:00.000Z",
    "2027-03-13T06:00:00.000Z",
    "2027-03-13T12:00:00.000Z",
    "2027-03-13T18:00:00.000Z",
    "2027-03-14T00:00:00.000Z",
    "2027-03-14T06:00:00.000Z",
    "2027-03-14T11:00:00.000Z",
    "2027-03-14T17:00:00.000Z",
    "2027-03-14T23:00:00.000Z",
    "2027-03-15T05:00:00.000Z",
  ]);
  expect(new Date((await jobs.get(T, imm.job.id)).runAtMs!).toISOString()).toBe("2027-03-16T05:00:00.000Z");

  // Nobody ran the queue for a day and a half: the medication reminder runs once for the five missed rounds (11:00, 17:00, 23:00, 05:00, 11:00 UTC), and says so.
  await advanceTo("2027-03-16T14:00:00Z", 16);
  expect(effects.slice(14).map((e) => [e.what, e.at])).toEqual([
    ["publish", "2027-03-16T14:00:00.000Z"],
    ["notify", "2027-03-16T14:00:00.000Z"],
  ]);
  const m = await jobs.get(T, med.job.id);
  expect(m.note).toBe("ran once for 5 run(s) missed while the cluster was down (first due 2027-03-15T11:00:00.000Z)");
  expect(new Date(m.runAtMs!).toISOString()).toBe("2027-03-16T17:00:00.000Z");
}, 30_000);
