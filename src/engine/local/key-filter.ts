/**
 * A fixed-size Bloom filter of channel keys: `mayHave` is false only for a
 * key never added, so a caller can skip a lookup for it (no false
 * negatives); true means "perhaps" (a false positive costs the lookup it
 * would have made anyway). Memory is fixed (2^bits bits) whatever the number
 * of keys; the false-positive rate grows with them (see falsePositiveRate).
 *
 * Positions come from two 32-bit hashes of the key's UTF-16 code units,
 * computed in one pass (FNV-1a and a second multiplicative lane, each
 * finished with murmur3's avalanche), combined as h1 + i·h2 (Kirsch and
 * Mitzenmacher): plain JavaScript, the same on Bun and Node.
 */
export class KeyFilter {
  private readonly words: Uint32Array;
  private readonly mask: number;
  /** Keys whose add set a bit: the distinct keys added, less the few that were false positives already. */
  private added = 0;

  constructor(
    readonly bits = 23,
    readonly hashes = 4,
  ) {
    if (!Number.isInteger(bits) || bits < 5 || bits > 31) throw new TypeError("a key filter has 2^5 to 2^31 bits");
    this.words = new Uint32Array(2 ** (bits - 5));
    this.mask = 2 ** bits - 1;
  }

  /** Distinct keys added (less the rare ones that were false positives already). */
  get keys(): number {
    return this.added;
  }

  /** Bytes the filter holds. */
  get bytes(): number {
    return this.words.byteLength;
  }

  /** Adds `key` (before it is stored: a key stored but not yet added would read as never stored). */
  add(key: string): void {
    hash(key);
    const w = this.words;
    let fresh = false;
    for (let i = 0; i < this.hashes; i++) {
      const p = (ha + Math.imul(i, hb)) & this.mask;
      const bit = 1 << (p & 31);
      const word = w[p >>> 5]!;
      if ((word & bit) === 0) {
        w[p >>> 5] = word | bit;
        fresh = true;
      }
    }
    if (fresh) this.added++;
  }

  /** False only when `key` was certainly never added. */
  mayHave(key: string): boolean {
    hash(key);
    const w = this.words;
    for (let i = 0; i < this.hashes; i++) {
      const p = (ha + Math.imul(i, hb)) & this.mask;
      if ((w[p >>> 5]! & (1 << (p & 31))) === 0) return false;
    }
    return true;
  }

  /** Expected false-positive rate for the keys added so far: (1 − e^(−k·n/m))^k. */
  falsePositiveRate(): number {
    return (1 - Math.exp((-this.hashes * this.added) / 2 ** this.bits)) ** this.hashes;
  }
}

/** The two hashes of the last key hashed (module scope: no pair allocated per call). */
let ha = 0;
let hb = 0;

function hash(key: string): void {
  let a = 0x811c9dc5;
  let b = 0x9747b28c;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
    b ^= b >>> 15;
  }
  ha = fmix(a);
  // Odd: the k positions h1 + i·h2 (mod 2^bits) are then all different.
  hb = fmix(b) | 1;
}

/** murmur3's 32-bit finalizer: every input bit reaches every output bit. */
function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}
