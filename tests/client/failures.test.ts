import { afterEach, expect, test } from "bun:test";
import { SwitchboardClientError } from "../../src/client/index.ts";
import { startServer, token, type TestServer } from "../helpers/server.ts";
import { clientPool, nextEvent, recordEvents } from "./support.ts";

const pool = clientPool();
const servers: TestServer[] = [];
afterEach(async () => {
  pool.closeAll();
  for (const s of servers.splice(0)) {
    if (s.proc.exitCode === null && s.proc.signalCode === null) s.proc.kill("SIGCONT");
    await s.stop("SIGKILL");
  }
});

test("while disconnected, requests reject at once with SERVICE_UNAVAILABLE and nothing is sent", async () => {
  const server = await startServer();
  servers.push(server);
  const client = pool.create(server.wsUrl, { token: await token({ sub: "jack", rooms: ["r1"] }), minReconnectDelayMs: 5000, maxReconnectDelayMs: 5000 });
  await client.connect();
  const gone = nextEvent(client, "disconnected");
  await server.stop("SIGKILL");
  await gone;
  expect(client.state).toBe("reconnecting");
  const err = await client.publish("room:r1", "e", { x: 1 }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(SwitchboardClientError);
  expect(err).toMatchObject({ code: "SERVICE_UNAVAILABLE", ch: "room:r1" });
  await expect(client.presence("room:r1")).rejects.toMatchObject({ code: "SERVICE_UNAVAILABLE" });
  await expect(client.history("room:r1")).rejects.toMatchObject({ code: "SERVICE_UNAVAILABLE" });
});

test("an unanswered request rejects with TIMEOUT; a request cut off by the connection rejects with DISCONNECTED", async () => {
  const server = await startServer();
  servers.push(server);
  const client = pool.create(server.wsUrl, { token: await token({ sub: "kim", rooms: ["r1"] }), requestTimeoutMs: 300 });
  await client.connect();
  await client.subscribe("room:r1", () => {}).ready;

  server.proc.kill("SIGSTOP"); // the socket stays open, nobody answers
  const started = Date.now();
  const err = await client.publish("room:r1", "e", { x: 1 }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(SwitchboardClientError);
  expect(err).toMatchObject({ code: "TIMEOUT", ch: "room:r1" });
  expect(Date.now() - started).toBeGreaterThanOrEqual(295);

  server.proc.kill("SIGCONT");
  // The connection is still usable; the late answer to the timed-out request is ignored.
  expect((await client.publish("room:r1", "e", { x: 2 })).off).toBeDefined();

  server.proc.kill("SIGSTOP");
  const inFlight = client.publish("room:r1", "e", { x: 3 }).catch((e: unknown) => e);
  server.proc.kill("SIGKILL");
  expect(await inFlight).toMatchObject({ code: "DISCONNECTED" });
});

test("connect() keeps retrying with backoff while no server listens, and resolves once one does", async () => {
  const first = await startServer();
  const port = first.port;
  await first.stop();
  const client = pool.create(first.wsUrl, { token: await token({ sub: "lena" }), minReconnectDelayMs: 50, maxReconnectDelayMs: 200 });
  const events = recordEvents(client);
  const connected = client.connect();
  await nextEvent(client, "reconnecting", (r) => r.attempt >= 2);
  const server = await startServer({ port });
  servers.push(server);
  const hello = await connected;
  expect(hello.node).toBe(server.node);
  const retries = events.filter((e) => e.name === "reconnecting").map((e) => e.payload as { cause: string; delayMs: number });
  expect(retries.length).toBeGreaterThanOrEqual(2);
  for (const r of retries) {
    expect(r.cause).toBe("backoff");
    expect(r.delayMs).toBeGreaterThanOrEqual(50);
    expect(r.delayMs).toBeLessThanOrEqual(200);
  }
});

test("a rate-limited publish rejects with RATE_LIMIT_EXCEEDED and retryAfter", async () => {
  const server = await startServer({ env: { WS_RATE_LIMIT_PER_SEC: "1", WS_RATE_LIMIT_BURST: "3" } });
  servers.push(server);
  const client = pool.create(server.wsUrl, { token: await token({ sub: "mo", rooms: ["r1"] }) });
  await client.connect();
  const results = await Promise.allSettled(Array.from({ length: 6 }, (_, n) => client.publish("room:r1", "e", { n })));
  const limited = results.filter((r) => r.status === "rejected").map((r) => (r as PromiseRejectedResult).reason as SwitchboardClientError);
  expect(limited.length).toBeGreaterThan(0);
  for (const err of limited) {
    expect(err).toBeInstanceOf(SwitchboardClientError);
    expect(err.code).toBe("RATE_LIMIT_EXCEEDED");
    expect(err.retryAfter).toBeGreaterThan(0);
  }
  expect(client.state).toBe("connected");
});

test("over the per-user connection limit (4008), connect() rejects with LIMIT_EXCEEDED and the client connects by itself once a slot is free", async () => {
  const server = await startServer({ env: { WS_MAX_CONNECTIONS_PER_USER: "1" } });
  servers.push(server);
  const jwt = await token({ sub: "nina" });
  const first = pool.create(server.wsUrl, { token: jwt });
  await first.connect();
  const second = pool.create(server.wsUrl, { token: jwt, minReconnectDelayMs: 50, maxReconnectDelayMs: 200 });
  const err = await second.connect().catch((e: unknown) => e);
  expect(err).toBeInstanceOf(SwitchboardClientError);
  expect(err).toMatchObject({ code: "LIMIT_EXCEEDED" });
  expect(second.state).not.toBe("closed");

  const connected = nextEvent(second, "connected", () => true, 20_000);
  first.close();
  await connected;
  expect(second.state).toBe("connected");
  expect((await second.connect()).user).toBe("nina");
});
