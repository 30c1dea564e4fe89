/**
 * crossnode: two nodes sharing publications through a redis-server the bench
 * starts itself. The publisher is on node 0; one subscriber group sits on
 * node 0 (same-node), another on node 1 (cross-node), so both latencies are
 * measured under the same load. Then a closed-loop phase measures throughput.
 * bun-raw runs as a single-node reference (both groups on its one node).
 */
import type { LoadWorker } from "../lib/workers.ts";
import type { Phase } from "../load/jobs.ts";
import { startRedis, type RedisServer, type ServerNode, type Target } from "../targets.ts";
import { applyTally, guarded, newResult, type Ctx, type RunResult } from "./common.ts";
import { crossnodeTally } from "./tally.ts";
import { runPubSub } from "./pubsub.ts";

/** `single`: run a clustered target as one node without Redis (its local engine), as the single-node reference. */
export async function crossnodeScenario(t: Target, ctx: Ctx, single = false): Promise<RunResult> {
  // Small enough that 2 nodes + redis + 3 workers do not saturate 2 cores: the p99 delta is only meaningful unsaturated.
  const perGroup = ctx.quick ? 100 : 250;
  const rate = 100;
  const latencyMs = ctx.quick ? 2_000 : 8_000;
  const maxMs = ctx.quick ? 1_500 : 4_000;
  const window = 64;
  const clustered = t.clustered && !single;
  const nodes = clustered ? 2 : 1;
  const res = newResult("crossnode", t.clustered && single ? `${t.name} (1 node)` : t.name, { subscribersPerNode: perGroup, rate, latencyMs, throughputMs: maxMs, window, nodes });
  if (!clustered) res.notes.push("single-node reference: both subscriber groups on the one node, no Redis");
  const servers: ServerNode[] = [];
  const workers: LoadWorker[] = [];
  let redis: RedisServer | null = null;
  const r = await guarded(res, servers, workers, async () => {
    if (clustered) redis = await startRedis();
    const started = await t.start({ nodes, redisUrl: redis?.url }).catch((e: Error) => {
      throw new Error(`could not start ${nodes} ${t.name} node(s) with REDIS_URL=${redis?.url}: ${e.message}`);
    });
    servers.push(...started);
    const ep0 = { host: "127.0.0.1", port: servers[0].port };
    const ep1 = { host: "127.0.0.1", port: servers[nodes - 1].port };
    const phases: Phase[] = [
      { name: "warmup", fromMs: 0, toMs: 1000, rate: 20 },
      { name: `${rate}/s`, fromMs: 1000, toMs: 1000 + latencyMs, rate },
      { name: "max", fromMs: 1500 + latencyMs, toMs: 1500 + latencyMs + maxMs, window },
    ];
    const pids = [...servers.map((s) => s.pid), ...(redis ? [(redis as RedisServer).pid] : [])];
    const o = await runPubSub(
      t,
      "cross",
      [
        { name: "same", ep: ep0, subscribers: perGroup, workers: 1 },
        { name: "cross", ep: ep1, subscribers: perGroup, workers: 1 },
      ],
      ep0,
      phases,
      workers,
      pids,
    );
    res.cpu = o.cpu;
    applyTally(res, crossnodeTally(o, rate, perGroup));
    if (o.groups.cross[`${rate}/s`].received === 0) throw new Error("no publication crossed from node 0 to node 1");
  });
  if (redis) await (redis as RedisServer).stop();
  return r;
}
