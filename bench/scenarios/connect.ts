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
import { applyTally, authFor, guarded, latencyOf, newResult, pidsOf, soon, spread, type Ctx, type RunResult } from "./common.ts";
import { connectTally, type ConnectReady } from "./tally.ts";

export async function connectScenario(t: Target, ctx: Ctx): Promise<RunResult> {
  const n = ctx.quick ? 2_000 : 15_000;
  const res = newResult("connect", t.name, { connections: n, subscriptionsEach: 2, workers: ctx.workers, concurrencyPerWorker: 128 });
  const servers: ServerNode[] = [];
  const workers: LoadWorker[] = [];
  return guarded(res, servers, workers, async () => {
    servers.push(...(await t.start({ nodes: 1 })));
    const srv = servers[0];
    spread(n, ctx.workers).forEach((k, i) =>
      workers.push(LoadWorker.start(`connect-w${i}`, { kind: "connect", dialect: t.dialect, ep: { host: "127.0.0.1", port: srv.port }, auth: authFor(t, `c${i}`), users: `c${i}-`, n: k, ch: "room:idle", concurrency: 128 })),
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
    res.latency.handshake = latencyOf(mergeHistograms(ready.map((r) => r.handshake)));
    // The workers count their open connections when told to stop, right after the RSS read.
    workers.forEach((w) => w.send({ cmd: "stop" }));
    const results = await Promise.all(workers.map((w) => w.waitFor("result", 30_000)));
    const alive = results.reduce((s, r) => s + r.alive, 0);
    applyTally(res, connectTally(ready as unknown as ConnectReady[], n, alive, rss0, rss1));
    if (res.metrics.connections === 0) throw new Error(`no connection succeeded: ${ready.find((r) => r.firstError)?.firstError}`);
  });
}
