import { createHash, randomBytes } from "node:crypto";
import * as v from "valibot";
import type { EndpointBreakers } from "../features/webhooks/endpoint-breakers.ts";
import { CHANNEL } from "../protocol/frames.ts";
import { SwitchboardError } from "../protocol/errors.ts";
import type { RenderedReport, ReportSource } from "../reports/render-report.ts";
import { documentFields, parseReportInput } from "../reports/report-input.ts";
import type { ReportRenderer } from "../reports/report-renderer.ts";
import { channelHistoryInput, transcriptInput, type ConversationReader, type HistoryReader } from "../reports/report-sources.ts";
import { POSTED_TEMPLATES } from "../reports/report-templates.ts";
import type { NotificationInput, ReportFileStore } from "../store/ports.ts";
import type { ReportJobAction } from "./job-action.ts";
import type { JobContext } from "./job-executor.ts";

const INPUT = "action.report.input.";

/** `input` of a scheduled channel-history report: the channel, and the last `limit` messages or all retained history. */
const HistoryJobInput = v.strictObject({
  ch: v.pipe(v.string("must be a string"), v.regex(CHANNEL, "must be namespace:rest of [A-Za-z0-9_.:@=-]")),
  limit: v.optional(v.pipe(v.number("must be a number"), v.safeInteger("must be an integer"), v.minValue(1, "must be ≥ 1"), v.maxValue(1000, "must be ≤ 1000"))),
  timeZone: documentFields.timeZone,
  pageSize: documentFields.pageSize,
});

/** `input` of a scheduled transcript: the conversation, and the `lastHours` before each due time (all retained messages by default). */
const TranscriptJobInput = v.strictObject({
  conversation: v.pipe(v.string("must be a string"), v.regex(/^[A-Za-z0-9_.:@=-]{1,180}$/, "must be 1–180 of [A-Za-z0-9_.:@=-]")),
  lastHours: v.optional(v.pipe(v.number("must be a number"), v.safeInteger("must be an integer"), v.minValue(1, "must be ≥ 1"), v.maxValue(8760, "at most a year (8760)"))),
  timeZone: documentFields.timeZone,
  pageSize: documentFields.pageSize,
});

/** Checks a report action's input when the job is created, so that a bad field is a 400 now rather than a dead job later. */
export function checkReportAction(a: ReportJobAction, checkChannel: (ch: string) => void): void {
  if (a.template === "channel-history") checkChannel(parseReportInput(HistoryJobInput, a.input, INPUT).ch);
  else if (a.template === "conversation-transcript") parseReportInput(TranscriptJobInput, a.input, INPUT);
  else parseReportInput(POSTED_TEMPLATES.get(a.template)!.schema, a.input, INPUT);
}

export interface ReportDeliveryDeps {
  renderer: ReportRenderer;
  history: HistoryReader;
  /** Undefined without a chat namespace (transcripts then fail with a clear error). */
  conversations: ConversationReader | undefined;
  chatRetention: number | "forever" | undefined;
  files: ReportFileStore;
  notify(tenant: string, users: readonly string[], n: NotificationInput): Promise<unknown>;
  /** Signs a binary body the way the webhooks feature signs deliveries. */
  signBytes?(body: Uint8Array, headers: Record<string, string>): void;
  breakers?: EndpointBreakers;
  linkTtlSec: number;
  /** Prefix of download links in notifications (REPORT_LINK_BASE_URL); "" = a path on this server. */
  linkBaseUrl: string;
  now(): number;
  /** One audit line per rendered report: ids, counts and the outcome, never contents. */
  audit?(fields: Record<string, unknown>): void;
}

/** The route of a download link (src/transport/http/report-file-routes.ts). */
export const reportFilePath = (id: string, token: string) => `/v1/reports/files/${id}?token=${token}`;

export const tokenHash = (token: string) => createHash("sha256").update(token).digest("hex");

async function sourceOf(d: ReportDeliveryDeps, a: ReportJobAction, ctx: JobContext): Promise<ReportSource> {
  const tenant = ctx.tenant;
  if (a.template === "channel-history") {
    const q = parseReportInput(HistoryJobInput, a.input, INPUT);
    return { input: (await channelHistoryInput(d.history, { ...q, tenant: tenant || undefined }, d.renderer.opts.maxInputBytes)).input };
  }
  if (a.template === "conversation-transcript") {
    if (!d.conversations) throw new SwitchboardError("BAD_REQUEST", "conversation transcripts need a chat namespace in the configuration");
    const q = parseReportInput(TranscriptJobInput, a.input, INPUT);
    const since = q.lastHours === undefined ? undefined : ctx.dueMs - q.lastHours * 3_600_000;
    const t = await transcriptInput(d.conversations, { tenant, id: q.conversation, since, until: q.lastHours === undefined ? undefined : ctx.dueMs, timeZone: q.timeZone, pageSize: q.pageSize }, { maxInputBytes: d.renderer.opts.maxInputBytes, retention: d.chatRetention }, d.now());
    return { input: t.input };
  }
  // Validated again in the worker, off the event loop, like a posted body.
  return { body: JSON.stringify(a.input) };
}

