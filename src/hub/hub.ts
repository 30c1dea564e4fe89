import type { Config } from "../config/load.ts";
import type { ControlMessage, Engine, EngineSink } from "../engine/engine.ts";
import type { Logger } from "../observability/logger.ts";
import type { Cell, Metrics } from "../observability/metrics.ts";
import { CLOSE, type ErrorCode } from "../protocol/codes.ts";
import { encodeErr, encodeSubscriptionEnded } from "../protocol/encode.ts";
import { SwitchboardError, toSwitchboardError } from "../protocol/errors.ts";
import { ChannelPolicy, presenceTopic } from "./channel-policy.ts";
import { FeatureRegistry } from "./feature-registry.ts";
import type { Feature } from "./features.ts";
import type { Clock, Conn, ConnData, DeliveryTap, Fanout, Principal } from "./ports.ts";
import { closeCodeLabel } from "../observability/close-codes.ts";
import { frameOverBudget } from "./frame-budget.ts";
import { Outbox } from "./outbox.ts";
import { RequestHandlers } from "./request-handlers.ts";
import { SubscriptionBuffers } from "./subscription-buffers.ts";
import { TokenBucket } from "./token-bucket.ts";
import type { TokenVerifier } from "./token-verifier.ts";

export interface HubDeps {
  config: Pick<Config, "nodeId" | "ws" | "jwt" | "drain">;
  engine: Engine;
  verifier: TokenVerifier;
  policy: ChannelPolicy;
  metrics: Metrics;
  logger: Logger;
  clock: Clock;
}

/** Frames a client may send before `hello` while its authentication is under way (held, then replayed). */
const MAX_EARLY_FRAMES = 16;

/** Errors that do not count towards `maxErrors` (not the client's fault, or already limited). */
const NOT_COUNTED: ReadonlySet<ErrorCode> = new Set(["RATE_LIMIT_EXCEEDED", "SERVICE_UNAVAILABLE", "INTERNAL_ERROR"]);

/**
 * Connections, principals, limits and the engine sink. The hub decides what
 * is allowed; the transport only moves bytes, the engine only orders and stores.
 */
export class Hub implements EngineSink {
  readonly deps: HubDeps;
  readonly buffers = new SubscriptionBuffers();
  readonly bucket: TokenBucket;
  readonly conns = new Set<Conn>();
  /** Local connections per `<tenant>/<sub>`: the connection itself when it is the only one (the common case). */
  private readonly byUser = new Map<string, Conn | Conn[]>();
  private readonly handlers: RequestHandlers;
  readonly features: FeatureRegistry;
  private fanout: Fanout | undefined;
  private tap: DeliveryTap | undefined;
  private nextConnId = 1;
  private readonly connPrefix: string;
  private sweeper: Timer | undefined;
  /** Publishes accepted from clients or the API and not yet answered (drain waits for them). */
  inflight = 0;
  draining = false;
  engineUp = false;
  engineReason = "starting";
  private readonly outMsg: Cell;
  private readonly outPresence: Cell;
  private readonly outSignal: Cell;
  private readonly inByType = new Map<string, Cell>();
  private readonly outbox = new Outbox((conn, frame) => this.send(conn, frame));
  /** The parts of `hello` that are the same for every connection, encoded once. */
  private readonly helloNode: string;
  private readonly helloTail: string;

  constructor(deps: HubDeps) {
    this.deps = deps;
    const ws = deps.config.ws;
    this.helloNode = ',"node":' + JSON.stringify(deps.config.nodeId) + ',"user":';
    const limits = { maxFrame: ws.maxMessageSize, maxSubs: ws.maxSubscriptions, rate: ws.rateLimitPerSec, burst: ws.rateLimitBurst };
    this.helloTail = ',"ping":' + Math.floor(ws.idleTimeoutSec / 2) + ',"limits":' + JSON.stringify(limits) + "}";
    this.connPrefix = deps.config.nodeId + "." + Date.now().toString(36) + "-";
    this.bucket = new TokenBucket(deps.config.ws.rateLimitPerSec, deps.config.ws.rateLimitBurst, deps.clock);
    this.features = new FeatureRegistry(deps.policy);
    this.handlers = new RequestHandlers(this);
    this.outMsg = deps.metrics.messagesOut.cell({ type: "msg" });
    this.outPresence = deps.metrics.messagesOut.cell({ type: "presence" });
    this.outSignal = deps.metrics.messagesOut.cell({ type: "signal" });
  }

