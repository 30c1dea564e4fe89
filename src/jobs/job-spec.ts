import * as v from "valibot";
import { SwitchboardError } from "../protocol/errors.ts";
import type { JobDefinition } from "../store/ports.ts";
import { actionKind, JobActionSchema } from "./job-action.ts";
import { checkTimeZone, firstDue, type Schedule } from "./schedule.ts";

const MAX_DELAY_MS = 10 * 365 * 86_400_000;

/** The fixed shape of `POST /v1/jobs` (and of a static job in the config file's `jobs`). */
export const JobSpecSchema = v.strictObject({
  tenant: v.optional(v.string("must be a string")),
  name: v.optional(v.pipe(v.string("must be a string"), v.regex(/^[^\u0000-\u001f]{1,128}$/, "must be 1–128 printable characters"))),
  key: v.optional(v.pipe(v.string("must be a string"), v.regex(/^[^\u0000-\u001f]{1,200}$/, "must be 1–200 printable characters"))),
  at: v.optional(v.pipe(v.string("must be an ISO time"), v.isoTimestamp("must be an ISO time with a zone (2026-03-01T09:00:00Z)"))),
  delayMs: v.optional(v.pipe(v.number("must be a number"), v.safeInteger("must be an integer"), v.minValue(0, "must be ≥ 0"), v.maxValue(MAX_DELAY_MS, "at most ten years"))),
  cron: v.optional(v.pipe(v.string("must be a string"), v.maxLength(200, "at most 200 characters"))),
  tz: v.optional(v.pipe(v.string("must be a string"), v.maxLength(64, "at most 64 characters"))),
  everyMs: v.optional(v.pipe(v.number("must be a number"), v.safeInteger("must be an integer"), v.minValue(100, "must be ≥ 100"), v.maxValue(MAX_DELAY_MS, "at most ten years"))),
  action: JobActionSchema,
  retry: v.optional(
    v.strictObject({
      attempts: v.pipe(v.number("must be a number"), v.safeInteger("must be an integer"), v.minValue(1, "must be ≥ 1"), v.maxValue(100, "must be ≤ 100")),
      backoffMs: v.optional(v.pipe(v.number("must be a number"), v.safeInteger("must be an integer"), v.minValue(0, "must be ≥ 0"), v.maxValue(86_400_000, "at most a day"))),
    }),
  ),
  priority: v.optional(v.pipe(v.number("must be a number"), v.safeInteger("must be an integer"), v.minValue(-1000, "must be ≥ -1000"), v.maxValue(1000, "must be ≤ 1000"))),
  timeoutMs: v.optional(v.pipe(v.number("must be a number"), v.safeInteger("must be an integer"), v.minValue(10, "must be ≥ 10"), v.maxValue(3_600_000, "at most an hour"))),
  missed: v.optional(v.picklist(["run", "skip"], "must be run or skip")),
});

export type JobSpec = v.InferOutput<typeof JobSpecSchema>;

export interface JobDefaults {
  attempts: number;
  backoffMs: number;
  timeoutMs: number;
}

/** The schedule a spec asks for; exactly one of at, delayMs, cron (+ tz) or everyMs. */
export function scheduleOf(spec: JobSpec, nowMs: number): Schedule {
  const given = (["at", "delayMs", "cron", "everyMs"] as const).filter((k) => spec[k] !== undefined);
  if (given.length !== 1) throw new SwitchboardError("VALIDATION_ERROR", "schedule: give exactly one of at, delayMs, cron or everyMs");
  if (spec.tz !== undefined && spec.cron === undefined) throw new SwitchboardError("VALIDATION_ERROR", "tz: only with cron");
  if (spec.at !== undefined) return { at: Date.parse(spec.at) };
  if (spec.delayMs !== undefined) return { at: nowMs + spec.delayMs };
  if (spec.everyMs !== undefined) return { every: spec.everyMs, from: nowMs + spec.everyMs };
  const tz = spec.tz ?? "UTC";
  checkTimeZone(tz);
  const s = { cron: spec.cron!, tz };
  if (firstDue(s, nowMs) === null) throw new SwitchboardError("VALIDATION_ERROR", "cron: the pattern never fires");
  return s;
}

/** The stored definition of a spec (tenant checked by the caller). */
export function definitionOf(spec: JobSpec, tenant: string, schedule: Schedule, d: JobDefaults): JobDefinition {
  const action = JSON.stringify(spec.action);
  // A report's input (a month's medication log) is larger than any other action.
  const max = spec.action.report !== undefined ? 262_144 : 16_384;
  if (Buffer.byteLength(action) > max) throw new SwitchboardError("MESSAGE_TOO_LARGE", `action: at most ${max} bytes of JSON`);
  return {
    tenant,
    name: spec.name ?? null,
    key: spec.key ?? null,
    kind: actionKind(spec.action),
    schedule: JSON.stringify(schedule),
    action,
    priority: spec.priority ?? 0,
    maxAttempts: spec.retry?.attempts ?? d.attempts,
    backoffMs: spec.retry?.backoffMs ?? d.backoffMs,
    timeoutMs: spec.timeoutMs ?? d.timeoutMs,
    missed: spec.missed ?? "run",
  };
}
