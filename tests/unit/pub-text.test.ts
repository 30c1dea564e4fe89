import { expect, test } from "bun:test";
import { parseClientFrame } from "../../src/protocol/frames.ts";
import { parsePubText } from "../../src/protocol/pub-text.ts";

/** What the general way makes of a frame's text: the pub it accepts (data re-encoded), or undefined. */
function general(raw: string): { id: number; ch: string; ev: string; data: unknown } | undefined {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return undefined;
  }
  const f = parseClientFrame(json);
  if ("ok" in f || f.t !== "pub") return undefined;
  return { id: f.id, ch: f.ch, ev: f.ev, data: f.data };
}

let seed = 7;
const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
/** Mostly one of the first `valid` entries (well-formed values), sometimes any. */
const mostly = <T>(xs: readonly T[], valid: number): T => (rnd() < 0.8 ? xs[Math.floor(rnd() * valid)]! : pick(xs));

const IDS = ["1", "42", "9007199254740991", "9007199254740992", "0", "01", "-1", "1.5", "1e2", "1.0", '"1"', "12345678901234567"];
const CHANNELS = ['"room:1"', '"room:bench"', '"room:a b"', '"room:\\u0031"', '"room:x\\""', '"a:"', '":x"', '"room"', `"${"x".repeat(64)}:y"`, `"room:${"z".repeat(260)}"`, "5"];
const EVENTS = ['"m"', '"chat"', '"a\\"b"', '"a\\\\b"', '"é"', '"\\u0041"', `"${"x".repeat(128)}"`, `"${"x".repeat(129)}"`, '""', '"a\\nb"', "3"];
const DATA = ['{"s":1,"q":2,"text":"Hello World!"}', "1", '"s"', "null", "[]", "{}", '{ "a" : [ 1 , 2 ] }', '{"a":1}\n', '{"a":\n1}', '{"x":"\\n"}', '{"a":1,"a":2}', "1e400", "-0", "12345678901234567890", '"\\u00e9\\/"', "", "{", '1,"data":2', '1,"t":"pub"', '{"a":1},"id":1', "tru"];
const TAILS = ["}", " }", "}\n", ',"x":1}', ',"data":2}', "}}"];

function frame(): string {
  const member = (k: string, v: string) => `"${k}":${v}`;
  const parts = [member("t", pick(['"pub"', '"pub"', '"pub"', '"sub"'])), member("id", mostly(IDS, 3)), member("ch", mostly(CHANNELS, 2)), member("ev", mostly(EVENTS, 2)), member("data", mostly(DATA, 5))];
  // Mostly the SDK's member order and spacing, sometimes another order or spaces between members.
  if (rnd() < 0.1) parts.sort(() => rnd() - 0.5);
  const sep = rnd() < 0.1 ? ", " : ",";
  const open = rnd() < 0.05 ? "{ " : "{";
  const body = parts.join(sep);
  const tail = rnd() < 0.8 ? "}" : pick(TAILS);
  return open + body + tail;
}

test("a pub read from its text is the same pub the general way reads, with data of the same value (20,000 generated frames)", () => {
  let read = 0;
  let generalOnly = 0;
  for (let i = 0; i < 20_000; i++) {
    const raw = frame();
    const fast = parsePubText(raw);
    const want = general(raw);
    if (fast === undefined) {
      if (want !== undefined) generalOnly++;
      continue;
    }
    read++;
    // Everything read here is a pub the general way accepts, with equal fields and data value.
    expect({ raw, ok: want !== undefined }).toEqual({ raw, ok: true });
    expect({ raw, id: fast.id, ch: fast.ch, ev: fast.ev }).toEqual({ raw, id: want!.id, ch: want!.ch, ev: want!.ev });
    expect({ raw, data: JSON.parse(fast.data) }).toEqual({ raw, data: want!.data as never });
    // No line break: history stores frame tails joined by "\n".
    expect(/[\n\r]/.test(fast.data)).toBe(false);
  }
  // Both ways are reached: most SDK-shaped frames are read from their text, the rest go the general way.
  expect(read).toBeGreaterThan(1000);
  expect(generalOnly).toBeGreaterThan(500);
});

test("frames the text reader leaves to the general way: another order, duplicates, escapes, line breaks, bad numbers", () => {
  const ok = (data: string) => `{"t":"pub","id":7,"ch":"room:1","ev":"m","data":${data}}`;
  expect(parsePubText(ok('{"a":[1,2]}'))).toEqual({ t: "pub", id: 7, ch: "room:1", ev: "m", data: '{"a":[1,2]}' });
  // A second `data` after the first: the general way lets the last one win; the text reader must not pick the first.
  expect(parsePubText('{"t":"pub","id":7,"ch":"room:1","ev":"m","data":1,"data":2}')).toBeUndefined();
  expect(general('{"t":"pub","id":7,"ch":"room:1","ev":"m","data":1,"data":2}')?.data).toBe(2);
  // A member after data that would also override the frame's type in a msg built from the text.
  expect(parsePubText('{"t":"pub","id":7,"ch":"room:1","ev":"m","data":1,"t":"pub"}')).toBeUndefined();
  expect(parsePubText(ok('{"a":\n1}'))).toBeUndefined();
  expect(parsePubText('{"t":"pub","id":07,"ch":"room:1","ev":"m","data":1}')).toBeUndefined();
  expect(parsePubText('{"t":"pub","id":0,"ch":"room:1","ev":"m","data":1}')).toBeUndefined();
  expect(parsePubText('{"t":"pub","id":9007199254740992,"ch":"room:1","ev":"m","data":1}')).toBeUndefined();
  expect(parsePubText('{"t":"pub","id":7,"ch":"room:\\u0031","ev":"m","data":1}')).toBeUndefined();
  expect(parsePubText('{"t":"pub","id":7,"ch":"room:1","ev":"a\\"b","data":1}')).toBeUndefined();
  expect(parsePubText('{"t":"pub","id":7,"ev":"m","ch":"room:1","data":1}')).toBeUndefined();
  expect(parsePubText('{"t":"pub","id":7,"ch":"room:1","ev":"m","data":}')).toBeUndefined();
});
