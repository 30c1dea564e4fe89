import { PDFDocument, type PDFPage } from "pdf-lib";
import { SwitchboardError } from "../../protocol/errors.ts";
import type { Weight } from "../fonts/font-faces.ts";
import { DocumentFonts } from "../fonts/font-set.ts";
import { COLOR, MARGIN, PAGE_SIZES, TEXT, TONE_BAR, TONE_FILL, type PageSize, type Tone } from "./page-style.ts";
import { drawLine, measure } from "./text-runs.ts";
import { wrap } from "./wrap.ts";

export interface DocumentInfo {
  title: string;
  subtitle?: string;
  /** Organisation shown top left on every page (facility, else tenant). */
  organisation?: string;
  author: string;
  subject: string;
  pageSize: PageSize;
  /** Already formatted in the requested time zone. */
  generatedAt: string;
  maxPages: number;
  /** Called on every new page (the worker checks its heap there). */
  checkpoint?: () => void;
}

export type Align = "left" | "right" | "center";

const RTL_FIRST = /^[^A-Za-z\u00c0-\u024f\u0370-\u04ff\u0590-\u08ff\u4e00-\u9fff]*[\u0590-\u08ff]/;

/**
 * Lays a report out top to bottom on as many pages as it needs: every block
 * breaks across pages, and the running header and the "Page n of m" footer
 * are drawn at the end, when m is known.
 */
export class ReportWriter {
  readonly doc: PDFDocument;
  readonly fonts: DocumentFonts;
  readonly pages: PDFPage[] = [];
  page!: PDFPage;
  y = 0;
  readonly width: number;
  readonly height: number;
  readonly left = MARGIN.side;
  readonly contentWidth: number;

  private constructor(doc: PDFDocument, readonly info: DocumentInfo) {
    this.doc = doc;
    this.fonts = new DocumentFonts(doc);
    [this.width, this.height] = PAGE_SIZES[info.pageSize];
    this.contentWidth = this.width - 2 * MARGIN.side;
  }

  /** `text` is every character the report will draw, so that the fonts it needs are embedded first. */
  static async create(info: DocumentInfo, text: string): Promise<ReportWriter> {
    const doc = await PDFDocument.create();
    const w = new ReportWriter(doc, info);
    await w.fonts.prepare(text + info.title + (info.subtitle ?? "") + (info.organisation ?? "") + info.generatedAt + FIXED_TEXT);
    w.newPage();
    w.titleBlock();
    return w;
  }

  get bottom(): number {
    return MARGIN.bottom;
  }

  newPage(): void {
    if (this.pages.length >= this.info.maxPages) {
      throw new SwitchboardError("MESSAGE_TOO_LARGE", `the report would be longer than ${this.info.maxPages} pages (REPORT_MAX_PAGES); ask for a shorter period or fewer rows`);
    }
    this.info.checkpoint?.();
    this.page = this.doc.addPage([this.width, this.height]);
    this.pages.push(this.page);
    this.y = this.height - MARGIN.top;
  }

  /** Starts a new page unless `h` points still fit on this one. */
  ensure(h: number): boolean {
    if (this.y - h >= this.bottom) return false;
    this.newPage();
    return true;
  }

  lineHeight(size: number): number {
    return size * TEXT.lineGap;
  }

  wrap(text: string, width: number, size = TEXT.body, weight: Weight = "regular"): string[] {
    return wrap(text, width, size, weight);
  }

  textWidth(text: string, size: number, weight: Weight = "regular"): number {
    return measure(text, weight) * size;
  }

  line(text: string, x: number, y: number, o: { size?: number; weight?: Weight; color?: typeof COLOR.ink; width?: number; align?: Align } = {}): void {
    drawLine(this.page, this.fonts, text, { x, y, size: o.size ?? TEXT.body, weight: o.weight ?? "regular", color: o.color ?? COLOR.ink, width: o.width, align: o.align });
  }

  private titleBlock(): void {
    const i = this.info;
    for (const l of this.wrap(i.title, this.contentWidth, TEXT.h1, "bold")) {
      this.line(l, this.left, this.y - TEXT.h1, { size: TEXT.h1, weight: "bold", color: COLOR.accent });
      this.y -= this.lineHeight(TEXT.h1);
    }
    if (i.subtitle) {
      for (const l of this.wrap(i.subtitle, this.contentWidth, 10.5)) {
        this.line(l, this.left, this.y - 10.5, { size: 10.5, color: COLOR.muted });
        this.y -= this.lineHeight(10.5);
      }
    }
    this.y -= 4;
    this.page.drawLine({ start: { x: this.left, y: this.y }, end: { x: this.left + this.contentWidth, y: this.y }, thickness: 1.2, color: COLOR.accent });
    this.y -= 12;
  }

