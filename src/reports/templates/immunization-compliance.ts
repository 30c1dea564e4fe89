import * as v from "valibot";
import { drawTable, type Cell } from "../layout/table.ts";
import type { Tone } from "../layout/page-style.ts";
import { documentFields, isoDate, list, required, text } from "../report-input.ts";
import { defineTemplate, fileSlug } from "../report-template.ts";
import { formatDate } from "../report-time.ts";

const Schema = v.strictObject({
  ...documentFields,
  school: v.optional(text(200)),
  asOf: isoDate,
  requirements: v.pipe(list(v.strictObject({ vaccine: required(100), dosesRequired: v.pipe(v.number("must be a number"), v.integer("must be an integer"), v.minValue(1, "must be at least 1"), v.maxValue(10, "must be at most 10")) }), 40), v.minLength(1, "must list at least one vaccine")),
  students: v.pipe(
    list(
      v.strictObject({
        name: required(200),
        id: v.optional(text(64)),
        grade: v.optional(text(32)),
        doses: list(v.strictObject({ vaccine: required(100), date: isoDate }), 200),
        exemptions: v.optional(list(v.strictObject({ vaccine: required(100), type: v.picklist(["medical", "religious", "personal"], "must be medical, religious or personal") }), 40), []),
        nextDue: v.optional(list(v.strictObject({ vaccine: required(100), due: isoDate }), 40), []),
      }),
      5000,
    ),
    v.minLength(1, "must list at least one student"),
  ),
});

type Input = v.InferOutput<typeof Schema>;
type Student = Input["students"][number];
type Status = "complete" | "exempt" | "due" | "overdue";

const STATUS_TONE: Record<Status, Tone | undefined> = { complete: "good", exempt: undefined, due: "warn", overdue: "bad" };

/**
 * Per vaccine: complete when the required doses were received, exempt with an
 * exemption on file, due when a next dose is scheduled on or after `asOf`,
 * overdue otherwise (missing doses with no date, or a date already past).
 */
function statusOf(s: Student, vaccine: string, required: number, asOf: string): { received: number; status: Status; due?: string } {
  const received = s.doses.filter((d) => d.vaccine === vaccine).length;
  if (received >= required) return { received, status: "complete" };
  if (s.exemptions.some((e) => e.vaccine === vaccine)) return { received, status: "exempt" };
  const due = s.nextDue.find((d) => d.vaccine === vaccine)?.due;
  return { received, status: due !== undefined && due >= asOf ? "due" : "overdue", due };
}

function label(st: { received: number; status: Status; due?: string }, required: number): Cell {
  const base = `${st.received}/${required}`;
  const text = st.status === "complete" ? `${base} complete` : st.status === "exempt" ? `${base} exempt` : `${base} ${st.status}${st.due ? ` ${formatDate(st.due)}` : ""}`;
  return { text, tone: STATUS_TONE[st.status] };
}

/** Required versus received doses per student, due and overdue highlighted, and the compliance rate. */
export const immunizationCompliance = defineTemplate<Input>({
  name: "immunization-compliance",
  schema: Schema,
  describe: (i) => ({
    title: i.students.length === 1 ? `Immunization compliance: ${i.students[0]!.name}` : `Immunization compliance: ${i.school ?? i.facility ?? "all students"}`,
    subtitle: `As of ${formatDate(i.asOf)}`,
    subject: "Immunization compliance report",
    fileName: fileSlug("immunization-compliance", i.students.length === 1 ? (i.students[0]!.id ?? i.students[0]!.name) : i.school, i.asOf),
  }),
  layout(w, i) {
    const results = i.students.map((s) => ({ s, per: i.requirements.map((r) => statusOf(s, r.vaccine, r.dosesRequired, i.asOf)) }));
    const compliant = results.filter((r) => r.per.every((p) => p.status === "complete" || p.status === "exempt")).length;
    const overdue = results.filter((r) => r.per.some((p) => p.status === "overdue")).length;
    const due = results.filter((r) => r.per.some((p) => p.status === "due") && !r.per.some((p) => p.status === "overdue")).length;
    const pct = (n: number) => `${((100 * n) / results.length).toFixed(1)}%`;
    w.keyValue([
      ["School", i.school ?? i.facility ?? ""],
      ["As of", formatDate(i.asOf)],
      ["Students", String(results.length)],
      ["Compliance", `${pct(compliant)} (${compliant} of ${results.length})`],
      ["Overdue", `${overdue} student${overdue === 1 ? "" : "s"}`],
      ["Due soon", `${due} student${due === 1 ? "" : "s"}`],
      ["Requirements", i.requirements.map((r) => `${r.vaccine} × ${r.dosesRequired}`).join(", ")],
    ], 3);
    w.callout(`Compliance: ${pct(compliant)} of students have every required dose or an exemption on file. Green: complete; amber: next dose scheduled; red: overdue.`, overdue > 0 ? "warn" : "good");
    w.heading(results.length === 1 ? "Vaccines" : "Students");
    if (results.length === 1) {
      const { s, per } = results[0]!;
      drawTable(
        w,
        [{ title: "Vaccine", width: 1.4 }, { title: "Required", width: 0.7, align: "right" }, { title: "Received", width: 0.7, align: "right" }, { title: "Dates received", width: 2 }, { title: "Status", width: 1.3 }],
        i.requirements.map((r, n) => [r.vaccine, String(r.dosesRequired), String(per[n]!.received), s.doses.filter((d) => d.vaccine === r.vaccine).map((d) => formatDate(d.date)).join(", "), label(per[n]!, r.dosesRequired)]),
      );
      return;
    }
    drawTable(
      w,
      [{ title: "Student", width: 1.8 }, { title: "Grade", width: 0.72 }, ...i.requirements.map((r) => ({ title: r.vaccine, width: 1 })), { title: "Compliant", width: 1.1, align: "center" as const }],
      results.map(({ s, per }) => {
        const ok = per.every((p) => p.status === "complete" || p.status === "exempt");
        return [s.id ? `${s.name} (${s.id})` : s.name, s.grade ?? "", ...per.map((p, n) => label(p, i.requirements[n]!.dosesRequired)), { text: ok ? "Yes" : "No", tone: ok ? undefined : "bad", bold: !ok }];
      }),
    );
  },
});
