import { SwitchboardError } from "../protocol/errors.ts";
import { ReportWriter } from "./layout/report-writer.ts";
import { parseReportInput, type DocumentFields } from "./report-input.ts";
import type { ReportTemplate } from "./report-template.ts";
import { ALL_TEMPLATES } from "./report-templates.ts";
import { formatGenerated } from "./report-time.ts";

/** A report's input: the JSON text a client posted (parsed and validated here, off the event loop), or an input the server built. */
export type ReportSource = { body: string } | { input: DocumentFields };

export type RenderJob = ReportSource & {
  template: string;
  generatedAt: number;
  maxPages: number;
};

export interface RenderedReport {
  pdf: Uint8Array;
  pages: number;
  fileName: string;
  /** The tenant the input named, for the audit line. */
  tenant?: string;
}

function inputOf(job: RenderJob, template: ReportTemplate): DocumentFields {
  if ("input" in job) return job.input;
  let body: unknown;
  try {
    body = JSON.parse(job.body);
  } catch {
    throw new SwitchboardError("BAD_REQUEST", "request body is not valid JSON");
  }
  return parseReportInput(template.schema, body);
}

/** Validates, lays out and serialises one report; runs inside a report worker. */
export async function renderReport(job: RenderJob, checkpoint?: () => void): Promise<RenderedReport> {
  const template = ALL_TEMPLATES.get(job.template);
  if (!template) throw new SwitchboardError("RESOURCE_NOT_FOUND", `no report template ${job.template}`);
  const input = inputOf(job, template);
  const d = template.describe(input);
  const w = await ReportWriter.create(
    {
      title: d.title,
      subtitle: d.subtitle,
      organisation: [input.facility, input.tenant].filter(Boolean).join(" · ") || undefined,
      author: input.author ?? input.facility ?? input.tenant ?? "Switchboard",
      subject: d.subject,
      pageSize: input.pageSize,
      generatedAt: formatGenerated(job.generatedAt, input.timeZone),
      maxPages: job.maxPages,
      checkpoint,
    },
    template.text?.(input) ?? JSON.stringify(input),
  );
  template.layout(w, input);
  const pdf = await w.finish();
  return { pdf, pages: w.pages.length, fileName: d.fileName, ...(input.tenant !== undefined ? { tenant: input.tenant } : {}) };
}
