import type { Config } from "../config/load.ts";
import { freshConnData } from "./conn-data.ts";
import type { ControlMessage, Engine, EngineSink } from "../engine/engine.ts";
import type { Logger } from "../observability/logger.ts";
import type { Cell, Metrics } from "../observability/metrics.ts";
import { CLOSE, type ErrorCode } from "../protocol/codes.ts";
import { encodeErr, encodeSubscriptionEnded } from "../protocol/encode.ts";
import { SwitchboardError, toSwitchboardError } from "../protocol/errors.ts";
import { ChannelPolicy, presenceTopic } from "./channel-policy.ts";
import { FeatureRegistry } from "./feature-registry.ts";
import type { Feature } from "./features.ts";
import { ConnFlag, type Clock, type Conn, type ConnData, type DeliveryTap, type Fanout, type Principal } from "./ports.ts";
import { closeCodeLabel } from "../observability/close-codes.ts";
import { frameOverBudget } from "./frame-budget.ts";
import { Authentication } from "./authentication.ts";
import { BackpressureWatch } from "./backpressure.ts";
import { EarlyFrames } from "./early-frames.ts";
import { Outbox } from "./outbox.ts";
import { RequestHandlers } from "./request-handlers.ts";
import { SubscriptionBuffers } from "./subscription-buffers.ts";
import { Sweeper } from "./sweeper.ts";
import { UserConns } from "./user-conns.ts";
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
  /** Local connections per `<tenant>/<sub>`. */
  readonly byUser = new UserConns();
  private readonly handlers: RequestHandlers;
  readonly features: FeatureRegistry;
  private fanout: Fanout | undefined;
  private tap: DeliveryTap | undefined;
  private nextConnId = 1;
  private readonly connPrefix: string;
  private readonly sweeper: Sweeper;
  private readonly early: EarlyFrames;
  /** Marks subscribers over the backpressure limit when a publish meets it (see BackpressureWatch). */
  private readonly backpressure: BackpressureWatch;
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
  private readonly auth: Authentication;

  constructor(deps: HubDeps) {
    this.deps = deps;
    const ws = deps.config.ws;
    this.connPrefix = deps.config.nodeId + "." + Date.now().toString(36) + "-";
    this.bucket = new TokenBucket(deps.config.ws.rateLimitPerSec, deps.config.ws.rateLimitBurst, deps.clock);
    this.features = new FeatureRegistry(deps.policy);
    this.handlers = new RequestHandlers(this);
    this.outMsg = deps.metrics.messagesOut.cell({ type: "msg" });
    this.outPresence = deps.metrics.messagesOut.cell({ type: "presence" });
    this.outSignal = deps.metrics.messagesOut.cell({ type: "signal" });
    this.early = new EarlyFrames(ws.maxMessageSize);
    this.auth = new Authentication(this);
    this.backpressure = new BackpressureWatch(this.conns, ws.backpressureLimit);
    this.sweeper = new Sweeper({ config: deps.config, metrics: deps.metrics, clock: deps.clock, conns: this.conns, send: (conn, frame) => this.send(conn, frame) });
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
    this.sweeper.start();
  }

  /** Installs the Socket.IO endpoint's fan-out (one tap; see DeliveryTap). */
  addTap(tap: DeliveryTap): void {
    this.tap = tap;
  }

  newConnData(preauth: Principal | undefined, clientIp?: string): ConnData {
    return freshConnData(this.nextConnId++, this.deps.clock.now(), this.deps.config.ws.rateLimitBurst, preauth, clientIp);
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
      // Frames are held only if the lease is not answered at once (see Authentication.authenticate).
      this.authenticate(conn, pre, undefined);
    }
  }

  message(conn: Conn, raw: string | Buffer): void {
    const d = conn.data;
    if (d.closing) return;
    if (typeof raw !== "string") {
      this.countIn("binary");
      return this.fail(conn, undefined, new SwitchboardError("BAD_REQUEST", "binary frames are not supported"));
    }
    if (d.early !== null) return this.holdEarly(conn, raw);
    const over = frameOverBudget(raw, d.principal !== undefined);
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
    if (d.principal !== undefined && this.handlers.pubText(conn, d, raw)) return;
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch {
      this.countIn("invalid");
      return this.fail(conn, undefined, new SwitchboardError("BAD_REQUEST", "frame is not valid JSON"));
    }
    this.handlers.handle(conn, json);
  }

  /** A frame sent before `hello` while authentication is under way: kept (unparsed) and replayed after it; see EarlyFrames. */
  private holdEarly(conn: Conn, raw: string): void {
    const refused = this.early.hold(conn, raw);
    if (refused) {
      this.countIn("invalid");
      this.fail(conn, undefined, refused);
    }
  }

  /** Authentication is under way: frames until `hello` are held. */
  authenticating(conn: Conn): void {
    this.early.start(conn);
  }

  /** Authentication ended (hello sent, or refused): replays the held frames, or drops them. */
  authenticated(conn: Conn): void {
    const early = this.early.end(conn);
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
    if (code === CLOSE.ABNORMAL && this.backpressure.closedSlow(conn)) this.deps.metrics.backpressureCloses.inc();
    if (d.subs > 0) {
      this.deps.metrics.subscriptions.inc(undefined, -d.subs);
      this.buffers.dropConn(conn);
    }
    const p = d.principal;
    if (!p) return;
    const userKey = d.userKey;
    this.byUser.remove(userKey, conn);
    let released = Promise.resolve();
    if (d.flags & ConnFlag.LEASED) {
      d.flags &= ~ConnFlag.LEASED;
      released = this.deps.engine.releaseUserConn(userKey, this.connId(conn)).catch((err) => this.deps.logger.warn("lease release failed", { err }));
    }
    this.features.closed(conn, released, code);
    if (this.deps.logger.auditing) this.deps.logger.audit("disconnect", { conn: this.connId(conn), user: p.sub, tenant: p.tenant, code });
  }

  // --- authentication (see Authentication) ---

  /** Completes authentication: per-user limit, then `hello`; `id` echoes an auth frame's id. */
  authenticate(conn: Conn, p: Principal, id: number | undefined): void {
    this.auth.authenticate(conn, p, id);
  }

  authFailed(conn: Conn, id: number | undefined, err: SwitchboardError): void {
    this.auth.failed(conn, id, err);
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
      // -1: sent or queued for every subscriber, and some are over the backpressure limit.
      if (sent !== 0) this.outMsg.value += this.subscribersOf(fanout, key);
      if (sent < 0 || (sent === 0 && fanout.subscriberCount(key) > 0)) this.backpressure.note(key);
      if (this.tap !== undefined) this.tap.deliver(key, frame);
    } else if (frame.charCodeAt(6) === 106 /* j */ || frame.charCodeAt(6) === 108 /* l */) {
      const topic = presenceTopic(key);
      const sent = fanout.publish(topic, frame);
      if (sent > 0) this.outPresence.value += fanout.subscriberCount(topic);
      else if (sent < 0 || fanout.subscriberCount(topic) > 0) this.backpressure.note(topic);
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

  hasSubscribers(key: string): boolean {
    const f = this.fanout;
    if (!f) return false;
    return f.subscriberCount(key) > 0 || f.subscriberCount(presenceTopic(key)) > 0 || this.buffers.has(key) || this.tap?.has(key) === true;
  }

  control(msg: ControlMessage): void {
    if (msg.type === "disconnect") {
      for (const conn of this.byUser.list(msg.tenant + "/" + msg.user)) conn.close(CLOSE.NORMAL, msg.reason.slice(0, 100));
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
    return this.byUser.list(tenant + "/" + user);
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
    return this.byUser.count(tenant + "/" + user);
  }

  // --- drain (the timers for auth timeout and token expiry are in Sweeper) ---

  /** Tells every client to reconnect elsewhere, lets in-flight publishes finish, closes with 1012. */
  async drain(deadlineMs: number): Promise<void> {
    this.draining = true;
    await this.sweeper.drain(deadlineMs, () => this.inflight, () => this.outbox.flush());
  }

  /** Rejects new work while draining or while the engine is down. */
  assertAccepting(): void {
    if (this.draining) throw new SwitchboardError("SERVICE_UNAVAILABLE", "node is draining; reconnect to another node");
  }
}
