/**
 * Seeded hostile inputs for the frame and HTTP body parsers: valid frames
 * and bodies, then mutated — nested deep, made wide, long strings, cut
 * short, bytes flipped, numbers at the edges. Shared by the quick slice in
 * tests/integration/fuzz.test.ts and the million-input run in bench/fuzz/parsers.ts.
 */
import { mulberry32 } from "./seeded-random.ts";

const CHANNELS = ["room:r1", "room:r2", "user:fuzzer", "call:c1", "org:fz", "nope:x", "room:", ":r1", "__proto__:x", "room:r1\u0000"];
const EDGE_NUMBERS = ["0", "-0", "1e400", "-1e400", "1.5", "9007199254740993", "1e-400", "NaN", "0x10", "01", "1.", ".5", "1e", "-"];

export class FuzzInputs {
  private readonly r: () => number;

  /** `maxBytes`: the largest input made (frames and bodies beyond the transport's limit never reach the parsers). */
  constructor(
    seed: number,
    private readonly maxBytes: number,
  ) {
    this.r = mulberry32(seed);
  }

  int(n: number): number {
    return Math.floor(this.r() * n);
  }

  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }

  /** A JSON value as text, sometimes hostile: deep, wide, long, or with edge numbers. */
  value(): string {
    switch (this.int(10)) {
      case 0: {
        const depth = this.pick([10, 63, 64, 65, 200, 5000, 100_000]);
        const d = Math.min(depth, Math.floor(this.maxBytes / 2) - 64);
        const open = this.pick(["[", '{"a":']);
        const close = open === "[" ? "]" : "}";
        return open.repeat(d) + "1" + close.repeat(d);
      }
      case 1: {
        const n = this.pick([10, 1000, 50_000]);
        const keys = Math.min(n, Math.floor(this.maxBytes / 12));
        let s = "{";
        for (let i = 0; i < keys; i++) s += (i ? "," : "") + '"k' + i + '":' + i;
        return s + "}";
      }
      case 2: {
        const n = Math.min(this.pick([10, 10_000, 200_000]), Math.floor(this.maxBytes / 3));
        return "[" + Array.from({ length: n }, (_, i) => i % 10).join(",") + "]";
      }
      case 3:
        return JSON.stringify("x".repeat(Math.min(this.pick([1, 100, 100_000, 900_000]), this.maxBytes - 100)));
      case 4:
        return this.pick(EDGE_NUMBERS);
      case 5:
        return JSON.stringify({ a: [1, { b: "c", d: null }], "\u00e9": "\ud83d\ude00", __proto__: { x: 1 } });
      case 6:
        // A string that looks like structure: brackets inside strings must not count as nesting.
        return JSON.stringify("[".repeat(this.int(5000)) + '\\"{' + "]".repeat(this.int(50)));
      default:
        return this.pick(["null", "true", "false", '"text"', "[]", "{}", "12", '{"x":[1,2,3]}']);
    }
  }

  /** A WebSocket text frame: a frame type's shape with a hostile value or field, sometimes mutated. */
  frame(): string {
    const id = 1 + this.int(10_000);
    const ch = JSON.stringify(this.pick(CHANNELS));
    const shapes = [
      () => `{"t":"pub","id":${id},"ch":${ch},"ev":"e","data":${this.value()}}`,
      () => `{"t":"sub","id":${id},"ch":${ch}${this.int(2) ? `,"since":${JSON.stringify(String(this.int(100)))}` : ""}}`,
      () => `{"t":"history","id":${id},"ch":${ch},"limit":${this.pick(["1", "1000", "1001", "0", "1.5", "1e400"])}}`,
      () => `{"t":"auth","token":${this.int(2) ? JSON.stringify("e30.e30." + "x".repeat(this.int(20_000))) : this.value()}}`,
      () => `{"t":"refresh","id":${id},"token":${this.value()}}`,
      () => `{"t":"unsub","id":${id},"ch":${ch},"extra":${this.value()}}`,
      () => `{"t":"presence","id":${this.pick(EDGE_NUMBERS)},"ch":${ch}}`,
      () => this.value(),
    ];
    return this.mutate(this.pick(shapes)());
  }

  /** An HTTP API request: method, path and body (JSON or not). */
  request(): { method: string; path: string; body?: string; contentType?: string } {
    const ch = this.pick(CHANNELS);
    switch (this.int(6)) {
      case 0:
        return { method: "POST", path: "/v1/publish", body: this.mutate(`{"tenant":"fz","ch":${JSON.stringify(ch)},"ev":"e","data":${this.value()}}`), contentType: "application/json" };
      case 1:
        return { method: "POST", path: "/v1/broadcast", body: this.mutate(`{"tenant":"fz","chs":[${JSON.stringify(ch)}],"ev":"e","data":${this.value()}}`), contentType: "application/json" };
      case 2:
        return { method: "POST", path: "/v1/users/u1/disconnect", body: this.mutate(this.int(2) ? `{"tenant":"fz","reason":${this.value()}}` : this.value()), contentType: this.pick(["application/json", "text/plain"]) };
      case 3:
        return { method: "GET", path: `/v1/channels/${encodeURIComponent(ch)}/history?tenant=fz&limit=${this.pick(["1", "1000", "0", "-1", "1e3", "abc"])}&since=${this.pick(["0", "5", "x", "99999999999999999"])}` };
      case 4:
        return { method: "GET", path: `/v1/channels/${encodeURIComponent(ch)}/presence?tenant=${this.pick(["fz", "", "a/b", "%00"])}` };
      default:
        return { method: "POST", path: "/v1/publish", body: this.mutate(this.value()), contentType: this.pick(["application/json", "application/json; charset=utf-8", "text/plain", ""]) };
    }
  }

  /** Usually the text unchanged; sometimes cut short, a character replaced, or bytes inserted. */
  private mutate(text: string): string {
    const k = this.int(8);
    if (k >= 4 || text.length === 0) return text;
    const at = this.int(text.length);
    if (k === 0) return text.slice(0, at);
    if (k === 1) return text.slice(0, at) + this.pick(["\u0000", '"', "\\", "{", "]", "\ud800", ",", "\u2028"]) + text.slice(at + 1);
    if (k === 2) return text.slice(0, at) + this.pick(["[[[[", '"\\u00', ",,", "}}"]) + text.slice(at);
    return text + this.pick(["", " ", "x", "}"]);
  }
}
