/** Switchboard nodes on a shared Redis (standalone or Cluster) for the cross-node tests. */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startRedis, startRedisCluster, type RedisCluster, type RedisOptions, type RedisServer } from "../helpers/redis.ts";
import { startServer, type Runtime, type TestServer } from "../helpers/server.ts";
import type { Frame, TestClient } from "../helpers/ws-client.ts";

export type BackendKind = "standalone" | "cluster";

export interface Backend {
  kind: BackendKind;
  /** REDIS_URL or REDIS_CLUSTER_NODES, plus a unique prefix. */
  env: Record<string, string>;
  redis?: RedisServer;
  cluster?: RedisCluster;
  stop(): Promise<void>;
}

let prefixSeq = 0;

export async function startBackend(kind: BackendKind, opts: Omit<RedisOptions, "cluster" | "port"> = {}): Promise<Backend> {
  const prefix = `it${process.pid}x${++prefixSeq}`;
  if (kind === "cluster") {
    const cluster = await startRedisCluster(opts);
    return { kind, cluster, env: { REDIS_CLUSTER_NODES: cluster.nodesEnv, REDIS_PREFIX: prefix }, stop: () => cluster.stop() };
  }
  const redis = await startRedis(opts);
  return { kind, redis, env: { REDIS_URL: redis.url, REDIS_PREFIX: prefix }, stop: () => redis.stop() };
}

/** A policy file: rooms with a long history and join/leave, personal channels. */
export function policyFile(historySize = 20_000): { path: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), "sb-policy-"));
  const path = join(dir, "policy.json");
  writeFileSync(
    path,
    JSON.stringify({
      namespaces: {
        room: { subscribe: ["claim:rooms"], publish: ["claim:rooms"], history: { size: historySize, ttlSec: 3600 }, presence: true, joinLeave: true },
        user: { subscribe: ["self"], publish: ["server"], history: { size: 1000, ttlSec: 3600 } },
      },
    }),
  );
  return { path, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function nodeEnv(backend: Backend, policyPath: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    ...backend.env,
    SWITCHBOARD_CONFIG: policyPath,
    WS_RATE_LIMIT_PER_SEC: "0",
    PRESENCE_TTL_SEC: "3",
    REDIS_COMMAND_TIMEOUT_MS: "500",
    ...extra,
  };
}

/** `n` nodes; node i runs on runtimes[i % runtimes.length] (all Bun unless told: a mixed cluster when both are listed). */
export async function startNodes(n: number, env: Record<string, string>, runtimes: readonly Runtime[] = ["bun"]): Promise<TestServer[]> {
  return Promise.all(Array.from({ length: n }, (_, i) => startServer({ env, runtime: runtimes[i % runtimes.length] })));
}

/** Resolves when `n` frames matching `pred` arrived (counting already received ones), without rescanning. */
export function countReached(c: TestClient, pred: (f: Frame) => boolean, n: number, timeoutMs = 20_000): Promise<Frame> {
  let seen = 0;
  return c.next((f) => pred(f) && ++seen >= n, timeoutMs);
}

export const isMsg = (ch: string) => (f: Frame) => f.t === "msg" && f.ch === ch;

/** Polls GET /health/ready until it answers `status` (a condition, not a fixed sleep). */
export async function readyStatus(s: TestServer, status: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await fetch(s.url + "/health/ready").catch(() => undefined);
    if (r?.status === status) return;
    if (Date.now() > deadline) throw new Error(`/health/ready did not turn ${status} within ${timeoutMs} ms (last ${r?.status})`);
    await Bun.sleep(50);
  }
}
