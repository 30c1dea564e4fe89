import { SwitchboardError } from "../../protocol/errors.ts";
import type { CallOutcome, CallParticipant, CallRecord } from "../../store/ports.ts";

/**
 * The call lifecycle as pure functions over a call record: each takes a copy,
 * applies one action and answers what changed. No I/O here: CallService
 * stores the result with a compare-and-set and broadcasts the events.
 */

export type CallEventName = "ringing" | "accepted" | "rejected" | "cancelled" | "missed" | "joined" | "away" | "left" | "ended";

export interface CallEvent {
  ev: CallEventName;
  /** The participant the event is about (the caller for `ringing`). */
  user: string;
}

export interface Transition {
  call: CallRecord;
  events: CallEvent[];
  /** Invitees who missed the call in this transition (they get an inbox entry). */
  missed: string[];
}

/** In the call now: counts towards "fewer than two remain". */
const present = (p: CallParticipant) => p.state === "joined" || p.state === "away";

export function newCall(id: string, caller: string, invitees: readonly string[], media: CallRecord["media"], context: string | null, callerConn: string | null, nowMs: number, ringTimeoutMs: number): CallRecord {
  const blank = { conn: null, joinedMs: null, leftMs: null, graceUntilMs: null };
  return {
    id,
    caller,
    media,
    context,
    state: "ringing",
    outcome: null,
    participants: [
      { ...blank, user: caller, role: "caller", state: "joined", conn: callerConn, joinedMs: nowMs },
      ...invitees.map((user): CallParticipant => ({ ...blank, user, role: "invitee", state: "ringing" })),
    ],
    createdMs: nowMs,
    ringDeadlineMs: nowMs + ringTimeoutMs,
    answeredMs: null,
    endedMs: null,
    endedBy: null,
    endReason: null,
    version: 1,
  };
}

/** The earliest time something happens by itself (ring timeout, a grace period running out); null when nothing will. */
export function nextDeadline(c: CallRecord): number | null {
  if (c.state === "ended") return null;
  let at = Infinity;
  for (const p of c.participants) {
    if (p.state === "ringing") at = Math.min(at, ringUntil(c, p));
    else if (p.state === "away" && p.graceUntilMs !== null) at = Math.min(at, p.graceUntilMs);
  }
  return at === Infinity ? null : at;
}

/** When an invitee's ringing ends: its own deadline when it was added to a running call, the call's otherwise. */
export function ringUntil(c: CallRecord, p: CallParticipant): number {
  return p.ringUntilMs ?? c.ringDeadlineMs;
}

function start(c: CallRecord): Transition {
  return { call: structuredClone(c), events: [], missed: [] };
}

function participant(c: CallRecord, user: string): CallParticipant {
  const p = c.participants.find((x) => x.user === user);
  if (!p) throw new SwitchboardError("AUTHORIZATION_FAILED", "not a participant of this call");
  return p;
}

function notEnded(c: CallRecord): void {
  if (c.state === "ended") throw new SwitchboardError("CONFLICT", "the call has ended");
}

/** Ends the call: whoever was in it has left, whoever was still ringing missed it. */
function end(t: Transition, nowMs: number, outcome: CallOutcome, by: string | null, reason: string): void {
  const c = t.call;
  for (const p of c.participants) {
    if (p.state === "ringing") {
      p.state = outcome === "cancelled" ? "cancelled" : "missed";
      if (p.state === "missed") {
        t.missed.push(p.user);
        t.events.push({ ev: "missed", user: p.user });
      }
    } else if (present(p)) {
      p.state = "left";
      p.leftMs = nowMs;
      p.graceUntilMs = null;
    }
  }
  c.state = "ended";
  c.outcome = outcome;
  c.endedMs = nowMs;
  c.endedBy = by;
  c.endReason = reason;
  t.events.push({ ev: "ended", user: by ?? c.caller });
}

/** After someone left: a live call with fewer than two present ends; a ringing call whose caller is gone is over. */
function settle(t: Transition, nowMs: number, by: string | null, reason: string, outcome: CallOutcome): void {
  const c = t.call;
  if (c.state === "ended") return;
  if (c.state === "live" && c.participants.filter(present).length < 2) end(t, nowMs, outcome, by, reason);
  else if (c.state === "ringing" && !present(participant(c, c.caller))) end(t, nowMs, outcome === "answered" ? "cancelled" : outcome, by, reason);
  else if (c.state === "ringing" && !c.participants.some((p) => p.state === "ringing")) end(t, nowMs, "rejected", by, reason);
}

export function accept(c: CallRecord, user: string, conn: string, nowMs: number): Transition {
  notEnded(c);
  const t = start(c);
  const p = participant(t.call, user);
  if (p.role !== "invitee") throw new SwitchboardError("BAD_REQUEST", "the caller cannot accept its own call");
  if (p.state === "joined" || p.state === "away") throw new SwitchboardError("CONFLICT", "answered elsewhere");
  if (p.state !== "ringing") throw new SwitchboardError("CONFLICT", `the invitation is ${p.state}`);
  p.state = "joined";
  p.conn = conn;
  p.joinedMs = nowMs;
  if (t.call.state === "ringing") {
    t.call.state = "live";
    t.call.answeredMs = nowMs;
  }
  t.events.push({ ev: "accepted", user });
  return t;
}

export function reject(c: CallRecord, user: string, nowMs: number): Transition {
  notEnded(c);
  const t = start(c);
  const p = participant(t.call, user);
  if (p.role !== "invitee" || p.state !== "ringing") throw new SwitchboardError("CONFLICT", "nothing to reject: the call is not ringing for you");
  p.state = "rejected";
  p.leftMs = nowMs;
  t.events.push({ ev: "rejected", user });
  settle(t, nowMs, user, "rejected", "rejected");
  return t;
}

