/**
 * http-publish: POST /v1/publish requests per second and request latency
 * from closed-loop keep-alive clients (service time, so this is not a
 * coordinated-omission-free figure), with a few WebSocket subscribers whose
 * delivery latency (HTTP request start → frame received) is recorded too.
 */
import { sleep } from "../lib/clock.ts";
import { mergeHistograms } from "../lib/latency.ts";
import { CpuMeter } from "../lib/procs.ts";
import { LoadWorker } from "../lib/workers.ts";
import { ROOM, type ServerNode, type Target } from "../targets.ts";
import { applyTally, authFor, guarded, measureCpu, newResult, pidsOf, soon, type Ctx, type RunResult } from "./common.ts";
import { httpTally, type HttpWorkerResult } from "./tally.ts";

export async function httpPublishScenario(t: Target, ctx: Ctx): Promise<RunResult> {
  const concurrency = 16;
  const subscribers = 8;
  const warmupMs = 1000;
  const durationMs = ctx.quick ? 2000 : 6000;
  const res = newResult("http-publish", t.name, { httpWorkers: ctx.workers, concurrencyPerWorker: concurrency, subscribers, warmupMs, durationMs });
  const servers: ServerNode[] = [];
  const workers: LoadWorker[] = [];
  return guarded(res, servers, workers, async () => {
    servers.push(...(await t.start({ nodes: 1 })));
    const port = servers[0].port;
    const sub = LoadWorker.start("http-subs", { kind: "listen", dialect: t.dialect, ep: { host: "127.0.0.1", port }, auth: authFor(t, "hs"), n: subscribers, ch: ROOM });
    workers.push(sub);
    const posters = Array.from({ length: ctx.workers }, (_, i) =>
      LoadWorker.start(`http-w${i}`, { kind: "http", url: `http://127.0.0.1:${port}/v1/publish`, apiKey: t.apiKey, tenant: t.tenant, ch: ROOM, concurrency, base: i * concurrency }),
    );
    workers.push(...posters);
    await Promise.all(workers.map((w) => w.waitFor("ready", 60_000)));
    const startAt = soon(200);
    const go = { cmd: "go", startAt, measureFrom: startAt + warmupMs, measureTo: startAt + warmupMs + durationMs };
    sub.send({ ...go, phases: [{ name: "http", fromMs: go.measureFrom, toMs: go.measureTo }] });
    posters.forEach((w) => w.send(go));
    res.cpu.main = await measureCpu(new CpuMeter(pidsOf(servers, workers)), go.measureFrom, go.measureTo, workers.length);
    const rs = await Promise.all(posters.map((w) => w.waitFor("result", 60_000)));
    await sleep(1500); // let the deliveries of the last requests arrive before the subscribers stop counting
    sub.send({ cmd: "stop" });
    const sr = await sub.waitFor("result", 30_000);
    applyTally(res, httpTally(rs as unknown as HttpWorkerResult[], sr as never, subscribers, durationMs, mergeHistograms));
    if (res.metrics.ok === 0) throw new Error(`no publish request succeeded: ${rs.find((r) => r.firstError)?.firstError}`);
  });
}
