/** Realistic report inputs, with names in Arabic, Vietnamese and Chinese and an em dash. */

export const studentHealthSummary = {
  tenant: "lincoln-usd",
  facility: "Lincoln Elementary — Health Office",
  timeZone: "America/New_York",
  pageSize: "Letter",
  author: "Nguyễn Thị Mai, RN",
  student: {
    name: "فاطمة الزهراء",
    id: "S-104233",
    dateOfBirth: "2015-03-14",
    grade: "5",
    school: "Lincoln Elementary",
    sex: "F",
    preferredLanguage: "Arabic",
    primaryCareProvider: "Dr. 王伟 — Riverside Pediatrics",
  },
  allergies: [
    { allergen: "Peanuts", reaction: "Anaphylaxis", severity: "life-threatening", notes: "EpiPen Jr in health office and classroom go-bag" },
    { allergen: "Penicillin", reaction: "Hives", severity: "moderate" },
  ],
  conditions: [
    { name: "Asthma, mild persistent", since: "2019-09-01", carePlan: "Albuterol 2 puffs before PE and as needed for wheeze; call parent if used more than twice in a day", notes: "Triggers: cold air, dust" },
    { name: "Type 1 diabetes", since: "2022-01-10", carePlan: "Check glucose before lunch; see insulin orders", notes: "Carries CGM; alerts go to nurse phone" },
  ],
  medications: [
    { name: "Albuterol HFA", dose: "90 mcg × 2 puffs", route: "Inhaled", schedule: "Before PE; as needed", prescriber: "Dr. 王伟", startDate: "2024-08-20" },
    { name: "Insulin lispro", dose: "Per carb ratio 1:15", route: "Subcut", schedule: "With lunch", prescriber: "Dr. Sarah Cohen", startDate: "2022-01-10", notes: "Correction 1 u per 50 mg/dL over 150" },
    { name: "Epinephrine auto-injector", dose: "0.15 mg", route: "IM", schedule: "Emergency only", prescriber: "Dr. 王伟", startDate: "2024-08-20" },
  ],
  emergencyContacts: [
    { name: "Khalid Al-Rashid — father", relationship: "Father", phone: "+1 555 0100", altPhone: "+1 555 0101", canPickUp: true },
    { name: "Trần Văn Hùng", relationship: "Uncle", phone: "+1 555 0177", canPickUp: true },
  ],
  notes: "Student fasts during Ramadan; adjust lunch insulin with parent — plan on file.",
};

export const medicationLog = (entries = 20) => ({
  tenant: "lincoln-usd",
  facility: "Lincoln Elementary — Health Office",
  timeZone: "America/New_York",
  student: { name: "Nguyễn Văn An", id: "S-100871", dateOfBirth: "2014-07-02", grade: "6" },
  period: { from: "2026-09-01", to: "2026-11-30" },
  entries: Array.from({ length: entries }, (_, n) => {
    const day = new Date(Date.UTC(2026, 8, 1) + Math.floor(n / 2) * 86_400_000);
    const at = `${day.toISOString().slice(0, 10)}T${n % 2 === 0 ? "11" : "16"}:${String(5 + (n % 50)).padStart(2, "0")}:00Z`;
    return {
      at,
      medication: n % 2 === 0 ? "Methylphenidate ER" : "Albuterol HFA",
      dose: n % 2 === 0 ? "18 mg" : "2 puffs",
      route: n % 2 === 0 ? "Oral" : "Inhaled",
      givenBy: n % 3 === 0 ? "Nguyễn Thị Mai, RN" : "李娜 (health aide)",
      status: n % 17 === 5 ? "refused" : n % 23 === 7 ? "missed" : "given",
      notes: n % 5 === 0 ? "Tolerated well — no side effects observed" : "",
    };
  }),
});

export const immunizationCompliance = {
  tenant: "lincoln-usd",
  facility: "Lincoln Elementary",
  school: "Lincoln Elementary",
  timeZone: "America/Chicago",
  asOf: "2026-11-30",
  requirements: [
    { vaccine: "DTaP", dosesRequired: 5 },
    { vaccine: "Polio (IPV)", dosesRequired: 4 },
    { vaccine: "MMR", dosesRequired: 2 },
    { vaccine: "Hepatitis B", dosesRequired: 3 },
    { vaccine: "Varicella", dosesRequired: 2 },
  ],
  students: [
    { name: "فاطمة الزهراء", id: "S-104233", grade: "5", doses: full(), exemptions: [], nextDue: [] },
    { name: "Nguyễn Văn An", id: "S-100871", grade: "6", doses: full().filter((d) => !(d.vaccine === "MMR" && d.date > "2016")), nextDue: [{ vaccine: "MMR", due: "2026-12-15" }] },
    { name: "王小明", id: "S-100902", grade: "4", doses: full().filter((d) => d.vaccine !== "Varicella"), nextDue: [{ vaccine: "Varicella", due: "2026-10-01" }] },
    { name: "Sarah Cohen — שרה כהן", id: "S-100915", grade: "5", doses: full().filter((d) => d.vaccine !== "Hepatitis B"), exemptions: [{ vaccine: "Hepatitis B", type: "medical" }] },
    { name: "Liam O'Brien", id: "S-100933", grade: "3", doses: full().filter((d) => d.vaccine !== "Polio (IPV)" || d.date < "2013") },
  ],
};

