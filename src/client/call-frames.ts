/** The calls feature's wire frames as the client sees them (src/protocol/README.md, "Calls"). */

export type CallState = "ringing" | "live" | "ended";
export type CallOutcome = "answered" | "missed" | "rejected" | "cancelled" | "failed";
export type SignalKind = "offer" | "answer" | "ice" | "renegotiate";

export interface CallInfo {
  id: string;
  caller: string;
  media: "audio" | "video";
  context: unknown;
  state: CallState;
  outcome: CallOutcome | null;
  participants: { user: string; role: "caller" | "invitee"; state: string; ringUntil?: number }[];
  /** Invite time; ring deadline; answer and end times (ms since the epoch). */
  ts: number;
  ringUntil: number;
  answeredTs: number | null;
  endedTs: number | null;
  endedBy: string | null;
  reason: string | null;
}

export type CallEventName = "ringing" | "state" | "accepted" | "answered_elsewhere" | "rejected" | "cancelled" | "missed" | "joined" | "away" | "left" | "ended";

/** `{"t":"call"}`: something happened to a call one of the user's devices is part of. */
export interface CallEvent {
  ev: CallEventName;
  /** The participant it is about (the caller for `ringing`/`state`). */
  user: string;
  call: CallInfo;
}

/** A relayed WebRTC signal from another participant's device. */
export interface CallSignal {
  t: SignalKind;
  call: string;
  from: string;
  data: any;
}

export type CallServerFrame = ({ t: "call" } & CallEvent) | CallSignal;

export type CallClientFrame =
  | { t: "invite"; id: number; to: string[]; media: "audio" | "video"; context?: unknown; ringMs?: number }
  | { t: "invite"; id: number; call: string; to: string[]; ringMs?: number }
  | { t: "accept" | "reject" | "cancel" | "hangup" | "leave" | "rejoin" | "call_media"; id: number; call: string }
  | { t: "call_get"; id: number; call: string }
  | { t: SignalKind; call: string; to?: string; data: unknown }
  | { t: "call_stats"; id: number; call: string; rttMs: number; jitterMs: number; lossPct: number; bitrateKbps: number }
  | { t: "ice_servers"; id: number };

