import { Cron } from "croner";
import type { Logger } from "../observability/logger.ts";

export interface JobStatus {
  name: string;
  pattern: string;
  nextRun: string | null;
  lastRun: string | null;
  lastDurationMs: number | null;
  lastError: string | null;
  runs: number;
}

interface Job {
  cron: Cron;
  status: JobStatus;
}

/** In-process cron jobs (croner); a run never overlaps the previous one, and failures are recorded, not thrown. */
export class Scheduler {
  private readonly jobs: Job[] = [];

  constructor(private readonly logger: Logger) {}

  add(name: string, pattern: string, run: () => Promise<unknown>): void {
    const status: JobStatus = { name, pattern, nextRun: null, lastRun: null, lastDurationMs: null, lastError: null, runs: 0 };
    const cron = new Cron(pattern, { protect: true, unref: true, name }, async () => {
      const t0 = performance.now();
      status.lastRun = new Date().toISOString();
      try {
        const result = await run();
        status.lastError = null;
        this.logger.debug("job done", { job: name, result });
      } catch (err) {
        status.lastError = err instanceof Error ? err.message : String(err);
        this.logger.error("job failed", { job: name, err });
      } finally {
        status.runs++;
        status.lastDurationMs = Math.round(performance.now() - t0);
      }
    });
    this.jobs.push({ cron, status });
  }

  /** Runs a job now (outside its schedule); resolves when it finished. */
  async trigger(name: string): Promise<void> {
    const job = this.jobs.find((j) => j.status.name === name);
    if (!job) throw new TypeError(`no job named ${name}`);
    await job.cron.trigger();
  }

  status(): JobStatus[] {
    return this.jobs.map((j) => ({ ...j.status, nextRun: j.cron.nextRun()?.toISOString() ?? null }));
  }

  stop(): void {
    for (const j of this.jobs) j.cron.stop();
  }
}
