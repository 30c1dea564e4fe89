import { Hono, type Context } from "hono";
import type { Server } from "bun";
import * as v from "valibot";
import { CONVERSATION_ID, type ChatService } from "../../features/chat/chat-service.ts";
import type { ServerApi } from "../../hub/server-api.ts";
import type { Logger } from "../../observability/logger.ts";
import { SwitchboardError, toSwitchboardError } from "../../protocol/errors.ts";
import type { ReportSource } from "../../reports/render-report.ts";
import { documentFields, isoDateTime, parseReportInput } from "../../reports/report-input.ts";
import type { ReportRenderer } from "../../reports/report-renderer.ts";
import { POSTED_TEMPLATES } from "../../reports/report-templates.ts";
import { channelHistoryInput, transcriptInput, TranscriptTooLarge, type TranscriptInput, type TranscriptOptions } from "../../reports/report-sources.ts";
import { onlyQuery, tenantOf } from "./body.ts";
import { errorResponse } from "./errors.ts";

type Ctx = Context<{ Variables: { apiKey: number } }>;

const PrintOptions = v.object({ timeZone: documentFields.timeZone, pageSize: documentFields.pageSize });

function queryInt(raw: string | undefined, name: string, max: number): number | undefined {
  if (raw === undefined || raw === "") return undefined;
  if (!/^\d{1,7}$/.test(raw) || Number(raw) < 1 || Number(raw) > max) throw new SwitchboardError("VALIDATION_ERROR", `${name}: must be an integer from 1 to ${max}`);
  return Number(raw);
}

type Env = { Variables: { apiKey: number } };

/** Renders in the pool and answers the PDF; the audit line carries ids, counts and the outcome, never contents. */
async function sendReport(c: Ctx, reports: ReportRenderer, logger: Logger, template: string, source: ReportSource, tenant: string | undefined, audit: Record<string, unknown>): Promise<Response> {
  // Bun's idle timeout (10 s by default) would cut a long render with a bare reset.
  (c.env as { server?: Server<unknown> } | undefined)?.server?.timeout(c.req.raw, Math.min(255, Math.ceil(reports.maxWaitMs / 1000) + 5));
  const t0 = performance.now();
  const base = { key: c.get("apiKey"), template, tenant: tenant ?? "", ...audit };
  try {
    const { pdf, pages, fileName, tenant: docTenant } = await reports.render(template, source);
    logger.audit("api_report", { ...base, tenant: tenant ?? docTenant ?? "", outcome: "ok", pages, bytes: pdf.byteLength, ms: Math.round(performance.now() - t0) });
    return c.body(pdf as Uint8Array<ArrayBuffer>, 200, { "content-type": "application/pdf", "content-disposition": `attachment; filename="${fileName}.pdf"`, "x-report-pages": String(pages) });
  } catch (err) {
    const e = toSwitchboardError(err);
    logger.audit("api_report", { ...base, outcome: e.code, ms: Math.round(performance.now() - t0) });
    if (e.code !== "RATE_LIMIT_EXCEEDED") throw e;
    const res = errorResponse(e);
    res.headers.set("retry-after", String(Math.ceil((e.retryAfter ?? 1000) / 1000)));
    return res;
  }
}

/**
 * `POST /v1/reports/<template>` (JSON in, PDF out) and the engine-backed
 * `GET /v1/reports/channel-history`. Rendering happens in the worker pool;
 * the audit line is written once the outcome is known.
 */
