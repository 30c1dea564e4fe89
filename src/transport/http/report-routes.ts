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
import type { ChatMessage } from "../../store/ports.ts";
import { onlyQuery, tenantOf } from "./body.ts";
import { errorResponse } from "./errors.ts";

type Ctx = Context<{ Variables: { apiKey: number } }>;

const HISTORY_PAGE = 1000;
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
    let frames: string[];
    let olderNotRetained = false;
    if (limit !== undefined && since === undefined) {
      frames = (await api.history(tenant, ch, undefined, limit)).frames;
    } else {
      // Page through everything after `since` (all retained history by default), within the input cap.
      frames = [];
      let bytes = 0;
      let cursor = since ?? "0";
      for (let first = true; ; first = false) {
        const res = await api.history(tenant, ch, cursor, HISTORY_PAGE);
        if (first && !res.recovered && res.off !== cursor) olderNotRetained = true;
        for (const f of res.frames) {
          bytes += f.length;
          frames.push(f);
        }
        if (bytes > maxInputBytes) throw new SwitchboardError("MESSAGE_TOO_LARGE", `the channel's history is larger than ${maxInputBytes} bytes (REPORT_MAX_INPUT_BYTES); narrow it with since= or limit=`);
        if (limit !== undefined && frames.length >= limit) {
          frames.length = limit;
          break;
        }
        if (res.frames.length < HISTORY_PAGE) break;
        cursor = (JSON.parse(res.frames[res.frames.length - 1]!) as { off: string }).off;
      }
    }
    const input = { ...(tenant ? { tenant } : {}), timeZone: doc.timeZone, pageSize: doc.pageSize, channel: ch, frames, olderNotRetained, ...(limit !== undefined ? { limit } : {}), ...(since ? { since } : {}) };
    return send(c, "channel-history", { input }, tenant, { ch, messages: frames.length });
  });

  return r;
}

const TRANSCRIPT_PAGE = 500;
const TRANSCRIPT_QUERY = ["tenant", "conversation", "tz", "pageSize", "since", "until"];
/** Messages newer than `until` are read only to be skipped; that reading is bounded too. */
const SKIP_FACTOR = 4;

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

export interface TranscriptOptions {
  maxInputBytes: number;
  /** The chat namespace's `retention`: days a message is kept, or "forever". */
  retention: number | "forever" | undefined;
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
    const conv = await chat.store.conversation(q.tenant, q.id);
    if (!conv) throw new SwitchboardError("RESOURCE_NOT_FOUND", `no conversation ${q.id}${q.tenant ? ` in tenant ${q.tenant}` : ""}`);
    const refuse = (message: string, messages: number): never => {
      logger.audit("api_report", { key: c.get("apiKey"), template: "conversation-transcript", tenant: q.tenant, conversation: conv.id, messages, outcome: "MESSAGE_TOO_LARGE" });
      throw new SwitchboardError("MESSAGE_TOO_LARGE", message);
    };
    const picked: ChatMessage[] = [];
    let kept = 0;
    let skipped = 0;
    let before: number | undefined;
    paging: for (;;) {
      const page = await chat.messages(q.tenant, q.id, before, TRANSCRIPT_PAGE);
      for (let k = page.messages.length - 1; k >= 0; k--) {
        const m = page.messages[k]!;
        const size = Buffer.byteLength(m.data) + Buffer.byteLength(m.from ?? "") + Buffer.byteLength(m.redactedBy ?? "") + m.ev.length + 48;
        if (q.until !== undefined && m.ts >= q.until) {
          skipped += size;
          if (skipped > SKIP_FACTOR * o.maxInputBytes) refuse(`more than ${SKIP_FACTOR * o.maxInputBytes} bytes of messages are newer than until= (${SKIP_FACTOR}× REPORT_MAX_INPUT_BYTES); ask for a more recent range`, 0);
          continue;
        }
        if (q.since !== undefined && m.ts < q.since) break paging;
        kept += size;
        if (kept > o.maxInputBytes) refuse(`the conversation's messages are larger than ${o.maxInputBytes} bytes (REPORT_MAX_INPUT_BYTES); narrow it with since= and until=`, picked.length);
        picked.push(m);
      }
      if (!page.more || page.messages.length === 0) break;
      before = page.messages[0]!.off;
    }
    picked.reverse();
    const retentionMs = typeof o.retention === "number" ? o.retention * 86_400_000 : undefined;
    const retainedFrom = retentionMs === undefined ? undefined : Date.now() - retentionMs;
    const gone = retainedFrom !== undefined && (q.since ?? conv.createdMs) < retainedFrom;
    const messages = picked.map((m) => ({ off: m.off, ts: m.ts, from: m.from, ev: m.ev, data: m.data, ...(m.redactedBy !== undefined ? { redactedBy: m.redactedBy, redactedMs: m.redactedMs } : {}) }));
    const input = {
      ...(q.tenant ? { tenant: q.tenant } : {}),
      timeZone: q.timeZone,
      pageSize: q.pageSize,
      conversation: conv.id,
      title: conv.title,
      members: [...conv.members].sort((a, b) => a.localeCompare(b)),
      messages,
      ...(q.since !== undefined ? { since: q.since } : {}),
      ...(q.until !== undefined ? { until: q.until } : {}),
      ...(gone ? { retainedFrom, retentionDays: o.retention as number } : {}),
    };
    const redacted = messages.filter((m) => m.redactedBy !== undefined).length;
    return sendReport(c, reports, logger, "conversation-transcript", { input }, q.tenant, { conversation: conv.id, members: conv.members.length, messages: messages.length, redacted });
  });
  return r;
}