  /** Adds a feature (before the node serves traffic); see features.ts. */
  register(feature: Feature): void {
    this.features.register(feature);
  }

  /**
   * A feature's event for the features that forward events (webhooks):
   * `await hub.event(tenant, "read", {...})` settles once it is stored, at
   * once when nobody wants the type; it never rejects.
   */
  event(tenant: string, type: string, data: Record<string, unknown>): Promise<void> | undefined {
    return this.features.event(tenant, type, data);
  }

  attach(fanout: Fanout): void {
    this.fanout = fanout;
    this.sweeper = setInterval(() => this.sweep(), 1000);
    this.sweeper.unref();
  }

  /** Installs the Socket.IO endpoint's fan-out (one tap; see DeliveryTap). */
  addTap(tap: DeliveryTap): void {
    this.tap = tap;
  }

  newConnData(preauth: Principal | undefined, clientIp?: string): ConnData {
    const now = this.deps.clock.now();
    return {
      id: this.nextConnId++,
      principal: undefined,
      tokens: this.deps.config.ws.rateLimitBurst,
      refillAt: now,
      errors: 0,
      errorsAt: now,
      subs: 0,
      present: null,
      userKey: "",
      warned: false,
      leased: false,
      preauth,
      early: null,
      slow: false,
      openedAt: now,
      closing: false,
      seenAt: now,
      pingedAt: 0,
      clientIp,
    };
  }

  /**
   * Cluster-wide connection id: node, this process's start time, counter. The
   * start time keeps a restarted node (same NODE_ID) from reusing ids that
   * still hold presence entries or leases in Redis.
   */
  connId(conn: Conn): string {
    return this.connPrefix + conn.data.id;
  }

  // --- transport callbacks ---

  open(conn: Conn): void {
    this.conns.add(conn);
    this.deps.metrics.connections.set(this.conns.size);
    this.deps.metrics.connects.inc();
    const pre = conn.data.preauth;
    if (pre) {
      conn.data.preauth = undefined;
      this.authenticating(conn);
      this.authenticate(conn, pre, undefined);
    }
  }

  message(conn: Conn, raw: string | Buffer): void {
    if (conn.data.closing) return;
    if (typeof raw !== "string") {
      this.countIn("binary");
      return this.fail(conn, undefined, new SwitchboardError("BAD_REQUEST", "binary frames are not supported"));
    }
    if (conn.data.early !== null) return this.holdEarly(conn, raw);
    const over = frameOverBudget(raw, conn.data.principal !== undefined);
    if (over) {
      this.countIn("invalid");
      this.fail(conn, undefined, over);
      // Nothing but auth is expected before authentication; a huge frame there is not a client to keep.
      if (over.code === "MESSAGE_TOO_LARGE" && !conn.data.closing) {
        conn.data.closing = true;
        conn.close(CLOSE.TOO_BIG, "frame too large before authentication");
      }
      return;
    }
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch {
      this.countIn("invalid");
      return this.fail(conn, undefined, new SwitchboardError("BAD_REQUEST", "frame is not valid JSON"));
    }
    this.handlers.handle(conn, json);
  }

  /** A frame sent before `hello` while authentication is under way: kept (unparsed) and replayed after it. */
  private holdEarly(conn: Conn, raw: string): void {
    const early = conn.data.early!;
    let bytes = raw.length;
    for (const f of early) bytes += f.length;
    if (early.length >= MAX_EARLY_FRAMES || bytes > this.deps.config.ws.maxMessageSize) {
      this.countIn("invalid");
      return this.fail(conn, undefined, new SwitchboardError("RATE_LIMIT_EXCEEDED", "too many frames before hello; wait for hello"));
    }
    early.push(raw);
  }

