import { afterAll, beforeAll, expect, test } from "bun:test";
import { chromium, type Browser, type Page } from "playwright-core";
import { startRedis, type RedisServer } from "../helpers/redis.ts";
import { startServer, token, type TestServer } from "../helpers/server.ts";
import { until } from "../helpers/until.ts";
import { TestClient } from "../helpers/ws-client.ts";

/** The admin dashboard in Debian's chromium, against two nodes sharing Redis, with traffic flowing. */

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];
const KEY = "admin-dashboard-key-for-tests";

let redis: RedisServer;
let a: TestServer;
let b: TestServer;
let browser: Browser;
beforeAll(async () => {
  redis = await startRedis();
  const env = { REDIS_URL: redis.url, REDIS_PREFIX: `adm${Date.now() % 1_000_000}`, ADMIN_DASHBOARD_KEY: KEY, WS_RATE_LIMIT_PER_SEC: "0" };
  [a, b, browser] = await Promise.all([startServer({ env }), startServer({ env }), chromium.launch({ executablePath: CHROMIUM, args: ARGS })]);
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await a?.stop();
  await b?.stop();
  await redis?.stop();
}, 60_000);

async function subscriber(s: TestServer, user: string): Promise<TestClient> {
  const { client } = await TestClient.auth(s.wsUrl, await token({ sub: user, rooms: ["ops"] }));
  expect(await client.request({ t: "sub", ch: "room:ops" })).toMatchObject({ t: "ok" });
  return client;
}

/** Waits until the cell `field` of `node`'s row (or an element by id) shows what `ok` accepts (read from Node: the page's CSP forbids eval). */
async function cellUntil(page: Page, selector: string, ok: (text: string) => boolean): Promise<void> {
  let last: string | null = null;
  await until(
    async () => {
      last = await page.textContent(selector, { timeout: 1000 }).catch(() => null);
      return last !== null && ok(last) ? true : undefined;
    },
    `${selector} to show the expected value (last: ${JSON.stringify(last)})`,
    20_000,
  );
}
const row = (node: string, field: string) => `#nodes tr[data-node="${node}"] td[data-field="${field}"]`;

test("the dashboard shows both nodes' live figures, a channel's presence, and disconnects a user cluster-wide", async () => {
  const onA = await Promise.all(["ann", "art", "ava"].map((u) => subscriber(a, u)));
  const onB = await Promise.all(["bea", "bob"].map((u) => subscriber(b, u)));
  // Traffic: publications through node A's API, delivered to subscribers on both nodes, until the test ends.
  let publishing = true;
  let published = 0;
  const traffic = (async () => {
    while (publishing && published < 20_000) {
      const res = await a.api("/v1/publish", { method: "POST", json: { ch: "room:ops", ev: "tick", data: { n: ++published } } });
      expect(res.status).toBe(200);
      await res.arrayBuffer();
    }
  })();

  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  try {
    await page.goto(`${a.url}/admin`);
    // A wrong key is refused and the form comes back.
    await page.fill("#key", "not-the-key-at-all");
    await page.click("#login-form button");
    await cellUntil(page, "#error", (t) => t.includes('refused'));
    await page.fill("#key", KEY);
    await page.click("#login-form button");
    await page.locator(`#nodes tr[data-node="${a.node}"]`).waitFor();
    await page.locator(`#nodes tr[data-node="${b.node}"]`).waitFor();

    // Figures that match what the test did: 3 + 2 connections and subscriptions, 2 nodes.
    await cellUntil(page, "#total-nodes", (t) => t === '2');
    await cellUntil(page, "#total-connections", (t) => t === '5');
    await cellUntil(page, row(a.node, "connections"), (t) => t === '3');
    await cellUntil(page, row(b.node, "connections"), (t) => t === '2');
    await cellUntil(page, row(a.node, "subscriptions"), (t) => t === '3');
    await cellUntil(page, row(b.node, "subscriptions"), (t) => t === '2');
    // Under traffic: both nodes deliver, node A publishes with a measured latency.
    await cellUntil(page, row(a.node, "out"), (t) => Number(t) > 0);
    await cellUntil(page, row(b.node, "out"), (t) => Number(t) > 0);
    await cellUntil(page, "#total-publishes", (t) => Number(t) > 0);
    await cellUntil(page, row(a.node, "p99"), (t) => t.startsWith('≤'));
    for (const n of [a.node, b.node]) expect(await page.textContent(row(n, "engine"))).toBe("ok");
    // The channel carrying the traffic tops the list, with its rate.
    await cellUntil(page, '#channels tr:first-child td[data-field="ch"]', (t) => t === "room:ops");
    await cellUntil(page, '#channels tr:first-child td[data-field="perSec"]', (t) => Number(t) > 0);
    // It keeps updating by itself.
    const updates = Number(await page.getAttribute("#live", "data-updates"));
    await page.waitForFunction((n) => Number(document.getElementById("live")!.dataset.updates) > n + 1, updates, { timeout: 20_000 });

    // Presence of the channel, gathered across both nodes.
    await page.fill("#presence-ch", "room:ops");
    await page.click("#presence-form button");
    await page.locator("#presence li[data-user]").nth(4).waitFor();
    expect((await page.locator("#presence li[data-user]").allTextContents()).map((t) => t.split(" ")[0]).sort()).toEqual(["ann", "art", "ava", "bea", "bob"]);

    if (process.env.ADMIN_SCREENSHOT) await page.screenshot({ path: process.env.ADMIN_SCREENSHOT, fullPage: true });

    // Disconnect bob (connected to node B) from the page served by node A.
    await page.fill("#disconnect-user", "bob");
    await page.click("#disconnect-form button");
    await cellUntil(page, "#disconnect-result", (t) => t === 'closed 1 connection(s)');
    const closed = await onB[1]!.closed;
    expect(closed).toEqual({ code: 1000, reason: "disconnected by an administrator" });
    await cellUntil(page, row(b.node, "connections"), (t) => t === '1');
    await cellUntil(page, "#total-connections", (t) => t === '4');
    expect(onB[0]!.closeCode).toBeUndefined();
    expect(errors).toEqual([]);
  } finally {
    publishing = false;
    await traffic;
    await page.close();
    for (const c of [...onA, ...onB]) c.ws.close();
  }
}, 90_000);

test("without ADMIN_DASHBOARD_KEY there is no dashboard", async () => {
  const s = await startServer();
  try {
    expect((await fetch(`${s.url}/admin`)).status).toBe(404);
    expect((await fetch(`${s.url}/admin/api/stream`)).status).toBe(404);
  } finally {
    await s.stop();
  }
}, 30_000);
