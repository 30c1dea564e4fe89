import { Hono, type Context } from "hono";
import type { Server } from "bun";
import * as v from "valibot";
import type { ServerApi } from "../../hub/server-api.ts";
import type { Logger } from "../../observability/logger.ts";
import { SwitchboardError, toSwitchboardError } from "../../protocol/errors.ts";
import type { ReportSource } from "../../reports/render-report.ts";
import { documentFields, parseReportInput } from "../../reports/report-input.ts";
import type { ReportRenderer } from "../../reports/report-renderer.ts";
import { POSTED_TEMPLATES } from "../../reports/report-templates.ts";
import { errorResponse } from "./errors.ts";

type Ctx = Context<{ Variables: { apiKey: number } }>;

const HISTORY_PAGE = 1000;
const PrintOptions = v.object({ timeZone: documentFields.timeZone, pageSize: documentFields.pageSize });

function queryInt(raw: string | undefined, name: string, max: number): number | undefined {
  if (raw === undefined || raw === "") return undefined;
  if (!/^\d{1,7}$/.test(raw) || Number(raw) < 1 || Number(raw) > max) throw new SwitchboardError("VALIDATION_ERROR", `${name}: must be an integer from 1 to ${max}`);
  return Number(raw);
}

/**
 * `POST /v1/reports/<template>` (JSON in, PDF out) and the engine-backed
 * `GET /v1/reports/channel-history`. Rendering happens in the worker pool;
 * the audit line is written once the outcome is known.
 */
export function reportRoutes(api: ServerApi, reports: ReportRenderer, logger: Logger, maxInputBytes: number): Hono<{ Variables: { apiKey: number } }> {
  const r = new Hono<{ Variables: { apiKey: number } }>();

  const send = async (c: Ctx, template: string, source: ReportSource, tenant: string | undefined, audit: Record<string, unknown>): Promise<Response> => {
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
  };

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
