/**
 * Render cost of each report template on one thread, without HTTP, the pool
 * or the render threads' lowered priority: ms per report (median of R runs,
 * after one warm-up that loads the fonts). Usage:
 * node_modules/.bin/bun bench/micro/report-render.ts   (R=runs, default 7)
 */
import * as fx from "../../tests/reports/fixtures.ts";
import { renderReport } from "../../src/reports/render-report.ts";
import { parseReportInput } from "../../src/reports/report-input.ts";
import { POSTED_TEMPLATES } from "../../src/reports/report-templates.ts";

const runs = Number(process.env.R ?? 7);
const roster = { title: "Roster export", sections: [{ type: "table", columns: [{ title: "Student" }, { title: "Notes", width: 3 }], rows: Array.from({ length: 600 }, (_, n) => [`Nguyễn Văn ${n}`, `Visit ${n} — temperature normal, returned to class; parent 王丽 informed`]) }] };
const cases: Array<[string, string, unknown]> = [
  ["student-health-summary", "student-health-summary", fx.studentHealthSummary],
  ["medication-log", "medication-log", fx.medicationLog(48)],
  ["immunization-compliance", "immunization-compliance", fx.immunizationCompliance],
  ["incident", "incident", fx.incident],
  ["custom", "custom", fx.custom],
  ["custom (600-row table)", "custom", roster],
];
console.log("| template | pages | ms per report (median) | reports/s on one thread |\n|---|---|---|---|");
for (const [label, name, raw] of cases) {
  const input = parseReportInput(POSTED_TEMPLATES.get(name)!.schema, raw);
  const job = { template: name, input, generatedAt: Date.now(), maxPages: 1000 };
  const { pages } = await renderReport(job);
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await renderReport(job);
    ms.push(performance.now() - t0);
  }
  const median = ms.sort((a, b) => a - b)[Math.floor(ms.length / 2)]!;
  console.log(`| ${label} | ${pages} | ${median.toFixed(0)} | ${(1000 / median).toFixed(1)} |`);
}
