import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { startServer, token, type TestServer } from "../helpers/server.ts";
import { until } from "../helpers/until.ts";

// Debian's chromium, never a downloaded browser; fake camera and microphone, no permission prompt.
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const ARGS = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
  "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
];

let server: TestServer;
let browser: Browser;
let site: ReturnType<typeof Bun.serve>;

beforeAll(async () => {
  const built = await Bun.build({ entrypoints: [join(import.meta.dir, "call-page/page.ts")], target: "browser" });
  if (!built.success) throw new Error(built.logs.join("\n"));
  const script = await built.outputs[0]!.text();
  const html = '<!doctype html><meta charset="utf-8"><title>call</title><p id="state">loading</p><script type="module" src="/page.js"></script>';
  // The page is served by the test, from another origin than Switchboard (as an app would be).
  site = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch: (req) => (new URL(req.url).pathname === "/page.js" ? new Response(script, { headers: { "content-type": "text/javascript" } }) : new Response(html, { headers: { "content-type": "text/html" } })),
  });
  [server, browser] = await Promise.all([startServer(), chromium.launch({ executablePath: CHROMIUM, args: ARGS })]);
});
afterAll(async () => {
  await browser?.close();
  await server?.stop();
  site?.stop(true);
});

async function open(sub: string, params: Record<string, string>): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  const q = new URLSearchParams({ ws: server.wsUrl, token: await token({ sub, tenant: "clinic" }), ...params });
  await page.goto(`http://127.0.0.1:${site.port}/?${q}`);
  return { page, errors };
}

test("two Chromium pages connect a real RTCPeerConnection through Switchboard's call relay", async () => {
  const patient = await open("pat", { role: "callee" });
  await patient.page.locator('#state[data-state="waiting"]').waitFor();
  const doctor = await open("doc", { role: "caller", callee: "pat" });
  for (const side of [doctor, patient]) await side.page.locator('#state[data-state="pc:connected"]').waitFor({ timeout: 30_000 });
  for (const side of [doctor, patient]) {
    expect(await side.page.evaluate(() => (window as any).pc.connectionState)).toBe("connected");
    expect(side.errors).toEqual([]);
  }
  // The signalling went through the relay: the server counted the frames, and the media start.
  // Both pages report media once connected; the report may still be on its way.
  const metrics = await until(async () => {
    const text = await (await fetch(server.url + "/metrics")).text();
    return /switchboard_call_media_seconds_count 2\b/.test(text) ? text : undefined;
  }, "both media reports");
  expect(metrics).toMatch(/switchboard_messages_in_total\{type="offer"\} [1-9]/);
  expect(metrics).toMatch(/switchboard_messages_in_total\{type="ice"\} [1-9]/);
}, 60_000);
