import bidiFactory from "bidi-js";
import type { PDFPage, RGB } from "pdf-lib";
import { advance, faceFor } from "../fonts/font-set.ts";
import type { FontFace, Weight } from "../fonts/font-faces.ts";
import type { DocumentFonts } from "../fonts/font-set.ts";

const bidi = bidiFactory();
// Hebrew and Arabic: the right-to-left scripts the fonts cover, and the ones the shaper (fontkit) lays out right to left itself.
const RTL = /[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufefc]/;

interface Run {
  text: string;
  face: FontFace;
  level: number;
  /** In em. */
  width: number;
}

/** Width of `text` in em, summed per code point (no shaping or kerning), in one pass. */
export function measure(text: string, weight: Weight): number {
  let w = 0;
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    w += advance(faceFor(cp, weight), cp);
  }
  return w;
}

/**
 * Splits one line into runs of one face and one bidi level, in visual order
 * (UAX #9 levels from bidi-js, rule L2 applied to the runs). A run at an odd
 * level in a script the shaper does not reverse (digits, punctuation) is
 * reversed here; Arabic and Hebrew runs are passed in logical order and the
 * shaper joins and reverses them.
 */
function visualRuns(line: string, weight: Weight): Run[] {
  const levels = RTL.test(line) ? bidi.getEmbeddingLevels(line).levels : undefined;
  const runs: Run[] = [];
  let i = 0;
  for (const ch of line) {
    const cp = ch.codePointAt(0)!;
    const face = faceFor(cp, weight);
    const level = levels ? levels[i]! : 0;
    const last = runs[runs.length - 1];
    const w = advance(face, cp);
    if (last && last.face === face && last.level === level) {
      last.text += ch;
      last.width += w;
    } else {
      runs.push({ text: ch, face, level, width: w });
    }
    i += ch.length;
  }
  if (!levels) return runs;
  let max = 0;
  let minOdd = 255;
  for (const r of runs) {
    max = Math.max(max, r.level);
    if (r.level % 2 === 1) minOdd = Math.min(minOdd, r.level);
  }
  for (let level = max; level >= minOdd; level--) {
    for (let s = 0; s < runs.length; s++) {
      if (runs[s]!.level < level) continue;
      let e = s;
      while (e + 1 < runs.length && runs[e + 1]!.level >= level) e++;
      const slice = runs.slice(s, e + 1).reverse();
      runs.splice(s, slice.length, ...slice);
      s = e;
    }
  }
  for (const r of runs) {
    if (r.level % 2 === 1 && !RTL.test(r.text)) r.text = [...r.text].reverse().map((c) => bidi.getMirroredCharacter(c) ?? c).join("");
  }
  return runs;
}

export interface DrawTextOptions {
  x: number;
  y: number;
  size: number;
  weight: Weight;
  color: RGB;
  /** Aligns within this width from x. */
  width?: number;
  align?: "left" | "right" | "center";
}

/** Draws one already-wrapped line; returns its width in points. */
export function drawLine(page: PDFPage, fonts: DocumentFonts, line: string, o: DrawTextOptions): number {
  const runs = visualRuns(line, o.weight);
  const total = runs.reduce((sum, r) => sum + r.width, 0) * o.size;
  let x = o.x;
  if (o.width !== undefined && o.align === "right") x += o.width - total;
  else if (o.width !== undefined && o.align === "center") x += (o.width - total) / 2;
  for (const r of runs) {
    page.drawText(r.text, { x, y: o.y, size: o.size, font: fonts.pdfFont(r.face), color: o.color });
    x += r.width * o.size;
  }
  return total;
}
