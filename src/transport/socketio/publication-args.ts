/**
 * Turns a native `msg` frame (built by protocol/encode.ts: `{"t":"msg","ch":…,
 * "off"?:…,"ev":…,"data":…,"from"?:…,"ts":…}`) into the arguments of a
 * Socket.IO event `(ev, data, meta)` by slicing the text, without parsing
 * the payload: a publication is re-framed once per node, never per subscriber.
 */
export interface PublicationParts {
  ch: string;
  /** JSON text of the event name (a quoted string). */
  ev: string;
  /** `data,{meta}`: the event's arguments after its name, as JSON text. */
  args: string;
  /** The channel offset, or "" for publications without one. */
  off: string;
}

const HEAD = '{"t":"msg","ch":"';
const OFF = ',"off":"';
const EV = ',"ev":';
const DATA = ',"data":';
const FROM = ',"from":';
const TS = ',"ts":';

/** Index just past the JSON string starting at `start` (a `"`), honouring escapes. */
function endOfString(s: string, start: number): number {
  let i = start + 1;
  for (;;) {
    const c = s.charCodeAt(i);
    if (c === 34 /* " */) return i + 1;
    if (c === 92 /* \ */) i += 2;
    else if (Number.isNaN(c)) return -1;
    else i++;
  }
}

/** Index of the opening quote of the JSON string whose closing quote is at `close`. */
function startOfString(s: string, close: number): number {
  for (let i = close - 1; i >= 0; i--) {
    if (s.charCodeAt(i) !== 34) continue;
    let slashes = 0;
    while (s.charCodeAt(i - 1 - slashes) === 92) slashes++;
    if (slashes % 2 === 0) return i;
  }
  return -1;
}

export function publicationParts(frame: string): PublicationParts | undefined {
  if (!frame.startsWith(HEAD)) return undefined;
  const chEnd = frame.indexOf('"', HEAD.length);
  const ch = frame.slice(HEAD.length, chEnd);
  let i = chEnd + 1;
  let off = "";
  if (frame.startsWith(OFF, i)) {
    const offEnd = frame.indexOf('"', i + OFF.length);
    off = frame.slice(i + OFF.length, offEnd);
    i = offEnd + 1;
  }
  if (!frame.startsWith(EV, i)) return undefined;
  const evStart = i + EV.length;
  const evEnd = endOfString(frame, evStart);
  if (evEnd < 0 || !frame.startsWith(DATA, evEnd)) return undefined;
  const dataStart = evEnd + DATA.length;
  const tsAt = frame.lastIndexOf(TS);
  if (tsAt < dataStart) return undefined;
  const ts = frame.slice(tsAt + TS.length, frame.length - 1);
  let dataEnd = tsAt;
  let from = "";
  if (frame.charCodeAt(tsAt - 1) === 34) {
    const q = startOfString(frame, tsAt - 1);
    if (q > dataStart && frame.startsWith(FROM, q - FROM.length)) {
      from = FROM + frame.slice(q, tsAt);
      dataEnd = q - FROM.length;
    }
  }
  const meta = '{"ch":"' + ch + (off === "" ? '"' : '","off":"' + off + '"') + from + TS + ts + "}";
  return { ch, ev: frame.slice(evStart, evEnd), args: frame.slice(dataStart, dataEnd) + "," + meta, off };
}
