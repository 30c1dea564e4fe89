import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import type { Socket } from "socket.io-client";
import { until } from "../helpers/until.ts";
import { startServer, token, type TestServer } from "../helpers/server.ts";
import { apiPublish, configFile, connect, ENGINES, next, startEngineDeps, stopEngineDeps, TcpProxy, type ClientOptions } from "./support.ts";

// Real server processes, restarts and reconnect backoffs on a shared machine: well past bun's 5 s default.
setDefaultTimeout(30_000);

beforeAll(() => startEngineDeps());
afterAll(() => stopEngineDeps());

type Seen = { ev: string; data: unknown; off: string; ch: string }[];

/** Every publication event the socket gets, in arrival order. */
function record(socket: Socket): Seen {
  const seen: Seen = [];
  socket.onAny((ev: string, data: unknown, meta?: { ch: string; off: string }) => {
    if (meta && typeof meta === "object" && "ch" in meta) seen.push({ ev, data, off: meta.off, ch: meta.ch });
  });
  return seen;
}

function savedSessions(server: TestServer): number {
  return server.logs.filter((l) => l.msg === "socketio_session_saved").length;
}

/** Cuts the client off (network loss) and waits until the server kept its session. */
async function cutOff(proxy: TcpProxy, socket: Socket, server: TestServer): Promise<void> {
  const before = savedSessions(server);
  const gone = next(socket, "disconnect");
  proxy.blocked = true;
  proxy.cut();
  expect((await gone)[0]).toBe("transport close");
  await until(async () => (savedSessions(server) > before ? true : undefined), "the session record");
}

async function reconnected(socket: Socket, proxy: TcpProxy): Promise<void> {
  const back = next(socket, "connect");
  proxy.blocked = false;
  await back;
}

describe.each(ENGINES)("Socket.IO connection-state recovery on the $name engine", (engine) => {
  const transports: [string, ClientOptions][] = [
    ["polling then upgrade", {}],
    ["websocket only", { transports: ["websocket"] }],
  ];
  test.each(transports)(
    "after a network loss every missed event arrives once, in order, with socket.recovered (%s)",
    async (_name, opts) => {
      const server = await startServer({ env: engine.env() });
      const proxy = new TcpProxy(server.port).start();
      try {
        const socket = await connect(proxy.url, { auth: { token: await token({ sub: "rec", tenant: "acme", rooms: ["r1"] }) }, ...opts });
        expect(socket.recovered).toBe(false);
        const seen = record(socket);
        await socket.emitWithAck("subscribe", { ch: "room:r1" });
        await apiPublish(server, "acme", "room:r1", "chat", 1);
        await apiPublish(server, "acme", "user:rec", "note", "a");
        await until(async () => (seen.length === 2 ? true : undefined), "the live events");
        if (!opts.transports && socket.io.engine.transport.name !== "websocket") await new Promise((r) => socket.io.engine.once("upgrade", r));

        await cutOff(proxy, socket, server);
        for (let i = 2; i <= 4; i++) await apiPublish(server, "acme", "room:r1", "chat", i);
        await apiPublish(server, "acme", "user:rec", "note", "b");
        await reconnected(socket, proxy);
        expect(socket.recovered).toBe(true);
        await until(async () => (seen.length >= 6 ? true : undefined), "the missed events");
        await apiPublish(server, "acme", "room:r1", "chat", 5);
        await until(async () => (seen.length >= 7 ? true : undefined), "a live event after recovery");
        expect(seen.filter((s) => s.ch === "room:r1").map((s) => s.data)).toEqual([1, 2, 3, 4, 5]);
        expect(seen.filter((s) => s.ch === "user:rec").map((s) => s.data)).toEqual(["a", "b"]);
        socket.close();
      } finally {
        proxy.stop();
        await server.stop();
      }
    },
  );

  test("history that no longer reaches back gives socket.recovered === false, and live delivery resumes", async () => {
    const cfg = configFile({
      namespaces: {
        user: { subscribe: ["self"], publish: ["server"], history: { size: 100, ttlSec: 3600 } },
        case: { subscribe: ["claim:cases"], publish: ["server"], history: { size: 2, ttlSec: 3600 } },
      },
    });
    const server = await startServer({ env: { ...engine.env(), SWITCHBOARD_CONFIG: cfg.path } });
    const proxy = new TcpProxy(server.port).start();
    try {
      const socket = await connect(proxy.url, { auth: { token: await token({ sub: "trim", tenant: "acme", cases: ["k1"] }) }, transports: ["websocket"] });
      const seen = record(socket);
      expect(await socket.emitWithAck("subscribe:case", { caseId: "k1" })).toEqual({ status: "subscribed", caseId: "k1" });
      await apiPublish(server, "acme", "case:k1", "appointment:updated", 0);
      await until(async () => (seen.length === 1 ? true : undefined), "the first event");
      await cutOff(proxy, socket, server);
      for (let i = 1; i <= 5; i++) await apiPublish(server, "acme", "case:k1", "appointment:updated", i);
      await reconnected(socket, proxy);
      expect(socket.recovered).toBe(false);
      const live = next(socket, "appointment:updated");
      await apiPublish(server, "acme", "case:k1", "appointment:updated", 6);
      await until(async () => (seen.some((s) => s.data === 6) ? true : undefined), "a live event");
      await live;
      socket.close();
    } finally {
      proxy.stop();
      await server.stop();
      cfg.cleanup();
    }
  });
});

