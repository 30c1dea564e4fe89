import type { JobClaim, JobDefinition, JobOutcome, JobRecord, JobState, JobStats, JobStore } from "../ports.ts";
import type { StoreAvailability } from "./availability.ts";
import type { SqlDriver, SqlValue } from "./driver.ts";

interface JobRow {
  id: string;
  tenant: string;
  name: string | null;
  idem_key: string | null;
  kind: string;
  schedule: string;
  action: string;
  priority: number | string;
  max_attempts: number | string;
  backoff_ms: number | string;
  timeout_ms: number | string;
  missed: string;
  state: string;
  run_at: number | string | null;
  due_ms: number | string | null;
  attempts: number | string;
  last_error: string | null;
  last_run_ms: number | string | null;
  note: string | null;
  lease_owner: string | null;
  lease_until: number | string | null;
  completed_runs: number | string;
  failed_attempts: number | string;
  dead_runs: number | string;
  created_ms: number | string;
}

const num = (v: number | string | null): number | null => (v === null ? null : Number(v));

function toJob(r: JobRow): JobRecord {
  return {
    id: r.id,
    tenant: r.tenant,
    name: r.name,
    key: r.idem_key,
    kind: r.kind,
    schedule: r.schedule,
    action: r.action,
    priority: Number(r.priority),
    maxAttempts: Number(r.max_attempts),
    backoffMs: Number(r.backoff_ms),
    timeoutMs: Number(r.timeout_ms),
    missed: r.missed === "skip" ? "skip" : "run",
    state: r.state as JobState,
    runAtMs: num(r.run_at),
    dueMs: num(r.due_ms),
    attempts: Number(r.attempts),
    lastError: r.last_error,
    lastRunMs: num(r.last_run_ms),
    note: r.note,
    leaseOwner: r.lease_owner,
    leaseUntilMs: num(r.lease_until),
    completedRuns: Number(r.completed_runs),
    failedAttempts: Number(r.failed_attempts),
    deadRuns: Number(r.dead_runs),
    createdMs: Number(r.created_ms),
  };
}

const DEFINITION = "tenant, name, idem_key, kind, schedule, action, priority, max_attempts, backoff_ms, timeout_ms, missed";
const definitionParams = (d: JobDefinition): SqlValue[] => [d.tenant, d.name, d.key, d.kind, d.schedule, d.action, d.priority, d.maxAttempts, d.backoffMs, d.timeoutMs, d.missed];

let leaseSeq = 0;

/**
 * The job queue in the record store (pg-boss/graphile-worker style): one row
 * per job; a claim is a single UPDATE … RETURNING whose candidates are picked
 * with `FOR UPDATE SKIP LOCKED` on PostgreSQL, so concurrent nodes never
 * claim the same row and never wait for each other. SQLite has one node per
 * DATA_DIR and runs the statement atomically, so it needs no row locks.
 */
export class SqlJobQueue implements JobStore {
  private readonly claimSql: string;
  private readonly cappedClaimSql: string;

  constructor(
    private readonly driver: SqlDriver,
    private readonly availability: StoreAvailability,
  ) {
    const lock = driver.kind === "postgres" ? " FOR UPDATE SKIP LOCKED" : "";
    const claim = (limit: string) => `UPDATE jobs SET state = 'active', attempts = attempts + 1, lease_owner = ?, lease_until = ?, updated_ms = ?,
        due_ms = CASE WHEN state = 'waiting' AND attempts = 0 THEN run_at ELSE due_ms END,
        last_error = CASE WHEN state = 'active' THEN 'lease expired: the node running it stopped mid-run' ELSE last_error END,
        failed_attempts = CASE WHEN state = 'active' THEN failed_attempts + 1 ELSE failed_attempts END
      WHERE id IN (SELECT id FROM jobs WHERE kind = ? AND ((state = 'waiting' AND run_at <= ?) OR (state = 'active' AND lease_until < ?))
        ORDER BY priority DESC, run_at, id LIMIT ${limit}${lock})
      RETURNING *`;
    this.claimSql = claim("?");
    // Runs still holding a live lease count against the cluster-wide limit; an expired lease is a dead node's, claimable again.
    const greatest = driver.kind === "postgres" ? "greatest(0, least(?, ? - count(*)))" : "max(0, min(?, ? - count(*)))";
    this.cappedClaimSql = claim(`(SELECT ${greatest} FROM jobs WHERE kind = ? AND state = 'active' AND lease_until >= ?)`);
  }

  private read(sql: string, params: SqlValue[]): Promise<JobRow[]> {
    return this.availability.guard(this.driver.query<JobRow>(sql, params));
  }

