import { SwitchboardError } from "../protocol/errors.ts";
import { ReportWriter } from "./layout/report-writer.ts";
import type { DocumentFields } from "./report-input.ts";
import { ALL_TEMPLATES } from "./report-templates.ts";
import { formatGenerated } from "./report-time.ts";

export interface RenderJob {
  template: string;
  /** Already validated against the template's schema (on the main thread). */
  input: DocumentFields;
  generatedAt: number;
  maxPages: number;
}

export interface RenderedReport {
  pdf: Uint8Array;
  pages: number;
}

/** Lays out and serialises one report; runs inside a report worker. */
export async function renderReport(job: RenderJob, checkpoint?: () => void): Promise<RenderedReport> {
  const template = ALL_TEMPLATES.get(job.template);
  if (!template) throw new SwitchboardError("RESOURCE_NOT_FOUND", `no report template ${job.template}`);
  const input = job.input;
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
  return { pdf, pages: w.pages.length };
}
