import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { chromium } from "playwright-core";
import { startServer, token, type TestServer } from "../helpers/server.ts";

/**
 * The SDK as a user gets it: `npm pack` in src/client (prepack builds dist/),
 * installed into a temporary project, used from Node 20 with plain `node` and
 * from a Chromium page, against a real server.
 */
const ROOT = resolve(import.meta.dir, "../..");
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

let server: TestServer;
let dir: string;
let tarball: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "sb-sdk-package-"));
  server = await startServer();
  const pack = Bun.spawnSync(["npm", "pack", "--silent", "--pack-destination", dir], { cwd: join(ROOT, "src/client"), stdout: "pipe", stderr: "pipe" });
  if (pack.exitCode !== 0) throw new Error(`npm pack failed:\n${pack.stderr.toString()}`);
  tarball = join(dir, pack.stdout.toString().trim().split("\n").at(-1)!);
}, 120_000);
afterAll(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function sh(argv: string[], cwd: string, env: Record<string, string> = {}): { code: number; out: string; err: string } {
  const r = Bun.spawnSync(argv, { cwd, env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", ...env }, stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode ?? -1, out: r.stdout.toString(), err: r.stderr.toString() };
}

/** A new npm project with the tarball (and optionally the `ws` peer) installed, offline. */
function project(name: string, withWs: boolean): string {
  const app = join(dir, name);
  mkdirSync(app);
  writeFileSync(join(app, "package.json"), JSON.stringify({ name, version: "1.0.0", private: true, type: "module" }));
  const deps = [tarball, ...(withWs ? [join(ROOT, "node_modules/ws")] : [])];
  const r = sh(["npm", "install", "--offline", "--no-audit", "--no-fund", "--silent", ...deps], app);
  expect(r.code, r.err).toBe(0);
  return app;
}

const NODE_SCRIPT = (wsImport: string, wsOption: string) => `${wsImport}
import { SwitchboardClient, SwitchboardClientError } from "switchboard-client";
const client = new SwitchboardClient(process.env.SB_URL, { token: process.env.SB_TOKEN${wsOption} });
const hello = await client.connect();
let onMessage;
const got = new Promise((resolve) => (onMessage = resolve));
await client.subscribe("room:pkg", (m) => onMessage(m)).ready;
const [{ off }, msg] = await Promise.all([client.publish("room:pkg", "note", { text: "from node " + process.versions.node }), got]);
const refused = await client.publish("room:elsewhere", "note", {}).catch((e) => e);
console.log(JSON.stringify({ user: hello.user, off, msgOff: msg.off, text: msg.data.text, typed: refused instanceof SwitchboardClientError, code: refused.code }));
client.close();
`;

test("npm pack ships built ESM, declarations, a browser bundle, the README and the protocol; no TypeScript sources", () => {
  const files = sh(["tar", "tzf", tarball], dir).out.trim().split("\n").sort();
  for (const f of ["package/package.json", "package/README.md", "package/dist/index.js", "package/dist/node.js", "package/dist/index.d.ts", "package/dist/client.d.ts", "package/dist/switchboard-client.browser.js", "package/dist/PROTOCOL.md"]) {
    expect(files).toContain(f);
  }
  expect(files.filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts"))).toEqual([]);
});

test("Node 20 with the optional ws peer installed: import, connect, subscribe, publish, typed errors", async () => {
  const app = project("app-ws", true);
  writeFileSync(join(app, "main.mjs"), NODE_SCRIPT("", ""));
  const r = sh(["node", "main.mjs"], app, { SB_URL: server.wsUrl, SB_TOKEN: await token({ sub: "nia", rooms: ["pkg"] }) });
  expect(r.code, r.err).toBe(0);
  const out = JSON.parse(r.out.trim());
  expect(out).toMatchObject({ user: "nia", typed: true, code: "AUTHORIZATION_FAILED" });
  expect(out.text).toStartWith("from node ");
  expect(out.msgOff).toBe(out.off);

  // The declarations resolve through `exports` for a TypeScript user (node16 resolution).
  writeFileSync(
    join(app, "check.ts"),
    `import { SwitchboardClient, type Message } from "switchboard-client";
const c: SwitchboardClient = new SwitchboardClient("ws://x/v1/ws", { token: "t" });
const handler = (m: Message<{ text: string }>): string => m.data.text;
c.subscribe<{ text: string }>("room:a", handler);
// @ts-expect-error: publish takes a channel, an event name and data
c.publish("room:a");
`,
  );
  writeFileSync(
    join(app, "tsconfig.json"),
    JSON.stringify({ compilerOptions: { strict: true, noEmit: true, module: "node16", moduleResolution: "node16", lib: ["es2022", "dom"], types: [] }, files: ["check.ts"] }),
  );
  const tsc = sh(["node", join(ROOT, "node_modules/typescript/bin/tsc"), "-p", "."], app);
  expect(tsc.code, tsc.out + tsc.err).toBe(0);
}, 60_000);

test("Node 20 with a WebSocket passed in, and without any: a clear error naming the fix", async () => {
  const app = project("app-passed", false);
  expect(readdirSync(join(app, "node_modules"))).not.toContain("ws");
  writeFileSync(join(app, "main.mjs"), NODE_SCRIPT(`import { WebSocket } from ${JSON.stringify(join(ROOT, "node_modules/ws/wrapper.mjs"))};`, ", WebSocket"));
  const r = sh(["node", "main.mjs"], app, { SB_URL: server.wsUrl, SB_TOKEN: await token({ sub: "nia", rooms: ["pkg"] }) });
  expect(r.code, r.err).toBe(0);
  expect(JSON.parse(r.out.trim())).toMatchObject({ user: "nia", code: "AUTHORIZATION_FAILED" });

  writeFileSync(join(app, "none.mjs"), `import { SwitchboardClient } from "switchboard-client";\ntry { new SwitchboardClient("ws://x", { token: "t" }); } catch (e) { console.log(e.message); }\n`);
  const none = sh(["node", "none.mjs"], app);
  expect(none.out.trim()).toBe("no WebSocket in this runtime: install the `ws` package (Node 20) or pass options.WebSocket");
}, 60_000);

test("a Chromium page imports the package's browser bundle and talks to the server", async () => {
  const app = project("app-browser", false);
  const bundle = join(app, "node_modules/switchboard-client/dist/switchboard-client.browser.js");
  const jwt = await token({ sub: "bea", rooms: ["pkg"] });
  const page = `<!doctype html><meta charset="utf-8"><pre id="out">…</pre>
<script type="module">
  import { SwitchboardClient } from "./switchboard-client.browser.js";
  const client = new SwitchboardClient(${JSON.stringify(server.wsUrl)}, { token: ${JSON.stringify(jwt)} });
  const hello = await client.connect();
  let onMessage;
  const got = new Promise((resolve) => (onMessage = resolve));
  await client.subscribe("room:pkg", (m) => onMessage(m)).ready;
  await client.publish("room:pkg", "note", { text: "from the browser" });
  const msg = await got;
  document.getElementById("out").textContent = JSON.stringify({ user: hello.user, text: msg.data.text, from: msg.from });
</script>`;
  const web = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch: (req) =>
      new URL(req.url).pathname === "/switchboard-client.browser.js"
        ? new Response(Bun.file(bundle), { headers: { "content-type": "text/javascript" } })
        : new Response(page, { headers: { "content-type": "text/html" } }),
  });
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"] });
  try {
    const tab = await browser.newPage();
    const errors: string[] = [];
    tab.on("pageerror", (e) => errors.push(e.message));
    await tab.goto(`http://127.0.0.1:${web.port}/`);
    await tab.locator("#out", { hasText: "from the browser" }).waitFor();
    expect(JSON.parse((await tab.locator("#out").textContent())!)).toEqual({ user: "bea", text: "from the browser", from: "bea" });
    expect(errors).toEqual([]);
  } finally {
    await browser.close();
    web.stop(true);
  }
}, 60_000);
