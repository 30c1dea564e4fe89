import * as v from "valibot";
import { drawTable, type Cell } from "../layout/table.ts";
import { documentFields, isoDate, isoDateTime, list, required, text } from "../report-input.ts";
import { defineTemplate, fileSlug } from "../report-template.ts";
import { formatDate, formatDateTime } from "../report-time.ts";

const STATUSES = ["given", "refused", "missed", "held"] as const;

const Schema = v.pipe(
  v.strictObject({
    ...documentFields,
    student: v.strictObject({ name: required(200), id: v.optional(text(64)), dateOfBirth: v.optional(isoDate), grade: v.optional(text(32)) }),
    period: v.strictObject({ from: isoDate, to: isoDate }),
    entries: list(
      v.strictObject({
        at: isoDateTime,
        medication: required(200),
        dose: required(100),
        route: required(50),
        givenBy: required(200),
        status: v.optional(v.picklist(STATUSES, "must be given, refused, missed or held"), "given"),
        notes: v.optional(text(2000)),
      }),
      20_000,
    ),
    signatures: v.optional(list(required(100), 6), ["School nurse", "Parent / guardian"]),
  }),
  v.check((i) => i.period.from <= i.period.to, "period: from must not be after to"),
);

type Input = v.InferOutput<typeof Schema>;

const STATUS_TONE = { given: undefined, refused: "warn", missed: "bad", held: "warn" } as const;

/** Every administration over a date range, totals per medication, and signature lines. */
export const medicationLog = defineTemplate<Input>({
  name: "medication-log",
  schema: Schema,
  describe: (i) => ({
    title: `Medication administration log: ${i.student.name}`,
    subtitle: `${formatDate(i.period.from)} – ${formatDate(i.period.to)}`,
    subject: "Medication administration log",
    fileName: fileSlug("medication-log", i.student.id ?? i.student.name, i.period.from, i.period.to),
  }),
  layout(w, i) {
    const s = i.student;
    w.keyValue([
      ["Student", s.name],
      ["Student ID", s.id ?? ""],
      ["Date of birth", s.dateOfBirth ? formatDate(s.dateOfBirth) : ""],
      ["Grade", s.grade ?? ""],
      ["Period", `${formatDate(i.period.from)} – ${formatDate(i.period.to)}`],
      ["Time zone", i.timeZone],
      ["Entries", String(i.entries.length)],
      ["School", i.facility ?? ""],
    ], 4);
    w.heading("Administrations");
    const entries = [...i.entries].sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
    if (entries.length === 0) w.paragraph("No administrations were recorded in this period.");
    else
      drawTable(
        w,
        [{ title: "Date / time", width: 1.5 }, { title: "Medication", width: 1.35 }, { title: "Dose", width: 0.7 }, { title: "Route", width: 0.65 }, { title: "Given by", width: 1.25 }, { title: "Status", width: 0.65 }, { title: "Notes", width: 1.45 }],
        entries.map((e) => [formatDateTime(e.at, i.timeZone), e.medication, e.dose, e.route, e.givenBy, { text: e.status, tone: STATUS_TONE[e.status] }, e.notes ?? ""]),
      );
    const totals = new Map<string, Record<(typeof STATUSES)[number], number>>();
    for (const e of entries) {
      let t = totals.get(e.medication);
      if (!t) totals.set(e.medication, (t = { given: 0, refused: 0, missed: 0, held: 0 }));
      t[e.status]++;
    }
    w.heading("Totals");
    const sum = { given: 0, refused: 0, missed: 0, held: 0 };
    const rows: Cell[][] = [...totals].map(([med, t]) => {
      for (const k of STATUSES) sum[k] += t[k];
      return [med, String(t.given), String(t.refused), String(t.missed), String(t.held), String(t.given + t.refused + t.missed + t.held)];
    });
    rows.push([{ text: "All medications", bold: true }, ...[sum.given, sum.refused, sum.missed, sum.held, sum.given + sum.refused + sum.missed + sum.held].map((n) => ({ text: String(n), bold: true }))]);
    drawTable(w, [{ title: "Medication", width: 2.4 }, ...["Given", "Refused", "Missed", "Held", "Total"].map((t) => ({ title: t, width: 0.7, align: "right" as const }))], rows);
    w.signatures(i.signatures);
  },
});
