/**
 * connect-workers: one node as 4 Switchboard processes on one port
 * (WORKERS=4, SO_REUSEPORT, Redis engine, PostgreSQL records), holding more
 * authenticated idle connections than one process's file limit allows
 * (60,000 full; 20,000 per process here). Load workers (15,000 connections
 * each at most) connect to different 127.0.0.x addresses of the node: Bun's
 * client cannot pick its source address, and each destination address has
 * its own ephemeral-port range (~28,000 on Linux's default). Each connection
 * subscribes to `room:idle` and `user:<sub>`; then 5 publications to
 * `room:idle` (1/s) must reach every one of them, across the 4 processes.
 *
 * Memory per connection is the processes' VmRSS growth over the connections
 * alive; the kernel's side is the machine's `Slab` growth in /proc/meminfo
 * over the sockets opened (client and server end: both are on this machine).
 */
import { readFileSync } from "node:fs";
import { nowMs, sleep } from "../lib/clock.ts";
import { mergeHistograms } from "../lib/latency.ts";
import { CpuMeter, rssBytes, saturation } from "../lib/procs.ts";
import { LoadWorker } from "../lib/workers.ts";
import { startRedis, type RedisServer, type ServerNode, type Target } from "../targets.ts";
import { applyTally, authFor, guarded, latencyOf, newResult, soon, spread, type Ctx, type RunResult } from "./common.ts";
import { connectWorkersTally, type ConnectReady } from "./tally.ts";

const PROCESSES = 4;
const PER_LOAD_WORKER = 15_000;
const ADDRESSES = ["127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4"];
const FANOUT_PUBLICATIONS = 5;

/** `Slab:` of /proc/meminfo in bytes (kernel objects, TCP sockets among them). */
function slabBytes(): number {
  const m = /^Slab:\s+(\d+) kB/m.exec(readFileSync("/proc/meminfo", "utf8"));
  return m ? Number(m[1]) * 1024 : NaN;
}

export async function connectWorkersScenario(t: Target, ctx: Ctx): Promise<RunResult> {
  const n = ctx.connections ?? (ctx.quick ? 8_000 : 60_000);
  const loadWorkers = Math.max(ctx.workers, Math.ceil(n / PER_LOAD_WORKER));
  const res = newResult("connect-workers", t.name, { connections: n, processes: PROCESSES, loadWorkers, addresses: ADDRESSES.length, subscriptionsEach: 2, fanoutPublications: FANOUT_PUBLICATIONS, redisCommandTimeoutMs: 10_000 });
  if (t.name !== "switchboard") throw new Error("connect-workers runs the switchboard target only (WORKERS is a Switchboard option)");
  const servers: ServerNode[] = [];
  const workers: LoadWorker[] = [];
  let redis: RedisServer | undefined;
  let pg: { url: string; stop(): Promise<void> } | undefined;
  const out = await guarded(res, servers, workers, async () => {
    redis = await startRedis();
    const { startPostgres } = await import("../../tests/helpers/postgres.ts");
    pg = await startPostgres();
    // Each connect takes a connection lease in Redis. On a shared 2-core machine redis-server is starved for
    // seconds at a time, and the default 1 s command timeout then refuses connects (as it should in
    // production); this scenario measures capacity and memory, so it gives Redis 10 s.
    const env = { REDIS_COMMAND_TIMEOUT_MS: "10000" };
    servers.push(...(await t.start({ nodes: 1, redisUrl: redis.url, workers: PROCESSES, host: "0.0.0.0", databaseUrl: pg.url, env })));
    const srv = servers[0];
    const pids = srv.workerPids ?? [];
    const rssAll = () => pids.map(rssBytes);
    await sleep(500);
    const rss0 = rssAll();
    const slab0 = slabBytes();
    spread(n, loadWorkers).forEach((k, i) =>
      workers.push(LoadWorker.start(`cw-w${i}`, { kind: "connect", listen: true, dialect: t.dialect, ep: { host: ADDRESSES[i % ADDRESSES.length], port: srv.port }, auth: authFor(t, `cw${i}`), n: k, ch: "room:idle", concurrency: 128 })),
    );
    await Promise.all(workers.map((w) => w.waitFor("prepared", 120_000)));
    const meter = new CpuMeter([...pids.map((pid) => ({ pid, role: "server" as const })), ...workers.map((w) => ({ pid: w.pid, role: "client" as const }))]);
    meter.start();
    workers.forEach((w) => w.send({ cmd: "go", startAt: soon(100) }));
    const ready = await Promise.all(workers.map((w) => w.waitFor("ready", 600_000)));
    const cpu = meter.stop();
    res.cpu.main = { ...cpu, saturated: saturation(cpu, workers.length) };
    await sleep(2000);
    const rss1 = rssAll();
    const slab1 = slabBytes();
    ctx.log(`connect-workers: ${n} connections open; RSS per process ${rss1.map((b) => `${(b / 2 ** 20).toFixed(0)} MiB`).join(", ")}`);

    const pub = LoadWorker.start("cw-pub", { kind: "publish", dialect: t.dialect, ep: { host: ADDRESSES[0], port: srv.port }, auth: authFor(t, "cwpub"), ch: "room:idle" });
    workers.push(pub);
    await pub.waitFor("ready", 30_000);
    const t0 = Math.round(nowMs() + 300);
    pub.send({ cmd: "go", startAt: t0, phases: [{ name: "fanout", fromMs: t0, toMs: t0 + FANOUT_PUBLICATIONS * 1000, rate: 1 }] });
    await sleep(t0 + FANOUT_PUBLICATIONS * 1000 + 5000 - nowMs()); // the last publication's deliveries to every connection
    pub.send({ cmd: "stop" });
    const pr = await pub.waitFor("result", 30_000);
    workers.filter((w) => w !== pub).forEach((w) => w.send({ cmd: "stop" }));
    const results = await Promise.all(workers.filter((w) => w !== pub).map((w) => w.waitFor("result", 120_000)));
    res.latency.fanout = latencyOf(mergeHistograms(results.map((r) => r.hist)));
    applyTally(
      res,
      connectWorkersTally({
        ready: ready as unknown as ConnectReady[],
        n,
        results: results as unknown as { alive: number; received: number; tally: import("../load/delivery-check.ts").DeliveryTally; negative: number }[],
        published: pr.phases[0],
        rss0,
        rss1,
        slabDelta: slab1 - slab0,
      }),
    );
  });
  await pg?.stop().catch(() => {});
  await redis?.stop().catch(() => {});
  return out;
}