  private run(sql: string, params: SqlValue[]): Promise<number> {
    this.availability.assertUp();
    return this.availability.guard(this.driver.run(sql, params));
  }

  async createJob(id: string, def: JobDefinition, runAtMs: number, nowMs: number): Promise<{ job: JobRecord; created: boolean }> {
    const changed = await this.run(
      `INSERT INTO jobs (id, ${DEFINITION}, state, run_at, attempts, completed_runs, failed_attempts, dead_runs, created_ms, updated_ms)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'waiting', ?, 0, 0, 0, 0, ?, ?) ON CONFLICT (tenant, idem_key) DO NOTHING`,
      [id, ...definitionParams(def), runAtMs, nowMs, nowMs],
    );
    const rows = changed > 0 || def.key === null ? await this.read("SELECT * FROM jobs WHERE id = ?", [id]) : await this.read("SELECT * FROM jobs WHERE tenant = ? AND idem_key = ?", [def.tenant, def.key]);
    return { job: toJob(rows[0]!), created: changed > 0 };
  }

  async upsertStaticJob(id: string, def: JobDefinition, runAtMs: number, nowMs: number): Promise<JobRecord> {
    const { job, created } = await this.createJob(id, def, runAtMs, nowMs);
    if (created || (job.schedule === def.schedule && job.action === def.action && job.priority === def.priority && job.missed === def.missed && job.maxAttempts === def.maxAttempts && job.backoffMs === def.backoffMs && job.timeoutMs === def.timeoutMs)) return job;
    await this.run(
      `UPDATE jobs SET name = ?, kind = ?, schedule = ?, action = ?, priority = ?, max_attempts = ?, backoff_ms = ?, timeout_ms = ?, missed = ?,
       state = CASE WHEN state = 'active' THEN state ELSE 'waiting' END, run_at = ?, attempts = 0, updated_ms = ? WHERE id = ?`,
      [def.name, def.kind, def.schedule, def.action, def.priority, def.maxAttempts, def.backoffMs, def.timeoutMs, def.missed, runAtMs, nowMs, job.id],
    );
    return (await this.job(def.tenant, job.id))!;
  }

  async job(tenant: string | undefined, id: string): Promise<JobRecord | undefined> {
    const rows = tenant === undefined ? await this.read("SELECT * FROM jobs WHERE id = ?", [id]) : await this.read("SELECT * FROM jobs WHERE tenant = ? AND id = ?", [tenant, id]);
    return rows[0] ? toJob(rows[0]) : undefined;
  }

  async jobByKey(tenant: string, key: string): Promise<JobRecord | undefined> {
    const rows = await this.read("SELECT * FROM jobs WHERE tenant = ? AND idem_key = ?", [tenant, key]);
    return rows[0] ? toJob(rows[0]) : undefined;
  }

  async jobs(q: { tenant?: string; state?: JobState; limit: number }): Promise<JobRecord[]> {
    const where: string[] = [];
    const params: SqlValue[] = [];
    if (q.tenant !== undefined) {
      where.push("tenant = ?");
      params.push(q.tenant);
    }
    if (q.state !== undefined) {
      where.push("state = ?");
      params.push(q.state);
    }
    params.push(q.limit);
    const rows = await this.read(`SELECT * FROM jobs${where.length ? " WHERE " + where.join(" AND ") : ""} ORDER BY created_ms DESC, id DESC LIMIT ?`, params);
    return rows.map(toJob);
  }

  async removeJob(tenant: string, id: string): Promise<boolean> {
    return (await this.run("DELETE FROM jobs WHERE tenant = ? AND id = ?", [tenant, id])) > 0;
  }

  async setPaused(tenant: string, id: string, paused: boolean, runAtMs: number | null, nowMs: number): Promise<JobRecord | undefined> {
    if (paused) await this.run("UPDATE jobs SET state = 'paused', updated_ms = ? WHERE tenant = ? AND id = ? AND state = 'waiting'", [nowMs, tenant, id]);
    else await this.run("UPDATE jobs SET state = 'waiting', run_at = ?, attempts = 0, updated_ms = ? WHERE tenant = ? AND id = ? AND state = 'paused'", [runAtMs, nowMs, tenant, id]);
    return this.job(tenant, id);
  }

