import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { startServer, type TestServer } from "../helpers/server.ts";
import * as fx from "../reports/fixtures.ts";
import { pdfInfo, pdfText } from "../reports/pdf-text.ts";

// Renders on a shared 2-core machine; a generous bound, not a speed assertion.
setDefaultTimeout(120_000);

let s: TestServer;
beforeAll(async () => {
  s = await startServer();
});
afterAll(async () => {
  await s.stop();
});

async function report(name: string, body: unknown): Promise<Uint8Array> {
  const res = await s.api(`/v1/reports/${name}`, { method: "POST", json: body });
  if (res.status !== 200) throw new Error(`${name}: ${res.status} ${await res.text()}`);
  expect(res.headers.get("content-type")).toBe("application/pdf");
  expect(res.headers.get("content-disposition")).toMatch(/^attachment; filename="[A-Za-z0-9_.-]+\.pdf"$/);
  const pdf = new Uint8Array(await res.arrayBuffer());
  expect(res.headers.get("x-report-pages")).toBe(pdfInfo(pdf).Pages);
  return pdf;
}

test("student health summary: Arabic, Chinese and Vietnamese names, em dash, metadata, Letter, time zone", async () => {
  const pdf = await report("student-health-summary", fx.studentHealthSummary);
  const text = pdfText(pdf);
  for (const want of ["Student health summary: فاطمة الزهراء", "فاطمة الزهراء", "Dr. 王伟 — Riverside", "Trần Văn Hùng", "Khalid Al-Rashid — father", "Peanuts", "Albuterol HFA", "Emergency contacts", "Lincoln Elementary — Health Office · lincoln-usd", "(America/New_York)", "Page 1 of 2", "Page 2 of 2"]) {
    expect(text).toContain(want);
  }
  expect(text).toMatch(/Generated \d{1,2} \w{3,4} \d{4}, \d\d:\d\d E[SD]T \(America\/New_York\)/);
  const info = pdfInfo(pdf);
  expect(info.Title).toBe("Student health summary: فاطمة الزهراء");
  expect(info.Author).toBe("Nguyễn Thị Mai, RN");
  expect(info.Subject).toBe("Student health summary");
  expect(info["Page size"]).toContain("612 x 792");
});

test("medication log: the table header repeats on page 2 of 3, totals and signatures", async () => {
  const pdf = await report("medication-log", fx.medicationLog(48));
  expect(pdfInfo(pdf).Pages).toBe("3");
  const page2 = pdfText(pdf, 2);
  for (const header of ["Date / time", "Medication", "Given by", "Notes"]) expect(page2).toContain(header);
  expect(page2).toContain("Page 2 of 3");
  const text = pdfText(pdf);
  expect(text).toContain("Nguyễn Văn An");
  expect(text).toContain("李娜 (health aide)");
  expect(text).toContain("Tolerated well — no");
  expect(text).toContain("All medications");
  expect(text).toContain("Signatures");
  expect(text).toContain("Parent / guardian");
  expect(pdfInfo(pdf)["Page size"]).toContain("595.28 x 841.89");
});

test("immunization compliance: statuses and the compliance rate", async () => {
  const text = pdfText(await report("immunization-compliance", fx.immunizationCompliance));
  for (const want of ["Immunization compliance: Lincoln Elementary", "60.0% (3 of 5)", "王小明", "فاطمة الزهراء", "Sarah Cohen — שרה כהן", "overdue", "exempt", "0/2 overdue"]) expect(text).toContain(want);
});

test("incident report: narrative, timeline in the requested zone, people, follow-up", async () => {
  const text = pdfText(await report("incident", fx.incident));
  // 03:20 UTC is 10:20 in Ho Chi Minh City.
  for (const want of ["Incident report: Playground injury — fall from", "What happened", "30 Nov 2026, 10:20", "Yusuf Haddad — يوسف", "حداد", "Trần Thị Lan", "Inspect climbing frame grips", "Administrator"]) expect(text).toContain(want);
});

test("custom report: every section type, page break, cell alignment", async () => {
  const pdf = await report("custom", fx.custom);
  expect(pdfInfo(pdf).Pages).toBe("2");
  expect(pdfInfo(pdf).Title).toBe("Flu clinic consent summary — Grade 5");
  expect(pdfText(pdf, 1)).toContain("Egg-free vaccine");
  expect(pdfText(pdf, 1)).toContain("Check the egg-free stock — two doses reserved");
  expect(pdfText(pdf, 2)).toContain("Appendix");
});

