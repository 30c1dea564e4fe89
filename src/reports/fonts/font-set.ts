import fontkit from "@pdf-lib/fontkit";
import { readFileSync } from "node:fs";
import type { PDFDocument, PDFFont } from "pdf-lib";
import { covers, fontChain, type FontFace, type Weight } from "./font-faces.ts";

type ParsedFont = ReturnType<typeof fontkit.create>;

interface Loaded {
  bytes: Uint8Array;
  font: ParsedFont;
  /** Advance width per code point, in em. */
  advances: Map<number, number>;
}

// Parsed once per worker thread and reused by every report it renders.
const loaded = new Map<string, Loaded>();
const faceCache: Record<Weight, Map<number, FontFace>> = { regular: new Map(), bold: new Map() };

function load(face: FontFace): Loaded {
  let l = loaded.get(face.file);
  if (!l) {
    const bytes = readFileSync(face.file);
    l = { bytes, font: fontkit.create(bytes), advances: new Map() };
    loaded.set(face.file, l);
  }
  return l;
}

/** The first face of the chain that has a glyph for `cp`; the first face (drawing .notdef) when none has. */
export function faceFor(cp: number, weight: Weight): FontFace {
  const cache = faceCache[weight];
  let face = cache.get(cp);
  if (face) return face;
  const chain = fontChain(weight);
  face = chain[0]!;
  for (const f of chain) {
    if (covers(f, cp) && load(f).font.hasGlyphForCodePoint(cp)) {
      face = f;
      break;
    }
  }
  cache.set(cp, face);
  return face;
}

/** Advance of one code point in em, without shaping: what the line wrapper measures with. */
export function advance(face: FontFace, cp: number): number {
  const l = load(face);
  let a = l.advances.get(cp);
  if (a === undefined) {
    a = l.font.glyphForCodePoint(cp).advanceWidth / l.font.unitsPerEm;
    l.advances.set(cp, a);
  }
  return a;
}

/** The faces one document embedded, each subset to the glyphs it drew. */
export class DocumentFonts {
  private readonly embedded = new Map<FontFace, PDFFont>();

  constructor(private readonly doc: PDFDocument) {
    doc.registerFontkit(fontkit);
  }

  /** The embedded font of `face`; the first face of the chain (drawing .notdef) for a face `prepare` did not see. */
  pdfFont(face: FontFace): PDFFont {
    return this.embedded.get(face) ?? this.embedded.get(fontChain("regular")[0]!)!;
  }

  /**
   * Embeds, up front, every face the characters of `text` need in both weights:
   * pdf-lib embeds asynchronously, and the layout draws synchronously.
   */
  async prepare(text: string): Promise<void> {
    const seen = new Set<number>();
    for (const ch of text) seen.add(ch.codePointAt(0)!);
    for (const weight of ["regular", "bold"] as const) {
      for (const cp of seen) {
        const face = faceFor(cp, weight);
        if (this.embedded.has(face)) continue;
        this.embedded.set(face, await this.doc.embedFont(load(face).bytes, { subset: true }));
      }
    }
  }
}
