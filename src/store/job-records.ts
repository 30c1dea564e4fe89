/** The durable job queue's records (src/jobs): definitions, runs, leases, statistics. */

/** Where a job is in its life (graphile-worker/pg-boss style). A retry waits again in `waiting`. */
export type JobState = "waiting" | "active" | "paused" | "completed" | "dead";

/** What a job is, as created; `schedule` and `action` are JSON text the jobs service owns. */
export interface JobDefinition {
  tenant: string;
  name: string | null;
  /** Idempotency key: a second create with the same (tenant, key) answers the first job. */
  key: string | null;
  /** Concurrency class (the action's type). */
  kind: string;
  schedule: string;
  action: string;
  /** Higher runs first among due jobs. */
  priority: number;
  maxAttempts: number;
  backoffMs: number;
  timeoutMs: number;
  /** Runs missed while the cluster was down: `run` once, or `skip` them. */
  missed: "run" | "skip";
}

export interface JobRecord extends JobDefinition {
  id: string;
  state: JobState;
  /** When the job is due next (also the retry time); null once finished. */
  runAtMs: number | null;
  /** The due time of the run in progress or being retried. */
  dueMs: number | null;
  /** Attempts of the current run. */
  attempts: number;
  lastError: string | null;
  lastRunMs: number | null;
  /** The last thing worth saying about the schedule (missed runs run or skipped). */
  note: string | null;
  leaseOwner: string | null;
  leaseUntilMs: number | null;
  completedRuns: number;
  failedAttempts: number;
  deadRuns: number;
  createdMs: number;
}

/** A claimed run: the lease token must be shown to finish it. */
export interface JobClaim {
  job: JobRecord;
  lease: string;
}

/** How a run ended, decided by the jobs service. */
export type JobOutcome =
  | { type: "done"; nextRunAtMs: number | null; note?: string | null; /** Not run (missed and `skip`): not counted as completed. */ skipped?: boolean }
  | { type: "retry"; error: string; runAtMs: number }
  | { type: "dead"; error: string; nextRunAtMs: number | null };

export interface JobStats {
  kind: string;
  waiting: number;
  delayed: number;
  active: number;
  paused: number;
  completed: number;
  failed: number;
  dead: number;
  lastRunMs: number | null;
  nextRunMs: number | null;
}

/**
 * The durable job queue. A due job is claimed by exactly one node at a time
 * (PostgreSQL: `FOR UPDATE SKIP LOCKED`; SQLite: one node owns DATA_DIR and a
 * claim is one statement), under a lease: a claim whose lease ran out (its
 * node died mid-run) is claimed again, counting an attempt.
 */
export interface JobStore {
  /** Inserts the job; with a key already used by the tenant, answers that job and `created: false`. */
  createJob(id: string, def: JobDefinition, runAtMs: number, nowMs: number): Promise<{ job: JobRecord; created: boolean }>;
  /** A static job (config file, built-ins): created, or its definition replaced when it changed (then rescheduled to `runAtMs`). */
  upsertStaticJob(id: string, def: JobDefinition, runAtMs: number, nowMs: number): Promise<JobRecord>;
  job(tenant: string | undefined, id: string): Promise<JobRecord | undefined>;
  jobByKey(tenant: string, key: string): Promise<JobRecord | undefined>;
  /** Newest first, at most `limit`; `tenant` undefined lists every tenant. */
  jobs(q: { tenant?: string; state?: JobState; limit: number }): Promise<JobRecord[]>;
  /** False when there was no such job. */
  removeJob(tenant: string, id: string): Promise<boolean>;
  /** Pauses a waiting job / resumes a paused one (due at `runAtMs`); answers the job after, undefined when absent. */
  setPaused(tenant: string, id: string, paused: boolean, runAtMs: number | null, nowMs: number): Promise<JobRecord | undefined>;
  /**
   * Claims up to `limit` due jobs of `kind`, highest priority first, then oldest due.
   * With `clusterLimit`, never so many that more than `clusterLimit` runs of
   * the kind hold a live lease in the whole cluster (the count and the claim
   * are atomic across nodes).
   */
  claimJobs(kind: string, owner: string, limit: number, nowMs: number, leaseMs: number, clusterLimit?: number): Promise<JobClaim[]>;
  /** Extends a lease still held; false when it was lost. */
  renewLease(id: string, lease: string, untilMs: number): Promise<boolean>;
  /** Records how a claimed run ended; false when the lease was lost meanwhile (nothing changed). */
  finishJob(id: string, lease: string, outcome: JobOutcome, nowMs: number): Promise<boolean>;
  /** Per kind, for /health, /metrics and GET /v1/jobs. */
  jobStats(nowMs: number, tenant?: string): Promise<JobStats[]>;
  /** Deletes finished (completed or dead) jobs last changed before `beforeMs`; answers how many went. */
  purgeFinishedJobs(beforeMs: number): Promise<number>;
}