async function postPdf(d: ReportDeliveryDeps, url: string, r: RenderedReport, a: ReportJobAction, ctx: JobContext): Promise<void> {
  const headers: Record<string, string> = {
    "content-type": "application/pdf",
    "content-disposition": `attachment; filename="${r.fileName}.pdf"`,
    "x-switchboard-job": ctx.id,
    "x-switchboard-attempt": String(ctx.attempt),
    "x-switchboard-due": new Date(ctx.dueMs).toISOString(),
    "x-switchboard-report": a.template,
    "x-report-pages": String(r.pages),
  };
  d.signBytes?.(r.pdf, headers);
  const breaker = d.breakers?.for(url);
  if (breaker && !breaker.allow()) throw new Error(`circuit open for ${new URL(url).origin} (retry in ${breaker.retryInMs()} ms)`);
  let res: Response;
  try {
    res = await fetch(url, { method: "POST", body: r.pdf as Uint8Array<ArrayBuffer>, headers, signal: ctx.signal, redirect: "manual" });
    await res.arrayBuffer().catch(() => undefined);
  } catch (err) {
    d.breakers?.failed(url);
    throw err;
  }
  if (res.status < 200 || res.status > 299) {
    d.breakers?.failed(url);
    throw new Error(`report webhook answered HTTP ${res.status}`);
  }
  breaker?.success();
}

async function notifyLink(d: ReportDeliveryDeps, n: NonNullable<ReportJobAction["notify"]>, r: RenderedReport, a: ReportJobAction, ctx: JobContext): Promise<void> {
  const now = d.now();
  const expiresMs = now + (n.linkTtlSec ?? d.linkTtlSec) * 1000;
  const id = "rf_" + now.toString(36) + randomBytes(9).toString("hex");
  const token = randomBytes(32).toString("base64url");
  await d.files.putReportFile({ id, tenant: ctx.tenant, tokenHash: tokenHash(token), fileName: r.fileName, pages: r.pages, pdf: r.pdf, job: ctx.id, createdMs: now, expiresMs });
  const report = { url: d.linkBaseUrl + reportFilePath(id, token), expires: new Date(expiresMs).toISOString(), fileName: `${r.fileName}.pdf`, pages: r.pages, template: a.template, job: ctx.id };
  await d.notify(ctx.tenant, n.users, {
    type: n.type ?? "report.ready",
    title: n.title ?? `Report ready: ${r.fileName}.pdf`,
    body: n.body ?? null,
    data: JSON.stringify({ report }),
    priority: n.priority ?? "normal",
  });
}

/**
 * Runs a `report` action: builds the input (from the store for transcript and
 * history), renders in the worker pool, then POSTs the PDF and/or posts an
 * inbox notification with a download link. The webhook goes first: a failed
 * POST retries the whole run before anyone was notified.
 */
export function reportDelivery(d: ReportDeliveryDeps): (a: ReportJobAction, ctx: JobContext) => Promise<void> {
  return async (a, ctx) => {
    const base = { job: ctx.id, tenant: ctx.tenant, template: a.template, attempt: ctx.attempt, webhook: a.webhook !== undefined, users: a.notify?.users.length ?? 0 };
    let pages: number | undefined;
    try {
      const rendered = await d.renderer.render(a.template, await sourceOf(d, a, ctx));
      pages = rendered.pages;
      if (ctx.signal.aborted) throw ctx.signal.reason;
      if (a.webhook) await postPdf(d, a.webhook.url, rendered, a, ctx);
      if (a.notify) await notifyLink(d, a.notify, rendered, a, ctx);
      d.audit?.({ ...base, outcome: "ok", pages, bytes: rendered.pdf.byteLength });
    } catch (err) {
      d.audit?.({ ...base, outcome: err instanceof SwitchboardError ? err.code : "failed", ...(pages !== undefined ? { pages } : {}) });
      throw err;
    }
  };
}
