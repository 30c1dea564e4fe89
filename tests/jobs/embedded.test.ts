import { createHmac, timingSafeEqual } from "node:crypto";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startReceiver, type HttpReceiver } from "../helpers/http-receiver.ts";
import { startServer, token, type TestServer } from "../helpers/server.ts";
import { TestClient } from "../helpers/ws-client.ts";
import { until } from "../helpers/until.ts";
import { configFile, createJob, getJob, untilJob } from "./support.ts";

const T = "school-1";
const WEBHOOK_SECRET = "whsec-test-0123456789abcdef";

/** The README's verification recipe, written independently of the server's code. */
function verified(headers: Record<string, string>, body: string): boolean {
  const ts = headers["x-switchboard-timestamp"]!;
  const want = "v1=" + createHmac("sha256", WEBHOOK_SECRET).update(ts + "." + body).digest("hex");
  const got = headers["x-switchboard-signature"] ?? "";
  return Math.abs(Date.now() / 1000 - Number(ts)) < 300 && want.length === got.length && timingSafeEqual(Buffer.from(want), Buffer.from(got));
}

describe("jobs on the embedded node (local engine + SQLite)", () => {
  let s: TestServer;
  let rx: HttpReceiver;
  /** Failing endpoints get their own origin: their breaker must not open for the others. */
  let rxFail: HttpReceiver;
  let rxDown: HttpReceiver;
  let cfg: ReturnType<typeof configFile>;
  const env = () => ({ SWITCHBOARD_CONFIG: cfg.path, JOBS_POLL_MS: "50", JOBS_CONCURRENCY: "webhook=1,default=8", JOBS_LEASE_MS: "2000", WEBHOOK_SECRET, WEBHOOK_BREAKER_FAILURES: "5", WEBHOOK_BREAKER_COOLDOWN_MS: "3000" });

  beforeAll(async () => {
    rx = startReceiver();
    rxFail = startReceiver();
    rxDown = startReceiver();
    cfg = configFile({ jobs: [{ tenant: T, key: "static-ping", name: "static ping", everyMs: 3_600_000, action: { webhook: { url: "http://127.0.0.1:9/never" } } }] });
    s = await startServer({ env: env(), dataDir: cfg.dir + "/data", keepData: true });
  }, 30_000);
  afterAll(async () => {
    await s?.stop();
    for (const r of [rx, rxFail, rxDown]) r?.stop();
    cfg?.cleanup();
  }, 30_000);

  test("create answers {id, nextRun}; the same key answers the same job; bad input names the field", async () => {
    const at = new Date(Date.now() + 3_600_000).toISOString();
    const body = { tenant: T, key: "appt-77", name: "later", at, action: { publish: { ch: "room:a", ev: "x", data: 1 } } };
    const first = await createJob(s, body);
    expect(first).toMatchObject({ id: expect.stringMatching(/^job_/), nextRun: at, created: true });
    expect(await createJob(s, body)).toEqual({ ...first, created: false });
    const bad = async (b: unknown) => (await (await s.api("/v1/jobs", { method: "POST", json: b })).json()).error;
    expect(await bad({ tenant: T, action: { publish: { ch: "room:a", ev: "x" } } })).toEqual({ code: "VALIDATION_ERROR", message: "schedule: give exactly one of at, delayMs, cron or everyMs" });
    expect(await bad({ tenant: T, cron: "not a cron", action: { publish: { ch: "room:a", ev: "x" } } })).toMatchObject({ code: "VALIDATION_ERROR", message: expect.stringMatching(/^cron: /) });
    expect(await bad({ tenant: T, cron: "0 0 * * *", tz: "Mars/Olympus", action: { publish: { ch: "room:a", ev: "x" } } })).toMatchObject({ code: "VALIDATION_ERROR", message: 'tz: unknown time zone "Mars/Olympus"' });
    expect(await bad({ tenant: T, delayMs: 5, action: { publish: { ch: "nope:a", ev: "x" } } })).toMatchObject({ code: "RESOURCE_NOT_FOUND" });
    expect(await bad({ tenant: T, delayMs: 5, action: {} })).toMatchObject({ code: "VALIDATION_ERROR", message: "action: needs publish, notify, webhook, report or builtin" });
    expect(await bad({ tenant: T, delayMs: 5, color: 1, action: { builtin: "history-trim" } })).toMatchObject({ code: "VALIDATION_ERROR", message: "color: unknown field" });
    expect((await s.api("/v1/jobs/job_nope?tenant=" + T)).status).toBe(404);
    // Another tenant cannot see it.
    expect((await s.api(`/v1/jobs/${first.id}?tenant=other`)).status).toBe(404);
  }, 30_000);

  test("pause keeps a due job from running, resume runs it, delete removes it", async () => {
    const { id } = await createJob(s, { tenant: T, delayMs: 60_000, action: { webhook: { url: rx.url + "/paused" } } });
    expect((await (await s.api(`/v1/jobs/${id}/pause?tenant=${T}`, { method: "POST" })).json()).state).toBe("paused");
    const listed = await (await s.api(`/v1/jobs?tenant=${T}&state=paused`)).json();
    expect(listed.jobs.map((j: any) => j.id)).toEqual([id]);
    const resumed = await (await s.api(`/v1/jobs/${id}/resume?tenant=${T}`, { method: "POST" })).json();
    expect(resumed).toMatchObject({ state: "waiting", nextRun: expect.any(String) });
    expect((await s.api(`/v1/jobs/${id}?tenant=${T}`, { method: "DELETE" })).status).toBe(200);
    expect((await s.api(`/v1/jobs/${id}?tenant=${T}`)).status).toBe(404);
  }, 30_000);

  test("a failing job retries with growing backoff, then lands in dead-letter with the last error", async () => {
    rxFail.respond = (r) => (r.path === "/fail" ? new Response("no", { status: 500 }) : new Response("ok"));
    const { id } = await createJob(s, { tenant: T, delayMs: 0, retry: { attempts: 4, backoffMs: 200 }, action: { webhook: { url: rxFail.url + "/fail" } } });
    const dead = await untilJob(s, T, id, (j) => j.state === "dead", "dead-letter");
    expect(dead).toMatchObject({ state: "dead", attempts: 4, lastError: "webhook answered HTTP 500", runs: { completed: 0, failedAttempts: 4, dead: 1 } });
    expect(dead.nextRun).toBeUndefined();
    const hits = rxFail.received.filter((r) => r.path === "/fail");
    expect(hits.map((h) => h.headers["x-switchboard-attempt"])).toEqual(["1", "2", "3", "4"]);
    // Backoff doubles (200, 400, 800 ms ±25 %): each gap is at least the jittered minimum of its step.
    const gaps = hits.slice(1).map((h, i) => h.atMs - hits[i]!.atMs);
    expect(gaps[0]).toBeGreaterThanOrEqual(150);
    expect(gaps[1]).toBeGreaterThanOrEqual(300);
    expect(gaps[2]).toBeGreaterThanOrEqual(600);
    const deadList = await (await s.api(`/v1/jobs?tenant=${T}&state=dead`)).json();
    expect(deadList.jobs.map((j: any) => j.id)).toContain(id);
  }, 30_000);

  test("a webhook job's call is signed (HMAC-SHA256 over timestamp.body) and verifies with the documented recipe", async () => {
    rx.respond = () => new Response("ok");
    await createJob(s, { tenant: T, delayMs: 0, action: { webhook: { url: rx.url + "/signed", body: { hello: "backend" } } } });
    const [hit] = await rx.waitFor(1, (r) => r.path === "/signed");
    expect(hit!.json).toEqual({ hello: "backend" });
    expect(verified(hit!.headers, hit!.body)).toBe(true);
    // A body changed on the way does not verify.
    expect(verified(hit!.headers, hit!.body.replace("backend", "attacker"))).toBe(false);
  }, 30_000);

  test("a run longer than its timeout fails with a timeout error", async () => {
    rxFail.respond = (r) => (r.path === "/hang" ? new Promise<Response>(() => {}) : new Response("ok"));
    const { id } = await createJob(s, { tenant: T, delayMs: 0, timeoutMs: 300, retry: { attempts: 1, backoffMs: 0 }, action: { webhook: { url: rxFail.url + "/hang" } } });
    expect(await untilJob(s, T, id, (j) => j.state === "dead", "timeout")).toMatchObject({ lastError: "timed out after 300 ms" });
  }, 30_000);

  test("an endpoint that is down opens its circuit breaker (in /health), half-opens after the cooldown, and closes when it recovers; the job is delivered once", async () => {
    const endpoint = rxDown.url;
    const breaker = async () => ((await (await fetch(s.url + "/health")).json()).components.externalAPIs.endpoints as any[]).find((e) => e.endpoint === endpoint);
    const untilBreaker = (pred: (b: any) => boolean, what: string) => until(async () => { const b = await breaker(); return b && pred(b) ? b : undefined; }, what, 20_000);
    rxDown.respond = () => new Response("down", { status: 503 });
    const { id } = await createJob(s, { tenant: T, delayMs: 0, retry: { attempts: 20, backoffMs: 20 }, action: { webhook: { url: endpoint + "/report" } } });
    const open = await untilBreaker((b) => b.state === "open", "breaker open");
    expect(open.failures).toBeGreaterThanOrEqual(5);
    // While open (3 s), retries (20 ms doubling) fail at once without calling the endpoint.
    const seenWhileDown = rxDown.received.length;
    const fast = await untilJob(s, T, id, (j) => /^circuit open/.test(j.lastError ?? ""), "a fast failure");
    expect(fast.state).toBe("waiting");
    expect(fast.runs.failedAttempts).toBeGreaterThan(seenWhileDown);
    expect(seenWhileDown).toBe(open.failures);
    // The endpoint recovers but answers slowly: the trial call is in flight, the breaker is half-open.
    const release = Promise.withResolvers<Response>();
    rxDown.respond = () => release.promise;
    await rxDown.waitFor(seenWhileDown + 1);
    expect((await breaker()).state).toBe("half-open");
    release.resolve(new Response("ok"));
    const done = await untilJob(s, T, id, (j) => j.state === "completed", "delivered");
    expect(done.runs.completed).toBe(1);
    expect(await breaker()).toMatchObject({ state: "closed", consecutiveFailures: 0, failures: open.failures });
    expect(rxDown.received.length).toBe(seenWhileDown + 1);
    const metrics = await (await fetch(s.url + "/metrics")).text();
    expect(metrics).toContain(`switchboard_external_api_circuit_state{endpoint="${endpoint}"} 0`);
    expect(metrics).toContain(`switchboard_external_api_failures_total{endpoint="${endpoint}"} ${open.failures}`);
  }, 30_000);

  test("priorities order a backlog (one webhook at a time: highest priority first, then oldest)", async () => {
    rx.respond = () => new Response("ok");
    const at = new Date(Date.now() + 1500).toISOString();
    const prios = [0, 5, -3, 10, 5, 1];
    for (const [i, p] of prios.entries()) await createJob(s, { tenant: T, at, priority: p, action: { webhook: { url: rx.url + "/prio", body: { i, p } } } });
    const hits = await rx.waitFor(prios.length, (r) => r.path === "/prio");
    expect(hits.map((h) => h.json.p)).toEqual([10, 5, 5, 1, 0, -3]);
  }, 30_000);

  test("the appointment reminder: 24 h before, appointment:reminder on student:<id> and the nurse's user:<id>, plus an inbox notification", async () => {
    const nurse = (await TestClient.auth(s.wsUrl, await token({ sub: "nurse-7", tenant: T }))).client;
    const parent = (await TestClient.auth(s.wsUrl, await token({ sub: "parent-1", tenant: T }))).client;
    expect(await nurse.request({ t: "sub", ch: "user:nurse-7" })).toMatchObject({ t: "ok" });
    expect(await parent.request({ t: "sub", ch: "student:42" })).toMatchObject({ t: "ok" });
    // The appointment is 24 h and 2 s away: its reminder is due in 2 s.
    const appointment = new Date(Date.now() + 86_400_000 + 2000);
    const data = { student: "42", appointment: appointment.toISOString(), room: "Nurse office" };
    const { id, nextRun } = await createJob(s, {
      tenant: T,
      key: "appointment:9001:reminder",
      name: "appointment reminder",
      at: new Date(appointment.getTime() - 86_400_000).toISOString(),
      action: {
        publish: { ch: ["student:42", "user:nurse-7"], ev: "appointment:reminder", data },
        notify: { users: ["nurse-7"], type: "appointment", title: "Appointment tomorrow: student 42", data },
      },
    });
    expect(Date.parse(nextRun!)).toBe(appointment.getTime() - 86_400_000);
    expect(await parent.next((f) => f.t === "msg" && f.ev === "appointment:reminder", 10_000)).toMatchObject({ ch: "student:42", data });
    expect(await nurse.next((f) => f.t === "msg" && f.ev === "appointment:reminder", 10_000)).toMatchObject({ ch: "user:nurse-7", data });
    expect(await nurse.next((f) => f.t === "msg" && f.ev === "notification", 10_000)).toMatchObject({ data: { type: "appointment", title: "Appointment tomorrow: student 42", data } });
    const inbox = await (await s.api(`/v1/users/nurse-7/notifications?tenant=${T}`)).json();
    expect(inbox.notifications.map((n: any) => n.title)).toEqual(["Appointment tomorrow: student 42"]);
    expect(await untilJob(s, T, id, (j) => j.state === "completed", "completed")).toMatchObject({ runs: { completed: 1 } });
    nurse.close();
    parent.close();
  }, 30_000);

  test("statistics in GET /v1/jobs, /health (jobQueue) and /metrics match what happened", async () => {
    const list = await (await s.api(`/v1/jobs?tenant=${T}`)).json();
    const webhook = list.stats.find((k: any) => k.kind === "webhook");
    // dead: /fail and /hang; failed attempts: 4 + 1 + those of the breaker test; completed: 6 priority runs, the signed call, the recovered report.
    expect(webhook).toMatchObject({ completed: 8, dead: 2, active: 0 });
    expect(webhook.failed).toBeGreaterThan(5);
    // The appointment reminder (publish + notify) is of kind notify; the job due in an hour is a delayed publish.
    expect(list.stats.find((k: any) => k.kind === "notify")).toMatchObject({ completed: 1, delayed: 0 });
    expect(list.stats.find((k: any) => k.kind === "publish")).toMatchObject({ completed: 0, delayed: 1 });
    const health = await (await fetch(s.url + "/health")).json();
    expect(health.components.jobQueue.status).toBe("ok");
    const kinds = await untilJobStats(s, (ks) => ks.find((k: any) => k.kind === "webhook")?.completed === 8 ? ks : undefined);
    // /health counts every tenant: the static job of the config file (tenant school-1 too) is a delayed webhook.
    // The built-in jobs (history-trim, webhook-retention, retention) wait for their next time.
    expect(kinds.find((k: any) => k.kind === "builtin")).toMatchObject({ delayed: 3, nextRun: expect.any(String) });
    const metrics = await (await fetch(s.url + "/metrics")).text();
    expect(metrics).toContain('switchboard_jobs{kind="webhook",stat="dead"} 2');
    expect(metrics).toContain('switchboard_job_runs_total{kind="webhook",outcome="dead"} 2');
    expect(metrics).toContain('switchboard_job_runs_total{kind="webhook",outcome="completed"} 8');
  }, 30_000);

  test("static jobs from the config file exist once, across restarts", async () => {
    const before = (await (await s.api(`/v1/jobs?tenant=${T}`)).json()).jobs.filter((j: any) => j.key === "static-ping");
    expect(before).toHaveLength(1);
    await s.stop();
    s = await startServer({ env: env(), dataDir: cfg.dir + "/data", keepData: true });
    const after = (await (await s.api(`/v1/jobs?tenant=${T}`)).json()).jobs.filter((j: any) => j.key === "static-ping");
    expect(after.map((j: any) => [j.id, j.nextRun])).toEqual(before.map((j: any) => [j.id, j.nextRun]));
    expect((await getJob(s, T, after[0].id)).schedule).toEqual({ everyMs: 3_600_000 });
  }, 30_000);
});

async function untilJobStats(s: TestServer, pick: (kinds: any[]) => any[] | undefined): Promise<any[]> {
  for (let i = 0; i < 200; i++) {
    const h = await (await fetch(s.url + "/health")).json();
    const r = pick(h.components.jobQueue.kinds);
    if (r) return r;
    await Bun.sleep(25);
  }
  throw new Error("jobQueue statistics never matched");
}