export function reportRoutes(api: ServerApi, reports: ReportRenderer, logger: Logger, maxInputBytes: number): Hono<Env> {
  const r = new Hono<Env>();
  const send = (c: Ctx, template: string, source: ReportSource, tenant: string | undefined, audit: Record<string, unknown>) => sendReport(c, reports, logger, template, source, tenant, audit);

  r.post("/reports/:template", async (c) => {
    const name = c.req.param("template");
    if (!POSTED_TEMPLATES.has(name)) throw new SwitchboardError("RESOURCE_NOT_FOUND", `no report template ${name}; templates: ${[...POSTED_TEMPLATES.keys()].join(", ")}`);
    if (!(c.req.header("content-type") ?? "").toLowerCase().includes("application/json")) throw new SwitchboardError("BAD_REQUEST", "content-type must be application/json");
    const body = await c.req.text();
    if (Buffer.byteLength(body) > maxInputBytes) throw new SwitchboardError("MESSAGE_TOO_LARGE", `report input is larger than ${maxInputBytes} bytes (REPORT_MAX_INPUT_BYTES)`);
    // Parsed and validated in the worker: a large body must not stall the event loop.
    return send(c, name, { body }, undefined, {});
  });

  r.get("/reports/channel-history", async (c) => {
    const ch = c.req.query("ch");
    if (!ch) throw new SwitchboardError("VALIDATION_ERROR", "ch: is required");
    const tenant = c.req.query("tenant");
    const since = c.req.query("since");
    if (since !== undefined && !/^\d{1,16}$/.test(since)) throw new SwitchboardError("VALIDATION_ERROR", "since: must be an offset");
    const limit = queryInt(c.req.query("limit"), "limit", 1000);
    const doc = parseReportInput(PrintOptions, { timeZone: c.req.query("tz"), pageSize: c.req.query("pageSize") });
    const { input, messages } = await channelHistoryInput(api, { tenant, ch, since, limit, timeZone: doc.timeZone, pageSize: doc.pageSize }, maxInputBytes);
    return send(c, "channel-history", { input }, tenant, { ch, messages });
  });

  return r;
}

const TRANSCRIPT_QUERY = ["tenant", "conversation", "tz", "pageSize", "since", "until"];

/** Every bad query parameter of a transcript request, named the way the caller spelled it. */
function transcriptQuery(q: Record<string, string>): { tenant: string; id: string; since?: number; until?: number; timeZone: string; pageSize: "A4" | "Letter" } {
  onlyQuery(q, TRANSCRIPT_QUERY);
  const problems: string[] = [];
  let tenant: string | undefined;
  try {
    tenant = tenantOf(q.tenant);
  } catch (err) {
    problems.push(toSwitchboardError(err).message);
  }
  const id = q.conversation;
  if (!id) problems.push("conversation: is required");
  else if (!CONVERSATION_ID.test(id)) problems.push("conversation: must be 1–180 of [A-Za-z0-9_.:@=-]");
  const time = (name: string): number | undefined => {
    const raw = q[name];
    if (raw === undefined || raw === "") return undefined;
    if (v.is(isoDateTime, raw)) return Date.parse(raw);
    problems.push(`${name}: must be an ISO 8601 date-time with an offset, e.g. 2026-11-30T09:15:00-05:00`);
    return undefined;
  };
  const since = time("since");
  const until = time("until");
  if (since !== undefined && until !== undefined && since >= until) problems.push("until: must be later than since");
  const tz = v.safeParse(documentFields.timeZone, q.tz || undefined);
  if (!tz.success) problems.push("tz: must be an IANA time zone such as America/New_York");
  const size = v.safeParse(documentFields.pageSize, q.pageSize || undefined);
  if (!size.success) problems.push('pageSize: must be "A4" or "Letter"');
  if (problems.length > 0 || tenant === undefined || !id || !tz.success || !size.success) throw new SwitchboardError("VALIDATION_ERROR", problems.join("; "));
  return { tenant, id, since, until, timeZone: tz.output, pageSize: size.output };
}

/**
 * `GET /v1/reports/conversation-transcript`: a chat conversation from the
 * record store, read here in pages of 500 (newest first, as the store pages)
 * within REPORT_MAX_INPUT_BYTES, then laid out in the worker pool.
 */
export function transcriptRoutes(chat: ChatService, reports: ReportRenderer, logger: Logger, o: TranscriptOptions): Hono<Env> {
  const r = new Hono<Env>();
  r.get("/reports/conversation-transcript", async (c) => {
    const q = transcriptQuery(c.req.query());
    const reader = { conversation: (t: string, id: string) => chat.store.conversation(t, id), messages: (t: string, id: string, before: number | undefined, n: number) => chat.messages(t, id, before, n) };
    let t: TranscriptInput;
    try {
      t = await transcriptInput(reader, q, o, Date.now());
    } catch (err) {
      if (err instanceof TranscriptTooLarge) logger.audit("api_report", { key: c.get("apiKey"), template: "conversation-transcript", tenant: q.tenant, conversation: q.id, messages: err.messages, outcome: "MESSAGE_TOO_LARGE" });
      throw err;
    }
    return sendReport(c, reports, logger, "conversation-transcript", { input: t.input }, q.tenant, { conversation: t.conversation.id, members: t.conversation.members.length, messages: t.messages, redacted: t.redacted });
  });
  return r;
}