export function cancel(c: CallRecord, user: string, nowMs: number): Transition {
  notEnded(c);
  if (c.caller !== user) throw new SwitchboardError("AUTHORIZATION_FAILED", "only the caller can cancel");
  if (c.state !== "ringing") throw new SwitchboardError("CONFLICT", "the call was answered: hang up instead");
  const t = start(c);
  t.events.push({ ev: "cancelled", user });
  end(t, nowMs, "cancelled", user, "cancelled");
  return t;
}

/**
 * Rings more users into a live call (a group call grows): users not in it
 * yet, or who left, rejected or missed it, ring until `nowMs + ringMs`.
 * Anyone present in the call may add people.
 */
export function add(c: CallRecord, by: string, users: readonly string[], nowMs: number, ringMs: number, maxInvitees: number): Transition {
  notEnded(c);
  if (c.state !== "live") throw new SwitchboardError("CONFLICT", "the call is not answered yet: add people once it is live");
  const t = start(c);
  if (!present(participant(t.call, by))) throw new SwitchboardError("CONFLICT", "you are not in this call");
  for (const user of new Set(users)) {
    const known = t.call.participants.find((p) => p.user === user);
    // The caller who left comes back with rejoin, not by ringing.
    if (known && (present(known) || known.state === "ringing" || known.role === "caller")) continue;
    if (known) {
      Object.assign(known, { state: "ringing", conn: null, leftMs: null, graceUntilMs: null, ringUntilMs: nowMs + ringMs });
    } else {
      t.call.participants.push({ user, role: "invitee", state: "ringing", conn: null, joinedMs: null, leftMs: null, graceUntilMs: null, ringUntilMs: nowMs + ringMs });
    }
    t.events.push({ ev: "ringing", user });
  }
  if (t.call.participants.length - 1 > maxInvitees) throw new SwitchboardError("LIMIT_EXCEEDED", `to: at most ${maxInvitees} invitees per call (CALL_MAX_INVITEES)`);
  if (t.events.length === 0) throw new SwitchboardError("CONFLICT", "everyone named is in the call or ringing already");
  return t;
}

/** The backend ends the call over HTTP (`by`: who it says ended it, or null). */
export function endByServer(c: CallRecord, by: string | null, reason: string, nowMs: number): Transition {
  notEnded(c);
  const t = start(c);
  end(t, nowMs, c.state === "live" ? "answered" : "cancelled", by, reason);
  return t;
}

/** Ends the call for everyone. */
export function hangup(c: CallRecord, user: string, nowMs: number): Transition {
  notEnded(c);
  const t = start(c);
  const p = participant(t.call, user);
  if (!present(p)) throw new SwitchboardError("CONFLICT", "you are not in this call");
  end(t, nowMs, c.state === "live" ? "answered" : "cancelled", user, "hangup");
  return t;
}

/** Leaves a call that goes on without the sender (group calls); ends it when fewer than two remain. */
export function leave(c: CallRecord, user: string, nowMs: number): Transition {
  notEnded(c);
  const t = start(c);
  const p = participant(t.call, user);
  if (!present(p)) throw new SwitchboardError("CONFLICT", "you are not in this call");
  p.state = "left";
  p.leftMs = nowMs;
  p.graceUntilMs = null;
  t.events.push({ ev: "left", user });
  settle(t, nowMs, user, "left", "answered");
  return t;
}

/** Binds a device of a participant (back from `away`, after `leave`, or taking over from another device). */
export function rejoin(c: CallRecord, user: string, conn: string, nowMs: number): Transition {
  notEnded(c);
  const t = start(c);
  const p = participant(t.call, user);
  if (!present(p) && !(p.state === "left" && t.call.state === "live")) throw new SwitchboardError("CONFLICT", `cannot rejoin: you are ${p.state}`);
  p.state = "joined";
  p.conn = conn;
  p.graceUntilMs = null;
  p.leftMs = null;
  t.events.push({ ev: "joined", user });
  return t;
}

/** The device bound for a participant went away: held for the grace period. Undefined when `conn` is bound to nothing here. */
export function dropped(c: CallRecord, conn: string, nowMs: number, graceMs: number): Transition | undefined {
  if (c.state === "ended") return undefined;
  const t = start(c);
  const p = t.call.participants.find((x) => x.conn === conn && x.state === "joined");
  if (!p) return undefined;
  p.state = "away";
  p.graceUntilMs = nowMs + graceMs;
  t.events.push({ ev: "away", user: p.user });
  return t;
}

/** Applies what is due at `nowMs`: ring timeout (missed) and expired grace periods (left). Undefined when nothing is. */
export function due(c: CallRecord, nowMs: number): Transition | undefined {
  if (c.state === "ended") return undefined;
  const t = start(c);
  if (nowMs >= c.ringDeadlineMs && t.call.state === "ringing") {
    end(t, nowMs, "missed", null, "ring timeout");
    return t;
  }
  for (const p of t.call.participants) {
    if (p.state !== "ringing" || nowMs < ringUntil(c, p)) continue;
    p.state = "missed";
    t.missed.push(p.user);
    t.events.push({ ev: "missed", user: p.user });
  }
  for (const p of t.call.participants) {
    if (p.state !== "away" || p.graceUntilMs === null || p.graceUntilMs > nowMs) continue;
    p.state = "left";
    p.leftMs = nowMs;
    p.graceUntilMs = null;
    t.events.push({ ev: "left", user: p.user });
  }
  if (t.events.length === 0) return undefined;
  settle(t, nowMs, null, "connection lost", "failed");
  return t;
}
