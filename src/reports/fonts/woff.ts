import { inflateSync } from "node:zlib";

/**
 * Unpacks a WOFF 1 file into the plain TrueType/OpenType file it wraps
 * (W3C WOFF 1.0 §4–5): each table is stored zlib-compressed or as is. Done
 * once per worker so that neither the measuring font nor pdf-lib's embedding
 * inflates the tables again for every report.
 */
export function woffToSfnt(woff: Uint8Array): Uint8Array {
  const src = new DataView(woff.buffer, woff.byteOffset, woff.byteLength);
  if (src.getUint32(0) !== 0x774f4646) return woff; // not "wOFF": already a TTF/OTF
  const flavor = src.getUint32(4);
  const numTables = src.getUint16(12);
  const tables: Array<{ tag: number; checksum: number; data: Uint8Array }> = [];
  for (let i = 0; i < numTables; i++) {
    const e = 44 + i * 20;
    const offset = src.getUint32(e + 4);
    const compLength = src.getUint32(e + 8);
    const origLength = src.getUint32(e + 12);
    const stored = woff.subarray(offset, offset + compLength);
    tables.push({ tag: src.getUint32(e), checksum: src.getUint32(e + 16), data: compLength < origLength ? new Uint8Array(inflateSync(stored)) : stored });
  }
  const headerLength = 12 + 16 * numTables;
  const total = tables.reduce((sum, t) => sum + ((t.data.length + 3) & ~3), headerLength);
  const out = new Uint8Array(total);
  const dst = new DataView(out.buffer);
  let entrySelector = 0;
  while (1 << (entrySelector + 1) <= numTables) entrySelector++;
  dst.setUint32(0, flavor);
  dst.setUint16(4, numTables);
  dst.setUint16(6, 16 << entrySelector);
  dst.setUint16(8, entrySelector);
  dst.setUint16(10, numTables * 16 - (16 << entrySelector));
  let offset = headerLength;
  tables.forEach((t, i) => {
    const e = 12 + i * 16;
    dst.setUint32(e, t.tag);
    dst.setUint32(e + 4, t.checksum);
    dst.setUint32(e + 8, offset);
    dst.setUint32(e + 12, t.data.length);
    out.set(t.data, offset);
    offset += (t.data.length + 3) & ~3;
  });
  return out;
}
