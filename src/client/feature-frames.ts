/** Wire frames of the features (src/protocol/README.md, "Features") as the client sees them. */

export type UserStatus = "online" | "away" | "busy" | "in_call" | "offline";

/** A user's status as a roster answer or a status event gives it. */
export interface StatusEntry {
  user: string;
  status: UserStatus;
  text?: string;
  /** False while the user has no connection or is invisible. */
  online: boolean;
  /** When the user's last connection closed (ms since the epoch); null when never seen. */
  lastSeen: number | null;
}

export interface Notification<T = unknown> {
  id: string;
  type: string;
  title: string;
  body: string | null;
  data: T | null;
  priority: "low" | "normal" | "high";
  ts: number;
  /** When it was marked read; null while unread. */
  readTs: number | null;
}

export interface ReadEvent {
  ch: string;
  user: string;
  off: string;
}

export interface TypingEvent {
  ch: string;
  user: string;
  conn: string;
  active: boolean;
  /** Show the indicator this long (ms) unless refreshed. */
  expires: number;
}

export interface RedactEvent {
  ch: string;
  off: string;
  by: string;
  ts: number;
}

/** Server frames of the features, by `t`. */
export interface FeatureServerFrames {
  typing: TypingEvent;
  read: ReadEvent;
  redact: RedactEvent;
  inbox: { unread: number };
  status: StatusEntry;
}

/** Client frames of the features: exactly the documented fields. */
export type FeatureClientFrame =
  | { t: "typing"; ch: string; active?: boolean }
  | { t: "read"; id: number; ch: string; off: string }
  | { t: "unread"; id: number }
  | { t: "messages"; id: number; ch: string; before?: string; limit?: number }
  | { t: "inbox"; id: number; unread?: boolean; limit?: number; before?: string }
  | { t: "inbox_read"; id: number; ids?: string[] }
  | { t: "status"; id: number; status: UserStatus; text?: string | null }
  | { t: "roster" | "watch" | "unwatch"; id: number; users: string[] };

/** Requests of FeatureClientFrame (those with an id), without it: the client numbers them. */
export type FeatureRequest = FeatureClientFrame extends infer F ? (F extends { id: number } ? Omit<F, "id"> : never) : never;
