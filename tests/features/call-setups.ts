/**
 * The deployments the call tests run on: the embedded node (local engine,
 * SQLite records; three entry points that are the same node) and three nodes
 * on Redis + PostgreSQL. Every process is started here and stopped by PID.
 */
import { startPostgres } from "../helpers/postgres.ts";
import { startRedis } from "../helpers/redis.ts";
import { startServer, type TestServer } from "../helpers/server.ts";

export const TURN_SECRET = "turn-shared-secret-for-tests";

/** Calls' own settings; the chat frame limit stays at its default (50/s, burst 100) on purpose. */
export const CALL_ENV: Record<string, string> = {
  CALL_GRACE_MS: "8000",
  CALL_STUN_URLS: "stun:stun.example.org:3478",
  CALL_TURN_URLS: "turn:turn.example.org:3478?transport=udp,turns:turn.example.org:5349",
  CALL_TURN_SECRET: TURN_SECRET,
  CALL_TURN_TTL_SEC: "600",
  PRESENCE_TTL_SEC: "3",
};

export interface CallDeployment {
  nodes: [TestServer, TestServer, TestServer];
  stop(): Promise<void>;
}

export interface CallSetup {
  name: string;
  start(): Promise<CallDeployment>;
}

let seq = 0;

export const CALL_SETUPS: CallSetup[] = [
  {
    name: "local engine + SQLite (one node)",
    async start() {
      const node = await startServer({ env: CALL_ENV });
      return { nodes: [node, node, node], stop: async () => void (await node.stop()) };
    },
  },
  {
    name: "Redis + PostgreSQL (three nodes)",
    async start() {
      const pg = await startPostgres();
      const redis = await startRedis();
      const env = { ...CALL_ENV, DATABASE_URL: await pg.createDatabase(`calls${++seq}`), REDIS_URL: redis.url, REDIS_PREFIX: `calls${process.pid}x${seq}` };
      const nodes = (await Promise.all([startServer({ env }), startServer({ env }), startServer({ env })])) as [TestServer, TestServer, TestServer];
      return {
        nodes,
        async stop() {
          await Promise.all(nodes.map((n) => n.stop()));
          await redis.stop();
          await pg.stop();
        },
      };
    },
  },
];