function full(): Array<{ vaccine: string; date: string }> {
  const d = (vaccine: string, dates: string[]) => dates.map((date) => ({ vaccine, date }));
  return [
    ...d("DTaP", ["2011-05-01", "2011-07-01", "2011-09-01", "2012-06-01", "2015-05-01"]),
    ...d("Polio (IPV)", ["2011-05-01", "2011-07-01", "2012-06-01", "2015-05-01"]),
    ...d("MMR", ["2012-03-01", "2015-05-01"]),
    ...d("Hepatitis B", ["2011-03-01", "2011-04-01", "2011-09-01"]),
    ...d("Varicella", ["2012-03-01", "2015-05-01"]),
  ];
}

export const incident = {
  tenant: "lincoln-usd",
  facility: "Lincoln Elementary",
  timeZone: "Asia/Ho_Chi_Minh",
  pageSize: "A4",
  incident: { id: "INC-2026-0117", type: "Playground injury — fall from climbing frame", occurredAt: "2026-11-30T03:20:00Z", location: "North playground", reportedBy: "Trần Thị Lan (teacher)", severity: "moderate" },
  narrative: [
    { heading: "What happened", text: "During morning recess a grade 3 student, 王小明, lost his grip on the climbing frame and fell about 1.2 m onto the wood-chip surface, landing on his left arm.\n\nThe duty teacher reached him within a minute; he was conscious, crying, and holding his left wrist." },
    { heading: "Care given", text: "The nurse assessed him in the health office: swelling over the left wrist, no deformity, pain 6/10. Ice pack and sling applied; no medication given. Parent contacted at 10:35 and arrived at 10:55 to take him to urgent care." },
  ],
  timeline: [
    { at: "2026-11-30T03:20:00Z", event: "Fall from climbing frame observed by duty teacher" },
    { at: "2026-11-30T03:24:00Z", event: "Student walked to health office with teacher" },
    { at: "2026-11-30T03:35:00Z", event: "Parent (Mrs. 王丽) called — agreed to pick up" },
    { at: "2026-11-30T03:55:00Z", event: "Released to parent — advised urgent care X-ray" },
  ],
  people: [
    { name: "王小明", role: "Student", involvement: "Injured", contact: "Grade 3, room 12" },
    { name: "Trần Thị Lan", role: "Teacher", involvement: "Witness; first responder", contact: "ext. 214" },
    { name: "Yusuf Haddad — يوسف حداد", role: "Student", involvement: "Witness", contact: "Grade 3, room 12" },
  ],
  followUp: [
    { action: "Obtain urgent care note and any activity restrictions", owner: "School nurse", due: "2026-12-02", done: false },
    { action: "Inspect climbing frame grips", owner: "Facilities", due: "2026-12-01", done: true },
  ],
};

export const custom = {
  title: "Flu clinic consent summary — Grade 5",
  subtitle: "Consent forms returned by 28 November",
  tenant: "lincoln-usd",
  timeZone: "Europe/London",
  pageSize: "A4",
  metadata: [
    ["Clinic date", "4 December 2026"],
    ["Prepared by", "Nguyễn Thị Mai, RN"],
    ["Forms returned", "6 of 7"],
  ],
  sections: [
    { type: "heading", text: "Summary" },
    { type: "paragraph", text: "Six of seven consent forms were returned. One family declined; one student needs the egg-free vaccine — see the table below." },
    { type: "keyValue", items: [["Consented", "5"], ["Declined", "1"], ["Missing", "1"]] },
    { type: "heading", text: "Forms" },
    {
      type: "table",
      columns: [{ title: "Student", width: 2 }, { title: "Consent", width: 1, align: "center" }, { title: "Doses", width: 0.7, align: "right" }, { title: "Notes", width: 3 }],
      rows: [
        ["فاطمة الزهراء", "Yes", 1, "—"],
        ["Nguyễn Văn An", "Yes", 1, "Egg-free vaccine"],
        ["王小明", "No", 0, "Family declined"],
        ["Sarah Cohen — שרה כהן", "Yes", 1, null],
        ["Liam O'Brien", "Missing", 0, "Reminder sent 27 Nov"],
      ],
    },
    { type: "list", items: ["Bring the clinic roster on the day", "Check the egg-free stock — two doses reserved"] },
    { type: "pageBreak" },
    { type: "heading", text: "Appendix" },
    { type: "paragraph", text: "Consent forms are kept in the health office for seven years." },
  ],
};
