import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { startServer, token, type TestServer } from "../helpers/server.ts";

// The SDK must run unchanged on Node's global WebSocket (Node ≥ 22; Node 20-21 behind a flag).
const node = Bun.which("node");
const major = node ? Number(Bun.spawnSync([node, "-p", "process.versions.node.split('.')[0]"]).stdout.toString().trim()) : 0;

let server: TestServer;
let dir: string;
beforeAll(async () => {
  server = await startServer();
  dir = mkdtempSync(join(tmpdir(), "sb-client-node-"));
});
afterAll(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

// `npm test` refuses to start without node ≥ 20; a direct `bun test` skips (counted) outside CI and fails in CI.
test.skipIf(major < 20 && process.env.CI !== "true")("the bundled SDK connects, subscribes and publishes from a Node process", async () => {
  if (major < 20) throw new Error(`node ≥ 20 is needed (found ${node ? major : "none"}): apt-get install -y nodejs`);
  const built = await Bun.build({ entrypoints: [resolve(import.meta.dir, "../../src/client/index.ts")], target: "node", format: "esm" });
  expect(built.success).toBe(true);
  writeFileSync(join(dir, "sdk.mjs"), await built.outputs[0]!.text());
  writeFileSync(
    join(dir, "main.mjs"),
    `import { SwitchboardClient } from "./sdk.mjs";
const client = new SwitchboardClient(process.env.SB_URL, { token: process.env.SB_TOKEN });
const hello = await client.connect();
let onMessage;
const got = new Promise((resolve) => (onMessage = resolve));
await client.subscribe("room:n1", (m) => onMessage(m)).ready;
const [{ off }, msg] = await Promise.all([client.publish("room:n1", "ping", { from: "node" }), got]);
if (msg.off !== off) throw new Error("offset mismatch");
console.log(JSON.stringify({ user: hello.user, ev: msg.ev, data: msg.data, from: msg.from }));
client.close();
`,
  );
  const proc = Bun.spawn([node!, ...(major < 22 ? ["--experimental-websocket"] : []), join(dir, "main.mjs")], {
    env: { PATH: process.env.PATH ?? "", SB_URL: server.wsUrl, SB_TOKEN: await token({ sub: "nora", rooms: ["n1"] }) },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  expect(code, err).toBe(0);
  expect(JSON.parse(out.trim())).toEqual({ user: "nora", ev: "ping", data: { from: "node" }, from: "nora" });
});
