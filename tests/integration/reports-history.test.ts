import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startServer, type TestServer } from "../helpers/server.ts";
import { pdfInfo, pdfText } from "../reports/pdf-text.ts";

// Renders on a shared 2-core machine; a generous bound, not a speed assertion.
setDefaultTimeout(240_000);

let s: TestServer;
const dir = mkdtempSync(join(tmpdir(), "sb-hist-cfg-"));
beforeAll(async () => {
  const file = join(dir, "switchboard.json");
  writeFileSync(file, JSON.stringify({ namespaces: { student: { subscribe: ["role:nurse"], publish: ["server"], history: { size: 5000, ttlSec: 86400 }, presence: false, joinLeave: false } } }));
  s = await startServer({ env: { SWITCHBOARD_CONFIG: file } });
});
afterAll(async () => {
  await s.stop();
  rmSync(dir, { recursive: true, force: true });
});

test("channel history pages through more than one engine page (1000) without a silent cut", async () => {
  for (let i = 0; i < 1250; i++) {
    const r = await s.api("/v1/publish", { method: "POST", json: { ch: "student:s7", ev: "visit", data: { note: `visit ${String(i).padStart(4, "0")} —` } } });
    expect(r.status).toBe(200);
  }
  const res = await s.api("/v1/reports/channel-history?ch=student:s7");
  expect(res.status).toBe(200);
  const pdf = new Uint8Array(await res.arrayBuffer());
  const text = pdfText(pdf);
  for (const n of ["0000", "0999", "1000", "1249"]) expect(text).toContain(`visit ${n} —`);
  expect(text.match(/visit \d{4} —/g)!.length).toBe(1250);
  expect(text).not.toContain("no longer retained");
  expect(Number(pdfInfo(pdf).Pages)).toBeGreaterThan(10);
  // `since` starts after that offset.
  const after = pdfText(new Uint8Array(await (await s.api("/v1/reports/channel-history?ch=student:s7&since=1200")).arrayBuffer()));
  expect(after.match(/visit \d{4} —/g)!.length).toBe(50);
  expect(after).toContain("visit 1200 —");
  expect(after).not.toContain("visit 1199 —");
});
