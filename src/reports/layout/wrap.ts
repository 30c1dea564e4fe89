import type { Weight } from "../fonts/font-faces.ts";
import { advance, faceFor } from "../fonts/font-set.ts";

// Ideographs and kana may break anywhere, without a space.
const BREAK_ANYWHERE = /[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef]/;

/**
 * Wraps `text` to lines at most `width` points wide, in one pass over the
 * code points (linear in the length of the text, whatever its shape): breaks
 * after the last space that fits, and inside a word only when the word alone
 * is wider than the line. Newlines end lines. Widths are summed per code
 * point, without shaping, which is what keeps it linear.
 */
export function wrap(text: string, width: number, size: number, weight: Weight): string[] {
  const lines: string[] = [];
  const limit = width / size;
  for (const para of text.split(/\r?\n/)) {
    let start = 0;
    let lineWidth = 0;
    let breakAt = -1;
    let widthAtBreak = 0;
    let i = 0;
    while (i < para.length) {
      const cp = para.codePointAt(i)!;
      const len = cp > 0xffff ? 2 : 1;
      if (cp === 0x20 || cp === 0x09) {
        lineWidth += advance(faceFor(0x20, weight), 0x20);
        breakAt = i + len;
        widthAtBreak = lineWidth;
        i += len;
        continue;
      }
      if (BREAK_ANYWHERE.test(String.fromCodePoint(cp)) && i > start) {
        breakAt = i;
        widthAtBreak = lineWidth;
      }
      const w = advance(faceFor(cp, weight), cp);
      if (lineWidth + w > limit && i > start) {
        if (breakAt > start) {
          lines.push(para.slice(start, breakAt).trimEnd());
          start = breakAt;
          lineWidth -= widthAtBreak;
        } else {
          lines.push(para.slice(start, i));
          start = i;
          lineWidth = 0;
        }
        breakAt = -1;
        // What followed the break may itself be too wide: look again at the same code point.
        if (lineWidth + w > limit && i > start) continue;
      }
      lineWidth += w;
      i += len;
    }
    lines.push(para.slice(start).trimEnd());
  }
  return lines;
}
