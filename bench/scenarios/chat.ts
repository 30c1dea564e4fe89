/**
 * chat: the classic Bun chat benchmark shape. 32 clients in one room, each
 * sends batches of short messages that every member (sender included)
 * receives; the figure is delivered messages per second.
 */
import { CpuMeter } from "../lib/procs.ts";
import { LoadWorker } from "../lib/workers.ts";
import { ROOM, type ServerNode, type Target } from "../targets.ts";
import { applyTally, authFor, guarded, measureCpu, newResult, pidsOf, soon, spread, type Ctx, type RunResult } from "./common.ts";
import { chatTally, type ChatWorkerResult } from "./tally.ts";

export async function chatScenario(t: Target, ctx: Ctx): Promise<RunResult> {
  const clients = 32;
  const batch = 10;
  const warmupMs = ctx.quick ? 1000 : 2000;
  const durationMs = ctx.quick ? 2000 : 6000;
  const res = newResult("chat", t.name, { clients, batch, warmupMs, durationMs, workers: ctx.workers });
  const servers: ServerNode[] = [];
  const workers: LoadWorker[] = [];
  return guarded(res, servers, workers, async () => {
    servers.push(...(await t.start({ nodes: 1 })));
    const ep = { host: "127.0.0.1", port: servers[0].port };
    let base = 0;
    spread(clients, ctx.workers).forEach((k, i) => {
      workers.push(LoadWorker.start(`chat-w${i}`, { kind: "chat", dialect: t.dialect, ep, auth: authFor(t, `chat${i}`), n: k, ch: ROOM, batch, totalClients: clients, base }));
      base += k;
    });
    const ready = await Promise.all(workers.map((w) => w.waitFor("ready", 60_000)));
    const failed = ready.reduce((s, r) => s + r.failed, 0);
    if (failed > 0) throw new Error(`${failed} chat clients failed to connect: ${ready.find((r) => r.firstError)?.firstError}`);
    const startAt = soon(200);
    const go = { cmd: "go", startAt, measureFrom: startAt + warmupMs, measureTo: startAt + warmupMs + durationMs };
    workers.forEach((w) => w.send(go));
    res.cpu.main = await measureCpu(new CpuMeter(pidsOf(servers, workers)), go.measureFrom, go.measureTo, workers.length);
    const results = await Promise.all(workers.map((w) => w.waitFor("result", durationMs + 30_000)));
    applyTally(res, chatTally(results as unknown as ChatWorkerResult[], clients));
    if (res.metrics.deliveredPerSec === 0) throw new Error("no message was delivered in the measured window (server dropped or rejected publications?)");
  });
}
