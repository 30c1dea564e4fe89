/**
 * What the hub needs from the transport, as small interfaces: Bun's
 * ServerWebSocket and Server satisfy them, and nothing in the hub imports Bun.
 */

/** Who a connection is, from its verified token. */
export interface Principal {
  sub: string;
  /** "" when the token has no tenant claim (single-tenant deployments). */
  tenant: string;
  roles: readonly string[];
  /** The claims that `claim:<name>` rules read (only those are kept). */
  claims: Readonly<Record<string, readonly string[] | string>>;
  /** Token expiry, ms since epoch; undefined when the token has none (not allowed in production). */
  expMs: number | undefined;
}

/**
 * Per-connection state, kept small (it lives in `ws.data` for every socket).
 * Numbers rather than objects where possible.
 */
export interface ConnData {
  /** Local connection number; the cluster-wide id is `${node}.${id}`. */
  id: number;
  principal: Principal | undefined;
  /** Token bucket: tokens left and the time of the last refill (ms). */
  tokens: number;
  refillAt: number;
  /** Protocol errors in the current minute window, and the window's start (ms). */
  errors: number;
  errorsAt: number;
  subs: number;
  /** Channel keys this connection is present on: null (most connections), one key, or several. */
  present: string | string[] | null;
  /** `<tenant>/<sub>` once authenticated ("" before); the one copy shared with the hub's maps and the lease. */
  userKey: string;
  /**
   * ConnFlag bits: WARNED (the `expiring` warning went out for the current
   * token), LEASED (the connection holds a per-user lease; released on close),
   * SLOW (seen over the backpressure limit: an abnormal close then is a
   * backpressure close). One number instead of three booleans keeps this
   * object in a smaller allocation (17 fields instead of 19: ~64 bytes less per connection).
   */
  flags: number;
  /** Upgrade-time auth (header or query), verified before the upgrade. */
  preauth: Principal | undefined;
  /**
   * Frames that arrived while authentication was under way (a verified
   * upgrade token waiting for its lease, or an auth frame being checked),
   * replayed in order after `hello`; null when no authentication is under way.
   */
  early: string[] | null;
  /** When the socket opened (ms): unauthenticated sockets are closed after authTimeoutMs. */
  openedAt: number;
  closing: boolean;
  /** Last frame or pong from the client, and the last ping sent (ms): see transport/idle-watch.ts. */
  seenAt: number;
  pingedAt: number;
  /** The client's address as a trusted proxy forwarded it (TRUST_PROXY); undefined = the socket's peer. */
  clientIp: string | undefined;
}

/** Bits of ConnData.flags. */
export const ConnFlag = { WARNED: 1, LEASED: 2, SLOW: 4 } as const;

export interface Conn {
  data: ConnData;
  readonly remoteAddress: string;
  /** Bun semantics: >0 bytes sent, -1 enqueued (backpressure), 0 dropped. */
  send(data: string): number;
  /** Bun semantics: sends to the topic's subscribers except this socket (a sender never gets its own typing signal). */
  publish?(topic: string, data: string): number;
  subscribe(topic: string): void;
  unsubscribe(topic: string): void;
  isSubscribed(topic: string): boolean;
  /** Topics this socket is subscribed to (channel keys and their presence topics). */
  readonly subscriptions: string[];
  close(code?: number, reason?: string): void;
  getBufferedAmount(): number;
  /** Runs `cb` with this socket's writes batched into one syscall. */
  cork(cb: () => unknown): unknown;
}

/** Native topic fan-out of the transport (Bun's server.publish). */
export interface Fanout {
  publish(topic: string, data: string): number;
  subscriberCount(topic: string): number;
}

/**
 * A second door's own fan-out (the Socket.IO endpoint frames publications
 * differently). The hub hands it every publication it delivers on this node,
 * after the native topic publish; the tap encodes it once for its own
 * subscribers. `has` counts towards "this node has subscribers for the key".
 */
export interface DeliveryTap {
  deliver(key: string, frame: string): void;
  /** A join/leave frame of channel `key`, after its native publish to the presence topic. */
  signal(key: string, frame: string): void;
  /** A feature's signal on `key` (typing, read, redact, status); `sender` is the local connection that sent it, which does not get it. */
  feature(key: string, frame: string, sender?: Conn): void;
  has(key: string): boolean;
}

export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };
