/**
 * The engine port: what the hub needs from the layer that orders, stores and
 * carries publications between nodes. Two implementations: `LocalEngine`
 * (one node, bun:sqlite history) and `RedisEngine` (Redis Streams bus).
 *
 * Channel keys: the hub passes a *channel key* `"<tenant>/<channel>"` (tenant
 * may be empty: `"/room:1"`). `/` cannot occur in a channel name, so keys of
 * two tenants never collide. The same key is the local pub/sub topic.
 *
 * Offsets are decimal integer strings ("1", "2", …), strictly increasing per
 * channel key and never reused, also across node and engine restarts for
 * channels with history. "0" means "nothing published yet".
 */

/** What a channel's namespace asks of the engine. */
export interface ChannelOptions {
  /** Messages kept in history; 0 = no history (offsets still increase, nothing is stored). */
  historySize: number;
  /** Seconds a message stays in history; also how long an idle channel's keys live. */
  historyTtlSec: number;
}

/** One publication as the hub hands it over. `data` is already JSON text. */
export interface PublicationInput {
  /** Client-visible channel name (without tenant), written into the `msg` frame. */
  ch: string;
  ev: string;
  /** JSON text of the payload, validated by the hub. */
  data: string;
  /** User id of a client publisher; absent for server (HTTP API) publications. */
  from?: string;
  /** Milliseconds since the epoch, stamped by the hub. */
  ts: number;
}

/** Where `Engine.publishTo` reports: the offset once accepted, or why not. */
export interface PublishReceiver<T> {
  published(tag: T, off: string): void;
  failed(tag: T, err: unknown): void;
}

export interface HistoryQuery {
  /** Return messages with offset > since. Absent = the newest `limit` messages. */
  since?: string;
  /** At most this many messages (the hub caps it at 1000). */
  limit: number;
  /**
   * At most this many bytes of frames (at least one frame when any): from
   * `since` the oldest that fit, without it the newest that fit; the result
   * then says `more`. Absent = no byte bound.
   */
  maxBytes?: number;
}

export interface HistoryResult {
  /** Encoded `msg` frames (JSON text), oldest first. */
  frames: string[];
  /** The channel's current (latest) offset. */
  off: string;
  /**
   * True when `frames` holds every message after `since` up to `off` (nothing
   * was lost). False when `since` is older than the retained history, or is
   * not an offset this channel ever had (e.g. ahead of `off`). Always true
   * when `since` was not given.
   */
  recovered: boolean;
  /** True when `maxBytes` cut the answer short: more messages are there to page through. */
  more?: boolean;
}

export interface PresenceMember {
  user: string;
  /** Connection id, unique across the cluster (node id + local counter). */
  conn: string;
  info?: unknown;
}

export interface PresenceEntry {
  user: string;
  /** Number of this user's connections present on the channel. */
  conns: number;
  info?: unknown;
}

/** Node-to-node control messages (e.g. disconnect a user everywhere). */
export type ControlMessage =
  | { type: "disconnect"; tenant: string; user: string; reason: string }
  | { type: "drain"; node: string }
  /** A feature's own message (e.g. chat: members removed), handed to that feature on every node. */
  | { type: "feature"; feature: string; body: Record<string, unknown> };

/** What the engine calls back into; implemented by the hub. */
export interface EngineSink {
  /**
   * Fan out an encoded server frame to the local subscribers of `key`. Called
   * in offset order per key. Must not throw; must be cheap when nobody local
   * is subscribed.
   */
  deliver(key: string, frame: string): void;
  /** True when some local connection is subscribed to `key` (lets the bus skip work). */
  hasSubscribers(key: string): boolean;
  /** A control message from any node (including this one). */
  control(msg: ControlMessage): void;
  /** Engine availability changed (drives /health/ready). */
  availability(up: boolean, reason: string): void;
}

export interface EngineHealth {
  up: boolean;
  /** Human-readable detail for /health, never secrets. */
  detail: string;
  /** Channels this node's engine currently keeps state for (the `switchboard_channels` gauge). */
  channels: number;
  [extra: string]: unknown;
}

export interface Engine {
  readonly kind: "local" | "redis";

  /** Connects and starts delivering to `sink`. Rejects when the engine cannot start. */
  start(sink: EngineSink): Promise<void>;

