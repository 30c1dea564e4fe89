/**
 * The deployments the feature tests run on: the embedded node (local engine,
 * SQLite records), one node on PostgreSQL, and two nodes on Redis +
 * PostgreSQL (and, for the chat suite, that pair with one node on Node).
 * Every process is started here and stopped by PID.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startPostgres, type PostgresServer } from "../helpers/postgres.ts";
import { startRedis, type RedisServer } from "../helpers/redis.ts";
import { startServer, type Runtime, type TestServer } from "../helpers/server.ts";

/** Chat keeps only 5 messages in the engine window, so paging back must reach the store. */
export const FEATURE_NAMESPACES = {
  chat: { subscribe: ["member"], publish: ["member"], history: { size: 5, ttlSec: 3600 }, retention: 30 },
  user: { subscribe: ["self"], publish: ["server"], history: { size: 100, ttlSec: 3600 } },
  room: { subscribe: ["claim:rooms"], publish: ["claim:rooms"], history: { size: 100, ttlSec: 3600 }, presence: true, joinLeave: true },
};

export interface Deployment {
  /** Two entry points: the same node twice for single-node setups. */
  a: TestServer;
  b: TestServer;
  postgres?: PostgresServer;
  /** Stops every process (Switchboard, Redis, PostgreSQL) and starts them again on the same data. */
  restartAll(): Promise<void>;
  stop(): Promise<void>;
}

export interface Setup {
  name: string;
  start(): Promise<Deployment>;
}

let seq = 0;

function policy(): { path: string; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), "sb-feature-"));
  const path = join(dir, "policy.json");
  writeFileSync(path, JSON.stringify({ namespaces: FEATURE_NAMESPACES }));
  return { path, dir };
}

const baseEnv = (path: string): Record<string, string> => ({ SWITCHBOARD_CONFIG: path, WS_RATE_LIMIT_PER_SEC: "0", PRESENCE_TTL_SEC: "3", DATABASE_TIMEOUT_MS: "1000" });

export const SETUPS: Setup[] = [
  {
    name: "local engine + SQLite (one node)",
    async start() {
      const p = policy();
      const dataDir = join(p.dir, "data");
      const env = baseEnv(p.path);
      let node = await startServer({ env, dataDir, keepData: true });
      const d: Deployment = {
        a: node,
        b: node,
        async restartAll() {
          await node.stop();
          node = await startServer({ env, dataDir, keepData: true });
          d.a = d.b = node;
        },
        async stop() {
          await node.stop();
          rmSync(p.dir, { recursive: true, force: true });
        },
      };
      return d;
    },
  },
  {
    name: "local engine + PostgreSQL (one node)",
    async start() {
      const p = policy();
      const pg = await startPostgres();
      const dataDir = join(p.dir, "data");
      const env = { ...baseEnv(p.path), DATABASE_URL: await pg.createDatabase(`f${++seq}`) };
      let node = await startServer({ env, dataDir, keepData: true });
      const d: Deployment = {
        a: node,
        b: node,
        postgres: pg,
        async restartAll() {
          await node.stop();
          await pg.halt();
          await pg.restart();
          node = await startServer({ env, dataDir, keepData: true });
          d.a = d.b = node;
        },
        async stop() {
          await node.stop();
          await pg.stop();
          rmSync(p.dir, { recursive: true, force: true });
        },
      };
      return d;
    },
  },
  redisPostgres("Redis + PostgreSQL (two nodes)", ["bun", "bun"]),
];

/** Two nodes on one Redis and one PostgreSQL, each on the runtime given for it. */
function redisPostgres(name: string, runtimes: readonly [Runtime, Runtime]): Setup {
  return {
    name,
    async start() {
      const p = policy();
      const pg = await startPostgres();
      const redis: RedisServer = await startRedis({ appendonly: true, appendfsync: "always" });
      const env = { ...baseEnv(p.path), DATABASE_URL: await pg.createDatabase(`f${++seq}`), REDIS_URL: redis.url, REDIS_PREFIX: `ft${process.pid}x${seq}`, REDIS_COMMAND_TIMEOUT_MS: "1000" };
      let [a, b] = await Promise.all(runtimes.map((runtime) => startServer({ runtime, env })));
      const d: Deployment = {
        a: a!,
        b: b!,
        postgres: pg,
        async restartAll() {
          await Promise.all([a!.stop(), b!.stop()]);
          await pg.halt();
          await redis.kill();
          await redis.restart();
          await pg.restart();
          [a, b] = await Promise.all(runtimes.map((runtime) => startServer({ runtime, env })));
          d.a = a!;
          d.b = b!;
        },
        async stop() {
          await Promise.all([a!.stop(), b!.stop()]);
          await redis.stop();
          await pg.stop();
          rmSync(p.dir, { recursive: true, force: true });
        },
      };
      return d;
    },
  };
}

/** The Redis + PostgreSQL deployment with its first node on Node (node-postgres, uWebSockets.js) and its second on Bun. */
export const MIXED_RUNTIME_SETUP: Setup = redisPostgres("Redis + PostgreSQL (a Node node and a Bun node)", ["node", "bun"]);
