import * as v from "valibot";
import { CHANNEL } from "../../protocol/frames.ts";
import { msgHead } from "../../protocol/encode.ts";
import type { ChatMessage } from "../../store/ports.ts";

/** Client frames of the chat feature (documented in src/protocol/README.md, "Features"). */

const Id = v.pipe(v.number("must be a number"), v.safeInteger("must be an integer"), v.minValue(1, "must be positive"));
const Channel = v.pipe(v.string("must be a string"), v.maxBytes(255, "must be at most 255 bytes"), v.regex(CHANNEL, "must be namespace:rest of [A-Za-z0-9_.:@=-]"));
const Offset = v.pipe(v.string("must be a string"), v.regex(/^\d{1,16}$/, "must be an offset string"));

export const TypingFrame = v.strictObject({ t: v.literal("typing"), id: v.optional(Id), ch: Channel, active: v.optional(v.boolean("must be a boolean")) });
export const ReadFrame = v.strictObject({ t: v.literal("read"), id: Id, ch: Channel, off: Offset });
export const UnreadFrame = v.strictObject({ t: v.literal("unread"), id: Id });
export const MessagesFrame = v.strictObject({
  t: v.literal("messages"),
  id: Id,
  ch: Channel,
  before: v.optional(Offset),
  limit: v.optional(v.pipe(v.number("must be a number"), v.safeInteger("must be an integer"), v.minValue(1, "must be ≥ 1"), v.maxValue(100, "must be ≤ 100"))),
});

export type TypingFrame = v.InferOutput<typeof TypingFrame>;
export type ReadFrame = v.InferOutput<typeof ReadFrame>;
export type UnreadFrame = v.InferOutput<typeof UnreadFrame>;
export type MessagesFrame = v.InferOutput<typeof MessagesFrame>;

/** A stored message as the `msg` frame it was delivered as, plus `redacted` once redacted. */
export function encodeStoredMessage(ch: string, m: ChatMessage): string {
  let s = msgHead(ch, String(m.off)) + ',"ev":' + JSON.stringify(m.ev) + ',"data":' + m.data;
  if (m.from !== null) s += ',"from":' + JSON.stringify(m.from);
  if (m.redactedBy !== undefined) s += ',"redacted":{"by":' + JSON.stringify(m.redactedBy) + ',"ts":' + m.redactedMs + "}";
  return s + ',"ts":' + m.ts + "}";
}

export function encodeTyping(ch: string, user: string, conn: string, active: boolean, expiresMs: number): string {
  return '{"t":"typing","ch":"' + ch + '","user":' + JSON.stringify(user) + ',"conn":' + JSON.stringify(conn) + ',"active":' + active + ',"expires":' + expiresMs + "}";
}

export function encodeRead(ch: string, user: string, off: number): string {
  return '{"t":"read","ch":"' + ch + '","user":' + JSON.stringify(user) + ',"off":"' + off + '"}';
}

export function encodeRedact(ch: string, off: number, by: string, ts: number): string {
  return '{"t":"redact","ch":"' + ch + '","off":"' + off + '","by":' + JSON.stringify(by) + ',"ts":' + ts + "}";
}
