/**
 * WORKERS=N: N real Switchboard processes on one port (SO_REUSEPORT) on a
 * real Redis and PostgreSQL: the kernel hands connections to both, a
 * publication through either reaches subscribers on both, SIGTERM drains
 * every process and the node exits 0. Without the shared engine and store
 * the option is refused at start.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { startPostgres, type PostgresServer } from "../helpers/postgres.ts";
import { startRedis, type RedisServer } from "../helpers/redis.ts";
import { TEST_API_KEY, TEST_SECRET, token } from "../helpers/server.ts";
import { until } from "../helpers/until.ts";
import { TestClient, type Frame } from "../helpers/ws-client.ts";

const ROOT = resolve(import.meta.dir, "../..");

interface Node {
  proc: ReturnType<typeof Bun.spawn>;
  logs: Record<string, unknown>[];
  stderr: () => string;
  dataDir: string;
}

function startNode(env: Record<string, string>): Node {
  const dataDir = mkdtempSync(join(tmpdir(), "sb-workers-"));
  const proc = Bun.spawn([process.execPath, join(ROOT, "src/main.ts")], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", NODE_ENV: "test", HOST: "127.0.0.1", PORT: "0", JWT_SECRET: TEST_SECRET, API_KEYS: TEST_API_KEY, DATA_DIR: dataDir, LOG_LEVEL: "info", ...env },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const logs: Record<string, unknown>[] = [];
  let err = "";
  void (async () => {
    let buf = "";
    const dec = new TextDecoder();
    for await (const chunk of proc.stdout as ReadableStream<Uint8Array>) {
      buf += dec.decode(chunk, { stream: true });
      for (let nl = buf.indexOf("\n"); nl >= 0; nl = buf.indexOf("\n")) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        try {
          logs.push(JSON.parse(line));
        } catch {
          logs.push({ raw: line });
        }
      }
    }
  })();
  void (async () => {
    const dec = new TextDecoder();
    for await (const chunk of proc.stderr as ReadableStream<Uint8Array>) err += dec.decode(chunk, { stream: true });
  })();
  return { proc, logs, stderr: () => err, dataDir };
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe("WORKERS: several processes on one port", () => {
  let redis: RedisServer;
  let pg: PostgresServer;
  beforeAll(async () => {
    [redis, pg] = await Promise.all([startRedis(), startPostgres()]);
  }, 60_000);
  afterAll(async () => {
    await Promise.all([redis?.stop(), pg?.stop()]);
  });

  test("without Redis, or without PostgreSQL, the option is refused at start with a line saying why", async () => {
    const embedded = startNode({ WORKERS: "2" });
    expect(await embedded.proc.exited).toBe(1);
    expect(embedded.stderr()).toContain("WORKERS: 2 processes on one port need the Redis engine (set REDIS_URL or REDIS_CLUSTER_NODES); the embedded engine is one node per DATA_DIR");
    expect(embedded.stderr()).toContain("need DATABASE_URL");
    const reuse = startNode({ REUSE_PORT: "true", REDIS_URL: redis.url });
    expect(await reuse.proc.exited).toBe(1);
    expect(reuse.stderr()).toContain("REUSE_PORT: processes sharing a port need DATABASE_URL (PostgreSQL); the SQLite record store is one process per DATA_DIR");
    expect(reuse.stderr()).not.toContain("Redis engine");
    for (const n of [embedded, reuse]) rmSync(n.dataDir, { recursive: true, force: true });
  }, 30_000);

  test("two processes share the port: both get connections, a publication through either reaches both, SIGTERM drains both and exits 0", async () => {
    const db = await pg.createDatabase("workers_test");
    const node = startNode({ WORKERS: "2", NODE_ID: "wk", REDIS_URL: redis.url, REDIS_PREFIX: `wk${process.pid}`, DATABASE_URL: db });
    const clients: TestClient[] = [];
    try {
      const listening = await until(async () => {
        const ls = node.logs.filter((l) => l.msg === "listening");
        return ls.length === 2 ? ls : node.proc.exitCode !== null ? (() => { throw new Error(`node exited: ${node.stderr()}`); })() : undefined;
      }, "both processes listening", 60_000);
      expect(listening.map((l) => l.node).sort()).toEqual(["wk-0", "wk-1"]);
      const port = listening[0].port as number;
      expect(listening[1].port).toBe(port);
      const pids = node.logs.filter((l) => l.msg === "worker started").map((l) => l.pid as number);
      expect(pids).toHaveLength(2);

      // The kernel spreads connections over the two processes by their source port: connect until both answered.
      const byNode = new Map<string, TestClient>();
      const jwt = await token({ sub: "nurse", tenant: "t1", rooms: ["ward"] });
      for (let i = 0; i < 200 && byNode.size < 2; i++) {
        const { client, hello } = await TestClient.auth(`ws://127.0.0.1:${port}/v1/ws`, jwt);
        clients.push(client);
        if (!byNode.has(hello.node)) byNode.set(hello.node, client);
        else client.close();
      }
      expect([...byNode.keys()].sort()).toEqual(["wk-0", "wk-1"]);
      const a = byNode.get("wk-0")!;
      const b = byNode.get("wk-1")!;
      for (const c of [a, b]) expect(await c.request({ t: "sub", ch: "room:ward" })).toMatchObject({ t: "ok" });

      const isMsg = (text: string) => (f: Frame) => f.t === "msg" && f.ch === "room:ward" && f.data?.text === text;
      expect(await a.request({ t: "pub", ch: "room:ward", ev: "chat", data: { text: "from wk-0" } })).toMatchObject({ t: "ok" });
      await Promise.all([a.next(isMsg("from wk-0"), 15_000), b.next(isMsg("from wk-0"), 15_000)]);
      expect(await b.request({ t: "pub", ch: "room:ward", ev: "chat", data: { text: "from wk-1" } })).toMatchObject({ t: "ok" });
      await Promise.all([a.next(isMsg("from wk-1"), 15_000), b.next(isMsg("from wk-1"), 15_000)]);

      node.proc.kill("SIGTERM");
      // Both processes drain: each client is told to reconnect and closed with 1012 (service restart).
      for (const c of [a, b]) {
        expect(await c.next((f) => f.t === "reconnect", 20_000)).toMatchObject({ t: "reconnect" });
        expect((await c.closed).code).toBe(1012);
      }
      expect(await node.proc.exited).toBe(0);
      expect(pids.filter(alive)).toEqual([]);
      expect(node.logs.filter((l) => l.msg === "stopped").map((l) => l.node).sort()).toEqual(["wk-0", "wk-1"]);
    } finally {
      for (const c of clients) c.close();
      if (node.proc.exitCode === null) node.proc.kill("SIGKILL");
      rmSync(node.dataDir, { recursive: true, force: true });
    }
  }, 120_000);
});
