import { afterAll, beforeAll, expect, test } from "bun:test";
import { chromium, type Browser, type Page } from "playwright-core";
import { startServer, type TestServer } from "../helpers/server.ts";
import { until } from "../helpers/until.ts";

// Debian's chromium, never a downloaded browser; fake camera and microphone, no permission prompt.
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const ARGS = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
  "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
];

let server: TestServer;
let browser: Browser;

beforeAll(async () => {
  // A development node serves /demo (dev tokens for anyone): the page the README points people to.
  [server, browser] = await Promise.all([startServer({ env: { NODE_ENV: "development", JWT_SECRET: "" } }), chromium.launch({ executablePath: CHROMIUM, args: ARGS })]);
});
afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

async function open(user: string): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  await page.goto(`${server.url}/demo/call?sub=${user}`);
  await page.locator('#status[data-state="connected"]').waitFor();
  // Its personal channel is followed: ringing arrives there.
  await page.locator("#log", { hasText: `following user:${user}` }).waitFor();
  return { page, errors };
}

async function place(from: Page, to: string): Promise<void> {
  await from.fill("#callee", to);
  await from.click("#call");
  await from.locator('#call-state[data-state="calling"]').waitFor();
  expect(await from.locator("#call-state").textContent()).toBe(`Calling ${to}…`);
}

test("/demo/call: two tabs call each other — ringing, reject, accept, a real RTCPeerConnection through the relay, hang up", async () => {
  const doctor = await open("doc");
  const patient = await open("pat");

  // First attempt: the patient's tab rings and the patient rejects; the doctor's tab says so.
  await place(doctor.page, "pat");
  await patient.page.locator("#incoming").waitFor({ state: "visible" });
  expect(await patient.page.locator("#incoming-text").textContent()).toBe("doc is calling you (video)");
  expect(await patient.page.locator("#call-state").getAttribute("data-state")).toBe("ringing");
  await patient.page.click("#reject");
  await doctor.page.locator('#call-state[data-state="ended"]', { hasText: "pat rejected the call" }).waitFor();
  expect(await patient.page.locator("#incoming").isHidden()).toBe(true);

  // Second attempt: accepted; media flows both ways over WebRTC negotiated through Switchboard.
  await place(doctor.page, "pat");
  await patient.page.locator("#incoming").waitFor({ state: "visible" });
  await patient.page.click("#accept");
  for (const side of [doctor, patient]) {
    await side.page.locator('#pc[data-state="connected"]').waitFor({ timeout: 30_000 });
    expect(await side.page.evaluate(() => (window as any).pc.connectionState)).toBe("connected");
    await side.page.locator('#call-state[data-state="live"]').waitFor();
    // The other side's fake camera is on screen.
    await side.page.waitForFunction(() => (document.getElementById("remote") as HTMLVideoElement).videoWidth > 0, undefined, { timeout: 15_000 });
  }
  expect(await doctor.page.locator("#call-state").textContent()).toBe("In a call with pat");

  // The signalling went through the relay: the server counted the frames, and both media starts.
  const metrics = await until(async () => {
    const text = await (await fetch(server.url + "/metrics")).text();
    return /switchboard_call_media_seconds_count 2\b/.test(text) ? text : undefined;
  }, "both media reports");
  expect(metrics).toMatch(/switchboard_messages_in_total\{type="offer"\} [1-9]/);
  expect(metrics).toMatch(/switchboard_messages_in_total\{type="ice"\} [1-9]/);

  // The patient hangs up: both tabs show the end, media stops.
  await patient.page.click("#hangup");
  await patient.page.locator('#call-state[data-state="ended"]', { hasText: "You hung up" }).waitFor();
  await doctor.page.locator('#call-state[data-state="ended"]', { hasText: "pat hung up" }).waitFor();
  expect(await doctor.page.evaluate(() => (window as any).pc.connectionState)).toBe("closed");
  expect(await doctor.page.locator("#call").isEnabled()).toBe(true);

  for (const side of [doctor, patient]) expect(side.errors).toEqual([]);
}, 120_000);
