import * as v from "valibot";
import type { CallRecord } from "../../store/ports.ts";
import type { CallEventName } from "./call-machine.ts";

/** Client frames of the calls feature (src/protocol/README.md, "Calls"). */

const Id = v.pipe(v.number("must be a number"), v.safeInteger("must be an integer"), v.minValue(1, "must be positive"));
export const CALL_ID = /^[A-Za-z0-9_.@=-]{1,64}$/;
export const CallId = v.pipe(v.string("must be a string"), v.regex(CALL_ID, "must be 1–64 of [A-Za-z0-9_.@=-]"));
export const User = v.pipe(v.string("must be a string"), v.regex(/^[^\u0000-\u001f]{1,128}$/, "must be 1–128 printable characters"));
export const Media = v.picklist(["audio", "video"], "must be audio or video");
/** A ring timeout of this call instead of CALL_RING_TIMEOUT_MS. */
export const RingMs = v.pipe(v.number("must be a number"), v.safeInteger("must be an integer"), v.minValue(1000, "must be ≥ 1000"), v.maxValue(600_000, "must be ≤ 600000"));
const Measure = (max: number) => v.pipe(v.number("must be a number"), v.minValue(0, "must be ≥ 0"), v.maxValue(max, `must be ≤ ${max}`));

/** A new call (`media` required), or with `call`: more people rung into that live call (`media` and `context` are the call's). */
export const InviteFrame = v.pipe(
  v.strictObject({
    t: v.literal("invite"),
    id: Id,
    call: v.optional(CallId),
    to: v.pipe(v.array(User, "must be an array"), v.minLength(1, "must not be empty"), v.maxLength(64, "at most 64 users")),
    media: v.optional(Media),
    context: v.optional(v.unknown()),
    ringMs: v.optional(RingMs),
  }),
  v.check((f) => (f.call === undefined ? f.media !== undefined : f.media === undefined && f.context === undefined), "media: required for a new call; with call, give neither media nor context"),
);
export type InviteFrame = v.InferOutput<typeof InviteFrame>;

/** accept, reject, cancel, hangup, leave, rejoin, call_media: the call is all they name. */
export const callActionFrame = (t: string) => v.strictObject({ t: v.literal(t), id: v.optional(Id), call: CallId });
export type CallActionFrame = { t: string; id?: number; call: string };

export const SIGNALS = ["offer", "answer", "ice", "renegotiate"] as const;
export const signalFrame = (t: string) => v.strictObject({ t: v.literal(t), id: v.optional(Id), call: CallId, to: v.optional(User), data: v.unknown() });
export type SignalFrame = { t: (typeof SIGNALS)[number]; id?: number; call: string; to?: string; data: unknown };

export const StatsFrame = v.strictObject({
  t: v.literal("call_stats"),
  id: v.optional(Id),
  call: CallId,
  rttMs: Measure(60_000),
  jitterMs: Measure(60_000),
  lossPct: Measure(100),
  bitrateKbps: Measure(1_000_000),
});
export type StatsFrame = v.InferOutput<typeof StatsFrame>;

export const IceServersFrame = v.strictObject({ t: v.literal("ice_servers"), id: Id });
export const CallGetFrame = v.strictObject({ t: v.literal("call_get"), id: Id, call: CallId });

/** The call as clients and the HTTP API see it (context is stored as JSON text and embedded as is). */
export function encodeCall(c: CallRecord): string {
  const participants = c.participants.map((p) => (p.ringUntilMs == null ? { user: p.user, role: p.role, state: p.state } : { user: p.user, role: p.role, state: p.state, ringUntil: p.ringUntilMs }));
  return (
    '{"id":' + JSON.stringify(c.id) + ',"caller":' + JSON.stringify(c.caller) + ',"media":"' + c.media + '","context":' + (c.context ?? "null") +
    ',"state":"' + c.state + '","outcome":' + JSON.stringify(c.outcome) + ',"participants":' + JSON.stringify(participants) +
    ',"ts":' + c.createdMs + ',"ringUntil":' + c.ringDeadlineMs + ',"answeredTs":' + c.answeredMs + ',"endedTs":' + c.endedMs +
    ',"endedBy":' + JSON.stringify(c.endedBy) + ',"reason":' + JSON.stringify(c.endReason) + "}"
  );
}

export type DeliveredEvent = CallEventName | "state" | "answered_elsewhere";

export function encodeCallEvent(ev: DeliveredEvent, user: string, call: string): string {
  return '{"t":"call","ev":"' + ev + '","user":' + JSON.stringify(user) + ',"call":' + call + "}";
}

export function encodeSignal(t: string, call: string, from: string, data: string): string {
  return '{"t":"' + t + '","call":' + JSON.stringify(call) + ',"from":' + JSON.stringify(from) + ',"data":' + data + "}";
}
