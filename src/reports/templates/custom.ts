import * as v from "valibot";
import { drawTable } from "../layout/table.ts";
import { documentFields, list, required, text } from "../report-input.ts";
import { defineTemplate, fileSlug } from "../report-template.ts";

const Column = v.strictObject({
  title: text(200),
  width: v.optional(v.pipe(v.number("must be a number"), v.minValue(0.1, "must be at least 0.1"), v.maxValue(100, "must be at most 100"))),
  align: v.optional(v.picklist(["left", "right", "center"], "must be left, right or center")),
});
const CellValue = v.pipe(
  v.union([v.string(), v.number(), v.boolean(), v.null()], "must be a string, number, boolean or null"),
  v.transform((c) => (c === null ? "" : String(c))),
  v.maxLength(20_000, "must be at most 20000 characters"),
);

const Section = v.variant(
  "type",
  [
    v.strictObject({ type: v.literal("heading"), text: required(500) }),
    v.strictObject({ type: v.literal("paragraph"), text: text(50_000) }),
    v.strictObject({ type: v.literal("keyValue"), items: list(v.tuple([text(200), CellValue], "must be a [key, value] pair"), 500), columns: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(4))) }),
    v.strictObject({
      type: v.literal("table"),
      columns: v.pipe(list(Column, 20), v.minLength(1, "must have at least one column")),
      rows: list(list(CellValue, 20), 20_000),
    }),
    v.strictObject({ type: v.literal("list"), items: list(text(5000), 2000) }),
    v.strictObject({ type: v.literal("pageBreak") }),
  ],
  'must have a type of "heading", "paragraph", "keyValue", "table", "list" or "pageBreak"',
);

const Schema = v.strictObject({
  ...documentFields,
  title: required(300),
  subtitle: v.optional(text(500)),
  subject: v.optional(text(300)),
  metadata: v.optional(list(v.tuple([text(200), CellValue], "must be a [key, value] pair"), 100)),
  sections: list(Section, 2000),
});

type Input = v.InferOutput<typeof Schema>;

/** A backend's own report: headings, paragraphs, key–value blocks, tables, lists and page breaks. */
export const custom = defineTemplate<Input>({
  name: "custom",
  schema: Schema,
  describe: (i) => ({ title: i.title, subtitle: i.subtitle, subject: i.subject ?? i.title, fileName: fileSlug(i.title) }),
  layout(w, i) {
    if (i.metadata?.length) w.keyValue(i.metadata, 3);
    for (const s of i.sections) {
      switch (s.type) {
        case "heading":
          w.heading(s.text);
          break;
        case "paragraph":
          w.paragraph(s.text);
          break;
        case "keyValue":
          w.keyValue(s.items, s.columns ?? 2);
          break;
        case "table":
          drawTable(w, s.columns, s.rows);
          break;
        case "list":
          w.list(s.items);
          break;
        case "pageBreak":
          w.newPage();
          break;
      }
    }
  },
});
