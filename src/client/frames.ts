import type { CallClientFrame, CallServerFrame } from "./call-frames.ts";

/** Wire frames of PROTOCOL.md §3 as the client sees them. */

/** A publication delivered on a subscribed channel. */
export interface Message<T = unknown> {
  ch: string;
  /** Absent on channels without history. */
  off?: string;
  ev: string;
  data: T;
  /** User id of the publisher when a client published it. */
  from?: string;
  /** Server time of the publication, ms since the epoch. */
  ts: number;
}

export interface PresenceEvent {
  ch: string;
  user: string;
  conn: string;
}

export interface PresenceMember {
  user: string;
  conns: number;
  info?: unknown;
}

export interface Hello {
  conn: string;
  node: string;
  user: string;
  tenant?: string;
  /** Token expiry, seconds since the epoch. */
  exp?: number;
  /** Server ping interval, seconds. */
  ping: number;
  limits: Record<string, number>;
}

export type ServerFrame =
  | ({ t: "hello" } & Hello)
  | { t: "ok"; id: number; [field: string]: unknown }
  | { t: "err"; id?: number; ch?: string; code: string; msg: string; retryAfter?: number }
  | ({ t: "msg" } & Message)
  | ({ t: "join" } & PresenceEvent)
  | ({ t: "leave" } & PresenceEvent)
  | { t: "expiring"; in: number }
  | { t: "reconnect"; after: number; reason: string }
  | CallServerFrame;

/** Client frames carry exactly the documented fields: the server rejects unknown ones. */
export type ClientFrame =
  | { t: "auth"; token: string }
  | { t: "sub"; id: number; ch: string; since?: string; presence?: true }
  | { t: "unsub"; id: number; ch: string }
  | { t: "pub"; id: number; ch: string; ev: string; data: unknown }
  | { t: "presence"; id: number; ch: string }
  | { t: "history"; id: number; ch: string; since?: string; limit?: number }
  | { t: "refresh"; id: number; token: string }
  | { t: "ping"; id: number }
  | CallClientFrame;

/** Parses one text frame; anything that is not an object with a string `t` is `undefined`. */
export function parseServerFrame(text: unknown): ServerFrame | undefined {
  if (typeof text !== "string") return undefined;
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof v !== "object" || v === null || typeof (v as { t?: unknown }).t !== "string") return undefined;
  return v as ServerFrame;
}
