import type { PublicationInput } from "../engine/engine.ts";
import type { ErrorCode } from "./codes.ts";

/**
 * Server frames are built by string concatenation: a publication is encoded
 * once per node and the same text goes to every subscriber.
 */

/** The `msg` frame of a publication (`data` is already JSON text): msgHead + msgTail. */
export function encodeMsg(pub: PublicationInput, off: string | undefined): string {
  return msgHead(pub.ch, off) + msgTail(pub);
}

/**
 * The start of a `msg` frame: type, channel and offset. Channel names are
 * validated against CHANNEL before they get here, and nothing in that
 * alphabet needs JSON escaping. The constant part is kept for the last
 * channel: publications come in runs on the same channel.
 */
export function msgHead(ch: string, off: string | undefined): string {
  if (off === undefined) return '{"t":"msg","ch":"' + ch + '"';
  if (ch !== headCh) {
    headCh = ch;
    headStart = '{"t":"msg","ch":"' + ch + '","off":"';
  }
  return headStart + off + '"';
}

let headCh = "";
let headStart = '{"t":"msg","ch":"","off":"';

/**
 * The rest of a `msg` frame after msgHead: event, data, sender, time. Always ends with `"ts":<ms>}`.
 * The encoded event and sender are kept for the last ones seen (a socket's
 * frames arrive together, mostly with the same event name): that saves two
 * JSON.stringify calls per publication.
 */
export function msgTail(pub: PublicationInput): string {
  if (pub.ev !== tailEv) {
    tailEv = pub.ev;
    tailEvPart = ',"ev":' + JSON.stringify(pub.ev) + ',"data":';
  }
  const from = pub.from;
  if (from === undefined) return tailEvPart + pub.data + ',"ts":' + pub.ts + "}";
  if (from !== tailFrom) {
    tailFrom = from;
    tailFromPart = ',"from":' + JSON.stringify(from) + ',"ts":';
  }
  return tailEvPart + pub.data + tailFromPart + pub.ts + "}";
}

let tailEv = "";
let tailEvPart = ',"ev":"","data":';
let tailFrom = "";
let tailFromPart = ',"from":"","ts":';

export function encodePresenceEvent(kind: "join" | "leave", ch: string, user: string, conn: string): string {
  return '{"t":"' + kind + '","ch":' + JSON.stringify(ch) + ',"user":' + JSON.stringify(user) + ',"conn":' + JSON.stringify(conn) + "}";
}

/** `ok` answer; `fields` are appended as JSON members (already-encoded values allowed via `raw`). */
export function encodeOk(id: number, fields?: Record<string, unknown>, raw?: Record<string, string>): string {
  let s = '{"t":"ok","id":' + id;
  if (fields) for (const k in fields) s += ',"' + k + '":' + JSON.stringify(fields[k]);
  if (raw) for (const k in raw) s += ',"' + k + '":' + raw[k];
  return s + "}";
}

export function encodeErr(id: number | undefined, code: ErrorCode, msg: string, retryAfter?: number): string {
  let s = '{"t":"err"';
  if (id !== undefined) s += ',"id":' + id;
  s += ',"code":"' + code + '","msg":' + JSON.stringify(msg);
  if (retryAfter !== undefined) s += ',"retryAfter":' + retryAfter;
  return s + "}";
}

/** Joins already-encoded frames into a JSON array without re-parsing them. */
export function encodeArray(frames: string[]): string {
  return "[" + frames.join(",") + "]";
}

/** The unsolicited `err` that ends a subscription (no `id`; `ch` names it). */
export function encodeSubscriptionEnded(ch: string, code: ErrorCode, msg: string): string {
  return '{"t":"err","ch":' + JSON.stringify(ch) + ',"code":"' + code + '","msg":' + JSON.stringify(msg) + "}";
}
