import { COLOR, TEXT, TONE_FILL, type Tone } from "./page-style.ts";
import type { Align, ReportWriter } from "./report-writer.ts";

export interface Column {
  title: string;
  /** Share of the table width relative to the other columns (default 1). */
  width?: number;
  align?: Align;
}

export type Cell = string | { text: string; tone?: Tone; bold?: boolean };

const PAD = 4;

function cellText(c: Cell | undefined): string {
  return c === undefined ? "" : typeof c === "string" ? c : c.text;
}

/**
 * A table that breaks across pages with its header row repeated on each one.
 * A row taller than what is left of a page continues on the next, line by
 * line, so no input can make a row that never fits.
 */
export function drawTable(w: ReportWriter, columns: Column[], rows: Cell[][], o: { size?: number } = {}): void {
  const size = o.size ?? TEXT.small + 0.5;
  const lh = w.lineHeight(size);
  const total = columns.reduce((s, c) => s + (c.width ?? 1), 0);
  const widths = columns.map((c) => (w.contentWidth * (c.width ?? 1)) / total);
  const xs: number[] = [];
  widths.reduce((x, cw) => (xs.push(x), x + cw), w.left);
  const headLines = columns.map((c, i) => w.wrap(c.title, widths[i]! - 2 * PAD, size, "bold"));
  const headH = Math.max(...headLines.map((l) => l.length)) * lh + 2 * PAD;

  const header = () => {
    w.page.drawRectangle({ x: w.left, y: w.y - headH, width: w.contentWidth, height: headH, color: COLOR.headerFill });
    headLines.forEach((lines, i) => {
      lines.forEach((l, n) => w.line(l, xs[i]! + PAD, w.y - PAD - size - n * lh, { size, weight: "bold", width: widths[i]! - 2 * PAD, align: columns[i]!.align }));
    });
    w.y -= headH;
  };

  w.ensure(headH + lh + 2 * PAD);
  header();
  rows.forEach((row, r) => {
    let cells = columns.map((_, i) => {
      const c = row[i];
      const bold = typeof c === "object" && c.bold === true;
      return { lines: w.wrap(cellText(c), widths[i]! - 2 * PAD, size, bold ? "bold" : "regular"), tone: typeof c === "object" ? c.tone : undefined, bold };
    });
    for (;;) {
      const need = Math.max(1, ...cells.map((c) => c.lines.length));
      if (w.y - (lh + 2 * PAD) < w.bottom) {
        w.newPage();
        header();
      }
      const fit = Math.min(need, Math.floor((w.y - w.bottom - 2 * PAD) / lh));
      const h = fit * lh + 2 * PAD;
      if (r % 2 === 1) w.page.drawRectangle({ x: w.left, y: w.y - h, width: w.contentWidth, height: h, color: COLOR.zebra });
      cells.forEach((c, i) => {
        if (c.tone) w.page.drawRectangle({ x: xs[i]!, y: w.y - h, width: widths[i]!, height: h, color: TONE_FILL[c.tone] });
        c.lines.slice(0, fit).forEach((l, n) => w.line(l, xs[i]! + PAD, w.y - PAD - size - n * lh, { size, weight: c.bold ? "bold" : "regular", width: widths[i]! - 2 * PAD, align: columns[i]!.align }));
      });
      w.y -= h;
      w.page.drawLine({ start: { x: w.left, y: w.y }, end: { x: w.left + w.contentWidth, y: w.y }, thickness: 0.4, color: COLOR.rule });
      if (fit >= need) break;
      cells = cells.map((c) => ({ ...c, lines: c.lines.slice(fit) }));
    }
  });
  w.y -= 10;
}
