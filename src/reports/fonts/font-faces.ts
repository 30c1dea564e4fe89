import { readFileSync } from "node:fs";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";

export type Weight = "regular" | "bold";

/** One font file and the code points it is meant for (from the package's unicode.json). */
export interface FontFace {
  file: string;
  /** Sorted, inclusive [from, to] pairs. */
  ranges: Array<[number, number]>;
}

function packageDir(name: string): string {
  return dirname(fileURLToPath(import.meta.resolve(`${name}/package.json`)));
}

function parseRanges(spec: string): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (const part of spec.split(",")) {
    const m = /^\s*U\+([0-9a-f]+)(?:-([0-9a-f]+))?\s*$/i.exec(part);
    if (m) out.push([parseInt(m[1]!, 16), parseInt(m[2] ?? m[1]!, 16)]);
  }
  return out.sort((a, b) => a[0] - b[0]);
}

function subsets(pkg: string): { dir: string; ranges: Record<string, string> } {
  const dir = packageDir(pkg);
  return { dir, ranges: JSON.parse(readFileSync(`${dir}/unicode.json`, "utf8")) as Record<string, string> };
}

/**
 * The fallback chain, in order: Noto Sans (Latin, Vietnamese, Greek, Cyrillic),
 * DejaVu Sans (Arabic, Hebrew and many symbols; its Arabic joins with plain
 * init/medi/fina substitutions, which extract back to the right letters, where
 * Noto Sans Arabic decomposes letters into shared skeleton glyphs that do not),
 * then Noto Sans SC (Chinese, split in ~100 files by code point, so only the
 * pieces a report uses are read). WOFF 1 files only: the subsetter copies glyph
 * data as stored, and WOFF 2 stores it transformed.
 */
function buildChain(weight: Weight): FontFace[] {
  const w = weight === "bold" ? 700 : 400;
  const faces: FontFace[] = [];
  const sans = subsets("@fontsource/noto-sans");
  for (const s of ["latin", "latin-ext", "vietnamese", "greek", "greek-ext", "cyrillic", "cyrillic-ext"]) {
    faces.push({ file: `${sans.dir}/files/noto-sans-${s}-${w}-normal.woff`, ranges: parseRanges(sans.ranges[s]!) });
  }
  faces.push({ file: `${packageDir("dejavu-fonts-ttf")}/ttf/DejaVuSans${weight === "bold" ? "-Bold" : ""}.ttf`, ranges: [[0, 0x10ffff]] });
  const sc = subsets("@fontsource/noto-sans-sc");
  for (const [key, spec] of Object.entries(sc.ranges)) {
    const n = /^\[(\d+)\]$/.exec(key)?.[1];
    if (n !== undefined) faces.push({ file: `${sc.dir}/files/noto-sans-sc-${n}-${w}-normal.woff`, ranges: parseRanges(spec) });
  }
  return faces;
}

let chains: Record<Weight, FontFace[]> | undefined;

export function fontChain(weight: Weight): FontFace[] {
  chains ??= { regular: buildChain("regular"), bold: buildChain("bold") };
  return chains[weight];
}

export function covers(face: FontFace, cp: number): boolean {
  for (const [from, to] of face.ranges) {
    if (cp < from) return false;
    if (cp <= to) return true;
  }
  return false;
}
