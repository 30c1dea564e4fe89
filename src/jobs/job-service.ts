import { CHANNEL } from "../protocol/frames.ts";
import { SwitchboardError } from "../protocol/errors.ts";
import type { JobRecord, JobState, JobStats, JobStore } from "../store/ports.ts";
import type { JobAction } from "./job-action.ts";
import { checkReportAction } from "./report-job.ts";
import { definitionOf, scheduleOf, type JobDefaults, type JobSpec } from "./job-spec.ts";
import { describeSchedule, firstDue, nextDue, type Schedule } from "./schedule.ts";

/** A job as the API shows it (fixed shape: id, name, state, attempts, lastError?, lastRun?, nextRun?). */
export interface JobView {
  id: string;
  name: string | null;
  state: JobState;
  attempts: number;
  lastError?: string;
  lastRun?: string;
  nextRun?: string;
  tenant: string;
  key?: string;
  kind: string;
  priority: number;
  schedule: Record<string, unknown>;
  note?: string;
  /** While active: the node (id.pid) holding the lease. */
  runningOn?: string;
  runs: { completed: number; failedAttempts: number; dead: number };
}

const iso = (ms: number | null) => (ms === null ? undefined : new Date(ms).toISOString());

export function jobView(j: JobRecord): JobView {
  const v: JobView = { id: j.id, name: j.name, state: j.state, attempts: j.attempts, tenant: j.tenant, kind: j.kind, priority: j.priority, schedule: describeSchedule(JSON.parse(j.schedule)), runs: { completed: j.completedRuns, failedAttempts: j.failedAttempts, dead: j.deadRuns } };
  if (j.lastError !== null) v.lastError = j.lastError;
  if (j.lastRunMs !== null) v.lastRun = iso(j.lastRunMs);
  if (j.runAtMs !== null && j.state !== "completed" && j.state !== "dead") v.nextRun = iso(j.runAtMs);
  if (j.key !== null) v.key = j.key;
  if (j.note !== null) v.note = j.note;
  if (j.state === "active" && j.leaseOwner !== null) v.runningOn = j.leaseOwner.split("#")[0];
  return v;
}

export interface JobServiceDeps {
  store: JobStore;
  defaults: JobDefaults;
  now: () => number;
  /** Throws (VALIDATION_ERROR / RESOURCE_NOT_FOUND) when a publish action names a channel the policy does not know. */
  checkChannel(ch: string): void;
  /** Names of the built-in jobs. */
  builtins: ReadonlySet<string>;
  /** Called after a create or resume (the local runner looks at once). */
  created?: () => void;
}

function jobId(nowMs: number): string {
  return "job_" + nowMs.toString(36) + crypto.randomUUID().replace(/-/g, "").slice(0, 12);
}

/** Per-kind statistics as the API and /health show them (ISO times). */
export function statsView(stats: readonly JobStats[]) {
  return stats.map(({ lastRunMs, nextRunMs, ...k }) => ({ ...k, lastRun: iso(lastRunMs) ?? null, nextRun: iso(nextRunMs) ?? null }));
}

/** Creating, listing, pausing and removing jobs; the runner executes them. */
export class JobService {
  constructor(private readonly d: JobServiceDeps) {}

  private check(action: JobAction): void {
    if (action.publish) {
      for (const ch of typeof action.publish.ch === "string" ? [action.publish.ch] : action.publish.ch) {
        if (!CHANNEL.test(ch)) throw new SwitchboardError("VALIDATION_ERROR", "action.publish.ch: must be namespace:rest of [A-Za-z0-9_.:@=-]");
        this.d.checkChannel(ch);
      }
    }
    if (action.report !== undefined) checkReportAction(action.report, (ch) => this.d.checkChannel(ch));
    if (action.builtin !== undefined && !this.d.builtins.has(action.builtin)) throw new SwitchboardError("VALIDATION_ERROR", `action.builtin: no built-in job named ${action.builtin}`);
  }

  /** Creates a job; with a key the tenant used before, answers that job (`created: false`) and changes nothing. */
  async create(tenant: string, spec: JobSpec): Promise<{ job: JobRecord; created: boolean }> {
    this.check(spec.action);
    const now = this.d.now();
    const schedule = scheduleOf(spec, now);
    const r = await this.d.store.createJob(jobId(now), definitionOf(spec, tenant, schedule, this.d.defaults), firstDue(schedule, now)!, now);
    if (r.created) this.d.created?.();
    return r;
  }

  /** A static job (config file or built-in), keyed by `key`: kept across restarts, its definition replaced when the file changed. */
  async ensureStatic(tenant: string, spec: JobSpec & { key: string }): Promise<JobRecord> {
    this.check(spec.action);
    const now = this.d.now();
    const schedule = scheduleOf(spec, now);
    const def = definitionOf(spec, tenant, schedule, this.d.defaults);
    const existing = await this.d.store.jobByKey(tenant, spec.key);
    // An interval's phase is kept across restarts: only a changed file reschedules the job.
    const same = (a: string, b: string) => JSON.stringify(describeSchedule(JSON.parse(a))) === JSON.stringify(describeSchedule(JSON.parse(b)));
    if (existing && same(existing.schedule, def.schedule)) def.schedule = existing.schedule;
    return this.d.store.upsertStaticJob(jobId(now), def, firstDue(schedule, now)!, now);
  }

  async get(tenant: string, id: string): Promise<JobRecord> {
    const j = await this.d.store.job(tenant, id);
    if (!j) throw new SwitchboardError("RESOURCE_NOT_FOUND", "no such job");
    return j;
  }

  list(tenant: string, state: JobState | undefined, limit: number): Promise<JobRecord[]> {
    return this.d.store.jobs({ tenant, state, limit });
  }

  stats(tenant: string): Promise<JobStats[]> {
    return this.d.store.jobStats(this.d.now(), tenant);
  }

  async remove(tenant: string, id: string): Promise<void> {
    if (!(await this.d.store.removeJob(tenant, id))) throw new SwitchboardError("RESOURCE_NOT_FOUND", "no such job");
  }

  async pause(tenant: string, id: string): Promise<JobRecord> {
    const j = await this.get(tenant, id);
    if (j.state === "paused") return j;
    if (j.state !== "waiting") throw new SwitchboardError("CONFLICT", `a ${j.state} job cannot be paused`);
    const after = await this.d.store.setPaused(tenant, id, true, null, this.d.now());
    if (after?.state !== "paused") throw new SwitchboardError("CONFLICT", "the job started running; pause it again once it is waiting");
    return after;
  }

  /** Resumes a paused job at its next due time (a one-shot whose time passed while paused runs at once). */
  async resume(tenant: string, id: string): Promise<JobRecord> {
    const j = await this.get(tenant, id);
    if (j.state !== "paused") {
      if (j.state === "waiting" || j.state === "active") return j;
      throw new SwitchboardError("CONFLICT", `a ${j.state} job cannot be resumed`);
    }
    const now = this.d.now();
    const s = JSON.parse(j.schedule) as Schedule;
    const runAt = "at" in s ? s.at : (nextDue(s, now) ?? now);
    const after = (await this.d.store.setPaused(tenant, id, false, runAt, now))!;
    this.d.created?.();
    return after;
  }
}