test("invalid input: 400 naming every bad field, in the API's error shape", async () => {
  const res = await s.api("/v1/reports/medication-log", {
    method: "POST",
    json: { ...fx.medicationLog(2), pageSize: "A5", timeZone: "Mars/Olympus", student: { id: 7 }, entries: [{ at: "yesterday", medication: "x", dose: "1", route: "oral", givenBy: "me", colour: "red" }] },
  });
  expect(res.status).toBe(400);
  const body = (await res.json()) as { error: { code: string; message: string } };
  expect(body.error.code).toBe("VALIDATION_ERROR");
  for (const field of ["pageSize:", "timeZone:", "student.name: is required", "student.id:", "entries.0.at:", "entries.0.colour: unknown field"]) expect(body.error.message).toContain(field);
  expect((await s.api("/v1/reports/nope", { method: "POST", json: {} })).status).toBe(404);
  expect((await s.api("/v1/reports/custom", { method: "POST", body: "{", headers: { "content-type": "application/json" } })).status).toBe(400);
});

test("a 10 KB unbroken base64 value renders, wrapped inside its cell, in a few pages", async () => {
  const blob = Buffer.from(crypto.getRandomValues(new Uint8Array(7500))).toString("base64");
  expect(blob.length).toBeGreaterThanOrEqual(10_000);
  const pdf = await report("custom", { title: "Attachment dump", sections: [{ type: "table", columns: [{ title: "Name", width: 1 }, { title: "Data", width: 3 }], rows: [["scan.png", blob]] }, { type: "paragraph", text: blob }] });
  const pages = Number(pdfInfo(pdf).Pages);
  expect(pages).toBeGreaterThan(1);
  expect(pages).toBeLessThan(20);
  expect(pdfText(pdf).replace(/\s+/g, "")).toContain(blob.slice(0, 200));
});

test("channel history: every retained message, and a note that older history is gone", async () => {
  for (let i = 0; i < 120; i++) {
    const r = await s.api("/v1/publish", { method: "POST", json: { tenant: "school", ch: "student:s42", ev: "visit", data: { note: `temperature check ${i} — 37.${i % 10} °C`, nurse: "Nguyễn" } } });
    expect(r.status).toBe(200);
  }
  const res = await s.api("/v1/reports/channel-history?tenant=school&ch=student:s42&tz=Europe/Paris");
  expect(res.status).toBe(200);
  expect(res.headers.get("content-disposition")).toContain("history-student-s42.pdf");
  const text = pdfText(new Uint8Array(await res.arrayBuffer()));
  expect(text).toContain("Channel history: student:s42");
  expect(text).toContain("temperature check 119 — 37.9 °C");
  expect(text).toContain("temperature check 20 —");
  expect(text).not.toContain("temperature check 19 —");
  expect(text).toContain("Older history of this channel is no longer retained");
  expect(text).toContain("(Europe/Paris)");
  const limited = pdfText(new Uint8Array(await (await s.api("/v1/reports/channel-history?tenant=school&ch=student:s42&limit=10")).arrayBuffer()));
  expect(limited).toContain("Showing the newest 10 messages");
  expect(limited).toContain("temperature check 119");
  expect(limited).not.toContain("temperature check 109 ");
  const other = await s.api("/v1/reports/channel-history?tenant=other&ch=student:s42");
  expect(pdfText(new Uint8Array(await other.arrayBuffer()))).toContain("No messages are retained for this channel.");
});

test("channel history errors are clear: missing ch, unknown namespace, no history, no API key", async () => {
  expect((await s.api("/v1/reports/channel-history")).status).toBe(400);
  expect((await s.api("/v1/reports/channel-history?ch=nope:x")).status).toBe(404);
  const noHistory = await s.api("/v1/reports/channel-history?ch=call:c1");
  expect(noHistory.status).toBe(400);
  expect(((await noHistory.json()) as { error: { code: string } }).error.code).toBe("BAD_REQUEST");
  expect((await fetch(`${s.url}/v1/reports/channel-history?ch=student:s42`)).status).toBe(401);
  expect(s.logs.some((l) => l.audit === true && l.msg === "api_report" && l.template === "channel-history" && l.outcome === "ok")).toBe(true);
});