  /** Authentication is under way: frames until `hello` are held. */
  authenticating(conn: Conn): void {
    conn.data.early ??= [];
  }

  /** Authentication ended (hello sent, or refused): replays the held frames, or drops them. */
  private authenticated(conn: Conn): void {
    const early = conn.data.early;
    conn.data.early = null;
    if (early && conn.data.principal && !conn.data.closing) for (const raw of early) this.message(conn, raw);
  }

  /** A request another transport has already turned into a native frame object (the Socket.IO endpoint). */
  request(conn: Conn, frame: unknown): void {
    if (!conn.data.closing) this.handlers.handle(conn, frame);
  }

  close(conn: Conn, code: number): void {
    const d = conn.data;
    d.closing = true;
    if (!this.conns.delete(conn)) return;
    this.deps.metrics.connections.set(this.conns.size);
    this.deps.metrics.disconnects.inc({ code: closeCodeLabel(code) });
    if (d.slow && code === CLOSE.ABNORMAL) this.deps.metrics.backpressureCloses.inc();
    if (d.subs > 0) {
      this.deps.metrics.subscriptions.inc(undefined, -d.subs);
      this.buffers.dropConn(conn);
    }
    const p = d.principal;
    if (!p) return;
    const userKey = d.userKey;
    const mine = this.byUser.get(userKey);
    if (mine === conn) this.byUser.delete(userKey);
    else if (Array.isArray(mine)) {
      const i = mine.indexOf(conn);
      if (i >= 0) mine.splice(i, 1);
      if (mine.length === 1) this.byUser.set(userKey, mine[0]!);
    }
    let released = Promise.resolve();
    if (d.leased) {
      d.leased = false;
      released = this.deps.engine.releaseUserConn(userKey, this.connId(conn)).catch((err) => this.deps.logger.warn("lease release failed", { err }));
    }
    this.features.closed(conn, released, code);
    if (this.deps.logger.auditing) this.deps.logger.audit("disconnect", { conn: this.connId(conn), user: p.sub, tenant: p.tenant, code });
  }

  // --- authentication ---

  /**
   * Completes authentication: per-user limit, then `hello`. `id` echoes an auth
   * frame's id. When the engine answers the lease at once (the embedded engine
   * does), `hello` goes out inside the socket's open callback, in the same
   * write as the upgrade response.
   */
  authenticate(conn: Conn, p: Principal, id: number | undefined): void {
    const d = conn.data;
    if (d.principal || d.closing) return;
    const userKey = p.tenant + "/" + p.sub;
    let lease: boolean | Promise<boolean>;
    try {
      lease = this.deps.engine.acquireUserConn(userKey, this.connId(conn), this.deps.config.ws.maxConnectionsPerUser);
    } catch (err) {
      return this.leaseFailed(conn, id, err);
    }
    if (typeof lease === "boolean") return this.admit(conn, p, id, userKey, lease);
    lease.then(
      (allowed) => this.admit(conn, p, id, userKey, allowed),
      (err) => this.leaseFailed(conn, id, err),
    );
  }

  private leaseFailed(conn: Conn, id: number | undefined, err: unknown): void {
    conn.data.early = null;
    this.send(conn, encodeErr(id, "SERVICE_UNAVAILABLE", "cannot check the connection limit now; retry later"));
    conn.close(CLOSE.GOING_AWAY, "engine unavailable");
    this.deps.logger.warn("lease acquire failed", { err });
  }

