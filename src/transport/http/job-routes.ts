import { Hono } from "hono";
import { jobView, statsView, type JobService } from "../../jobs/job-service.ts";
import { JobSpecSchema } from "../../jobs/job-spec.ts";
import type { Logger } from "../../observability/logger.ts";
import { SwitchboardError } from "../../protocol/errors.ts";
import type { JobState } from "../../store/ports.ts";
import { intParam, onlyQuery, parseBody, tenantOf } from "./body.ts";
import { readJson } from "./errors.ts";

type Env = { Variables: { apiKey: number } };
const STATES: readonly JobState[] = ["waiting", "active", "paused", "completed", "dead"];
const JOB_ID = /^job_[a-z0-9]{1,40}$/;

function idOf(raw: string): string {
  if (!JOB_ID.test(raw)) throw new SwitchboardError("RESOURCE_NOT_FOUND", "no such job");
  return raw;
}

/** The jobs API (src/protocol/README.md, "Jobs"). */
export function jobRoutes(jobs: JobService, logger: Logger): Hono<Env> {
  const r = new Hono<Env>();

  r.post("/jobs", async (c) => {
    const spec = parseBody(JobSpecSchema, await readJson(c));
    const tenant = tenantOf(spec.tenant);
    const { job, created } = await jobs.create(tenant, spec);
    logger.audit("api_job_create", { key: c.get("apiKey"), tenant, job: job.id, kind: job.kind, created });
    const v = jobView(job);
    return c.json({ id: job.id, nextRun: v.nextRun ?? null, created }, created ? 201 : 200);
  });

  r.get("/jobs", async (c) => {
    onlyQuery(c.req.query(), ["tenant", "state", "limit"]);
    const tenant = tenantOf(c.req.query("tenant"));
    const state = c.req.query("state");
    if (state !== undefined && !STATES.includes(state as JobState)) throw new SwitchboardError("VALIDATION_ERROR", `state: must be one of ${STATES.join(", ")}`);
    const limit = intParam("limit", c.req.query("limit"), 1, 1000, 100)!;
    const [list, stats] = await Promise.all([jobs.list(tenant, state as JobState | undefined, limit), jobs.stats(tenant)]);
    return c.json({ jobs: list.map(jobView), stats: statsView(stats) });
  });

  r.get("/jobs/:id", async (c) => {
    onlyQuery(c.req.query(), ["tenant"]);
    return c.json(jobView(await jobs.get(tenantOf(c.req.query("tenant")), idOf(c.req.param("id")))));
  });

  r.delete("/jobs/:id", async (c) => {
    onlyQuery(c.req.query(), ["tenant"]);
    const tenant = tenantOf(c.req.query("tenant"));
    await jobs.remove(tenant, idOf(c.req.param("id")));
    logger.audit("api_job_remove", { key: c.get("apiKey"), tenant, job: c.req.param("id") });
    return c.json({ removed: true });
  });

  for (const op of ["pause", "resume"] as const) {
    r.post(`/jobs/:id/${op}`, async (c) => {
      onlyQuery(c.req.query(), ["tenant"]);
      const tenant = tenantOf(c.req.query("tenant"));
      const job = await jobs[op](tenant, idOf(c.req.param("id")));
      logger.audit(`api_job_${op}`, { key: c.get("apiKey"), tenant, job: job.id });
      return c.json(jobView(job));
    });
  }

  return r;
}
