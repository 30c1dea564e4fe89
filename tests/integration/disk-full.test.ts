import { afterAll, beforeAll, expect, test } from "bun:test";
import { startServer, token, type TestServer } from "../helpers/server.ts";
import { TestClient } from "../helpers/ws-client.ts";
import { until } from "../helpers/until.ts";

/**
 * Issue 16: /health/ready must turn 503 while the history store refuses
 * writes (here: the server process may not grow any file, as on a full
 * disk), and 200 again once it accepts them.
 */

let s: TestServer;
beforeAll(async () => {
  s = await startServer();
});
afterAll(async () => {
  await s.stop();
});

async function fileSizeLimit(value: string): Promise<void> {
  const p = Bun.spawn(["prlimit", "--pid", String(s.proc.pid), `--fsize=${value}:`], { stdout: "ignore", stderr: "pipe" });
  const code = await p.exited;
  if (code !== 0) throw new Error(`prlimit failed: ${await new Response(p.stderr).text()}`);
}

const ready = async () => (await fetch(s.url + "/health/ready")).status;

test("writes refused: publishes get SERVICE_UNAVAILABLE and readiness is 503; writes accepted again: both recover", async () => {
  const c = (await TestClient.auth(s.wsUrl, await token({ sub: "nurse", tenant: "t1", rooms: ["r1"] }))).client;
  expect(await c.request({ t: "pub", ch: "room:r1", ev: "before", data: 1 })).toMatchObject({ t: "ok", off: "1" });
  expect(await ready()).toBe(200);
  await fileSizeLimit("1024");
  try {
    // Only the soft limit moves (raising a hard limit needs privileges).
    // A publish needs a history write; it fails, and stays failed while the disk refuses writes.
    const pad = "x".repeat(8192);
    expect(await c.request({ t: "pub", ch: "room:r1", ev: "full", data: pad })).toMatchObject({ t: "err", code: "SERVICE_UNAVAILABLE" });
    expect(await ready()).toBe(503);
    const body = (await (await fetch(s.url + "/health/ready")).json()) as { reason: string };
    expect(body.reason).toContain("history storage refuses writes");
    expect(await c.request({ t: "pub", ch: "room:r1", ev: "full", data: pad })).toMatchObject({ t: "err", code: "SERVICE_UNAVAILABLE" });
  } finally {
    await fileSizeLimit("unlimited");
  }
  await until(async () => ((await ready()) === 200 ? true : undefined), "readiness after the disk accepts writes", 15_000);
  expect(await c.request({ t: "pub", ch: "room:r1", ev: "after", data: 2 })).toMatchObject({ t: "ok", off: "2" });
  const h = await c.request({ t: "history", ch: "room:r1" });
  expect(h.messages.map((m: { ev: string }) => m.ev)).toEqual(["before", "after"]);
  c.close();
}, 60_000);
