/**
 * A Switchboard cluster for tests: its own PostgreSQL (one fresh database)
 * and redis-server, and nodes started on them with the same environment.
 * Every process is started here on free ports and stopped by PID.
 */
import { startPostgres, type PostgresServer } from "./postgres.ts";
import { startRedis, type RedisServer } from "./redis.ts";
import { startServer, type TestServer } from "./server.ts";

export interface ClusterOptions {
  /** Names the database and (with the test's PID) the Redis key prefix. */
  name: string;
  /** Settings of every node, on top of DATABASE_URL, REDIS_URL and REDIS_PREFIX. */
  env?: Record<string, string>;
  /** Nodes started at once (default 3). */
  nodes?: number;
  /** Start the first nodes one after another instead of together. */
  oneAtATime?: boolean;
}

export interface TestCluster {
  pg: PostgresServer;
  redis: RedisServer;
  /** The cluster's database. */
  dbUrl: string;
  /** What every node is started with; `startNode()` uses it. */
  env: Record<string, string>;
  /** The first nodes, in start order. */
  nodes: TestServer[];
  /** One more node on the same database and Redis (a restart, a replacement). */
  startNode(): Promise<TestServer>;
  /** `n` more nodes started together. */
  startNodes(n: number): Promise<TestServer[]>;
  /** SIGKILLs every node this cluster ever started that still runs, then stops Redis and PostgreSQL. */
  stop(): Promise<void>;
}

export async function startCluster(opts: ClusterOptions): Promise<TestCluster> {
  const [pgR, redisR] = await Promise.allSettled([startPostgres(), startRedis()]);
  if (pgR.status === "rejected" || redisR.status === "rejected") {
    await Promise.all([pgR.status === "fulfilled" && pgR.value.stop(), redisR.status === "fulfilled" && redisR.value.stop()]);
    throw pgR.status === "rejected" ? pgR.reason : (redisR as PromiseRejectedResult).reason;
  }
  const pg = pgR.value;
  const redis = redisR.value;
  const started: TestServer[] = [];
  const stop = async () => {
    await Promise.all(started.map((n) => n.stop("SIGKILL")));
    await Promise.all([pg.stop(), redis.stop()]);
  };
  try {
    const dbUrl = await pg.createDatabase(opts.name);
    const env = { DATABASE_URL: dbUrl, REDIS_URL: redis.url, REDIS_PREFIX: `${opts.name}${process.pid}`, ...opts.env };
    const startNode = async () => {
      const node = await startServer({ env });
      started.push(node);
      return node;
    };
    const startNodes = (n: number) => Promise.all(Array.from({ length: n }, startNode));
    const count = opts.nodes ?? 3;
    let nodes: TestServer[] = [];
    if (opts.oneAtATime) for (let i = 0; i < count; i++) nodes.push(await startNode());
    else nodes = await startNodes(count);
    return { pg, redis, dbUrl, env, nodes, startNode, startNodes, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