test("a node restart: the client reconnects to the restarted node and recovers what it missed", async () => {
  const first = await startServer({ keepData: true });
  const proxy = new TcpProxy(first.port).start();
  let second: TestServer | undefined;
  try {
    const socket = await connect(proxy.url, { auth: { token: await token({ sub: "rs", tenant: "acme", rooms: ["rr"] }) } });
    const seen = record(socket);
    expect(await socket.emitWithAck("join_room", { room: "rr" })).toEqual({ success: true });
    await apiPublish(first, "acme", "room:rr", "message", "before");
    await until(async () => (seen.length === 1 ? true : undefined), "the first event");

    // SIGTERM drains: the client is disconnected (not told to stay away) and the session is kept.
    proxy.blocked = true;
    const gone = next(socket, "disconnect");
    expect(await first.stop()).toBe(0);
    expect((await gone)[0]).toBe("transport close");
    expect(savedSessions(first)).toBe(1);

    second = await startServer({ dataDir: first.dataDir });
    proxy.target = second.port;
    await apiPublish(second, "acme", "room:rr", "message", "while away 1");
    await apiPublish(second, "acme", "room:rr", "message", "while away 2");
    await reconnected(socket, proxy);
    expect(socket.recovered).toBe(true);
    await until(async () => (seen.length >= 3 ? true : undefined), "the missed events");
    expect(seen.map((s) => s.data)).toEqual(["before", "while away 1", "while away 2"]);
    socket.close();
  } finally {
    proxy.stop();
    await second?.stop();
  }
});

test("cross-node: a client cut off from one node recovers on another (Redis)", async () => {
  const env = ENGINES[1]!.env();
  const [a, b] = await Promise.all([startServer({ env }), startServer({ env })]);
  const proxy = new TcpProxy(a.port).start();
  try {
    const socket = await connect(proxy.url, { auth: { token: await token({ sub: "xn", tenant: "acme", rooms: ["x"] }) } });
    const seen = record(socket);
    await socket.emitWithAck("subscribe", { ch: "room:x" });
    await apiPublish(b, "acme", "room:x", "chat", 1);
    await until(async () => (seen.length === 1 ? true : undefined), "a cross-node event");
    await cutOff(proxy, socket, a);
    proxy.target = b.port;
    await apiPublish(b, "acme", "room:x", "chat", 2);
    await apiPublish(a, "acme", "room:x", "chat", 3);
    await apiPublish(b, "acme", "user:xn", "note", "n");
    await reconnected(socket, proxy);
    expect(socket.recovered).toBe(true);
    await until(async () => (seen.length >= 4 ? true : undefined), "the missed events");
    await apiPublish(a, "acme", "room:x", "chat", 4);
    await until(async () => (seen.length >= 5 ? true : undefined), "a live event through the new node");
    expect(seen.filter((s) => s.ch === "room:x").map((s) => s.data)).toEqual([1, 2, 3, 4]);
    expect(seen.filter((s) => s.ch === "user:xn").map((s) => s.data)).toEqual(["n"]);
    socket.close();
  } finally {
    proxy.stop();
    await Promise.all([a.stop(), b.stop()]);
  }
});

test("drain with two nodes on one Redis: the client is disconnected, reconnects to the other node and recovers", async () => {
  const env = { ...ENGINES[1]!.env(), DRAIN_RECONNECT_MAX_MS: "200" };
  const [a, b] = await Promise.all([startServer({ env }), startServer({ env })]);
  const proxy = new TcpProxy(a.port).start();
  try {
    const socket = await connect(proxy.url, { auth: { token: await token({ sub: "dr", tenant: "acme", rooms: ["d"] }) }, transports: ["websocket"] });
    const seen = record(socket);
    await socket.emitWithAck("subscribe", { ch: "room:d" });
    await apiPublish(b, "acme", "room:d", "chat", 1);
    await until(async () => (seen.length === 1 ? true : undefined), "the first event");
    proxy.target = b.port;
    proxy.blocked = true;
    const gone = next(socket, "disconnect");
    const stopped = a.stop();
    expect((await gone)[0]).toBe("transport close");
    expect(await stopped).toBe(0);
    await apiPublish(b, "acme", "room:d", "chat", 2);
    await reconnected(socket, proxy);
    expect(socket.recovered).toBe(true);
    await apiPublish(b, "acme", "room:d", "chat", 3);
    await until(async () => (seen.length >= 3 ? true : undefined), "the missed and the live event");
    expect(seen.map((s) => s.data)).toEqual([1, 2, 3]);
    socket.close();
  } finally {
    proxy.stop();
    await b.stop();
  }
});
