/**
 * fanout: one publisher, many subscribers on one room, publications at fixed
 * rates carrying their scheduled send time; delivery latency percentiles
 * without coordinated omission (see `publish` in load/jobs.ts).
 */
import type { LoadWorker } from "../lib/workers.ts";
import type { Phase } from "../load/jobs.ts";
import type { ServerNode, Target } from "../targets.ts";
import { applyTally, guarded, newResult, type Ctx, type RunResult } from "./common.ts";
import { fanoutTally } from "./tally.ts";
import { runPubSub } from "./pubsub.ts";

export async function fanoutScenario(t: Target, ctx: Ctx): Promise<RunResult> {
  const subscribers = ctx.quick ? 1_000 : 5_000;
  const phaseMs = ctx.quick ? 2_000 : 10_000;
  const rates = [10, 100];
  const res = newResult("fanout", t.name, { subscribers, rates, phaseMs, workers: ctx.workers });
  const servers: ServerNode[] = [];
  const workers: LoadWorker[] = [];
  return guarded(res, servers, workers, async () => {
    servers.push(...(await t.start({ nodes: 1 })));
    const ep = { host: "127.0.0.1", port: servers[0].port };
    const phases: Phase[] = [{ name: "warmup", fromMs: 0, toMs: 1000, rate: 20 }];
    let at = 1000;
    for (const r of rates) {
      phases.push({ name: `${r}/s`, fromMs: at, toMs: at + phaseMs, rate: r });
      at += phaseMs;
    }
    const o = await runPubSub(t, "fanout", [{ name: "subs", ep, subscribers, workers: ctx.workers }], ep, phases, workers, servers.map((s) => s.pid));
    res.cpu = o.cpu;
    applyTally(res, fanoutTally(o, rates, subscribers));
    if (res.metrics.delivered_10 === 0) throw new Error("no publication reached a subscriber");
  });
}
