import type { Config } from "../config/load.ts";
import type { ComponentReport } from "../observability/health.ts";
import type { Logger } from "../observability/logger.ts";
import type { Metrics } from "../observability/metrics.ts";
import type { JobRecord, JobStore } from "../store/ports.ts";
import type { JobEffects } from "./job-executor.ts";
import { JobRunner } from "./job-runner.ts";
import { JobService, statsView } from "./job-service.ts";

export interface JobsDeps {
  config: Config;
  store: JobStore;
  effects: JobEffects;
  checkChannel(ch: string): void;
  logger: Logger;
  metrics: Metrics;
  now: () => number;
  onDead?: (job: JobRecord, error: string) => void;
}

const STATS = ["waiting", "delayed", "active", "paused", "completed", "failed", "dead"] as const;

/** The durable jobs of a node: the API service, the runner loop, and their report for /health and /metrics. */
export function createJobs(d: JobsDeps): { service: JobService; runner: JobRunner; health: ComponentReport; start(): Promise<void> } {
  const c = d.config.jobs;
  const runs = new Map<string, { value: number }>();
  const runner = new JobRunner(d.store, d.effects, {
    owner: `${d.config.nodeId}.${process.pid}`,
    pollMs: c.pollMs,
    leaseMs: c.leaseMs,
    concurrency: c.concurrency,
    clusterConcurrency: c.clusterConcurrency,
    missedGraceMs: c.missedGraceMs,
    now: d.now,
    logger: d.logger,
    onDead: d.onDead,
    onStats: (kinds) => {
      for (const k of kinds) for (const s of STATS) d.metrics.jobs.set(k[s], { kind: k.kind, stat: s });
    },
    onOutcome: (kind, outcome) => {
      const k = kind + " " + outcome;
      let cell = runs.get(k);
      if (!cell) runs.set(k, (cell = d.metrics.jobRuns.cell({ kind, outcome })));
      cell.value++;
    },
  });
  const service = new JobService({
    store: d.store,
    defaults: { attempts: c.attempts, backoffMs: c.backoffMs, timeoutMs: c.timeoutMs },
    now: d.now,
    checkChannel: d.checkChannel,
    builtins: new Set(d.effects.builtins.keys()),
    created: () => runner.wake(),
  });
  const health: ComponentReport = () => {
    const kinds = runner.stats();
    return {
      status: runner.lastError === null ? "ok" : "degraded",
      ...(runner.lastError === null ? {} : { reason: runner.lastError }),
      runningOnNode: runner.runningOnNode(),
      leaseMs: c.leaseMs,
      ...(Object.keys(c.clusterConcurrency).length > 0 ? { clusterConcurrency: c.clusterConcurrency } : {}),
      kinds: statsView(kinds),
    };
  };
  return {
    service,
    runner,
    health,
    async start() {
      for (const spec of c.static) await service.ensureStatic(spec.tenant ?? "", spec);
      runner.start();
    },
  };
}