  heading(text: string): void {
    const lines = this.wrap(text, this.contentWidth, TEXT.h2, "bold");
    this.y -= 6;
    // Keep a heading with at least three lines of what follows.
    this.ensure(lines.length * this.lineHeight(TEXT.h2) + 4 * this.lineHeight(TEXT.body));
    for (const l of lines) {
      this.line(l, this.left, this.y - TEXT.h2, { size: TEXT.h2, weight: "bold", color: COLOR.accent });
      this.y -= this.lineHeight(TEXT.h2);
    }
    this.y -= 2;
    this.page.drawLine({ start: { x: this.left, y: this.y }, end: { x: this.left + this.contentWidth, y: this.y }, thickness: 0.5, color: COLOR.rule });
    this.y -= 6;
  }

  paragraph(text: string, o: { size?: number; color?: typeof COLOR.ink; indent?: number; weight?: Weight } = {}): void {
    const size = o.size ?? TEXT.body;
    const indent = o.indent ?? 0;
    const width = this.contentWidth - indent;
    const align: Align = RTL_FIRST.test(text) ? "right" : "left";
    for (const l of this.wrap(text, width, size, o.weight)) {
      this.ensure(this.lineHeight(size));
      this.line(l, this.left + indent, this.y - size, { size, color: o.color, weight: o.weight, width, align });
      this.y -= this.lineHeight(size);
    }
    this.y -= 4;
  }

  list(items: string[]): void {
    for (const item of items) {
      const lines = this.wrap(item, this.contentWidth - 14);
      lines.forEach((l, n) => {
        this.ensure(this.lineHeight(TEXT.body));
        if (n === 0) this.line("•", this.left + 3, this.y - TEXT.body, { color: COLOR.accent });
        this.line(l, this.left + 14, this.y - TEXT.body);
        this.y -= this.lineHeight(TEXT.body);
      });
      this.y -= 1.5;
    }
    this.y -= 3;
  }

  /** Labelled values in a grid of `columns`, the way a form shows demographics. */
  keyValue(items: Array<[string, string]>, columns = 3): void {
    const gap = 12;
    const colWidth = (this.contentWidth - gap * (columns - 1)) / columns;
    for (let r = 0; r < items.length; r += columns) {
      const row = items.slice(r, r + columns).map(([k, v]) => ({ k: this.wrap(k.toUpperCase(), colWidth, TEXT.label, "bold"), v: this.wrap(v === "" ? "—" : v, colWidth) }));
      const h = Math.max(...row.map((c) => c.k.length * this.lineHeight(TEXT.label) + c.v.length * this.lineHeight(TEXT.body))) + 6;
      if (h > this.y - this.bottom && h > (this.height - MARGIN.top - this.bottom) / 3) {
        // A value too long for a grid cell: one labelled paragraph per item instead.
        for (const [k, v] of items.slice(r, r + columns)) {
          this.paragraph(k.toUpperCase(), { size: TEXT.label, weight: "bold", color: COLOR.muted });
          this.paragraph(v);
        }
        continue;
      }
      this.ensure(h);
      row.forEach((c, n) => {
        const x = this.left + n * (colWidth + gap);
        let y = this.y;
        for (const l of c.k) {
          this.line(l, x, y - TEXT.label, { size: TEXT.label, weight: "bold", color: COLOR.muted });
          y -= this.lineHeight(TEXT.label);
        }
        for (const l of c.v) {
          this.line(l, x, y - TEXT.body, { width: colWidth, align: RTL_FIRST.test(l) ? "right" : "left" });
          y -= this.lineHeight(TEXT.body);
        }
      });
      this.y -= h;
    }
    this.y -= 4;
  }