  private admit(conn: Conn, p: Principal, id: number | undefined, userKey: string, allowed: boolean): void {
    const d = conn.data;
    const cfg = this.deps.config;
    if (d.closing) {
      if (allowed) void this.deps.engine.releaseUserConn(userKey, this.connId(conn)).catch(() => {});
      return;
    }
    if (!allowed) {
      d.early = null;
      this.deps.metrics.errors.inc({ code: "LIMIT_EXCEEDED" });
      this.send(conn, encodeErr(id, "LIMIT_EXCEEDED", `at most ${cfg.ws.maxConnectionsPerUser} connections per user`));
      conn.close(CLOSE.TOO_MANY_CONNECTIONS, "too many connections for this user");
      this.deps.logger.audit("connect_refused", { conn: this.connId(conn), user: p.sub, tenant: p.tenant, reason: "connections per user" });
      return;
    }
    d.leased = true;
    d.principal = p;
    d.userKey = userKey;
    this.bucket.init(d);
    const mine = this.byUser.get(userKey);
    if (mine === undefined) this.byUser.set(userKey, conn);
    else if (Array.isArray(mine)) mine.push(conn);
    else this.byUser.set(userKey, [mine, conn]);
    let hello = '{"t":"hello","conn":' + JSON.stringify(this.connId(conn)) + this.helloNode + JSON.stringify(p.sub);
    if (p.tenant) hello += ',"tenant":' + JSON.stringify(p.tenant);
    if (p.expMs !== undefined) hello += ',"exp":' + Math.floor(p.expMs / 1000);
    this.send(conn, hello + this.helloTail);
    if (this.deps.logger.auditing) this.deps.logger.audit("connect", { conn: this.connId(conn), user: p.sub, tenant: p.tenant, ip: conn.data.clientIp ?? conn.remoteAddress });
    this.features.connected(conn);
    if (d.early !== null) this.authenticated(conn);
  }

  authFailed(conn: Conn, id: number | undefined, err: SwitchboardError): void {
    conn.data.early = null;
    this.deps.metrics.authFailures.inc();
    this.deps.metrics.errors.inc({ code: "AUTHENTICATION_FAILED" });
    this.send(conn, encodeErr(id, "AUTHENTICATION_FAILED", err.message));
    conn.close(CLOSE.AUTH_FAILED, "authentication failed");
    this.deps.logger.audit("auth_failure", { conn: this.connId(conn), reason: err.message, ip: conn.data.clientIp ?? conn.remoteAddress });
  }

  // --- replies ---

  /** Sends a frame; a frame that cannot even be queued means the client is gone or hopeless. */
  send(conn: Conn, frame: string): void {
    const s = conn.send(frame);
    if (s === 0 && !conn.data.closing) {
      this.deps.metrics.backpressureCloses.inc();
      conn.data.closing = true;
      conn.close(CLOSE.POLICY, "backpressure limit exceeded");
    }
  }

  /** Queues a frame for `conn`; see Outbox. */
  sendSoon(conn: Conn, frame: string): void {
    this.outbox.push(conn, frame);
  }

  /** Answers a failed request with `err`; counts protocol errors and closes at `maxErrors` per minute. */
  fail(conn: Conn, id: number | undefined, error: unknown): void {
    const err = toSwitchboardError(error);
    if (err.code === "INTERNAL_ERROR") this.deps.logger.error("request failed", { err: err.cause ?? err, conn: this.connId(conn) });
    this.deps.metrics.errors.inc({ code: err.code });
    if (err.code === "RATE_LIMIT_EXCEEDED") this.deps.metrics.rateLimited.inc();
    this.send(conn, encodeErr(id, err.code, err.message, err.retryAfter));
    if (NOT_COUNTED.has(err.code)) return;
    const d = conn.data;
    const now = this.deps.clock.now();
    if (now - d.errorsAt > 60_000) {
      d.errors = 0;
      d.errorsAt = now;
    }
    if (++d.errors >= this.deps.config.ws.maxErrorsPerMin && !d.closing) {
      d.closing = true;
      conn.close(CLOSE.POLICY, "too many protocol errors");
    }
  }

  countIn(type: string): void {
    let c = this.inByType.get(type);
    if (!c) this.inByType.set(type, (c = this.deps.metrics.messagesIn.cell({ type })));
    c.value++;
  }

  // --- engine sink ---