  /**
   * Appends a publication to `key`, assigns its offset and delivers the encoded
   * `msg` frame (with `off`) to every node's subscribers, in offset order.
   * Resolves with the offset only after the engine accepted it (persisted in
   * history when the channel has history). Rejects with SwitchboardError
   * SERVICE_UNAVAILABLE when it cannot accept it; nothing is published then.
   */
  publish(key: string, pub: PublicationInput, opts: ChannelOptions): Promise<string>;

  /**
   * `publish` for the WebSocket hot path: the outcome goes to `receiver` with
   * `tag` (no promise, closure or microtask per publication). Same guarantees
   * and order as `publish`; exactly one receiver call per publication, which
   * may come before `publishTo` returns.
   */
  publishTo<T>(key: string, pub: PublicationInput, opts: ChannelOptions, receiver: PublishReceiver<T>, tag: T): void;

  /**
   * Publishes `pubs` on `key` at consecutive offsets, each becoming visible
   * (delivered, in history) only after `commit` resolved: for channels whose
   * records live in another store (chat), so that a subscriber never sees a
   * message whose record is not committed.
   * - The engine first holds `key` for this call alone, on every node (other
   *   calls on `key` wait; don't mix `publish` on the same key). `commit` gets
   *   the offsets the publications will have, and nothing is visible yet.
   * - `commit` rejects: nothing is published, no offset is used (the next
   *   call gets the same ones), and this rejects with commit's error.
   * - Then the publications are published as `publish` would, in order, and
   *   this resolves with their offsets. Rejects with SERVICE_UNAVAILABLE when
   *   the engine cannot publish them; the offsets are then unused and will be
   *   handed out again, so the caller's records under them are to be
   *   replaced or dropped. (A reply lost on the way, e.g. a network timeout,
   *   leaves the caller in doubt: reading history after `offs[0] - 1` tells.)
   * - A holder that takes longer than `holdMs` (a node that died with it)
   *   loses the hold: another call may then take the same offsets, and this
   *   one's publish is refused.
   */
  publishCommitted(key: string, pubs: readonly PublicationInput[], opts: ChannelOptions, commit: (offs: readonly string[]) => Promise<void>, holdMs: number): Promise<string[]>;

  /**
   * Delivers an encoded frame that is not a publication (join/leave) to every
   * node's subscribers of `key`, without offset or history. Best effort.
   */
  signal(key: string, frame: string): Promise<void>;

  /**
   * Messages after `since`, see HistoryResult for `recovered`. May answer
   * synchronously (the embedded engine does, up to one read slice: a larger
   * `since` read resolves later, read across event-loop turns), so that a
   * `sub` is answered inside the socket's message callback, in one write
   * with its neighbours.
   */
  history(key: string, query: HistoryQuery, opts: ChannelOptions): HistoryResult | Promise<HistoryResult>;

  /**
   * Replaces the retained message at `off` of `key` with `frame`: an encoded
   * `msg` frame of the same channel and offset that keeps the original `ts`
   * (so it expires when the original would). From then on `history`, `since`
   * and the bus's gap repair return the replacement, on every node; offsets
   * and `recovered` are unchanged (the message is still there, as replaced,
   * so no hole is made). Nothing is delivered live: that is the caller's.
   * False when history does not hold that offset (never had it, trimmed,
   * expired). Used by chat redaction.
   */
  replace(key: string, off: string, frame: string, opts: ChannelOptions): Promise<boolean>;

  /** Adds a presence member; idempotent per `member.conn`. */
  presenceAdd(key: string, member: PresenceMember): Promise<void>;
  /** Removes a presence member; resolves false when it was not present. */
  presenceRemove(key: string, conn: string): Promise<boolean>;
  /** Members of `key`, grouped by user. */
  presence(key: string): Promise<PresenceEntry[]>;

  /**
   * Counts a connection of `userKey` ("<tenant>/<user>") against `max` (0 =
   * unlimited) across the cluster. False (and nothing recorded) when `max` is
   * reached. An engine that knows at once answers synchronously, which lets
   * the hub greet a socket inside its open callback.
   */
  acquireUserConn(userKey: string, conn: string, max: number): boolean | Promise<boolean>;
  releaseUserConn(userKey: string, conn: string): Promise<void>;
  /** Connections currently held by `userKey` across the cluster. */
  userConnCount(userKey: string): Promise<number>;

  /** Sends a control message to every node, this one included. */
  control(msg: ControlMessage): Promise<void>;

  /** Deletes history older than each channel's TTL; returns rows/entries removed. */
  trim(): Promise<number>;

  health(): EngineHealth;

  /** Stops delivering and releases connections and files. */
  stop(): Promise<void>;
}
