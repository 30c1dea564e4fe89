import * as v from "valibot";
import { drawTable } from "../layout/table.ts";
import { documentFields, isoDate, isoDateTime, list, required, text } from "../report-input.ts";
import { defineTemplate, fileSlug } from "../report-template.ts";
import { formatDate, formatDateTime } from "../report-time.ts";

const Schema = v.strictObject({
  ...documentFields,
  incident: v.strictObject({
    id: v.optional(text(64)),
    type: required(200),
    occurredAt: isoDateTime,
    location: required(200),
    reportedBy: required(200),
    severity: v.optional(v.picklist(["low", "moderate", "high"], "must be low, moderate or high")),
  }),
  narrative: v.pipe(list(v.strictObject({ heading: required(200), text: required(20_000) }), 20), v.minLength(1, "must have at least one section")),
  timeline: list(v.strictObject({ at: isoDateTime, event: required(2000) }), 500),
  people: list(v.strictObject({ name: required(200), role: required(100), involvement: v.optional(text(500)), contact: v.optional(text(200)) }), 100),
  followUp: list(v.strictObject({ action: required(1000), owner: v.optional(text(200)), due: v.optional(isoDate), done: v.optional(v.boolean("must be true or false"), false) }), 100),
  signatures: v.optional(list(required(100), 6), ["Reporting staff member", "School nurse", "Administrator", "Parent / guardian"]),
});

type Input = v.InferOutput<typeof Schema>;

/** Narrative sections, timeline, people involved, follow-up actions and signatures. */
export const incident = defineTemplate<Input>({
  name: "incident",
  schema: Schema,
  describe: (i) => ({
    title: `Incident report: ${i.incident.type}`,
    subtitle: `${formatDateTime(i.incident.occurredAt, i.timeZone)} · ${i.incident.location}`,
    subject: "Incident report",
    fileName: fileSlug("incident", i.incident.id ?? i.incident.occurredAt.slice(0, 10)),
  }),
  layout(w, i) {
    const n = i.incident;
    w.keyValue([
      ["Incident number", n.id ?? ""],
      ["Type", n.type],
      ["Severity", n.severity ?? ""],
      ["Occurred", formatDateTime(n.occurredAt, i.timeZone)],
      ["Location", n.location],
      ["Reported by", n.reportedBy],
    ], 3);
    if (n.severity === "high") w.callout("High severity: the administrator and the parent or guardian must be notified the same day.", "bad");
    for (const s of i.narrative) {
      w.heading(s.heading);
      for (const para of s.text.split(/\n{2,}/)) w.paragraph(para);
    }
    w.heading("Timeline");
    if (i.timeline.length === 0) w.paragraph("No timeline recorded.");
    else drawTable(w, [{ title: "Time", width: 1 }, { title: "Event", width: 4 }], [...i.timeline].sort((a, b) => Date.parse(a.at) - Date.parse(b.at)).map((t) => [formatDateTime(t.at, i.timeZone), t.event]));
    w.heading("People involved");
    if (i.people.length === 0) w.paragraph("No one else was involved.");
    else drawTable(w, [{ title: "Name", width: 1.5 }, { title: "Role", width: 1 }, { title: "Involvement", width: 2.2 }, { title: "Contact", width: 1.3 }], i.people.map((p) => [p.name, p.role, p.involvement ?? "", p.contact ?? ""]));
    w.heading("Follow-up");
    if (i.followUp.length === 0) w.paragraph("No follow-up actions.");
    else
      drawTable(
        w,
        [{ title: "Action", width: 3 }, { title: "Owner", width: 1.3 }, { title: "Due", width: 0.9 }, { title: "Done", width: 0.6, align: "center" }],
        i.followUp.map((f) => [f.action, f.owner ?? "", f.due ? formatDate(f.due) : "", { text: f.done ? "Yes" : "No", tone: f.done ? "good" : undefined }]),
      );
    w.signatures(i.signatures);
  },
});
