/**
 * The engine contract's harnesses, shared by the Bun test files
 * (local.test.ts, redis.test.ts) and the Node entries (*.node.ts) that run
 * the same contract on Node. Nothing here may need Bun.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LocalEngine } from "../../src/engine/local/local-engine.ts";
import { RedisEngine, type RedisEngineOptions } from "../../src/engine/redis/redis-engine.ts";
import type { Logger } from "../../src/observability/logger.ts";
import type { EngineHarness, EngineNode } from "./contract.ts";
import { RecordingSink } from "./recording-sink.ts";

/** One LocalEngine in a fresh data dir. */
export function localHarness(logger: Logger): () => Promise<EngineHarness> {
  return async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "sb-local-engine-"));
    const nodes: EngineNode[] = [];
    return {
      async node() {
        const sink = new RecordingSink();
        const engine = new LocalEngine({ dataDir, nodeId: "n1", logger });
        await engine.start(sink);
        const n = { engine, sink };
        nodes.push(n);
        return n;
      },
      async cleanup() {
        await Promise.all(nodes.map((n) => n.engine.stop()));
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
  };
}

export function redisOptions(url: string, prefix: string, nodeId: string, logger: Logger, over: Partial<RedisEngineOptions> = {}): RedisEngineOptions {
  return {
    url,
    prefix,
    nodeId,
    shards: 4,
    commandTimeoutMs: 300,
    presenceTtlSec: 1.5,
    streamMaxLen: 10_000,
    readBlockMs: 200,
    readCount: 500,
    logger,
    ...over,
  };
}

export async function startRedisNode(options: RedisEngineOptions): Promise<EngineNode & { engine: RedisEngine }> {
  const sink = new RecordingSink();
  const engine = new RedisEngine(options);
  await engine.start(sink);
  return { engine, sink };
}

let seq = 0;

/** A key prefix no other test (in any process) uses. */
export function uniquePrefix(): string {
  return `t${process.pid}x${++seq}`;
}

/** RedisEngine nodes on the Redis at `url`, a fresh key prefix per test. */
export function redisHarness(url: () => string, logger: Logger): () => Promise<EngineHarness> {
  return async () => {
    const prefix = uniquePrefix();
    const nodes: EngineNode[] = [];
    const start = async () => {
      const n = await startRedisNode(redisOptions(url(), prefix, `n${nodes.length}`, logger));
      nodes.push(n);
      return n;
    };
    return {
      node: start,
      peer: start,
      async cleanup() {
        await Promise.all(nodes.map((n) => n.engine.stop()));
      },
    };
  };
}