  deliver(key: string, frame: string): void {
    const fanout = this.fanout;
    if (!fanout) return;
    // Frames start with {"t":"msg" or {"t":"join"/"leave"; publications go to the channel topic.
    if (frame.charCodeAt(6) === 109 /* m */) {
      if (this.buffers.size > 0) this.buffers.offer(key, frame);
      const sent = fanout.publish(key, frame);
      if (sent > 0) this.outMsg.value += this.subscribersOf(fanout, key);
      else if (sent < 0 || fanout.subscriberCount(key) > 0) this.noteBackpressure(key);
      if (this.tap !== undefined) this.tap.deliver(key, frame);
    } else if (frame.charCodeAt(6) === 106 /* j */ || frame.charCodeAt(6) === 108 /* l */) {
      const topic = presenceTopic(key);
      const sent = fanout.publish(topic, frame);
      if (sent > 0) this.outPresence.value += fanout.subscriberCount(topic);
      else if (sent < 0 || fanout.subscriberCount(topic) > 0) this.noteBackpressure(topic);
      if (this.tap !== undefined) this.tap.signal(key, frame);
    } else {
      // A feature's signal (typing, read, redact) goes to the channel's subscribers; one that
      // names a connection of this process was already delivered here without its sender.
      if (frame.includes(',"conn":"' + this.connPrefix)) return;
      if (fanout.publish(key, frame) > 0) this.outSignal.value += fanout.subscriberCount(key);
      if (this.tap !== undefined) this.tap.feature(key, frame);
    }
  }

  /**
   * Subscriber count of a topic for the frames-out metric, asked once per
   * topic while a batch is being delivered (a batch is hundreds of
   * publications to the same few topics) and forgotten right after it.
   */
  private subscribersOf(fanout: Fanout, key: string): number {
    if (key !== this.countedKey) {
      if (this.countedKey === undefined) queueMicrotask(this.forgetCount);
      this.countedKey = key;
      this.counted = fanout.subscriberCount(key);
    }
    return this.counted;
  }

  private countedKey: string | undefined;
  private counted = 0;
  private readonly forgetCount = (): void => {
    this.countedKey = undefined;
  };

  /**
   * A publish to `topic` met backpressure (-1) or dropped a subscriber (0):
   * the transport closes a subscriber over its backpressure limit itself,
   * and its close then looks like any abnormal close (1006). Marks the
   * subscribers over the limit now so that their close is counted as a
   * backpressure close. At most one scan per 20 ms: it walks every connection.
   */
  private noteBackpressure(topic: string): void {
    const now = performance.now();
    if (now - this.backpressureScanAt < 20) return;
    this.backpressureScanAt = now;
    const limit = this.deps.config.ws.backpressureLimit;
    for (const conn of this.conns) if (!conn.data.slow && conn.isSubscribed(topic) && conn.getBufferedAmount() >= limit) conn.data.slow = true;
  }

  private backpressureScanAt = -Infinity;

  hasSubscribers(key: string): boolean {
    const f = this.fanout;
    if (!f) return false;
    return f.subscriberCount(key) > 0 || f.subscriberCount(presenceTopic(key)) > 0 || this.buffers.has(key) || this.tap?.has(key) === true;
  }

  control(msg: ControlMessage): void {
    if (msg.type === "disconnect") {
      const mine = this.byUser.get(msg.tenant + "/" + msg.user);
      if (!mine) return;
      for (const conn of Array.isArray(mine) ? [...mine] : [mine]) conn.close(CLOSE.NORMAL, msg.reason.slice(0, 100));
    } else if (msg.type === "feature") {
      this.features.control(msg.feature, msg.body);
    }
  }

  /**
   * A feature's signal from `conn` to this node's other subscribers of `key`,
   * native and Socket.IO (other nodes get it through the engine, and `deliver`
   * skips it here because it names `conn`).
   */
  signalLocal(conn: Conn, key: string, frame: string): void {
    if (conn.publish !== undefined) conn.publish(key, frame);
    else this.fanout?.publish(key, frame);
    if (this.tap !== undefined) this.tap.feature(key, frame, conn);
  }

