/** Shared pieces of the Socket.IO tests: real socket.io-client sockets, a switchable TCP proxy, engines. */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { io, type ManagerOptions, type Socket, type SocketOptions } from "socket.io-client";
import { startRedis, type RedisServer } from "../helpers/redis.ts";
import type { TestServer } from "../helpers/server.ts";

export type ClientOptions = Partial<ManagerOptions & SocketOptions>;

/** Connects a socket.io-client socket and resolves once it is connected (rejects on connect_error). */
export async function connect(url: string, opts: ClientOptions): Promise<Socket> {
  const socket = io(url, { reconnectionDelay: 100, reconnectionDelayMax: 500, ...opts });
  await new Promise<void>((resolve, reject) => {
    // Only the first connection counts: a later failed reconnect attempt must not close the socket.
    const refused = (err: Error) => {
      socket.close();
      reject(err);
    };
    socket.once("connect_error", refused);
    socket.once("connect", () => {
      socket.off("connect_error", refused);
      resolve();
    });
  });
  return socket;
}

/** The error a socket is refused with. */
export function refusal(url: string, opts: ClientOptions): Promise<Error & { data?: { code: string } }> {
  const socket = io(url, { reconnection: false, ...opts });
  return new Promise((resolve) => {
    socket.once("connect_error", (err) => {
      socket.close();
      resolve(err as Error & { data?: { code: string } });
    });
    socket.once("connect", () => {
      socket.close();
      resolve(Object.assign(new Error("connected"), { data: { code: "CONNECTED" } }));
    });
  });
}

/** Arguments of the next `ev` event on `socket`. */
export function next(socket: Socket, ev: string): Promise<unknown[]> {
  return new Promise((resolve) => socket.once(ev, (...args: unknown[]) => resolve(args)));
}

/** Collects every `ev` event as [data, meta]. */
export function collect(socket: Socket, ev: string): { data: unknown; meta: { ch: string; off: string; from?: string; ts: number } }[] {
  const seen: { data: unknown; meta: { ch: string; off: string; from?: string; ts: number } }[] = [];
  socket.on(ev, (data: unknown, meta: { ch: string; off: string; ts: number }) => seen.push({ data, meta }));
  return seen;
}

export { TcpProxy } from "../helpers/tcp-proxy.ts";

export async function apiPublish(server: TestServer, tenant: string, ch: string, ev: string, data: unknown): Promise<string> {
  const res = await server.api("/v1/publish", { method: "POST", json: { tenant, ch, ev, data } });
  if (res.status !== 200) throw new Error(`publish answered ${res.status}: ${await res.text()}`);
  return ((await res.json()) as { off: string }).off;
}

/** A config file with the given namespaces (and optional socketio mapping). */
export function configFile(content: Record<string, unknown>): { path: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), "sb-sio-"));
  const path = join(dir, "config.json");
  writeFileSync(path, JSON.stringify(content));
  return { path, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The two engines every behaviour runs on: embedded, and Redis (a redis-server this file starts). */
export interface EngineUnderTest {
  name: "local" | "redis";
  env(): Record<string, string>;
}

let redis: RedisServer | undefined;
let prefixes = 0;

export const ENGINES: EngineUnderTest[] = [
  { name: "local", env: () => ({}) },
  {
    name: "redis",
    env: () => {
      if (!redis) throw new Error("startEngineDeps() first");
      return { REDIS_URL: redis.url, REDIS_PREFIX: `sio${process.pid}x${++prefixes}` };
    },
  },
];

export async function startEngineDeps(): Promise<void> {
  redis ??= await startRedis();
}

export async function stopEngineDeps(): Promise<void> {
  await redis?.stop();
  redis = undefined;
}
