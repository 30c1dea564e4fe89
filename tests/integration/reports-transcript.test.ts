import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { token, startServer, type TestServer } from "../helpers/server.ts";
import { until } from "../helpers/until.ts";
import { TestClient, type Frame } from "../helpers/ws-client.ts";
import { pdfInfo, pdfText } from "../reports/pdf-text.ts";

// Renders on a shared 2-core machine; a generous bound, not a speed assertion.
setDefaultTimeout(120_000);

const T = "school";
const CH = "chat:visit-9";
const TITLE = "Fever follow-up — Room 4";

let s: TestServer;
let joy: TestClient;
let wei: TestClient;
const frames: Frame[] = [];

async function user(sub: string, tenant = T): Promise<TestClient> {
  return (await TestClient.auth(s.wsUrl, await token({ sub, tenant }))).client;
}

async function transcript(query: string): Promise<Response> {
  return s.api(`/v1/reports/conversation-transcript?${query}`);
}

/** The text with line breaks as spaces: a wrapped sentence reads as one. */
const flat = (t: string) => t.replace(/\s+/g, " ");

const pdfOf = async (res: Response) => new Uint8Array(await res.arrayBuffer());

function tokyo(ts: number): string {
  return new Intl.DateTimeFormat("en-GB", { day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZone: "Asia/Tokyo" }).format(new Date(ts));
}

beforeAll(async () => {
  // The default policy has the chat namespace (member rule, 365 days of retention).
  s = await startServer();
  const put = await s.api("/v1/conversations/visit-9", { method: "PUT", json: { tenant: T, title: TITLE, members: ["nurse-joy", "王伟", "dr-who"] } });
  expect(put.status).toBe(200);
  joy = await user("nurse-joy");
  wei = await user("王伟");
  expect(await wei.request({ t: "sub", ch: CH })).toMatchObject({ t: "ok" });
  const say = async (c: TestClient, data: unknown) => {
    const ack = await c.request({ t: "pub", ch: CH, ev: "message", data });
    expect(ack).toMatchObject({ t: "ok" });
    const f = await wei.next((f) => f.t === "msg" && f.off === ack.off);
    frames.push(f);
    // `since` and `until` are times: each message gets a millisecond of its own, so a range can tell them apart.
    await until(async () => (Date.now() > (f.ts as number) ? true : undefined), "the next millisecond");
  };
  await say(joy, { text: "Morning — how is the fever today?" });
  await say(wei, { text: "好多了, 37.4 now" });
  await say(joy, { text: "Private note: dose was 400 mg ibuprofen" });
  await say(joy, { temp: 37.1, unit: "C" });
  const red = await s.api(`/v1/conversations/visit-9/messages/${frames[2]!.off}/redact`, { method: "POST", json: { tenant: T, by: "dr-who" } });
  expect(await red.json()).toEqual({ redacted: true });
});

afterAll(async () => {
  joy?.close();
  wei?.close();
  await s?.stop();
});

test("the transcript shows the header, every message in order in the asked time zone, and the redaction without its content", async () => {
  const res = await transcript(`tenant=${T}&conversation=visit-9&tz=Asia/Tokyo&pageSize=Letter`);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toBe("application/pdf");
  expect(res.headers.get("content-disposition")).toContain("transcript-visit-9.pdf");
  const pdf = await pdfOf(res);
  const text = pdfText(pdf);
  expect(text).toContain(TITLE);
  expect(text).toContain("school");
  for (const m of ["nurse-joy", "王伟", "dr-who"]) expect(text).toContain(m);
  const order = ["Morning — how is the fever today?", "好多了, 37.4 now", "message removed by dr-who at", '{"temp":37.1,"unit":"C"}'];
  const at = order.map((t) => text.indexOf(t));
  expect(at.every((i) => i >= 0)).toBe(true);
  expect([...at].sort((a, b) => a - b)).toEqual(at);
  expect(text).not.toContain("Private note");
  expect(text).not.toContain("400 mg");
  expect(text).toContain("Time (Asia/Tokyo)");
  expect(text).toContain(tokyo(frames[0]!.ts));
  expect(text).toContain("Page 1 of 1");
  expect(text).not.toContain("no longer retained");
  expect(pdfInfo(pdf).Title).toContain(TITLE);
  expect(pdfInfo(pdf)["Page size"]).toContain("612 x 792");
  const audit = await until(async () => s.logs.find((l) => l.msg === "api_report" && l.template === "conversation-transcript"), "the report's audit line");
  expect(audit).toMatchObject({ audit: true, tenant: T, conversation: "visit-9", members: 3, messages: 4, redacted: 1, outcome: "ok", pages: 1 });
  expect(JSON.stringify(audit)).not.toContain("fever");
});