  /** This node's authenticated connections of a user. */
  connectionsOf(tenant: string, user: string): Conn[] {
    const mine = this.byUser.get(tenant + "/" + user);
    return mine === undefined ? [] : Array.isArray(mine) ? [...mine] : [mine];
  }

  /**
   * Ends a live subscription the server no longer allows: no further `msg`
   * on it, and an unsolicited `err` with its `ch` tells the client why.
   */
  endSubscription(conn: Conn, key: string, ch: string, code: ErrorCode, why: string): boolean {
    if (!conn.isSubscribed(key) || conn.data.closing) return false;
    conn.unsubscribe(key);
    conn.unsubscribe(presenceTopic(key));
    conn.data.subs--;
    this.deps.metrics.subscriptions.inc(undefined, -1);
    this.deps.metrics.errors.inc({ code });
    this.send(conn, encodeSubscriptionEnded(ch, code, why));
    void this.features.unsubscribed(conn, key);
    const p = conn.data.principal;
    if (this.deps.logger.auditing) this.deps.logger.audit("subscription_ended", { conn: this.connId(conn), user: p?.sub, tenant: p?.tenant, ch, code });
    return true;
  }

  availability(up: boolean, reason: string): void {
    if (up !== this.engineUp) this.deps.logger[up ? "info" : "warn"]("engine availability changed", { up, reason });
    this.engineUp = up;
    this.engineReason = reason;
    this.deps.metrics.engineUp.set(up ? 1 : 0);
  }

  /** Local connections of a user (for the HTTP disconnect answer). */
  localConnections(tenant: string, user: string): number {
    const mine = this.byUser.get(tenant + "/" + user);
    return mine === undefined ? 0 : Array.isArray(mine) ? mine.length : 1;
  }

  // --- timers: auth timeout, token expiry ---

  private sweep(): void {
    const now = this.deps.clock.now();
    const { authTimeoutMs } = this.deps.config.ws;
    const warnMs = this.deps.config.jwt.expiryWarningSec * 1000;
    for (const conn of this.conns) {
      const d = conn.data;
      if (d.closing) continue;
      const p = d.principal;
      if (!p) {
        if (now - d.openedAt >= authTimeoutMs) {
          this.deps.metrics.authFailures.inc();
          this.send(conn, encodeErr(undefined, "AUTHENTICATION_FAILED", "no auth frame within the authentication timeout"));
          conn.close(CLOSE.AUTH_FAILED, "authentication timeout");
        }
        continue;
      }
      if (p.expMs === undefined) continue;
      if (now >= p.expMs) {
        d.closing = true;
        conn.close(CLOSE.TOKEN_EXPIRED, "token expired");
      } else if (!d.warned && p.expMs - now <= warnMs) {
        d.warned = true;
        this.send(conn, '{"t":"expiring","in":' + Math.max(1, Math.ceil((p.expMs - now) / 1000)) + "}");
      }
    }
  }

  // --- drain ---

  /** Tells every client to reconnect elsewhere, lets in-flight publishes finish, closes with 1012. */
  async drain(deadlineMs: number): Promise<void> {
    this.draining = true;
    const maxAfter = this.deps.config.drain.reconnectMaxMs;
    for (const conn of this.conns) {
      const after = Math.floor(Math.random() * (maxAfter + 1));
      this.send(conn, '{"t":"reconnect","after":' + after + ',"reason":"server is restarting"}');
    }
    const until = this.deps.clock.now() + deadlineMs;
    while (this.inflight > 0 && this.deps.clock.now() < until) await new Promise((r) => setTimeout(r, 10));
    // Acks of publishes that just finished may still sit in the outbox: send them before the close.
    this.outbox.flush();
    for (const conn of [...this.conns]) conn.close(CLOSE.RESTART, "server restart");
    clearInterval(this.sweeper);
  }

  /** Rejects new work while draining or while the engine is down. */
  assertAccepting(): void {
    if (this.draining) throw new SwitchboardError("SERVICE_UNAVAILABLE", "node is draining; reconnect to another node");
  }
}
