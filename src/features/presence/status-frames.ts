import * as v from "valibot";

/** Client frames of presence status (src/protocol/README.md, "Presence status and last seen"). */

const Id = v.pipe(v.number("must be a number"), v.safeInteger("must be an integer"), v.minValue(1, "must be positive"));
export const STATUSES = ["online", "away", "busy", "in_call", "offline"] as const;
export const Status = v.picklist(STATUSES, "must be online, away, busy, in_call or offline");
export const StatusText = v.pipe(v.string("must be a string"), v.maxLength(100, "at most 100 characters"), v.regex(/^[^\u0000-\u001f]*$/, "must be printable"));
export const RosterUser = v.pipe(v.string("must be a string"), v.regex(/^[^\u0000-\u001f]{1,128}$/, "must be 1–128 printable characters"));
const Users = v.pipe(v.array(RosterUser, "must be an array"), v.minLength(1, "must not be empty"), v.maxLength(100, "at most 100 users"));

export const StatusFrame = v.strictObject({ t: v.literal("status"), id: Id, status: Status, text: v.optional(v.nullable(StatusText)) });
export const WatchFrame = v.strictObject({ t: v.literal("watch"), id: Id, users: Users });
export const UnwatchFrame = v.strictObject({ t: v.literal("unwatch"), id: Id, users: Users });
export const RosterFrame = v.strictObject({ t: v.literal("roster"), id: Id, users: Users });

export type StatusFrame = v.InferOutput<typeof StatusFrame>;
export type UsersFrame = v.InferOutput<typeof WatchFrame>;

export interface RosterEntry {
  user: string;
  status: (typeof STATUSES)[number];
  text?: string;
  online: boolean;
  lastSeen: number | null;
}

/** The status event watchers get; the same shape as a roster entry. */
export function encodeStatusEvent(e: RosterEntry): string {
  return JSON.stringify({ t: "status", ...e });
}
