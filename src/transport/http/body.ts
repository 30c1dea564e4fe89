import * as v from "valibot";
import { SwitchboardError } from "../../protocol/errors.ts";

/** Validates a JSON body with a strict schema; the error names the field (never its value), like the core API. */
export function parseBody<T extends v.GenericSchema>(schema: T, body: unknown): v.InferOutput<T> {
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw new SwitchboardError("VALIDATION_ERROR", "body must be a JSON object");
  const r = v.safeParse(schema, body);
  if (r.success) return r.output;
  const issue = r.issues[0];
  const path = v.getDotPath(issue);
  if (issue.type === "strict_object" && issue.input !== undefined && path) throw new SwitchboardError("VALIDATION_ERROR", `${path}: unknown field`);
  const msg = issue.input === undefined ? "is required" : issue.message.startsWith("Invalid") ? "has the wrong type" : issue.message;
  throw new SwitchboardError("VALIDATION_ERROR", `${path ?? "body"}: ${msg}`);
}

const TENANT = /^[A-Za-z0-9_.:@=\-]{0,128}$/;

/** The `tenant` of a query or body ("" when absent), checked like the core API does. */
export function tenantOf(raw: string | undefined): string {
  const t = raw ?? "";
  if (!TENANT.test(t)) throw new SwitchboardError("VALIDATION_ERROR", "tenant: must be up to 128 of [A-Za-z0-9_.:@=-]");
  return t;
}

/** An integer query parameter within bounds, or `fallback` when absent. */
export function intParam(name: string, raw: string | undefined, min: number, max: number, fallback: number | undefined): number | undefined {
  if (raw === undefined || raw === "") return fallback;
  if (!/^\d{1,16}$/.test(raw) || Number(raw) < min || Number(raw) > max) throw new SwitchboardError("VALIDATION_ERROR", `${name}: must be an integer from ${min} to ${max}`);
  return Number(raw);
}

/** Refuses query parameters a route does not know (typos surface, as with frames). */
export function onlyQuery(query: Record<string, string>, known: readonly string[]): void {
  for (const k of Object.keys(query)) if (!known.includes(k)) throw new SwitchboardError("VALIDATION_ERROR", `${k}: unknown query parameter`);
}

export const UserId = v.pipe(v.string("must be a string"), v.regex(/^[^\u0000-\u001f]{1,128}$/, "must be 1–128 printable characters"));
