import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHmac } from "node:crypto";
import { startReceiver, type HttpReceiver } from "../helpers/http-receiver.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { until } from "../helpers/until.ts";
import * as fx from "../reports/fixtures.ts";
import { pdfText } from "../reports/pdf-text.ts";
import { configFile, createJob, JOB_NAMESPACES, untilJob } from "./support.ts";

const T = "lincoln-usd";
const SECRET = "report-signing-secret-0123456789";

/** What a receiver does with the README's snippet: HMAC-SHA256 over timestamp + "." + the raw body. */
function verifies(headers: Record<string, string>, body: Uint8Array): boolean {
  const ts = headers["x-switchboard-timestamp"]!;
  const want = "v1=" + createHmac("sha256", SECRET).update(ts + ".").update(body).digest("hex");
  return headers["x-switchboard-signature"] === want && Math.abs(Date.now() / 1000 - Number(ts)) < 300;
}

describe("report job action (embedded)", () => {
  let s: TestServer;
  let rx: HttpReceiver;
  let cfg: ReturnType<typeof configFile>;

  beforeAll(async () => {
    rx = startReceiver();
    cfg = configFile({
      namespaces: { ...JOB_NAMESPACES, chat: { subscribe: ["member"], publish: ["member"], history: { size: 100, ttlSec: 3600 }, retention: 365 } },
      jobs: [{ tenant: T, key: "flu-weekly", cron: "0 7 * * 1", tz: "America/Chicago", action: { report: { template: "custom", input: fx.custom, notify: { users: ["office-manager"] } } } }],
    });
    s = await startServer({ env: { SWITCHBOARD_CONFIG: cfg.path, WEBHOOK_SECRET: SECRET, JOBS_POLL_MS: "100", JOBS_SWEEP_MS: "300", REPORT_LINK_BASE_URL: "https://rt.example.org" } });
  }, 60_000);
  afterAll(async () => {
    await s?.stop();
    rx?.stop();
    cfg?.cleanup();
  });

  test("a bad report input is refused when the job is created, naming the fields", async () => {
    const bad = { ...fx.medicationLog(2), student: { id: 7 }, period: { from: "yesterday", to: "2026-11-30" } };
    let res = await s.api("/v1/jobs", { method: "POST", json: { tenant: T, cron: "0 6 * * *", action: { report: { template: "medication-log", input: bad, webhook: { url: rx.url } } } } });
    expect(res.status).toBe(400);
    const { error } = await res.json();
    expect(error.code).toBe("VALIDATION_ERROR");
    for (const field of ["action.report.input.student.name: is required", "action.report.input.student.id", "action.report.input.period.from"]) expect(error.message).toContain(field);
    res = await s.api("/v1/jobs", { method: "POST", json: { tenant: T, delayMs: 0, action: { report: { template: "custom", input: fx.custom } } } });
    expect(res.status).toBe(400);
    expect((await res.json()).error.message).toContain("needs webhook or notify");
    res = await s.api("/v1/jobs", { method: "POST", json: { tenant: T, delayMs: 0, action: { report: { template: "channel-history", input: { ch: "nowhere:x" }, webhook: { url: rx.url } } } } });
    expect(res.status).toBe(404);
    // None of them was stored (the config file's static job is the only one).
    expect((await (await s.api(`/v1/jobs?tenant=${T}`)).json()).jobs.map((j: { key?: string }) => j.key)).toEqual(["flu-weekly"]);
  });

  test("a static report job from the config file exists; one with a bad input stops the start-up, naming the field", async () => {
    const jobs = (await (await s.api(`/v1/jobs?tenant=${T}`)).json()).jobs;
    expect(jobs.find((j: { key?: string }) => j.key === "flu-weekly")).toMatchObject({ kind: "report", state: "waiting", schedule: { cron: "0 7 * * 1", tz: "America/Chicago" } });
    const bad = configFile({ jobs: [{ tenant: T, key: "bad-log", cron: "0 6 * * *", action: { report: { template: "medication-log", input: { period: { from: "2026-09-01", to: "2026-09-30" } }, webhook: { url: rx.url } } } }] });
    try {
      await expect(startServer({ env: { SWITCHBOARD_CONFIG: bad.path } })).rejects.toThrow(/action\.report\.input\.student: is required/);
    } finally {
      bad.cleanup();
    }
  }, 60_000);

  test("a scheduled report is POSTed to the backend as a signed PDF, retried after a failure", async () => {
    rx.respond = (r) => (r.path === "/reports" && r.headers["x-switchboard-attempt"] === "1" ? new Response("busy", { status: 503 }) : new Response("ok"));
    const { id } = await createJob(s, { tenant: T, name: "flu-clinic-daily", cron: "*/2 * * * * *", retry: { attempts: 3, backoffMs: 100 }, action: { report: { template: "custom", input: fx.custom, webhook: { url: rx.url + "/reports" } } } });
    const [first, second] = await rx.waitFor(2, (r) => r.path === "/reports", 60_000);
    await s.api(`/v1/jobs/${id}?tenant=${T}`, { method: "DELETE" });
    expect([first!.headers["x-switchboard-attempt"], second!.headers["x-switchboard-attempt"]]).toEqual(["1", "2"]);
    // The retry is the same run (same due time), not the next one.
    expect(second!.headers["x-switchboard-due"]).toBe(first!.headers["x-switchboard-due"]!);
    expect(second!.headers["content-type"]).toBe("application/pdf");
    expect(second!.headers["content-disposition"]).toMatch(/^attachment; filename="[A-Za-z0-9_.-]+\.pdf"$/);
    expect(second!.headers["x-switchboard-job"]).toBe(id);
    expect(second!.headers["x-switchboard-report"]).toBe("custom");
    expect(verifies(second!.headers, second!.bytes)).toBe(true);
    // A flipped byte fails the check: the signature covers the PDF itself.
    const tampered = second!.bytes.slice();
    tampered[tampered.length - 10] ^= 1;
    expect(verifies(second!.headers, tampered)).toBe(false);
    const text = pdfText(second!.bytes);
    for (const want of ["Flu clinic consent summary — Grade 5", "فاطمة الزهراء", "王小明", "Page 1 of 2"]) expect(text).toContain(want);
    // Each attempt leaves an audit line with its outcome, never the report's contents.
    const audits = await until(async () => {
      const a = s.logs.filter((l) => l.audit === true && l.msg === "job_report" && l.job === id);
      return a.length >= 2 ? a : undefined;
    }, "the job's audit lines");
    expect(audits.slice(0, 2).map((l) => [l.attempt, l.outcome])).toEqual([[1, "failed"], [2, "ok"]]);
    expect(JSON.stringify(audits)).not.toContain("Flu clinic");
  }, 90_000);

  test("store-backed reports: a conversation transcript of the last hours and a channel's history, read when the job runs", async () => {
    const put = await s.api("/v1/conversations/visit-7", { method: "PUT", json: { tenant: T, title: "Asthma check — Room 2", members: ["nurse-mai", "dr-cohen"] } });
    expect(put.status).toBe(200);
    const publish = (ch: string, text: string) => s.api("/v1/publish", { method: "POST", json: { tenant: T, ch, ev: "message", data: { text } } });
    for (const text of ["Inhaler used twice before PE", "Peak flow 310 — call parent"]) expect((await publish("chat:visit-7", text)).status).toBe(200);
    for (const text of ["Ward round — Trần Văn Hùng seen", "Supplies restocked"]) expect((await publish("room:ward-3", text)).status).toBe(200);
    rx.respond = () => new Response("ok");
    await createJob(s, { tenant: T, delayMs: 0, action: { report: { template: "conversation-transcript", input: { conversation: "visit-7", lastHours: 1, timeZone: "America/Chicago" }, webhook: { url: rx.url + "/transcript" } } } });
    await createJob(s, { tenant: T, delayMs: 0, action: { report: { template: "channel-history", input: { ch: "room:ward-3" }, webhook: { url: rx.url + "/history" } } } });
    const [transcript] = await rx.waitFor(1, (r) => r.path === "/transcript", 60_000);
    const [history] = await rx.waitFor(1, (r) => r.path === "/history", 60_000);
    const flat = (b: Uint8Array) => pdfText(b).replace(/\s+/g, " ");
    for (const want of ["Asthma check — Room 2", "Inhaler used twice before PE", "Peak flow 310 — call parent", "(America/Chicago)"]) expect(flat(transcript!.bytes)).toContain(want);
    for (const want of ["room:ward-3", "Ward round — Trần Văn Hùng seen", "Supplies restocked"]) expect(flat(history!.bytes)).toContain(want);
    expect(verifies(history!.headers, history!.bytes)).toBe(true);
  }, 90_000);

  test("an inbox notification links to the PDF; the link works until it expires, then answers 404, and retention deletes the file", async () => {
    const { id } = await createJob(s, {
      tenant: T,
      delayMs: 0,
      action: { report: { template: "medication-log", input: fx.medicationLog(6), notify: { users: ["nurse-mai"], title: "Medication log for An", linkTtlSec: 4 } } },
    });
    await untilJob(s, T, id, (j) => j.state === "completed", "report job completed", 60_000);
    const inbox = await (await s.api(`/v1/users/nurse-mai/notifications?tenant=${T}`)).json();
    expect(inbox.notifications).toHaveLength(1);
    const n = inbox.notifications[0];
    expect(n).toMatchObject({ type: "report.ready", title: "Medication log for An" });
    const link = n.data.report;
    expect(link).toMatchObject({ template: "medication-log", job: id, pages: 1 });
    expect(link.url).toMatch(/^https:\/\/rt\.example\.org\/v1\/reports\/files\/rf_[a-z0-9]+\?token=[A-Za-z0-9_-]{43}$/);
    const path = link.url.slice("https://rt.example.org".length);
    // Opened by the user's browser: no API key.
    const get = () => fetch(s.url + path);
    const res = await get();
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/pdf");
    expect(res.headers.get("cache-control")).toBe("private, no-store");
    const text = pdfText(new Uint8Array(await res.arrayBuffer()));
    for (const want of ["Nguyễn Văn An", "Methylphenidate ER", "李娜 (health aide)"]) expect(text).toContain(want);
    // A wrong token is not a way in.
    const forged = path.replace(/token=./, (m: string) => m.slice(0, -1) + (m.endsWith("A") ? "B" : "A"));
    expect((await fetch(s.url + forged)).status).toBe(404);

    const expired = await until(async () => {
      const r = await get();
      return r.status === 200 ? (await r.arrayBuffer(), undefined) : r;
    }, "the link to expire", 20_000);
    expect(Date.now()).toBeGreaterThanOrEqual(Date.parse(link.expires));
    expect(expired.status).toBe(404);
    expect((await expired.json()).error).toEqual({ code: "RESOURCE_NOT_FOUND", message: expect.stringMatching(/expired|no such report file/) });
    // The built-in retention job (every 300 ms here) deletes the expired file.
    const gone = await until(async () => {
      const r = await get();
      const e = (await r.json()).error;
      return e.message.startsWith("no such report file") ? e : undefined;
    }, "the expired file to be deleted", 20_000);
    expect(gone.code).toBe("RESOURCE_NOT_FOUND");
  }, 90_000);
});
