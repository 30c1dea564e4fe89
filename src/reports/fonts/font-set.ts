import fontkit from "@pdf-lib/fontkit";
import { readFileSync } from "node:fs";
import type { PDFDocument, PDFFont } from "pdf-lib";
import { woffToSfnt } from "./woff.ts";
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
    const bytes = woffToSfnt(readFileSync(face.file));
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

// Marks and scripts whose glyphs depend on their neighbours (Arabic and Hebrew, combining marks, Indic).
const NEEDS_SHAPING = /[\u0300-\u036f\u0483-\u0489\u0590-\u08ff\u0900-\u0dff\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufb1d-\ufdff\ufe20-\ufe2f\ufe70-\ufeff]/;

/**
 * fontkit for pdf-lib, with a shortcut: pdf-lib uses only the glyphs of a
 * layout (never its positions), so text that needs no shaping maps straight
 * through the cmap instead of running every OpenType lookup of the font,
 * which was most of the render time.
 */
const embeddingFontkit = {
  create(data: Uint8Array, postscriptName?: string) {
    const font = fontkit.create(data, postscriptName);
    const shape = font.layout.bind(font);
    font.layout = ((text: string, features?: never) => {
      if (NEEDS_SHAPING.test(text)) return shape(text, features);
      const glyphs = [];
      for (const ch of text) glyphs.push(font.glyphForCodePoint(ch.codePointAt(0)!));
      return { glyphs };
    }) as typeof font.layout;
    return font;
  },
};

/** The faces one document embedded, each subset to the glyphs it drew. */
export class DocumentFonts {
  private readonly embedded = new Map<FontFace, PDFFont>();

  constructor(private readonly doc: PDFDocument) {
    doc.registerFontkit(embeddingFontkit as unknown as typeof fontkit);
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