test("since and until select a range; a since before the retention window says older messages are gone", async () => {
  const iso = (ts: number) => encodeURIComponent(new Date(ts).toISOString());
  const one = pdfText(await pdfOf(await transcript(`tenant=${T}&conversation=visit-9&since=${iso(frames[1]!.ts)}&until=${iso(frames[3]!.ts)}`)));
  expect(frames.map((f) => f.ts as number).every((ts, i, all) => i === 0 || ts > all[i - 1]!)).toBe(true);
  expect(one).not.toContain("Morning — how");
  expect(one).toContain("好多了, 37.4 now");
  expect(one).not.toContain('{"temp":37.1');
  const old = flat(pdfText(await pdfOf(await transcript(`tenant=${T}&conversation=visit-9&since=2020-01-01T00:00:00Z`))));
  expect(old).toContain("kept for 365 days");
  expect(old).toContain("no longer retained");
  expect(old).toContain("Morning — how is the fever today?");
});

test("an unknown conversation and another tenant's conversation are 404; nothing of it leaks", async () => {
  const missing = await transcript(`tenant=${T}&conversation=visit-404`);
  expect(missing.status).toBe(404);
  expect(await missing.json()).toMatchObject({ error: { code: "RESOURCE_NOT_FOUND" } });
  const other = await transcript(`tenant=globex&conversation=visit-9`);
  expect(other.status).toBe(404);
  expect(JSON.stringify(await other.json())).not.toContain(TITLE);
  const noTenant = await transcript(`conversation=visit-9`);
  expect(noTenant.status).toBe(404);
});

test("bad parameters get a 400 naming each of them; no API key gets 401", async () => {
  const bad = await transcript(`tenant=${T}&conversation=visit-9&tz=Mars/Olympus&pageSize=B5&since=yesterday`);
  expect(bad.status).toBe(400);
  const body = (await bad.json()) as { error: { code: string; message: string } };
  expect(body.error.code).toBe("VALIDATION_ERROR");
  for (const p of ["tz:", "pageSize:", "since:"]) expect(body.error.message).toContain(p);
  const cases: Array<[string, string]> = [
    [`tenant=${T}`, "conversation: is required"],
    [`tenant=${T}&conversation=a%20b`, "conversation: must be"],
    [`tenant=${T}&conversation=visit-9&limit=5`, "limit: unknown query parameter"],
    [`tenant=${T}&conversation=visit-9&since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z`, "until: must be later than since"],
    [`tenant=no%20spaces&conversation=visit-9`, "tenant:"],
  ];
  for (const [q, msg] of cases) {
    const r = await transcript(q);
    expect(r.status).toBe(400);
    expect(((await r.json()) as { error: { message: string } }).error.message).toContain(msg);
  }
  const anon = await fetch(`${s.url}/v1/reports/conversation-transcript?tenant=${T}&conversation=visit-9`);
  expect(anon.status).toBe(401);
});

test("a long conversation is read across store pages, in order, within REPORT_MAX_INPUT_BYTES (413 beyond, naming the setting)", async () => {
  const small = await startServer({ env: { REPORT_MAX_INPUT_BYTES: "70000" } });
  try {
    expect((await small.api("/v1/conversations/ward-log", { method: "PUT", json: { tenant: T, title: "Ward log", members: ["nurse-joy"] } })).status).toBe(200);
    let since = 0;
    for (let i = 0; i < 1100; i++) {
      if (i === 500) {
        // `since` is a time: the clock moves past message 499's millisecond first.
        const t = Date.now();
        await until(async () => (Date.now() > t ? true : undefined), "the next millisecond");
        since = Date.now();
      }
      const r = await small.api("/v1/publish", { method: "POST", json: { tenant: T, ch: "chat:ward-log", ev: "message", data: { text: `line ${String(i).padStart(4, "0")} —` } } });
      expect(r.status).toBe(200);
    }
    const all = await small.api(`/v1/reports/conversation-transcript?tenant=${T}&conversation=ward-log`);
    expect(all.status).toBe(413);
    expect(((await all.json()) as { error: { message: string } }).error.message).toContain("REPORT_MAX_INPUT_BYTES");
    const res = await small.api(`/v1/reports/conversation-transcript?tenant=${T}&conversation=ward-log&since=${encodeURIComponent(new Date(since).toISOString())}`);
    expect(res.status).toBe(200);
    const text = pdfText(await pdfOf(res));
    const lines = text.match(/line \d{4} —/g)!;
    expect(lines.length).toBe(600);
    expect(lines[0]).toBe("line 0500 —");
    expect(lines.at(-1)).toBe("line 1099 —");
    expect(lines.every((l, k) => l === `line ${String(500 + k).padStart(4, "0")} —`)).toBe(true);
    expect(text).toContain("server");
    expect(text).toMatch(/Page 2 of \d+/);
    expect(small.logs.some((l) => l.msg === "api_report" && l.template === "conversation-transcript" && l.outcome === "MESSAGE_TOO_LARGE")).toBe(true);
  } finally {
    await small.stop();
  }
});
