/**
 * connect: authenticated connections opened per second, then resident memory
 * per idle connection holding two subscriptions (a room and the user's own
 * channel), read as the server's VmRSS delta divided by the connections.
 */
import { sleep } from "../lib/clock.ts";
import { mergeHistograms } from "../lib/latency.ts";
import { CpuMeter, saturation } from "../lib/procs.ts";
import { LoadWorker } from "../lib/workers.ts";
import type { ServerNode, Target } from "../targets.ts";
import { authFor, guarded, latencyOf, newResult, pidsOf, soon, spread, type Ctx, type RunResult } from "./common.ts";

export async function connectScenario(t: Target, ctx: Ctx): Promise<RunResult> {
  const n = ctx.quick ? 2_000 : 15_000;
  const res = newResult("connect", t.name, { connections: n, subscriptionsEach: 2, workers: ctx.workers, concurrencyPerWorker: 128 });
  const servers: ServerNode[] = [];
  const workers: LoadWorker[] = [];
  return guarded(res, servers, workers, async () => {
    servers.push(...(await t.start({ nodes: 1 })));
    const srv = servers[0];
    spread(n, ctx.workers).forEach((k, i) =>
      workers.push(LoadWorker.start(`connect-w${i}`, { kind: "connect", dialect: t.dialect, ep: { host: "127.0.0.1", port: srv.port }, auth: authFor(t, `c${i}`), n: k, ch: "room:idle", concurrency: 128 })),
    );
    await Promise.all(workers.map((w) => w.waitFor("prepared", 60_000)));
    await sleep(300);
    const rss0 = srv.rss();
    const meter = new CpuMeter(pidsOf(servers, workers));
    meter.start();
    workers.forEach((w) => w.send({ cmd: "go", startAt: soon(100) }));
    const ready = await Promise.all(workers.map((w) => w.waitFor("ready", 180_000)));
    const cpu = meter.stop();
    res.cpu.main = { ...cpu, saturated: saturation(cpu, workers.length) };
    await sleep(1000);
    const rss1 = srv.rss();
    const from = Math.min(...ready.map((r) => r.connectFrom));
    const connTo = Math.max(...ready.map((r) => r.connectTo));
    const subTo = Math.max(...ready.map((r) => r.subTo));
    const failedConn = ready.reduce((s, r) => s + r.connectFailed, 0);
    const failedSub = ready.reduce((s, r) => s + r.subFailed, 0);
    const okConns = n - failedConn - failedSub;
    res.metrics = {
      connections: okConns,
      connectFailed: failedConn,
      subscribeFailed: failedSub,
      connectsPerSec: Math.round((n - failedConn) / ((connTo - from) / 1000)),
      subscriptionsPerSec: Math.round((2 * (n - failedConn - failedSub)) / ((subTo - connTo) / 1000)),
      rssBaselineBytes: rss0,
      rssLoadedBytes: rss1,
      rssPerConnBytes: okConns > 0 ? Math.round((rss1 - rss0) / okConns) : NaN,
    };
    res.latency.handshake = latencyOf(mergeHistograms(ready.map((r) => r.handshake)));
    const firstError = ready.find((r) => r.firstError)?.firstError;
    if (firstError) res.notes.push(`first failure: ${firstError}`);
    if (okConns === 0) throw new Error(`no connection succeeded: ${firstError}`);
    workers.forEach((w) => w.send({ cmd: "stop" }));
    await Promise.all(workers.map((w) => w.waitFor("result", 30_000)));
  });
}
