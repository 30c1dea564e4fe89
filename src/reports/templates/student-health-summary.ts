import * as v from "valibot";
import { drawTable } from "../layout/table.ts";
import { documentFields, isoDate, list, required, text } from "../report-input.ts";
import { defineTemplate, fileSlug } from "../report-template.ts";
import { formatDate } from "../report-time.ts";

const Student = v.strictObject({
  name: required(200),
  id: v.optional(text(64)),
  dateOfBirth: isoDate,
  grade: v.optional(text(32)),
  school: v.optional(text(200)),
  sex: v.optional(text(32)),
  preferredLanguage: v.optional(text(64)),
  primaryCareProvider: v.optional(text(200)),
});

const Schema = v.strictObject({
  ...documentFields,
  student: Student,
  allergies: list(v.strictObject({ allergen: required(200), reaction: v.optional(text(500)), severity: v.optional(v.picklist(["mild", "moderate", "severe", "life-threatening"], "must be mild, moderate, severe or life-threatening")), notes: v.optional(text(2000)) }), 200),
  conditions: list(v.strictObject({ name: required(200), since: v.optional(isoDate), carePlan: v.optional(text(2000)), notes: v.optional(text(2000)) }), 200),
  medications: list(v.strictObject({ name: required(200), dose: required(100), route: v.optional(text(50)), schedule: required(200), prescriber: v.optional(text(200)), startDate: v.optional(isoDate), notes: v.optional(text(2000)) }), 200),
  emergencyContacts: list(v.strictObject({ name: required(200), relationship: required(100), phone: required(50), altPhone: v.optional(text(50)), canPickUp: v.optional(v.boolean("must be true or false")) }), 20),
  notes: v.optional(text(10_000)),
});

type Input = v.InferOutput<typeof Schema>;

const SEVERITY_TONE = { mild: undefined, moderate: "warn", severe: "bad", "life-threatening": "bad" } as const;

/** Demographics, allergies, conditions, current medications and emergency contacts of one student. */
export const studentHealthSummary = defineTemplate<Input>({
  name: "student-health-summary",
  schema: Schema,
  describe: (i) => ({
    title: `Student health summary: ${i.student.name}`,
    subtitle: [i.student.school, i.student.grade ? `Grade ${i.student.grade}` : undefined].filter(Boolean).join(" · ") || undefined,
    subject: "Student health summary",
    fileName: fileSlug("health-summary", i.student.id ?? i.student.name),
  }),
  layout(w, i) {
    const s = i.student;
    w.heading("Student");
    w.keyValue([
      ["Name", s.name],
      ["Student ID", s.id ?? ""],
      ["Date of birth", formatDate(s.dateOfBirth)],
      ["Grade", s.grade ?? ""],
      ["Sex", s.sex ?? ""],
      ["Preferred language", s.preferredLanguage ?? ""],
      ["School", s.school ?? i.facility ?? ""],
      ["Primary care provider", s.primaryCareProvider ?? ""],
    ], 4);
    const severe = i.allergies.filter((a) => a.severity === "severe" || a.severity === "life-threatening");
    if (severe.length > 0) w.callout(`Severe allergies: ${severe.map((a) => `${a.allergen}${a.reaction ? ` (${a.reaction})` : ""}`).join("; ")}`, "bad");
    w.heading("Allergies");
    if (i.allergies.length === 0) w.paragraph("No known allergies.");
    else
      drawTable(
        w,
        [{ title: "Allergen", width: 1.3 }, { title: "Reaction", width: 1.6 }, { title: "Severity", width: 0.9 }, { title: "Notes", width: 2 }],
        i.allergies.map((a) => [a.allergen, a.reaction ?? "", a.severity ? { text: a.severity, tone: SEVERITY_TONE[a.severity] } : "", a.notes ?? ""]),
      );
    w.heading("Conditions");
    if (i.conditions.length === 0) w.paragraph("No chronic conditions recorded.");
    else drawTable(w, [{ title: "Condition", width: 1.3 }, { title: "Since", width: 0.8 }, { title: "Care plan", width: 2 }, { title: "Notes", width: 1.7 }], i.conditions.map((c) => [c.name, c.since ? formatDate(c.since) : "", c.carePlan ?? "", c.notes ?? ""]));
    w.heading("Current medications");
    if (i.medications.length === 0) w.paragraph("No current medications.");
    else
      drawTable(
        w,
        [{ title: "Medication", width: 1.4 }, { title: "Dose", width: 0.8 }, { title: "Route", width: 0.7 }, { title: "Schedule", width: 1.3 }, { title: "Prescriber", width: 1.1 }, { title: "Since", width: 0.8 }, { title: "Notes", width: 1.4 }],
        i.medications.map((m) => [m.name, m.dose, m.route ?? "", m.schedule, m.prescriber ?? "", m.startDate ? formatDate(m.startDate) : "", m.notes ?? ""]),
      );
    w.heading("Emergency contacts");
    if (i.emergencyContacts.length === 0) w.callout("No emergency contact on file.", "warn");
    else
      drawTable(
        w,
        [{ title: "Name", width: 1.6 }, { title: "Relationship", width: 1 }, { title: "Phone", width: 1.1 }, { title: "Alternate phone", width: 1.1 }, { title: "May pick up", width: 0.8, align: "center" }],
        i.emergencyContacts.map((c) => [c.name, c.relationship, c.phone, c.altPhone ?? "", c.canPickUp === undefined ? "" : c.canPickUp ? "Yes" : "No"]),
      );
    if (i.notes) {
      w.heading("Notes");
      w.paragraph(i.notes);
    }
    w.signatures(["Reviewed by school nurse"]);
  },
});
