import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { startServer, type TestServer } from "../helpers/server.ts";

/** What the README's curl does: publish in the dev tenant, which every /demo token carries. */
async function apiPublish(srv: TestServer, ch: string, ev: string, data: unknown): Promise<void> {
  const res = await srv.api("/v1/publish", { method: "POST", json: { tenant: "acme", ch, ev, data } });
  expect(res.status).toBe(200);
}

// Debian's chromium, never a downloaded browser (.ci/run installs it).
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];

let server: TestServer;
let browser: Browser;
beforeAll(async () => {
  [server, browser] = await Promise.all([startServer({ env: { NODE_ENV: "development", JWT_SECRET: "" } }), chromium.launch({ executablePath: CHROMIUM, args: ARGS })]);
});
afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

async function openDemo(user: string): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1100, height: 760 } });
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  await page.goto(`${server.url}/demo?sub=${user}&room=lobby`);
  await page.locator('#status[data-state="connected"]').waitFor();
  await page.locator("#log", { hasText: "subscribed to room:lobby" }).waitFor();
  return { page, errors };
}

test("the demo page connects, shows API publications and presence, and publishes", async () => {
  const alice = await openDemo("alice");
  expect(await alice.page.locator("#whoami").textContent()).toBe("as alice");

  await apiPublish(server, "room:lobby", "chat", { text: "hello from the API" });
  const fromApi = alice.page.locator("#messages li", { hasText: "hello from the API" });
  await fromApi.waitFor();
  expect(await fromApi.locator(".from").textContent()).toBe("server");

  const bob = await openDemo("bob");
  await alice.page.locator("#presence li", { hasText: "bob" }).waitFor();
  expect((await alice.page.locator("#presence li").allTextContents()).sort()).toEqual(["alice", "bob"]);

  await bob.page.fill("#text", "hi from bob's browser");
  await bob.page.click("#send");
  const fromBob = alice.page.locator("#messages li", { hasText: "hi from bob's browser" });
  await fromBob.waitFor();
  expect(await fromBob.locator(".from").textContent()).toBe("bob");

  // What the page published is really in the channel's history.
  const res = await server.api("/v1/channels/room:lobby/history?tenant=acme");
  const { messages } = (await res.json()) as { messages: { from?: string; data: { text: string } }[] };
  expect(messages.map((m) => [m.from ?? "server", m.data.text])).toEqual([
    ["server", "hello from the API"],
    ["bob", "hi from bob's browser"],
  ]);

  await bob.page.close();
  await alice.page.locator("#presence li", { hasText: "bob" }).waitFor({ state: "detached" });

  const shot = join(tmpdir(), "switchboard-demo.png");
  await alice.page.screenshot({ path: shot });
  console.log(`demo screenshot: ${shot}`);
  expect(alice.errors).toEqual([]);
  expect(bob.errors).toEqual([]);
}, 30_000);

test("the page rides out a server restart: it shows the reconnect, then what was published meanwhile", async () => {
  const dataDir = mkdtempSync(join(tmpdir(), "sb-browser-restart-"));
  const env = { NODE_ENV: "development", JWT_SECRET: "" };
  const a = await startServer({ env, dataDir, keepData: true });
  let b: TestServer | undefined;
  const page = await browser.newPage();
  try {
    await page.goto(`${a.url}/demo?sub=zoe&room=ward`);
    await page.locator("#log", { hasText: "subscribed to room:ward" }).waitFor();
    await apiPublish(a, "room:ward", "chat", { text: "before the restart" });
    await page.locator("#messages li", { hasText: "before the restart" }).waitFor();

    await a.stop("SIGKILL");
    await page.locator('#status[data-state="reconnecting"]').waitFor();
    expect(await page.locator("#send").isDisabled()).toBe(true);
    b = await startServer({ env, dataDir, keepData: true, port: a.port });
    await apiPublish(b, "room:ward", "chat", { text: "while you were away" });
    await page.locator("#messages li", { hasText: "while you were away" }).waitFor({ timeout: 15_000 });
    await page.locator('#status[data-state="connected"]').waitFor();
    expect(await page.locator("#messages li .text").allTextContents()).toEqual(["before the restart", "while you were away"]);
  } finally {
    await page.close();
    await b?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}, 30_000);

test("the demo routes exist only on a development node running on its generated dev secret", async () => {
  const bundle = await fetch(`${server.url}/demo/client.js`);
  expect(bundle.status).toBe(200);
  expect(bundle.headers.get("content-type")).toContain("javascript");
  expect(await bundle.text()).not.toContain("import "); // one self-contained bundle, no bare imports
  const bad = await fetch(`${server.url}/demo/token?sub=${encodeURIComponent("a b")}`);
  expect(bad.status).toBe(400);
  expect(((await bad.json()) as { error: { code: string } }).error.code).toBe("VALIDATION_ERROR");

  const prod = await startServer({ env: { NODE_ENV: "production" } });
  // A development node with a real secret must not hand out tokens signed with it either.
  const devWithSecret = await startServer({ env: { NODE_ENV: "development" } });
  try {
    for (const srv of [prod, devWithSecret]) {
      for (const path of ["/demo", "/demo/client.js", "/demo/token?sub=x"]) expect((await fetch(srv.url + path)).status).toBe(404);
    }
  } finally {
    await prod.stop();
    await devWithSecret.stop();
  }
}, 30_000);
