import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { startServer, token, type TestServer } from "../helpers/server.ts";
import { until } from "../helpers/until.ts";
import { connect } from "./support.ts";

// Real server processes on a shared machine: well past bun's 5 s default.
setDefaultTimeout(30_000);

let server: TestServer;
beforeAll(async () => {
  server = await startServer({ env: { SOCKETIO_PING_INTERVAL_MS: "1000", SOCKETIO_PING_TIMEOUT_MS: "1000", WS_MAX_MESSAGE_SIZE: "4096", WS_AUTH_TIMEOUT_MS: "1500" } });
});
afterAll(() => server?.stop());

const base = () => `${server.url}/socket.io/?EIO=4&transport=polling`;

async function handshake(): Promise<{ sid: string; upgrades: string[]; pingInterval: number; pingTimeout: number; maxPayload: number }> {
  const res = await fetch(base());
  const body = await res.text();
  expect(body[0]).toBe("0");
  return JSON.parse(body.slice(1));
}

test("the Engine.IO handshake announces the upgrade, the ping timers and maxPayload = WS_MAX_MESSAGE_SIZE", async () => {
  const open = await handshake();
  expect(open).toEqual({ sid: expect.any(String), upgrades: ["websocket"], pingInterval: 1000, pingTimeout: 1000, maxPayload: 4096 });
});

test("bad Engine.IO requests get clear errors", async () => {
  const old = await fetch(`${server.url}/socket.io/?EIO=3&transport=polling`);
  expect(old.status).toBe(400);
  expect(((await old.json()) as { error: { code: string; message: string } }).error.message).toContain("Engine.IO v4");
  const unknown = await fetch(`${base()}&sid=nope`);
  expect(unknown.status).toBe(400);
  expect(((await unknown.json()) as { error: { code: string } }).error.code).toBe("BAD_REQUEST");
  const transport = await fetch(`${server.url}/socket.io/?EIO=4&transport=flash`);
  expect(transport.status).toBe(400);
});

test("a polling payload over maxPayload is refused with 413 and ends the session", async () => {
  const { sid } = await handshake();
  const res = await fetch(`${base()}&sid=${sid}`, { method: "POST", body: "4" + "x".repeat(5000) });
  expect(res.status).toBe(413);
  expect(((await res.json()) as { error: { code: string } }).error.code).toBe("MESSAGE_TOO_LARGE");
  expect((await fetch(`${base()}&sid=${sid}`)).status).toBe(400);
});

test("pingTimeout is honoured: a session that answers pings lives, one that does not is ended", async () => {
  const quiet = await handshake();
  const lively = await handshake();
  // Both connect a namespace (so only the ping timer can end them).
  for (const [sid, sub] of [[quiet.sid, "quiet"], [lively.sid, "lively"]]) {
    await fetch(`${base()}&sid=${sid}`, { method: "POST", body: "40" + JSON.stringify({ token: await token({ sub, tenant: "acme" }) }) });
  }
  // Both get a ping; only one answers it, each time.
  const pollLively = async () => {
    const body = await (await fetch(`${base()}&sid=${lively.sid}`)).text();
    if (body.split("\x1e").includes("2")) await fetch(`${base()}&sid=${lively.sid}`, { method: "POST", body: "3" });
  };
  // The quiet one reads its CONNECT answer and greeting, then a ping it never answers.
  await until(async () => ((await (await fetch(`${base()}&sid=${quiet.sid}`)).text()).split("\x1e").includes("2") ? true : undefined), "a ping");
  await pollLively();
  // The quiet session is gone after pingTimeout; the lively one still answers polls.
  await until(async () => {
    await pollLively();
    const res = await fetch(`${base()}&sid=${quiet.sid}`);
    await res.arrayBuffer();
    return res.status === 400 ? true : undefined;
  }, "the unanswered session to end");
  await pollLively();
  const res = await fetch(`${base()}&sid=${lively.sid}`, { method: "POST", body: "6" });
  expect(res.status).toBe(200);
});

test("a session that never connects a namespace (or only gets refused) is ended after the authentication timeout", async () => {
  const { sid } = await handshake();
  await fetch(`${base()}&sid=${sid}`, { method: "POST", body: '40{"token":"forged"}' });
  await until(async () => {
    const res = await fetch(`${base()}&sid=${sid}`);
    const body = await res.text();
    if (res.status === 200 && body.split("\x1e").includes("2")) await fetch(`${base()}&sid=${sid}`, { method: "POST", body: "3" });
    return res.status === 400 ? true : undefined;
  }, "the idle session to end");
});

test("metrics count Socket.IO connections by transport", async () => {
  const s = await connect(server.url, { auth: { token: await token({ sub: "m", tenant: "acme" }) }, transports: ["websocket"] });
  const text = await (await server.api("/metrics")).text();
  expect(text).toMatch(/^switchboard_socketio_connections\{transport="websocket"\} [1-9]/m);
  s.close();
});
