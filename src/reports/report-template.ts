import type * as v from "valibot";
import type { ReportWriter } from "./layout/report-writer.ts";
import type { DocumentFields } from "./report-input.ts";

/** One kind of report: the input it accepts and how it is laid out. */
export interface ReportTemplate<T extends DocumentFields = DocumentFields> {
  name: string;
  schema: v.GenericSchema<unknown, T>;
  /** Title, subtitle and subject of the document, and the base of its file name. */
  describe(input: T): { title: string; subtitle?: string; subject: string; fileName: string };
  layout(w: ReportWriter, input: T): void;
  /** Every character the layout may draw, when that is not simply the input's JSON. */
  text?(input: T): string;
}

/** A template, typed by its own schema, as the registry stores it. */
export function defineTemplate<T extends DocumentFields>(t: ReportTemplate<T>): ReportTemplate {
  return t as unknown as ReportTemplate;
}

/** A file name made of safe characters only. */
export function fileSlug(...parts: Array<string | undefined>): string {
  return parts
    .filter((p): p is string => !!p)
    .join("-")
    .normalize("NFKD")
    .replace(/[^A-Za-z0-9_.-]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 80) || "report";
}
