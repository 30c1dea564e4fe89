import type { Logger } from "../observability/logger.ts";
import type { JobClaim, JobOutcome, JobRecord, JobStats, JobStore } from "../store/ports.ts";
import { retryDelayMs } from "./backoff.ts";
import type { JobAction } from "./job-action.ts";
import { executeAction, type JobEffects } from "./job-executor.ts";
import { isRecurring, missedSince, nextDue, type Schedule } from "./schedule.ts";

export const JOB_KINDS = ["builtin", "publish", "notify", "webhook", "report"] as const;

export interface JobRunnerOptions {
  /** Names this process in leases (node id + pid: a restarted node is another owner). */
  owner: string;
  pollMs: number;
  leaseMs: number;
  /** Jobs of each kind this node runs at once. */
  concurrency: Readonly<Record<string, number>>;
  /** Jobs of a kind the whole cluster runs at once (kinds absent here have no cluster-wide limit). */
  clusterConcurrency?: Readonly<Record<string, number>>;
  /** A run claimed later than this after its due time counts as missed (the cluster was down). */
  missedGraceMs: number;
  now: () => number;
  logger: Logger;
  /** A run was dead-lettered (the webhooks feature sends `job.failed`). */
  onDead?: (job: JobRecord, error: string) => void;
  /** Fresh per-kind statistics (about once a second). */
  onStats?: (stats: JobStats[]) => void;
  /** Every finished attempt, for metrics. */
  onOutcome?: (kind: string, outcome: "completed" | "retried" | "dead" | "skipped") => void;
}

class JobTimeout extends Error {}

/**
 * Claims due jobs from the store and runs them: one loop per node, at most
 * `concurrency[kind]` at once (and `clusterConcurrency[kind]` in the whole
 * cluster, counted by the store), each under a lease renewed while it runs.
 * The store decides who runs what, so any number of nodes can run this loop.
 */
export class JobRunner {
  private readonly running = new Map<string, number>();
  private readonly inflight = new Set<Promise<void>>();
  private wakeUp: (() => void) | undefined;
  /** A wake that came while a tick ran: the next wait is skipped, so it is not lost. */
  private wakePending = false;
  private stopped = false;
  private loop: Promise<void> | undefined;
  private cached: JobStats[] = [];
  private statsAtMs = 0;
  lastError: string | null = null;

  constructor(
    private readonly store: JobStore,
    private readonly fx: JobEffects,
    private readonly o: JobRunnerOptions,
  ) {}

  start(): void {
    this.loop ??= this.run();
  }

  /** Looks for due jobs now rather than at the next poll (a job was just created). */
  wake(): void {
    this.wakePending = true;
    this.wakeUp?.();
  }

  /** Stops claiming and waits up to `graceMs` for running jobs; unfinished ones are retried by another node once their lease ends. */
  async stop(graceMs: number): Promise<void> {
    this.stopped = true;
    this.wakeUp?.();
    await this.loop;
    await Promise.race([Promise.allSettled([...this.inflight]), Bun.sleep(graceMs)]);
  }

  /** The latest per-kind statistics (refreshed by the loop about once a second). */
  stats(): JobStats[] {
    return this.cached;
  }

