import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Runs Debian's pdftotext / pdfinfo (poppler-utils) on a PDF: what a reader's tools see. */
function poppler(program: string, pdf: Uint8Array, args: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), "sb-pdf-"));
  try {
    const file = join(dir, "r.pdf");
    writeFileSync(file, pdf);
    const p = Bun.spawnSync([program, ...args, file, ...(program === "pdftotext" ? ["-"] : [])], { stdout: "pipe", stderr: "pipe" });
    if (p.exitCode !== 0) throw new Error(`${program} failed: ${p.stderr.toString()}`);
    return p.stdout.toString();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Text of the whole PDF, or of one page; bidi marks poppler inserts around runs removed. */
export function pdfText(pdf: Uint8Array, page?: number): string {
  const range = page === undefined ? [] : ["-f", String(page), "-l", String(page)];
  return poppler("pdftotext", pdf, range).replace(/[\u200e\u200f\u202a-\u202e]/g, "");
}

export function pdfInfo(pdf: Uint8Array): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of poppler("pdfinfo", pdf, []).split("\n")) {
    const m = /^([^:]+):\s*(.*)$/.exec(line);
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}
