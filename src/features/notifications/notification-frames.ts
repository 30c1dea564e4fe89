import * as v from "valibot";
import type { Notification } from "../../store/ports.ts";

/** Client frames of the notifications inbox (src/protocol/README.md, "Notifications"). */

const Id = v.pipe(v.number("must be a number"), v.safeInteger("must be an integer"), v.minValue(1, "must be positive"));
export const NotificationId = v.pipe(v.string("must be a string"), v.regex(/^[0-9a-z]{17}$/, "must be a notification id"));

export const InboxFrame = v.strictObject({
  t: v.literal("inbox"),
  id: Id,
  unread: v.optional(v.boolean("must be a boolean")),
  limit: v.optional(v.pipe(v.number("must be a number"), v.safeInteger("must be an integer"), v.minValue(1, "must be ≥ 1"), v.maxValue(100, "must be ≤ 100"))),
  before: v.optional(NotificationId),
});
export const InboxReadFrame = v.strictObject({
  t: v.literal("inbox_read"),
  id: Id,
  ids: v.optional(v.pipe(v.array(NotificationId, "must be an array"), v.minLength(1, "must not be empty"), v.maxLength(1000, "at most 1000 ids"))),
});

export type InboxFrame = v.InferOutput<typeof InboxFrame>;
export type InboxReadFrame = v.InferOutput<typeof InboxReadFrame>;

/** A notification as JSON text (its `data` is already JSON text). */
export function encodeNotification(n: Notification): string {
  return (
    '{"id":"' + n.id + '","type":' + JSON.stringify(n.type) + ',"title":' + JSON.stringify(n.title) + ',"body":' + JSON.stringify(n.body) +
    ',"data":' + (n.data ?? "null") + ',"priority":"' + n.priority + '","ts":' + n.createdMs + ',"readTs":' + (n.readMs ?? "null") + "}"
  );
}

export function encodeInboxCount(unread: number): string {
  return '{"t":"inbox","unread":' + unread + "}";
}
