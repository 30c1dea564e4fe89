import * as v from "valibot";

/** Client → server frames of PROTOCOL.md §3; unknown fields are rejected. */

export const CHANNEL = /^[A-Za-z0-9_.@=\-]{1,64}:[A-Za-z0-9_.:@=\-]*$/;
const Channel = v.pipe(
  v.string("must be a string"),
  v.maxBytes(255, "must be at most 255 bytes"),
  v.regex(CHANNEL, "must be namespace:rest of [A-Za-z0-9_.:@=-]"),
);
const Id = v.pipe(v.number("must be a number"), v.safeInteger("must be an integer"), v.minValue(1, "must be positive"));
const Offset = v.pipe(v.string("must be a string"), v.regex(/^\d{1,16}$/, "must be an offset string"));
const Token = v.pipe(v.string("must be a string"), v.minLength(1, "must not be empty"), v.maxLength(16_384, "is too long"));
const EventName = v.pipe(v.string("must be a string"), v.regex(/^[^\u0000-\u001f]{1,128}$/, "must be 1–128 printable characters"));

export const AuthFrame = v.strictObject({ t: v.literal("auth"), token: Token, id: v.optional(Id) });
export const SubFrame = v.strictObject({
  t: v.literal("sub"),
  id: Id,
  ch: Channel,
  since: v.optional(Offset),
  presence: v.optional(v.boolean("must be a boolean")),
});
export const UnsubFrame = v.strictObject({ t: v.literal("unsub"), id: Id, ch: Channel });
export const PubFrame = v.strictObject({ t: v.literal("pub"), id: Id, ch: Channel, ev: EventName, data: v.unknown() });
export const PresenceFrame = v.strictObject({ t: v.literal("presence"), id: Id, ch: Channel });
export const HistoryFrame = v.strictObject({
  t: v.literal("history"),
  id: Id,
  ch: Channel,
  since: v.optional(Offset),
  limit: v.optional(v.pipe(v.number("must be a number"), v.safeInteger("must be an integer"), v.minValue(1, "must be ≥ 1"), v.maxValue(1000, "must be ≤ 1000"))),
});
export const RefreshFrame = v.strictObject({ t: v.literal("refresh"), id: Id, token: Token });

export const ClientFrame = v.variant("t", [AuthFrame, SubFrame, UnsubFrame, PubFrame, PresenceFrame, HistoryFrame, RefreshFrame]);
export type ClientFrame = v.InferOutput<typeof ClientFrame>;
export type FrameType = ClientFrame["t"];
export const FRAME_TYPES: readonly FrameType[] = ["auth", "sub", "unsub", "pub", "presence", "history", "refresh"];

/** Why a frame was refused: the id to answer (when it had a usable one) and a message naming the field. */
export interface FrameError {
  ok: false;
  id: number | undefined;
  message: string;
}

export const EVENT_NAME = /^[^\u0000-\u001f]{1,128}$/;

/** The last channel name and event name fastPub accepted: a socket's publications mostly repeat them. */
let passedCh = "";
let passedEv = "";

/**
 * The hot frame, checked by hand with exactly PubFrame's rules; anything it
 * does not accept goes through valibot, which also words the error. A
 * channel or event name equal to the last one accepted skips its regular
 * expression, and the frame then carries the kept string (one string for the
 * route cache's lookups instead of a fresh one per frame).
 */
function fastPub(o: Record<string, unknown>): ClientFrame | undefined {
  let n = 0;
  for (const _ in o) n++;
  if (n !== 5 || !("data" in o)) return undefined;
  const { id, ch, ev } = o;
  if (typeof id !== "number" || !Number.isSafeInteger(id) || id < 1) return undefined;
  if (typeof ch !== "string") return undefined;
  if (ch === passedCh) o.ch = passedCh;
  // CHANNEL is ASCII only, so the length is the byte length.
  else if (ch.length > 255 || !CHANNEL.test(ch)) return undefined;
  else passedCh = ch;
  if (typeof ev !== "string") return undefined;
  if (ev === passedEv) o.ev = passedEv;
  else if (!EVENT_NAME.test(ev)) return undefined;
  else passedEv = ev;
  return o as ClientFrame;
}

const OFFSET = /^\d{1,16}$/;

/** `sub`, the frame of every (re)connect, checked by hand with exactly SubFrame's rules (valibot words the errors). */
function fastSub(o: Record<string, unknown>): ClientFrame | undefined {
  let n = 0;
  for (const _ in o) n++;
  const { id, ch, since, presence } = o;
  if (n !== 3 + (since === undefined ? 0 : 1) + (presence === undefined ? 0 : 1)) return undefined;
  if (typeof id !== "number" || !Number.isSafeInteger(id) || id < 1) return undefined;
  if (typeof ch !== "string" || ch.length > 255 || !CHANNEL.test(ch)) return undefined;
  if (since !== undefined && (typeof since !== "string" || !OFFSET.test(since))) return undefined;
  if (presence !== undefined && typeof presence !== "boolean") return undefined;
  return o as ClientFrame;
}

/**
 * Validates a decoded JSON value: the frame, or a FrameError whose message
 * names the field, never its value. (No wrapper object on success: this runs
 * for every frame.)
 */
export function parseClientFrame(json: unknown): ClientFrame | FrameError {
  if (typeof json === "object" && json !== null) {
    const t = (json as { t?: unknown }).t;
    const fast = t === "pub" ? fastPub(json as Record<string, unknown>) : t === "sub" ? fastSub(json as Record<string, unknown>) : undefined;
    if (fast) return fast;
  }
  const r = v.safeParse(ClientFrame, json);
  if (r.success) {
    if (r.output.t === "pub" && !("data" in (json as object))) return { ok: false, id: r.output.id, message: "data: is required" };
    return r.output;
  }
  const rawId = typeof json === "object" && json !== null ? (json as { id?: unknown }).id : undefined;
  const id = typeof rawId === "number" && Number.isSafeInteger(rawId) && rawId > 0 ? rawId : undefined;
  const issue = r.issues[0];
  if (typeof json !== "object" || json === null || Array.isArray(json)) return { ok: false, id, message: "a frame must be a JSON object" };
  const t = (json as { t?: unknown }).t;
  if (typeof t !== "string" || !(FRAME_TYPES as readonly string[]).includes(t)) return { ok: false, id, message: "t: unknown frame type" };
  const path = v.getDotPath(issue);
  if (issue.kind === "schema" && issue.type === "strict_object" && issue.input !== undefined && path) {
    return { ok: false, id, message: `${path}: unknown field` };
  }
  const field = path ?? "frame";
  const msg = issue.input === undefined && issue.expected !== "never" ? "is required" : issue.message;
  return { ok: false, id, message: `${field}: ${msg.startsWith("Invalid") ? "has the wrong type" : msg}` };
}
