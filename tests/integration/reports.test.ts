import { afterAll, beforeAll, expect, test } from "bun:test";
import { PDFDocument } from "pdf-lib";
import { inflateSync } from "node:zlib";
import { startServer, type TestServer } from "../helpers/server.ts";

let s: TestServer;
beforeAll(async () => {
  s = await startServer();
});
afterAll(async () => {
  await s.stop();
});

/** Text drawn with a standard font appears hex-encoded inside the (deflated) content streams. */
function pdfText(pdf: Uint8Array): string {
  const raw = Buffer.from(pdf).toString("latin1");
  let out = "";
  for (const m of raw.matchAll(/stream\r?\n([\s\S]*?)endstream/g)) {
    // The stream may end in CR LF, LF or nothing before `endstream`; try the plausible cuts.
    const body = m[1]!;
    let content = body;
    for (const cut of [body, body.replace(/\r?\n$/, ""), body.replace(/\n$/, "")]) {
      try {
        content = inflateSync(Buffer.from(cut, "latin1")).toString("latin1");
        break;
      } catch {
        // not this cut, or not deflated (small streams are stored as they are)
      }
    }
    for (const h of content.matchAll(/<([0-9A-Fa-f]+)>\s*Tj/g)) out += Buffer.from(h[1]!, "hex").toString("latin1") + "\n";
  }
  return out;
}

test("channel history exports as a PDF rendered off the main thread", async () => {
  for (let i = 0; i < 120; i++) {
    const r = await s.api("/v1/publish", { method: "POST", json: { tenant: "school", ch: "student:s42", ev: "visit", data: { note: `temperature check ${i}`, nurse: "Ng" } } });
    expect(r.status).toBe(200);
  }
  const res = await s.api("/v1/reports/channel-history?tenant=school&ch=student:s42&limit=100");
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toBe("application/pdf");
  const pdf = new Uint8Array(await res.arrayBuffer());
  const doc = await PDFDocument.load(pdf);
  expect(doc.getPageCount()).toBeGreaterThanOrEqual(2);
  const text = pdfText(pdf);
  expect(text).toContain("Channel history: student:s42");
  expect(text).toContain("temperature check 119");
  expect(text).toContain("temperature check 20");
  expect(text).not.toContain("temperature check 19\"");
  // Another tenant's export of the same channel name is empty.
  const other = await s.api("/v1/reports/channel-history?tenant=other&ch=student:s42");
  expect(pdfText(new Uint8Array(await other.arrayBuffer()))).toContain("0 messages");
});

test("report errors are clear: missing ch, unknown namespace, no history, no API key", async () => {
  expect((await s.api("/v1/reports/channel-history")).status).toBe(400);
  expect((await s.api("/v1/reports/channel-history?ch=nope:x")).status).toBe(404);
  const noHistory = await s.api("/v1/reports/channel-history?ch=call:c1");
  expect(noHistory.status).toBe(400);
  expect((await noHistory.json()).error.code).toBe("BAD_REQUEST");
  const anon = await fetch(`${s.url}/v1/reports/channel-history?ch=student:s42`);
  expect(anon.status).toBe(401);
});
