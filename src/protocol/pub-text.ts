import { CHANNEL, EVENT_NAME } from "./frames.ts";

/** A `pub` frame read from its text: `data` is the JSON text the client sent for it. */
export interface PubText {
  t: "pub";
  id: number;
  ch: string;
  ev: string;
  /** One JSON value, as the client wrote it (no line breaks). */
  data: string;
}

const PREFIX = '{"t":"pub","id":';
const CH = ',"ch":"';
const EV = ',"ev":"';
const DATA = ',"data":';

/** The last channel and event names accepted (a socket's publications mostly repeat them). */
let passedCh = "";
let passedEv = "";

/**
 * The hot frame without a JSON.parse of the whole frame and a
 * JSON.stringify of its `data`: a `pub` written the way the SDK writes it
 * (`{"t":"pub","id":N,"ch":"…","ev":"…","data":…}`, no whitespace between
 * the members, no escapes in `ch` and `ev`) is read here, and its `data` is
 * taken as the text between `"data":` and the closing brace once
 * JSON.parse accepts that text as one value. Accepted frames are exactly
 * those parseClientFrame would accept with the same id, ch, ev and data
 * value; anything else (another member order, whitespace, a duplicate
 * member, an invalid field, a line break anywhere in `data`, which history
 * storage uses as its separator) is undefined here and goes the general way,
 * which also words the errors.
 */
export function parsePubText(raw: string): PubText | undefined {
  if (!raw.startsWith(PREFIX) || raw.charCodeAt(raw.length - 1) !== 125 /* } */) return undefined;
  // id: a JSON integer without sign, exponent or leading zero, at most 16 digits, ≥ 1 and safe.
  const idStart = PREFIX.length;
  let i = idStart;
  let id = 0;
  for (let c = raw.charCodeAt(i); c >= 48 && c <= 57; c = raw.charCodeAt(++i)) id = id * 10 + (c - 48);
  if (i === idStart || i - idStart > 16 || raw.charCodeAt(idStart) === 48 || !Number.isSafeInteger(id)) return undefined;
  if (!raw.startsWith(CH, i)) return undefined;
  // ch and ev: the text up to the next quote; CHANNEL and EVENT_NAME admit no quote, backslash or
  // control character there, so that text is the decoded string itself.
  const chStart = i + CH.length;
  const chEnd = raw.indexOf('"', chStart);
  if (chEnd < 0) return undefined;
  let ch = raw.slice(chStart, chEnd);
  if (ch === passedCh) ch = passedCh;
  else if (ch.length > 255 || !CHANNEL.test(ch)) return undefined;
  else passedCh = ch;
  if (!raw.startsWith(EV, chEnd + 1)) return undefined;
  const evStart = chEnd + 1 + EV.length;
  const evEnd = raw.indexOf('"', evStart);
  if (evEnd < 0) return undefined;
  let ev = raw.slice(evStart, evEnd);
  if (ev === passedEv) ev = passedEv;
  else if (ev.includes("\\") || !EVENT_NAME.test(ev)) return undefined;
  else passedEv = ev;
  if (!raw.startsWith(DATA, evEnd + 1)) return undefined;
  const data = raw.slice(evEnd + 1 + DATA.length, raw.length - 1);
  // A raw line break can only be whitespace (JSON strings escape it): not for history's "\n" joins.
  if (data.includes("\n") || data.includes("\r")) return undefined;
  // One value and nothing after it: a member after `data` (a duplicate, which JSON.parse of the
  // whole frame would have let override an earlier one) makes this text invalid.
  try {
    JSON.parse(data);
  } catch {
    return undefined;
  }
  return { t: "pub", id, ch, ev, data };
}
