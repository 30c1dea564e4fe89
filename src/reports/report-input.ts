import * as v from "valibot";
import { SwitchboardError } from "../protocol/errors.ts";

/** Valibot pieces shared by the report templates' input schemas. */

export const text = (max: number) => v.pipe(v.string("must be a string"), v.maxLength(max, `must be at most ${max} characters`));
export const required = (max: number) => v.pipe(v.string("must be a string"), v.minLength(1, "must not be empty"), v.maxLength(max, `must be at most ${max} characters`));
export const list = <T extends v.GenericSchema>(item: T, max: number) => v.pipe(v.array(item, "must be an array"), v.maxLength(max, `must have at most ${max} items`));
export const isoDate = v.pipe(v.string("must be a string"), v.isoDate("must be a date as YYYY-MM-DD"));
export const isoDateTime = v.pipe(
  v.string("must be a string"),
  v.check((s) => /^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)$/.test(s) && !Number.isNaN(Date.parse(s)), "must be an ISO 8601 date-time with an offset, e.g. 2026-11-30T09:15:00-05:00"),
);

function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat("en", { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** Fields every template accepts: who the report is for and how it is printed. */
export const documentFields = {
  tenant: v.optional(text(128)),
  facility: v.optional(text(200)),
  timeZone: v.optional(v.pipe(v.string("must be a string"), v.check(isTimeZone, "must be an IANA time zone such as America/New_York")), "UTC"),
  pageSize: v.optional(v.picklist(["A4", "Letter"], 'must be "A4" or "Letter"'), "A4"),
  author: v.optional(text(200)),
};

export type DocumentFields = { tenant?: string; facility?: string; timeZone: string; pageSize: "A4" | "Letter"; author?: string };

/** Parses `body`, or fails with one VALIDATION_ERROR naming every bad field (first 40), each path after `prefix` (a job's `action.report.input.`). */
export function parseReportInput<T extends v.GenericSchema>(schema: T, body: unknown, prefix = ""): v.InferOutput<T> {
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw new SwitchboardError("VALIDATION_ERROR", "body must be a JSON object");
  const r = v.safeParse(schema, body, { abortPipeEarly: true });
  if (r.success) return r.output;
  const problems: string[] = [];
  for (const issue of r.issues) {
    const dot = v.getDotPath(issue);
    const path = dot === null ? (prefix ? prefix.slice(0, -1) : "body") : prefix + dot;
    const msg =
      issue.type === "strict_object" && issue.input !== undefined
        ? "unknown field"
        : issue.input === undefined
          ? "is required"
          : issue.message.startsWith("Invalid")
            ? "has the wrong type"
            : issue.message;
    const line = `${path}: ${msg}`;
    if (!problems.includes(line)) problems.push(line);
  }
  const shown = problems.slice(0, 40);
  if (problems.length > shown.length) shown.push(`and ${problems.length - shown.length} more`);
  throw new SwitchboardError("VALIDATION_ERROR", `invalid report input: ${shown.join("; ")}`);
}