  runningOnNode(): number {
    let n = 0;
    for (const v of this.running.values()) n += v;
    return n;
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.stopped) {
      this.wakePending = false;
      try {
        await this.tick();
        if (this.lastError !== null) this.o.logger.info("job queue reachable again");
        this.lastError = null;
        failures = 0;
      } catch (err) {
        failures++;
        this.lastError = (err as Error).message ?? String(err);
        this.o.logger.warn("job queue poll failed", { err });
      }
      if (this.stopped) break;
      if (this.wakePending && failures === 0) continue;
      const woken = Promise.withResolvers<void>();
      this.wakeUp = woken.resolve;
      const wait = Math.min(this.o.pollMs * 2 ** Math.min(failures, 4), 10_000);
      const timer = setTimeout(woken.resolve, wait);
      await woken.promise;
      clearTimeout(timer);
      this.wakeUp = undefined;
    }
  }

  private async tick(): Promise<void> {
    const now = this.o.now();
    for (const kind of JOB_KINDS) {
      const free = (this.o.concurrency[kind] ?? this.o.concurrency.default ?? 1) - (this.running.get(kind) ?? 0);
      if (free <= 0) continue;
      const claims = await this.store.claimJobs(kind, this.o.owner, free, now, this.o.leaseMs, this.o.clusterConcurrency?.[kind]);
      for (const c of claims) this.launch(kind, c);
    }
    if (now - this.statsAtMs >= 1000) {
      this.cached = await this.store.jobStats(now);
      this.statsAtMs = now;
      this.o.onStats?.(this.cached);
    }
  }

  private launch(kind: string, c: JobClaim): void {
    this.running.set(kind, (this.running.get(kind) ?? 0) + 1);
    const p = this.execute(c)
      .catch((err) => this.o.logger.error("job bookkeeping failed", { err, job: c.job.id }))
      .finally(() => {
        this.running.set(kind, this.running.get(kind)! - 1);
        this.inflight.delete(p);
        // A slot is free: look for more at once instead of at the next poll.
        this.wake();
      });
    this.inflight.add(p);
  }

  private async execute({ job, lease }: JobClaim): Promise<void> {
    const schedule = JSON.parse(job.schedule) as Schedule;
    const action = JSON.parse(job.action) as JobAction;
    const now = this.o.now();
    const due = job.dueMs ?? job.runAtMs ?? now;
    const recurring = isRecurring(schedule);
    const following = () => (recurring ? nextDue(schedule, Math.max(this.o.now(), due)) : null);
    const log = { job: job.id, tenant: job.tenant, name: job.name, kind: job.kind, attempt: job.attempts };

    if (job.attempts > job.maxAttempts) {
      // The last attempt's node died mid-run: nothing is left to try.
      await this.finish(job, lease, { type: "dead", error: job.lastError ?? "attempts exhausted", nextRunAtMs: following() }, log);
      return;
    }
    let note: string | undefined;
    if (job.attempts === 1 && now - due > this.o.missedGraceMs) {
      const missed = missedSince(schedule, due, now);
      const when = new Date(due).toISOString();
      if (job.missed === "skip") {
        note = recurring ? `skipped ${missed + 1} run(s) missed while the cluster was down (first due ${when})` : `skipped: due ${when} while the cluster was down`;
        this.o.logger.warn("missed job runs skipped", { ...log, due: when, missed: missed + 1 });
        this.o.onOutcome?.(job.kind, "skipped");
        await this.store.finishJob(job.id, lease, { type: "done", nextRunAtMs: following(), note, skipped: true }, this.o.now());
        return;
      }
      note = recurring ? `ran once for ${missed + 1} run(s) missed while the cluster was down (first due ${when})` : `ran late: due ${when} while the cluster was down`;
      this.o.logger.warn("missed job run runs late", { ...log, due: when, missed: missed + 1 });
    }

    const ctl = new AbortController();
    const renew = setInterval(() => {
      void this.store.renewLease(job.id, lease, this.o.now() + this.o.leaseMs).then(
        (held) => held || ctl.abort(new Error("lease lost")),
        () => {},
      );
    }, Math.max(50, Math.floor(this.o.leaseMs / 3)));
    let timer: Timer | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const e = new JobTimeout(`timed out after ${job.timeoutMs} ms`);
        ctl.abort(e);
        reject(e);
      }, job.timeoutMs);
    });
    let outcome: JobOutcome;
    try {
      await Promise.race([executeAction(this.fx, action, { id: job.id, tenant: job.tenant, name: job.name, dueMs: due, attempt: job.attempts, signal: ctl.signal }), timeout]);
      outcome = { type: "done", nextRunAtMs: following(), note: note ?? null };
    } catch (err) {
      const error = (err instanceof Error ? err.message : String(err)).slice(0, 500);
      outcome =
        job.attempts < job.maxAttempts
          ? { type: "retry", error, runAtMs: this.o.now() + retryDelayMs(job.backoffMs, job.attempts) }
          : { type: "dead", error, nextRunAtMs: following() };
    } finally {
      clearInterval(renew);
      clearTimeout(timer);
    }
    await this.finish(job, lease, outcome, log);
  }

  private async finish(job: JobRecord, lease: string, outcome: JobOutcome, log: Record<string, unknown>): Promise<void> {
    const held = await this.store.finishJob(job.id, lease, outcome, this.o.now());
    if (!held) {
      this.o.logger.warn("job lease lost before the run finished; another node retries it", log);
      return;
    }
    if (outcome.type === "done") {
      this.o.onOutcome?.(job.kind, "completed");
      this.o.logger.debug("job done", log);
    } else if (outcome.type === "retry") {
      this.o.onOutcome?.(job.kind, "retried");
      this.o.logger.warn("job failed; retrying", { ...log, error: outcome.error, retryAt: new Date(outcome.runAtMs).toISOString() });
    } else {
      this.o.onOutcome?.(job.kind, "dead");
      this.o.logger.error("job dead-lettered", { ...log, error: outcome.error });
      this.o.onDead?.(job, outcome.error);
    }
  }
}
