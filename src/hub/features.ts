import * as v from "valibot";
import type { ControlMessage, PresenceEntry, PublicationInput } from "../engine/engine.ts";
import type { NamespacePolicy } from "../config/policy.ts";
import type { FrameError } from "../protocol/frames.ts";
import type { ResolvedChannel } from "./channel-policy.ts";
import type { Conn, Principal } from "./ports.ts";

/**
 * The feature registration port: what a feature (src/features/<name>/) adds
 * to the hub. The hub imports no feature; the composition root registers
 * them (`hub.register(feature)`), and the hub dispatches through the tables
 * built here.
 */
export interface Feature {
  readonly name: string;
  /** Client frame types the feature answers, by `t`. Core frame types cannot be taken. */
  readonly frames?: Readonly<Record<string, FeatureFrame>>;
  /** Policy rules that need records to decide (e.g. `member`), by rule name. */
  readonly rules?: Readonly<Record<string, RecordRule>>;
  /** Namespaces whose publications the feature carries itself (e.g. persisted chat). */
  readonly channels?: ChannelTakeover;
  /** A control message this feature sent, arriving on every node (this one included). */
  control?(body: Record<string, unknown>): void;
  /** A subscription started (after its `ok`); the `sub` waits for the promise. */
  subscribed?(conn: Conn, key: string, c: ResolvedChannel): Promise<void>;
  /** A subscription ended (unsub, or ended by the server). */
  unsubscribed?(conn: Conn, key: string): Promise<void>;
  /** A connection was authenticated (after its `hello`). */
  connected?(conn: Conn): void;
  /**
   * An authenticated connection closed with close `code`. `leaseReleased`
   * settles once the cluster no longer counts it among the user's connections.
   */
  closed?(conn: Conn, leaseReleased: Promise<void>, code: number): void;
  /**
   * An event another feature raised with `hub.event` (chat's read receipt, a
   * missed call), for features that forward events (webhooks). Returns a
   * promise only when it took the event (it settles once the event is
   * stored, and never rejects); a feature that does not want this type
   * returns undefined at once.
   */
  event?(tenant: string, type: string, data: Record<string, unknown>): Promise<void> | undefined;
  /**
   * Adds what the feature knows about the members of a `presence` answer
   * (WebSocket and HTTP) on `key` (e.g. each user's status); answers the
   * members to send. Must not drop or reorder members.
   */
  presenceMembers?(key: string, members: PresenceEntry[]): Promise<PresenceEntry[]>;
}

export interface FeatureFrame {
  /** Strict schema of the frame (unknown fields rejected); `t` is checked by the hub. */
  readonly schema: v.GenericSchema;
  /**
   * `shared`: the frame costs a token of the connection's frame budget, like
   * core frames. `own`: the feature limits it itself (typing has a small
   * budget of its own and must not use up the one for messages).
   */
  readonly budget: "shared" | "own";
  /** Answers `frame.id` (when it has one) exactly once; a rejection becomes `err`. */
  handle(conn: Conn, p: Principal, frame: never): void | Promise<void>;
}

/** Decides a rule for a principal on a channel; may look up records. */
export type RecordRule = (p: Principal, c: ResolvedChannel, action: "subscribe" | "publish", pub?: PublishQuestion) => boolean | Promise<boolean>;

/** What a publish rule may look at besides the channel: the event name and the encoded data (JSON text). */
export interface PublishQuestion {
  ev: string;
  data: string;
}

export interface ChannelTakeover {
  /** Whether the feature carries the publications of this namespace. */
  claims(policy: NamespacePolicy): boolean;
  /**
   * Publishes on `key` (`<tenant>/<channel>`) and resolves with the offset
   * only once the feature's promise holds (e.g. the record is committed);
   * rejects with a SwitchboardError otherwise.
   */
  publish(key: string, c: ResolvedChannel, pub: PublicationInput): Promise<string>;
}

/** The control message a feature sends to every node. */
export function featureControl(feature: string, body: Record<string, unknown>): ControlMessage {
  return { type: "feature", feature, body };
}

/** Validates a feature frame with the same wording as the core frames (field named, never its value). */
export function parseFeatureFrame(schema: v.GenericSchema, json: Record<string, unknown>): unknown | FrameError {
  const r = v.safeParse(schema, json);
  if (r.success) return r.output;
  const rawId = json.id;
  const id = typeof rawId === "number" && Number.isSafeInteger(rawId) && rawId > 0 ? rawId : undefined;
  const issue = r.issues[0];
  const path = v.getDotPath(issue);
  if (issue.type === "strict_object" && issue.input !== undefined && path) return { ok: false, id, message: `${path}: unknown field` };
  const msg = issue.input === undefined ? "is required" : issue.message;
  return { ok: false, id, message: `${path ?? "frame"}: ${msg.startsWith("Invalid") ? "has the wrong type" : msg}` };
}

export function isFrameError(x: unknown): x is FrameError {
  return typeof x === "object" && x !== null && (x as FrameError).ok === false && "message" in x;
}