  /** A shaded box around a short text: notes, warnings, totals. */
  callout(text: string, tone: Tone = "note"): void {
    const lines = this.wrap(text, this.contentWidth - 16);
    const h = lines.length * this.lineHeight(TEXT.body) + 10;
    // A box taller than a page cannot be drawn whole: the text flows as a paragraph instead.
    if (h > this.height - MARGIN.top - this.bottom) return this.paragraph(text);
    this.ensure(h);
    this.page.drawRectangle({ x: this.left, y: this.y - h, width: this.contentWidth, height: h, color: TONE_FILL[tone] });
    this.page.drawRectangle({ x: this.left, y: this.y - h, width: 2.5, height: h, color: TONE_BAR[tone] });
    let y = this.y - 5;
    for (const l of lines) {
      this.line(l, this.left + 10, y - TEXT.body);
      y -= this.lineHeight(TEXT.body);
    }
    this.y -= h + 8;
  }

  /** A "Signatures" block: a signature line captioned with who signs, and a date line, two per row. */
  signatures(labels: string[]): void {
    const gap = 28;
    const w = (this.contentWidth - gap) / 2;
    this.heading("Signatures");
    for (let i = 0; i < labels.length; i += 2) {
      const captions = labels.slice(i, i + 2).map((l) => this.wrap(l, w * 0.62, TEXT.small).slice(0, 2));
      const h = 30 + Math.max(...captions.map((c) => c.length)) * this.lineHeight(TEXT.small) + 10;
      this.ensure(h);
      captions.forEach((caption, n) => {
        const x = this.left + n * (w + gap);
        const lineY = this.y - 28;
        this.page.drawLine({ start: { x, y: lineY }, end: { x: x + w * 0.62, y: lineY }, thickness: 0.7, color: COLOR.ink });
        this.page.drawLine({ start: { x: x + w * 0.68, y: lineY }, end: { x: x + w, y: lineY }, thickness: 0.7, color: COLOR.ink });
        caption.forEach((l, k) => this.line(l, x, lineY - 10 - k * this.lineHeight(TEXT.small), { size: TEXT.small, color: COLOR.muted }));
        this.line("Date", x + w * 0.68, lineY - 10, { size: TEXT.small, color: COLOR.muted });
      });
      this.y -= h;
    }
  }

  space(points: number): void {
    this.y -= points;
  }

  /** Running header and footer on every page, then metadata; returns the PDF bytes. */
  async finish(): Promise<Uint8Array> {
    const i = this.info;
    const total = this.pages.length;
    this.pages.forEach((page, n) => {
      this.page = page;
      const top = this.height - 34;
      const orgWidth = this.contentWidth * 0.55;
      this.line(this.fit(i.organisation ?? "", orgWidth, TEXT.small, "bold"), this.left, top, { size: TEXT.small, weight: "bold", color: COLOR.muted });
      this.line(this.fit(i.title, this.contentWidth - orgWidth - 10, TEXT.small), this.left + orgWidth + 10, top, { size: TEXT.small, color: COLOR.muted, width: this.contentWidth - orgWidth - 10, align: "right" });
      page.drawLine({ start: { x: this.left, y: top - 6 }, end: { x: this.left + this.contentWidth, y: top - 6 }, thickness: 0.5, color: COLOR.rule });
      const foot = 30;
      page.drawLine({ start: { x: this.left, y: foot + 12 }, end: { x: this.left + this.contentWidth, y: foot + 12 }, thickness: 0.5, color: COLOR.rule });
      this.line(`Generated ${i.generatedAt} · Confidential — contains student health information`, this.left, foot, { size: TEXT.small, color: COLOR.muted });
      this.line(`Page ${n + 1} of ${total}`, this.left, foot, { size: TEXT.small, weight: "bold", color: COLOR.muted, width: this.contentWidth, align: "right" });
    });
    this.doc.setTitle(i.title);
    this.doc.setAuthor(i.author);
    this.doc.setSubject(i.subject);
    this.doc.setCreator("Switchboard reports");
    this.doc.setProducer("Switchboard (pdf-lib)");
    this.doc.setCreationDate(new Date());
    return this.doc.save();
  }

  /** Cuts `text` to one line of `width`, with an ellipsis. */
  fit(text: string, width: number, size: number, weight: Weight = "regular"): string {
    const lines = this.wrap(text, width - this.textWidth("…", size, weight), size, weight);
    return lines.length <= 1 ? (lines[0] ?? "") : lines[0] + "…";
  }
}

/** Characters of the fixed texts above, embedded whatever the input. */
const FIXED_TEXT = "Generated · Confidential — contains student health information Page of 0123456789 • … Signatures Date";
