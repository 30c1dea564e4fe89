/**
 * Minimal WebSocket framing for the lean bench client (RFC 6455).
 *
 * `FrameParser` reads server→client frames (unmasked) from arbitrary TCP
 * chunks: a frame may span several chunks and a chunk may hold many frames.
 * Complete frames are reported in place (`buf`, `start`, `end`) without
 * copying; only a partial tail is copied into a carry-over buffer. Fragmented
 * messages (FIN=0 + continuation frames) are assembled and reported once.
 */

export const OP_CONT = 0x0;
export const OP_TEXT = 0x1;
export const OP_BINARY = 0x2;
export const OP_CLOSE = 0x8;
export const OP_PING = 0x9;
export const OP_PONG = 0xa;

/** Called once per complete message or control frame; the bytes are only valid during the call. */
export type OnFrame = (opcode: number, buf: Uint8Array, start: number, end: number) => void;

export class FrameParser {
  private carry: Uint8Array | null = null;
  private fragOpcode = -1;
  private fragParts: Uint8Array[] = [];
  private fragLen = 0;
  /** Messages + control frames delivered so far. */
  frames = 0;

  constructor(private readonly onFrame: OnFrame) {}

  push(chunk: Uint8Array): void {
    let buf = chunk;
    if (this.carry !== null) {
      const joined = new Uint8Array(this.carry.length + chunk.length);
      joined.set(this.carry, 0);
      joined.set(chunk, this.carry.length);
      buf = joined;
      this.carry = null;
    }
    const n = buf.length;
    let i = 0;
    while (n - i >= 2) {
      const b0 = buf[i];
      const b1 = buf[i + 1];
      if ((b1 & 0x80) !== 0) throw new Error("server frames must not be masked");
      let len = b1 & 0x7f;
      let hdr = 2;
      if (len === 126) {
        if (n - i < 4) break;
        len = (buf[i + 2] << 8) | buf[i + 3];
        hdr = 4;
      } else if (len === 127) {
        if (n - i < 10) break;
        const hi = ((buf[i + 2] << 24) >>> 0) + (buf[i + 3] << 16) + (buf[i + 4] << 8) + buf[i + 5];
        const lo = ((buf[i + 6] << 24) >>> 0) + (buf[i + 7] << 16) + (buf[i + 8] << 8) + buf[i + 9];
        len = hi * 0x1_0000_0000 + lo;
        hdr = 10;
      }
      if (n - i < hdr + len) break;
      const start = i + hdr;
      const end = start + len;
      this.frame(b0, buf, start, end);
      i = end;
    }
    // Copy: the chunk may be a Buffer whose slice() is a view that gets reused.
    if (i < n) this.carry = Uint8Array.prototype.slice.call(buf, i);
  }

  private frame(b0: number, buf: Uint8Array, start: number, end: number): void {
    const fin = (b0 & 0x80) !== 0;
    const opcode = b0 & 0x0f;
    if (opcode >= 0x8) {
      // Control frames may be interleaved inside a fragmented message.
      this.frames++;
      this.onFrame(opcode, buf, start, end);
      return;
    }
    if (opcode !== OP_CONT && fin) {
      this.frames++;
      this.onFrame(opcode, buf, start, end);
      return;
    }
    if (opcode !== OP_CONT) {
      this.fragOpcode = opcode;
      this.fragParts = [];
      this.fragLen = 0;
    } else if (this.fragOpcode < 0) {
      throw new Error("continuation frame without a started message");
    }
    this.fragParts.push(Uint8Array.prototype.slice.call(buf, start, end));
    this.fragLen += end - start;
    if (!fin) return;
    const whole = new Uint8Array(this.fragLen);
    let o = 0;
    for (const p of this.fragParts) {
      whole.set(p, o);
      o += p.length;
    }
    const op = this.fragOpcode;
    this.fragOpcode = -1;
    this.fragParts = [];
    this.fragLen = 0;
    this.frames++;
    this.onFrame(op, whole, 0, whole.length);
  }

