import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { startServer, type TestServer } from "../helpers/server.ts";
import { until } from "../helpers/until.ts";


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

const DESKTOP = { width: 1100, height: 760 };
const PHONE = { width: 390, height: 844 };

async function openDemo(user: string, opts: { room?: string; viewport?: { width: number; height: number }; srv?: TestServer } = {}): Promise<{ page: Page; errors: string[] }> {
  const room = opts.room ?? "lobby";
  const page = await browser.newPage({ viewport: opts.viewport ?? DESKTOP });
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  await page.goto(`${(opts.srv ?? server).url}/demo?sub=${user}&room=${room}`);
  await page.locator('#status[data-state="connected"]').waitFor();
  await page.locator("#log", { hasText: `subscribed to room:${room}` }).waitFor();
  return { page, errors };
}

/** Elements that stick out of the viewport on the right (the page would scroll sideways). */
function overflowing(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const width = document.documentElement.clientWidth;
    const out: string[] = [];
    if (document.documentElement.scrollWidth > width) out.push(`document ${document.documentElement.scrollWidth} > ${width}`);
    for (const el of Array.from(document.body.querySelectorAll("*"))) {
      const r = el.getBoundingClientRect();
      if (r.width > 0 && r.right > width + 0.5) out.push(`${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ""}.${el.className} right=${Math.round(r.right)}`);
    }
    return out;
  });
}

/** SAVE_SCREENSHOTS=1 writes them to docs/screenshots/ (the README shows those); otherwise to a temp dir. */
const SHOTS = process.env.SAVE_SCREENSHOTS === "1" ? resolve(import.meta.dir, "../../docs/screenshots") : mkdtempSync(join(tmpdir(), "sb-demo-shots-"));

