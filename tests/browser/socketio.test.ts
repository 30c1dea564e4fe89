import { afterAll, beforeAll, expect, test } from "bun:test";
import { join, resolve } from "node:path";
import type { Server } from "bun";
import { chromium, type Browser, type Page } from "playwright-core";
import { startServer, token, type TestServer } from "../helpers/server.ts";
import { until } from "../helpers/until.ts";
import { apiPublish } from "../socketio/support.ts";

// Debian's chromium, never a downloaded browser (.ci/run installs it).
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];
/** socket.io-client's own browser bundle, as an app would load it. */
const BUNDLE = join(resolve(import.meta.dir, "../.."), "node_modules/socket.io-client/dist/socket.io.min.js");

/** A Socket.IO-style page: connects with auth.token and lists every event it gets. */
const PAGE = `<!doctype html><meta charset="utf-8"><title>care team</title>
<script src="/socket.io.min.js"></script>
<p id="status">connecting</p><p id="transport"></p><ul id="log"></ul>
<script>
  const q = new URLSearchParams(location.search);
  const opts = { auth: { token: q.get("token") } };
  if (q.get("transports")) opts.transports = q.get("transports").split(",");
  const socket = io(q.get("server") || undefined, opts);
  const show = () => (document.getElementById("transport").textContent = socket.io.engine.transport.name);
  socket.on("connect", () => {
    document.getElementById("status").textContent = "connected";
    show();
    socket.io.engine.on("upgrade", show);
  });
  socket.on("connect_error", (e) => (document.getElementById("status").textContent = "error " + (e.data && e.data.code)));
  socket.on("emergency:alert", (data, meta) => {
    const li = document.createElement("li");
    li.textContent = meta.ch + " " + data.text + " via " + socket.io.engine.transport.name;
    document.getElementById("log").append(li);
  });
</script>`;

let server: TestServer;
let browser: Browser;
/** Serves the page and the bundle, and passes /socket.io/ through to Switchboard, refusing every WebSocket upgrade. */
let front: Server<undefined>;
let refusedUpgrades = 0;

beforeAll(async () => {
  [server, browser] = await Promise.all([startServer(), chromium.launch({ executablePath: CHROMIUM, args: ARGS })]);
  front = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    idleTimeout: 60,
    async fetch(req) {
      const url = new URL(req.url);
      if (url.pathname === "/") return new Response(PAGE, { headers: { "content-type": "text/html; charset=utf-8" } });
      if (url.pathname === "/socket.io.min.js") return new Response(Bun.file(BUNDLE), { headers: { "content-type": "text/javascript" } });
      if (url.pathname !== "/socket.io/") return new Response("not found", { status: 404 });
      if (req.headers.get("upgrade")?.toLowerCase() === "websocket") {
        refusedUpgrades++;
        return new Response("WebSockets are blocked here", { status: 403 });
      }
      const headers = new Headers(req.headers);
      headers.delete("host");
      const body = req.method === "POST" ? await req.text() : undefined;
      const res = await fetch(server.url + url.pathname + url.search, { method: req.method, headers, body });
      return new Response(await res.arrayBuffer(), { status: res.status, headers: { "content-type": res.headers.get("content-type") ?? "text/plain" } });
    },
  });
});

afterAll(async () => {
  await browser?.close();
  front?.stop(true);
  await server?.stop();
});

async function open(query: Record<string, string>): Promise<Page> {
  const page = await browser.newPage();
  await page.goto(`${front.url}?${new URLSearchParams(query)}`);
  await page.locator("#status", { hasText: "connected" }).waitFor();
  return page;
}

test("behind a proxy that blocks WebSocket upgrades the page stays on long-polling and shows a live publication", async () => {
  const page = await open({ token: await token({ sub: "nurse-b", tenant: "school1" }) });
  await apiPublish(server, "school1", "org:school1", "emergency:alert", { text: "shelter in place" });
  const line = page.locator("#log li", { hasText: "shelter in place" });
  await line.waitFor();
  expect(await line.textContent()).toBe("org:school1 shelter in place via polling");
  // The client did try to upgrade, was refused, and kept its polling connection.
  await until(async () => (refusedUpgrades > 0 ? true : undefined), "the refused upgrade");
  expect(await page.locator("#transport").textContent()).toBe("polling");
  await page.close();
});

test("the same page connects over WebSocket when it may, and shows a live publication", async () => {
  const page = await open({ token: await token({ sub: "nurse-w", tenant: "school1" }), server: server.url, transports: "websocket" });
  expect(await page.locator("#transport").textContent()).toBe("websocket");
  await apiPublish(server, "school1", "user:nurse-w", "emergency:alert", { text: "call the office" });
  const line = page.locator("#log li", { hasText: "call the office" });
  await line.waitFor();
  expect(await line.textContent()).toBe("user:nurse-w call the office via websocket");
  await page.close();
});

test("a bad token shows the connect_error code on the page", async () => {
  const page = await browser.newPage();
  await page.goto(`${front.url}?${new URLSearchParams({ token: "forged" })}`);
  await page.locator("#status", { hasText: "error AUTHENTICATION_FAILED" }).waitFor();
  await page.close();
});
