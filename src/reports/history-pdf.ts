import { PDFDocument, StandardFonts, rgb, type PDFFont, type PDFPage } from "pdf-lib";

export interface HistoryReportInput {
  title: string;
  subtitle: string;
  generatedAt: string;
  /** Encoded `msg` frames, oldest first. */
  frames: string[];
}

const PAGE = { width: 595.28, height: 841.89, margin: 48 };
const SIZE = 9;
const LINE = 12;

/** Standard PDF fonts only encode WinAnsi; anything else becomes "?" rather than failing the report. */
function printable(text: string): string {
  return text.replace(/[^\x20-\x7e\xa0-\xff]/g, "?");
}

function wrap(text: string, font: PDFFont, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    const next = line ? line + " " + word : word;
    if (font.widthOfTextAtSize(next, SIZE) <= width) {
      line = next;
      continue;
    }
    if (line) lines.push(line);
    line = word;
    while (font.widthOfTextAtSize(line, SIZE) > width) {
      let cut = line.length - 1;
      while (cut > 1 && font.widthOfTextAtSize(line.slice(0, cut), SIZE) > width) cut--;
      lines.push(line.slice(0, cut));
      line = line.slice(cut);
    }
  }
  if (line) lines.push(line);
  return lines;
}

/** Renders a channel's history as an A4 PDF: one entry per message (time, offset, sender, event, payload). */
export async function renderHistoryPdf(input: HistoryReportInput): Promise<Uint8Array> {
  const doc = await PDFDocument.create();
  doc.setTitle(printable(input.title));
  doc.setProducer("Switchboard");
  const font = await doc.embedFont(StandardFonts.Helvetica);
  const bold = await doc.embedFont(StandardFonts.HelveticaBold);
  const textWidth = PAGE.width - 2 * PAGE.margin;
  let page: PDFPage = doc.addPage([PAGE.width, PAGE.height]);
  let y = PAGE.height - PAGE.margin;
  const newPageIfNeeded = (need: number) => {
    if (y - need >= PAGE.margin) return;
    page = doc.addPage([PAGE.width, PAGE.height]);
    y = PAGE.height - PAGE.margin;
  };
  page.drawText(printable(input.title), { x: PAGE.margin, y, size: 14, font: bold });
  y -= 20;
  page.drawText(printable(`${input.subtitle} - generated ${input.generatedAt} - ${input.frames.length} messages`), { x: PAGE.margin, y, size: SIZE, font, color: rgb(0.35, 0.35, 0.35) });
  y -= 2 * LINE;
  for (const frame of input.frames) {
    const m = JSON.parse(frame) as { off?: string; ev: string; data: unknown; from?: string; ts: number };
    const head = `${new Date(m.ts).toISOString()}  #${m.off ?? "-"}  ${m.from ?? "server"}  ${m.ev}`;
    const body = wrap(printable(JSON.stringify(m.data)), font, textWidth - 12);
    newPageIfNeeded(LINE * (1 + Math.min(body.length, 3)));
    page.drawText(printable(head), { x: PAGE.margin, y, size: SIZE, font: bold });
    y -= LINE;
    for (const line of body) {
      newPageIfNeeded(LINE);
      page.drawText(line, { x: PAGE.margin + 12, y, size: SIZE, font });
      y -= LINE;
    }
    y -= 4;
  }
  return doc.save();
}