test("the demo page connects, shows API publications and presence, and publishes", async () => {
  const alice = await openDemo("alice");
  expect(await alice.page.locator("#whoami").textContent()).toBe("as alice");

  await apiPublish(server, "room:lobby", "chat", { text: "hello from the API" });
  const fromApi = alice.page.locator("#messages li", { hasText: "hello from the API" });
  await fromApi.waitFor();
  expect(await fromApi.locator(".from").textContent()).toBe("server");

  const bob = await openDemo("bob");
  await alice.page.locator('#presence li[data-user="bob"]').waitFor();
  expect(await alice.page.locator("#presence li .who").allTextContents()).toEqual(["alice (you)", "bob"]);

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
  // bob left the room; as a member of its conversation he stays listed, now offline.
  await alice.page.locator('#presence li[data-user="bob"] .pill', { hasText: "offline" }).waitFor();

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

const LONG_WORD = "Temperature-log-" + "0123456789".repeat(30);
const LONG_TEXT =
  "Handover for bed 4: afebrile since 06:00, fluids as charted, mother asked about discharge timing and the follow-up appointment; " +
  "please call the family before noon. " +
  LONG_WORD;

for (const [name, viewport] of [["desktop", DESKTOP], ["phone", PHONE]] as const) {
  test(`${name} (${viewport.width} px): recent history on join, long messages wrap, nothing overflows sideways`, async () => {
    const room = `ward-${name}`;
    const ch = `room:${room}`;
    await apiPublish(server, ch, "chat", { text: "Morning round starts at 08:30." });
    await apiPublish(server, ch, "chat", { text: LONG_TEXT });
    const { page, errors } = await openDemo("nurse-ana", { room, viewport });
    try {
      // The room's recent messages are there on join, oldest first, marked as history.
      await page.locator("#log", { hasText: `showing 2 recent messages from ${ch}` }).waitFor();
      expect(await page.locator("#messages li.history .text").allTextContents()).toEqual(["Morning round starts at 08:30.", LONG_TEXT]);

      await page.fill("#text", "On my way to bed 4.");
      await page.click("#send");
      await page.locator("#messages li:not(.history)", { hasText: "On my way to bed 4." }).waitFor();
      expect(await page.locator("#messages li .text").allTextContents()).toEqual(["Morning round starts at 08:30.", LONG_TEXT, "On my way to bed 4."]);

      // The long message wraps inside the list: as wide as the list at most, several lines tall.
      const box = await page.locator("#messages li", { hasText: "Handover" }).locator(".text").evaluate((el) => {
        const list = document.getElementById("messages")!.getBoundingClientRect();
        const r = el.getBoundingClientRect();
        return { right: r.right, listRight: list.right, height: r.height, line: parseFloat(getComputedStyle(el).lineHeight) || 20 };
      });
      expect(box.right).toBeLessThanOrEqual(box.listRight + 0.5);
      expect(box.height).toBeGreaterThan(2 * box.line);
      expect(await overflowing(page)).toEqual([]);

      mkdirSync(SHOTS, { recursive: true });
      await page.screenshot({ path: join(SHOTS, `demo-${name}.png`), fullPage: true });
      console.log(`demo screenshot: ${join(SHOTS, `demo-${name}.png`)}`);
      expect(errors).toEqual([]);
    } finally {
      await page.close();
    }
  }, 30_000);
}

for (const [name, viewport] of [["desktop", DESKTOP], ["phone", PHONE]] as const) {
  test(`${name} (${viewport.width} px): two tabs chat with typing, unread badges and receipts; notifications; status`, async () => {
    const room = `care-${name}`;
    const [aliceId, bobId] = [`alice-${name}`, `bob-${name}`];
    await apiPublish(server, `room:${room}`, "chat", { text: "Ward huddle at 14:00 in the office." });
    const alice = await openDemo(aliceId, { room, viewport });
    const bob = await openDemo(bobId, { room, viewport });
    const [a, b] = [alice.page, bob.page];
    let b2: Page | undefined;
    try {
      // The dev node made both members of the room's conversation, through the server API.
      const conv = await server.api(`/v1/conversations/${room}?tenant=acme`);
      expect(((await conv.json()) as { members: string[] }).members.sort()).toEqual([aliceId, bobId]);
      await a.locator("#chat-title", { hasText: `Conversation chat:${room}` }).waitFor();
      await a.locator(`#presence li[data-user="${bobId}"] .pill`, { hasText: "online" }).waitFor();

      // Typing shows on the other tab, never on the sender's.
      await a.fill("#chat-text", "Bed 4 needs fluids at 10:00.");
      await b.locator("#typing", { hasText: `${aliceId} is typing…` }).waitFor();
      expect(await a.locator("#typing").textContent()).toBe("");
      await a.click("#chat-send");
      await a.fill("#chat-text", "Family asked about discharge.");
      await a.click("#chat-send");
      // Sending ends the indicator at once.
      await b.locator("#typing", { hasText: "typing" }).waitFor({ state: "detached" });

      // bob has not looked yet: the messages are unread, per conversation and in total.
      await b.locator("#chat-messages li", { hasText: "Family asked about discharge." }).waitFor();
      expect(await b.locator("#chat-messages li .text").allTextContents()).toEqual(["Bed 4 needs fluids at 10:00.", "Family asked about discharge."]);
      await b.locator("#chat-unread", { hasText: "2 unread" }).waitFor();
      expect(await b.locator("#total-unread").textContent()).toBe("2 unread");
      expect(await b.locator("#conversations li").allTextContents()).toEqual([`chat:${room}2 unread`]);
      expect(await a.locator("#total-unread").isVisible()).toBe(false);

      // Status: alice sets busy, bob sees it live.
      await a.selectOption("#my-status", "busy");
      await b.locator(`#presence li[data-user="${aliceId}"] .pill`, { hasText: "busy" }).waitFor();

      // Notifications: posted by the dev node through the server API, counted, listed.
      await b.click("#notify");
      await b.locator("#inbox-unread", { hasText: "1 unread" }).waitFor();
      await b.click("#notify");
      await b.locator("#inbox-unread", { hasText: "2 unread" }).waitFor();
      expect(await b.locator("#notifications li.unread .from").allTextContents()).toEqual(["Lab results ready for bed 4", "Lab results ready for bed 4"]);

      // alice starts typing again and does not send: bob sees it, then it expires by itself.
      await a.fill("#chat-text", "Also");
      await b.locator("#typing", { hasText: `${aliceId} is typing…` }).waitFor();
      expect(await overflowing(b)).toEqual([]);
      mkdirSync(SHOTS, { recursive: true });
      await b.screenshot({ path: join(SHOTS, `demo-features-${name}.png`), fullPage: true });
      await b.locator("#typing", { hasText: "typing" }).waitFor({ state: "detached", timeout: 15_000 });

      // bob opens the message box: the conversation is read, alice sees the receipt.
      await b.click("#chat-text");
      await b.locator("#chat-unread").waitFor({ state: "hidden" });
      expect(await b.locator("#total-unread").isVisible()).toBe(false);
      expect(await b.locator("#conversations li").allTextContents()).toEqual([`chat:${room}`]);
      await a.locator("#chat-messages li", { hasText: "Family asked about discharge." }).locator(".seen", { hasText: `seen by ${bobId}` }).waitFor();
      expect(await a.locator("#chat-messages .seen").count()).toBe(1);
      const res = await server.api(`/v1/users/${bobId}/unread?tenant=acme`);
      expect(((await res.json()) as { total: number }).total).toBe(0);

      // Mark one notification read, then all.
      await b.locator("#notifications li.unread button", { hasText: "Mark read" }).first().click();
      await b.locator("#inbox-unread", { hasText: "1 unread" }).waitFor();
      await b.click("#read-all");
      await b.locator("#inbox-unread").waitFor({ state: "hidden" });
      expect(await b.locator("#notifications li.unread").count()).toBe(0);
      const inbox = await server.api(`/v1/users/${bobId}/notifications?tenant=acme`);
      expect(((await inbox.json()) as { unread: number }).unread).toBe(0);

      expect(await overflowing(a)).toEqual([]);
      await a.screenshot({ path: join(SHOTS, `demo-receipts-${name}.png`), fullPage: true });

      // bob closes his tab; alice writes again; bob's new tab shows the stored messages with the new one unread.
      await b.close();
      await a.locator(`#presence li[data-user="${bobId}"] .pill`, { hasText: "offline" }).waitFor();
      await a.fill("#chat-text", "Discharge planned for 15:00.");
      await a.click("#chat-send");
      await a.locator("#chat-messages li", { hasText: "Discharge planned for 15:00." }).waitFor();
      // Stored (alice's send is acknowledged after the commit; the live copy may reach a page before that).
      await until(async () => {
        const res = await server.api(`/v1/conversations/${room}/messages?tenant=acme`);
        return ((await res.json()) as { messages: unknown[] }).messages.length === 3 ? true : undefined;
      }, "the third message to be stored");
      const again = await openDemo(bobId, { room, viewport });
      b2 = again.page;
      await b2.locator("#log", { hasText: `showing 3 stored messages from chat:${room}` }).waitFor();
      expect(await b2.locator("#chat-messages li .text").allTextContents()).toEqual(["Bed 4 needs fluids at 10:00.", "Family asked about discharge.", "Discharge planned for 15:00."]);
      expect(await b2.locator("#chat-messages li.unread .text").allTextContents()).toEqual(["Discharge planned for 15:00."]);
      expect(await b2.locator("#total-unread").textContent()).toBe("1 unread");
      // The inbox was read on the other tab: listed, none unread.
      await b2.locator("#notifications li").nth(1).waitFor();
      expect(await b2.locator("#notifications li.unread").count()).toBe(0);
      expect(again.errors).toEqual([]);
      expect(alice.errors).toEqual([]);
      expect(bob.errors).toEqual([]);
    } finally {
      await a.close();
      await b.close();
      await b2?.close();
    }
  }, 60_000);
}

test("a connection refused for a limit says so in the page and stops retrying; Connect works once a slot is free", async () => {
  const srv = await startServer({ env: { NODE_ENV: "development", JWT_SECRET: "", WS_MAX_CONNECTIONS_PER_USER: "1" } });
  try {
    const first = await openDemo("sam", { srv });
    const second = await browser.newPage({ viewport: PHONE });
    await second.goto(`${srv.url}/demo?sub=sam&room=lobby`);
    await second.locator('#status[data-state="refused"]').waitFor();
    expect(await second.locator("#notice").textContent()).toBe(
      "Connection refused: at most 1 connections per user. Close another tab or window of this user, then press Connect.",
    );
    expect(await second.locator("#notice").isVisible()).toBe(true);
    expect(await second.locator("#connect").isEnabled()).toBe(true);
    expect(await second.locator("#log").textContent()).toContain("not retrying");
    expect(await overflowing(second)).toEqual([]);
    mkdirSync(SHOTS, { recursive: true });
    await second.screenshot({ path: join(SHOTS, "demo-refused-phone.png"), fullPage: true });

    await first.page.close();
    await until(async () => {
      const res = await srv.api("/metrics");
      return /^switchboard_connections(?:\{[^}]*\})? 0$/m.test(await res.text()) ? true : undefined;
    }, "the first tab's connection to close");
    await second.click("#connect");
    await second.locator('#status[data-state="connected"]').waitFor();
    expect(await second.locator("#notice").isVisible()).toBe(false);
    // One attempt before the refusal, one after pressing Connect: nothing retried in between.
    expect((await second.locator("#log").textContent())!.match(/connecting \(attempt/g)).toHaveLength(2);
    await second.close();
  } finally {
    await srv.stop();
  }
}, 30_000);

test("the demo routes exist only on a development node running on its generated dev secret", async () => {
  const bundle = await fetch(`${server.url}/demo/client.js`);
  expect(bundle.status).toBe(200);
  expect(bundle.headers.get("content-type")).toContain("javascript");
  expect(await bundle.text()).not.toContain("import "); // one self-contained bundle, no bare imports
  const badNotify = await fetch(`${server.url}/demo/notify?sub=${encodeURIComponent("a b")}`, { method: "POST" });
  expect(badNotify.status).toBe(400);
  const bad = await fetch(`${server.url}/demo/token?sub=${encodeURIComponent("a b")}`);
  expect(bad.status).toBe(400);
  expect(((await bad.json()) as { error: { code: string } }).error.code).toBe("VALIDATION_ERROR");

  const prod = await startServer({ env: { NODE_ENV: "production", CORS_ORIGINS: "*" } });
  // A development node with a real secret must not hand out tokens signed with it either.
  const devWithSecret = await startServer({ env: { NODE_ENV: "development" } });
  try {
    for (const srv of [prod, devWithSecret]) {
      for (const path of ["/demo", "/demo/client.js", "/demo/token?sub=x"]) expect((await fetch(srv.url + path)).status).toBe(404);
      expect((await fetch(srv.url + "/demo/notify?sub=x", { method: "POST" })).status).toBe(404);
    }
  } finally {
    await prod.stop();
    await devWithSecret.stop();
  }
}, 30_000);