  async claimJobs(kind: string, owner: string, limit: number, nowMs: number, leaseMs: number, clusterLimit?: number): Promise<JobClaim[]> {
    if (limit <= 0 || !this.availability.up) return [];
    const lease = `${owner}#${(++leaseSeq).toString(36)}`;
    const head = [lease, nowMs + leaseMs, nowMs, kind, nowMs, nowMs];
    // Capped: every node's claim of this kind takes the same lock, so two nodes cannot both see a free slot.
    const rows =
      clusterLimit === undefined
        ? await this.availability.quiet(this.driver.query<JobRow>(this.claimSql, [...head, limit]))
        : await this.availability.quiet(this.driver.locked<JobRow>(`switchboard.jobs.${kind}`, this.cappedClaimSql, [...head, limit, clusterLimit, kind, nowMs]));
    return rows.map((r) => ({ job: toJob(r), lease }));
  }

  async renewLease(id: string, lease: string, untilMs: number): Promise<boolean> {
    return (await this.run("UPDATE jobs SET lease_until = ? WHERE id = ? AND lease_owner = ? AND state = 'active'", [untilMs, id, lease])) > 0;
  }

  async finishJob(id: string, lease: string, outcome: JobOutcome, nowMs: number): Promise<boolean> {
    const held = "WHERE id = ? AND lease_owner = ? AND state = 'active'";
    let changed: number;
    if (outcome.type === "done") {
      changed = await this.run(
        `UPDATE jobs SET state = ?, run_at = ?, attempts = 0, last_error = NULL, last_run_ms = ?, note = coalesce(?, note), lease_owner = NULL, lease_until = NULL,
         completed_runs = completed_runs + ?, updated_ms = ? ${held}`,
        [outcome.nextRunAtMs === null ? "completed" : "waiting", outcome.nextRunAtMs, nowMs, outcome.note ?? null, outcome.skipped ? 0 : 1, nowMs, id, lease],
      );
    } else if (outcome.type === "retry") {
      changed = await this.run(
        `UPDATE jobs SET state = 'waiting', run_at = ?, last_error = ?, last_run_ms = ?, lease_owner = NULL, lease_until = NULL, failed_attempts = failed_attempts + 1, updated_ms = ? ${held}`,
        [outcome.runAtMs, outcome.error, nowMs, nowMs, id, lease],
      );
    } else {
      // A recurring job's dead run is dead-lettered in the counts and the job keeps its schedule.
      changed = await this.run(
        `UPDATE jobs SET state = ?, run_at = ?, attempts = CASE WHEN CAST(? AS BIGINT) IS NULL THEN attempts ELSE 0 END, last_error = ?, last_run_ms = ?, lease_owner = NULL, lease_until = NULL,
         failed_attempts = failed_attempts + 1, dead_runs = dead_runs + 1, updated_ms = ? ${held}`,
        [outcome.nextRunAtMs === null ? "dead" : "waiting", outcome.nextRunAtMs, outcome.nextRunAtMs, outcome.error, nowMs, nowMs, id, lease],
      );
    }
    return changed > 0;
  }

  async purgeFinishedJobs(beforeMs: number): Promise<number> {
    return this.run("DELETE FROM jobs WHERE state IN ('completed', 'dead') AND updated_ms < ?", [beforeMs]);
  }

  async jobStats(nowMs: number, tenant?: string): Promise<JobStats[]> {
    const rows = await this.availability.quiet(
      this.driver.query<Record<string, number | string | null>>(
        `SELECT kind,
          sum(CASE WHEN state = 'waiting' AND run_at <= ? THEN 1 ELSE 0 END) AS waiting,
          sum(CASE WHEN state = 'waiting' AND run_at > ? THEN 1 ELSE 0 END) AS delayed,
          sum(CASE WHEN state = 'active' THEN 1 ELSE 0 END) AS active,
          sum(CASE WHEN state = 'paused' THEN 1 ELSE 0 END) AS paused,
          sum(completed_runs) AS completed, sum(failed_attempts) AS failed, sum(dead_runs) AS dead,
          max(last_run_ms) AS last_run, min(CASE WHEN state = 'waiting' THEN run_at END) AS next_run
        FROM jobs${tenant === undefined ? "" : " WHERE tenant = ?"} GROUP BY kind ORDER BY kind`,
        tenant === undefined ? [nowMs, nowMs] : [nowMs, nowMs, tenant],
      ),
    );
    return rows.map((r) => ({
      kind: String(r.kind),
      waiting: Number(r.waiting ?? 0),
      delayed: Number(r.delayed ?? 0),
      active: Number(r.active ?? 0),
      paused: Number(r.paused ?? 0),
      completed: Number(r.completed ?? 0),
      failed: Number(r.failed ?? 0),
      dead: Number(r.dead ?? 0),
      lastRunMs: num(r.last_run ?? null),
      nextRunMs: num(r.next_run ?? null),
    }));
  }
}