  /** Bytes held back waiting for the rest of a frame. */
  get pending(): number {
    return this.carry?.length ?? 0;
  }
}

const encoder = new TextEncoder();

/** Writes FIN/opcode and the 7/16/64-bit payload length; returns the header size. */
function writeHeader(out: Uint8Array, opcode: number, fin: boolean, masked: boolean, len: number): number {
  const m = masked ? 0x80 : 0;
  out[0] = (fin ? 0x80 : 0) | opcode;
  if (len < 126) {
    out[1] = m | len;
    return 2;
  }
  if (len < 65536) {
    out[1] = m | 126;
    out[2] = len >>> 8;
    out[3] = len & 0xff;
    return 4;
  }
  out[1] = m | 127;
  const hi = Math.floor(len / 0x1_0000_0000);
  out[2] = hi >>> 24;
  out[3] = (hi >>> 16) & 0xff;
  out[4] = (hi >>> 8) & 0xff;
  out[5] = hi & 0xff;
  out[6] = len >>> 24;
  out[7] = (len >>> 16) & 0xff;
  out[8] = (len >>> 8) & 0xff;
  out[9] = len & 0xff;
  return 10;
}

const headerSize = (len: number) => (len < 126 ? 2 : len < 65536 ? 4 : 10);

/** Encodes one masked client→server frame (FIN set). */
export function encodeClientFrame(opcode: number, payload: Uint8Array | string, mask?: Uint8Array): Uint8Array {
  const data = typeof payload === "string" ? encoder.encode(payload) : payload;
  const len = data.length;
  const out = new Uint8Array(headerSize(len) + 4 + len);
  const hdr = writeHeader(out, opcode, true, true, len);
  const m = mask ?? crypto.getRandomValues(new Uint8Array(4));
  out.set(m.subarray(0, 4), hdr);
  const p = hdr + 4;
  for (let k = 0; k < len; k++) out[p + k] = data[k]! ^ m[k & 3]!;
  return out;
}

/** Encodes an unmasked server→client frame (tests and fixtures only). */
export function encodeServerFrame(opcode: number, payload: Uint8Array | string, fin = true): Uint8Array {
  const data = typeof payload === "string" ? encoder.encode(payload) : payload;
  const out = new Uint8Array(headerSize(data.length) + data.length);
  out.set(data, writeHeader(out, opcode, fin, false, data.length));
  return out;
}

/** True when `buf[start..end)` begins with `prefix`. No allocation. */
export function startsWith(buf: Uint8Array, start: number, end: number, prefix: Uint8Array): boolean {
  if (end - start < prefix.length) return false;
  for (let k = 0; k < prefix.length; k++) if (buf[start + k] !== prefix[k]) return false;
  return true;
}

/**
 * Finds `key` (e.g. the bytes of `"bt":`) in `buf[start..end)` and parses the
 * unsigned integer that follows it. Returns -1 when absent. No allocation.
 */
export function readIntAfter(buf: Uint8Array, start: number, end: number, key: Uint8Array): number {
  const kl = key.length;
  const last = end - kl;
  outer: for (let i = start; i <= last; i++) {
    for (let k = 0; k < kl; k++) if (buf[i + k] !== key[k]) continue outer;
    let j = i + kl;
    let v = 0;
    let digits = 0;
    while (j < end) {
      const c = buf[j];
      if (c < 48 || c > 57) break;
      v = v * 10 + (c - 48);
      digits++;
      j++;
    }
    return digits > 0 ? v : -1;
  }
  return -1;
}

/** True when `pat` occurs in `buf[start..end)`. No allocation. */
export function includesBytes(buf: Uint8Array, start: number, end: number, pat: Uint8Array): boolean {
  const last = end - pat.length;
  outer: for (let i = start; i <= last; i++) {
    for (let k = 0; k < pat.length; k++) if (buf[i + k] !== pat[k]) continue outer;
    return true;
  }
  return false;
}
