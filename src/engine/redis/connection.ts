import { Cluster, Redis, type ClusterOptions, type RedisOptions } from "ioredis";

/** What the engine uses of a client; both a single Redis and a Cluster fit. */
export type RedisClient = Redis | Cluster;

export interface ConnectionTarget {
  url?: string;
  clusterNodes?: string[];
  /** `host:port` of Redis Sentinels; the primary of `sentinelName` is asked of them (and again after a failover). */
  sentinels?: string[];
  sentinelName?: string;
  /** Password of the Sentinel-discovered primary (a URL carries its own). */
  password?: string;
  /** PEM CA bundle that a `rediss://` server's certificate must chain to (default: the system's). */
  tlsCa?: string;
}

function hostPort(hp: string): { host: string; port: number } {
  const i = hp.lastIndexOf(":");
  return { host: hp.slice(0, i).replace(/^\[|\]$/g, ""), port: Number(hp.slice(i + 1)) };
}

/** Reconnect backoff: 50 ms doubling to 2 s, with jitter so nodes do not reconnect in lockstep. */
export function reconnectDelayMs(attempt: number): number {
  return Math.min(50 * 2 ** Math.min(attempt, 10), 2000) + Math.floor(Math.random() * 100);
}

/**
 * Commands fail fast instead of queueing while Redis is away: no offline
 * queue, no retry of in-flight commands after a reconnect (with
 * maxRetriesPerRequest 0 they are rejected when the connection closes, and
 * autoResendUnfulfilledCommands false drops them instead of re-sending on
 * ready), a per-command timeout. Cluster mode may still re-send a command
 * after a failover (retryDelayOnFailover); publishes are idempotent per
 * token (see in-doubt.ts), so a re-sent one cannot publish twice. `blockingMs` switches to a
 * reader connection: no command timeout, a client-side guard on XREAD BLOCK
 * instead, so a frozen Redis cannot stall the read loop forever.
 */
export function createClient(target: ConnectionTarget, name: string, timeoutMs: number, blockingMs?: number): RedisClient {
  const common: RedisOptions = {
    lazyConnect: true,
    protocol: 2,
    connectionName: name,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    connectTimeout: Math.max(timeoutMs * 3, 2000),
    ...(blockingMs === undefined
      ? { commandTimeout: timeoutMs }
      : { blockingTimeout: blockingMs + timeoutMs, blockingTimeoutGrace: timeoutMs }),
  };
  if (target.clusterNodes && target.clusterNodes.length > 0) {
    const nodes = target.clusterNodes.map(hostPort);
    const opts: ClusterOptions = {
      lazyConnect: true,
      enableOfflineQueue: false,
      enableAutoPipelining: blockingMs === undefined,
      clusterRetryStrategy: (times) => reconnectDelayMs(times),
      maxRedirections: 8,
      redisOptions: common,
    };
    return new Cluster(nodes, opts);
  }
  if (target.sentinels && target.sentinels.length > 0) {
    return new Redis({
      ...common,
      sentinels: target.sentinels.map(hostPort),
      name: target.sentinelName,
      password: target.password,
      enableOfflineQueue: false,
      enableAutoPipelining: blockingMs === undefined,
      retryStrategy: (times) => reconnectDelayMs(times),
      sentinelRetryStrategy: (times) => reconnectDelayMs(times),
    });
  }
  if (!target.url) throw new TypeError("RedisEngine needs url, clusterNodes or sentinels");
  return new Redis(target.url, {
    ...common,
    enableOfflineQueue: false,
    enableAutoPipelining: blockingMs === undefined,
    retryStrategy: (times) => reconnectDelayMs(times),
    ...(target.tlsCa !== undefined ? { tls: { ca: target.tlsCa } } : {}),
  });
}

/** Resolves when the client is ready; rejects after `timeoutMs` or on the first connection error. */
export async function connectWithin(client: RedisClient, timeoutMs: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`not ready within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([client.connect(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
