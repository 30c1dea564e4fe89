import { rgb } from "pdf-lib";

export type PageSize = "A4" | "Letter";

/** Points (1/72 in). */
export const PAGE_SIZES: Record<PageSize, [number, number]> = { A4: [595.28, 841.89], Letter: [612, 792] };

export const MARGIN = { side: 50, top: 64, bottom: 54 };

export const COLOR = {
  ink: rgb(0.11, 0.13, 0.16),
  muted: rgb(0.4, 0.43, 0.47),
  accent: rgb(0.07, 0.31, 0.5),
  rule: rgb(0.78, 0.81, 0.85),
  headerFill: rgb(0.88, 0.92, 0.96),
  zebra: rgb(0.965, 0.972, 0.98),
  noteFill: rgb(0.94, 0.96, 0.99),
  warnFill: rgb(1, 0.94, 0.76),
  badFill: rgb(0.99, 0.85, 0.85),
  goodFill: rgb(0.87, 0.95, 0.88),
};

export type Tone = "warn" | "bad" | "good" | "note";

export const TONE_FILL: Record<Tone, ReturnType<typeof rgb>> = { warn: COLOR.warnFill, bad: COLOR.badFill, good: COLOR.goodFill, note: COLOR.noteFill };

export const TONE_BAR: Record<Tone, ReturnType<typeof rgb>> = { warn: rgb(0.8, 0.55, 0.05), bad: rgb(0.72, 0.14, 0.14), good: rgb(0.2, 0.52, 0.26), note: COLOR.accent };

export const TEXT = { body: 9.5, small: 8, label: 7.5, h1: 17, h2: 11.5, lineGap: 1.38 };
