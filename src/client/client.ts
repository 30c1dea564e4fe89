import { backoffDelayMs } from "./backoff.ts";
import { Calls } from "./calls.ts";
import { defaultWebSocket } from "./default-websocket.ts";
import { Emitter, safeCall } from "./emitter.ts";
import { SwitchboardClientError } from "./errors.ts";
import { parseServerFrame, type ClientFrame, type Hello, type Message, type PresenceMember, type ServerFrame } from "./frames.ts";
import type { ClientEvents, ConnectionState } from "./events.ts";
import { Liveness } from "./liveness.ts";
import type { ClientOptions } from "./options.ts";
import { Conversation } from "./conversation.ts";
import type { FeatureClientFrame, FeatureRequest, FeatureServerFrames, StatusEntry, UserStatus } from "./feature-frames.ts";
import { Notifications } from "./notifications.ts";
import { StatusWatch } from "./status-watch.ts";
import { reconnectDecision, type ReconnectCause } from "./reconnect-policy.ts";
import { errorFromFrame, PendingRequests } from "./requests.ts";
import { Subscription, type SubscribeOptions } from "./subscription.ts";
import { TokenSource } from "./token.ts";

const OPEN = 1;
/** Refusals that say "not now" rather than "no": a subscribe is retried after them. */
const TRANSIENT: ReadonlySet<string> = new Set(["SERVICE_UNAVAILABLE", "RATE_LIMIT_EXCEEDED", "INTERNAL_ERROR"]);

/**
 * A Switchboard connection that stays up: it authenticates with the first
 * frame, reconnects with jittered backoff (or after the delay a draining node
 * advises), resubscribes every channel from its last offset and renews its
 * token before it expires.
 */
export class SwitchboardClient extends Emitter<ClientEvents> {
  readonly url: string;
  private readonly tokens: TokenSource;
  private readonly minDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly connectTimeoutMs: number;
  private readonly WS: typeof WebSocket;
  private readonly requests: PendingRequests;
  private readonly subs = new Map<string, Subscription<any>>();
  private _state: ConnectionState = "idle";
  private ws: WebSocket | undefined;
  /** Watches the open connection for silence (hello.ping); undefined while not connected. */
  private liveness: Liveness | undefined;
  private wsToken: string | undefined;
  private _hello: Hello | undefined;
  private attempt = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** When a `reconnect` frame arrived and the delay it advised. */
  private advised: { at: number; afterMs: number; reason: string } | undefined;
  private lastError: SwitchboardClientError | undefined;
  private waiters: { resolve(h: Hello): void; reject(e: SwitchboardClientError): void }[] = [];
  /** Bumped by every open() and close(): an open() that awaited a token checks it is still the current one. */
  private generation = 0;
  /** Listeners of feature frames by `t` (typing, read, inbox, status…). */
  private readonly featureListeners = new Map<string, Set<(f: never) => void>>();
  /** The status last set with setStatus: set again after every reconnect. */
  private ownStatus: { status: UserStatus; text: string | null } | undefined;
  private _notifications: Notifications | undefined;
  /** Calls: invite/accept/…, call events and the signalling relay (src/client/calls.ts). */
  readonly calls = new Calls({ request: (frame) => this.request(undefined, frame), send: (frame) => this.send(frame) });

  constructor(url: string, options: ClientOptions) {
    super();
    this.url = url;
    this.tokens = new TokenSource(options.token, options.getToken);
    this.minDelayMs = options.minReconnectDelayMs ?? 500;
    this.maxDelayMs = Math.max(this.minDelayMs, options.maxReconnectDelayMs ?? 20_000);
    this.connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
    this.requests = new PendingRequests(options.requestTimeoutMs ?? 10_000);
    this.WS = options.WebSocket ?? defaultWebSocket();
  }

  get state(): ConnectionState {
    return this._state;
  }

  /** The server's `hello` of the current connection. */
  get hello(): Hello | undefined {
    return this._state === "connected" ? this._hello : undefined;
  }

  /**
   * Connects (and keeps reconnecting). Resolves with the first `hello`;
   * rejects on a terminal failure (token refused with no fresh one), on `close()`,
   * and with LIMIT_EXCEEDED when the server refuses the user another connection
   * (4008), while the client keeps retrying in the background.
   */
  connect(): Promise<Hello> {
    if (this._state === "connected" && this._hello) return Promise.resolve(this._hello);
    const p = new Promise<Hello>((resolve, reject) => this.waiters.push({ resolve, reject }));
    if (this._state === "idle" || this._state === "closed") {
      this.attempt = 0;
      this.lastError = undefined;
      void this.open();
    }
    return p;
  }

  /**
   * Closes the connection and stops reconnecting. Subscriptions are kept with
   * their offsets: a later `connect()` resubscribes and recovers what was
   * missed. Call `unsubscribe()` on those you no longer want.
   */
  close(): void {
    this.generation++;
    this.clearTimer();
    const ws = this.ws;
    this._state = "closed";
    if (ws) {
      this.detach(ws);
      ws.close(1000);
      this.connectionGone(1000, "client closed", false);
    }
    this.settleWaiters(new SwitchboardClientError("CLOSED", "client closed"));
  }

  /** Subscribes now if connected, otherwise on the next connection. One subscription per channel. */
  subscribe<T = unknown>(ch: string, onMessage: (msg: Message<T>) => void, options: SubscribeOptions = {}): Subscription<T> {
    const existing = this.subs.get(ch);
    if (existing && existing.state !== "unsubscribed") throw new TypeError(`already subscribed to ${ch}`);
    const sub = new Subscription<T>(ch, onMessage, options, (s) => this.unsubscribed(s));
    this.subs.set(ch, sub);
    if (this._state === "connected") this.sendSub(sub);
    return sub;
  }

  /** Publishes to `ch`; resolves with the message's offset once the server accepted it. */
  async publish(ch: string, ev: string, data: unknown): Promise<{ off: string }> {
    const ok = await this.request(ch, (id) => ({ t: "pub", id, ch, ev, data }));
    return { off: String(ok.off ?? "") };
  }

  /** Who is on `ch` now. */
  async presence(ch: string): Promise<PresenceMember[]> {
    const ok = await this.request(ch, (id) => ({ t: "presence", id, ch }));
    return (ok.members as PresenceMember[] | undefined) ?? [];
  }

  /** Retained messages of `ch` after `since` (all retained when omitted), at most `limit` (≤ 1000). */
  async history<T = unknown>(ch: string, opts: { since?: string; limit?: number } = {}): Promise<{ messages: Message<T>[]; off: string }> {
    const ok = await this.request(ch, (id) => ({
      t: "history",
      id,
      ch,
      ...(opts.since !== undefined ? { since: opts.since } : {}),
      ...(opts.limit !== undefined ? { limit: opts.limit } : {}),
    }));
    return { messages: (ok.messages as Message<T>[] | undefined) ?? [], off: String(ok.off ?? "") };
  }

  /** A chat conversation (`chat:<id>` unless the server names the chat namespace otherwise). */
  conversation(id: string, namespace = "chat"): Conversation {
    return new Conversation(this, id, namespace);
  }

  /** The user's notifications inbox. */
  get notifications(): Notifications {
    return (this._notifications ??= new Notifications(this));
  }

  /** Sets the user's status; it is set again after every reconnect of this client. */
  async setStatus(status: UserStatus, text?: string): Promise<void> {
    this.ownStatus = { status, text: text ?? null };
    await this.featureRequest({ t: "status", status, ...(text !== undefined ? { text } : {}) });
  }

  /** Follows the status of `users` (of the own tenant), also across reconnects; `onChange` gets each entry as it changes. */
  watchStatus(users: string[], onChange: (entry: StatusEntry) => void): StatusWatch {
    return new StatusWatch(this, users, onChange);
  }

  /** @internal A feature request (see feature-frames.ts); resolves with its `ok`. */
  featureRequest(frame: FeatureRequest, ch?: string): Promise<Record<string, unknown>> {
    return this.request(ch, (id) => ({ ...frame, id }) as FeatureClientFrame);
  }

  /** @internal A feature frame that wants no answer (typing); false when not connected. */
  featureSignal(frame: FeatureClientFrame): boolean {
    if (this._state !== "connected") return false;
    try {
      this.send(frame);
      return true;
    } catch {
      return false;
    }
  }

  /** @internal Listens to a feature's server frames; returns the function that stops it. */
  onFeatureFrame<K extends keyof FeatureServerFrames>(t: K, listener: (f: FeatureServerFrames[K]) => void): () => void {
    let set = this.featureListeners.get(t);
    if (!set) this.featureListeners.set(t, (set = new Set()));
    set.add(listener as (f: never) => void);
    return () => set.delete(listener as (f: never) => void);
  }

  /** Sends a request on the open connection; while not connected nothing is sent and it rejects with SERVICE_UNAVAILABLE. */
  private request(ch: string | undefined, frame: (id: number) => ClientFrame | FeatureClientFrame): Promise<Record<string, unknown>> {
    if (this._state !== "connected") {
      return Promise.reject(new SwitchboardClientError("SERVICE_UNAVAILABLE", `not connected (${this._state})`, { ch }));
    }
    return this.requests.start((id) => this.send(frame(id)), ch);
  }

  private send(frame: ClientFrame | FeatureClientFrame): void {
    if (this.ws?.readyState !== OPEN) throw new SwitchboardClientError("DISCONNECTED", "socket not open");
    this.ws.send(JSON.stringify(frame));
  }

  private async open(): Promise<void> {
    const generation = ++this.generation;
    this.clearTimer();
    this._state = "connecting";
    this.emit("connecting", { attempt: this.attempt });
    let token: string | undefined;
    try {
      token = await this.tokens.forAuth();
    } catch (cause) {
      if (generation !== this.generation) return;
      this.emit("error", new SwitchboardClientError("AUTHENTICATION_FAILED", "getToken failed", { cause }));
      this.scheduleReconnect("backoff");
      return;
    }
    if (generation !== this.generation) return; // close() (and maybe connect()) while fetching the token
    if (token === undefined) {
      this.stop(this.lastError ?? new SwitchboardClientError("AUTHENTICATION_FAILED", "no fresh token to authenticate with"));
      return;
    }
    const ws = new this.WS(this.url);
    this.ws = ws;
    this.wsToken = token;
    this.advised = undefined;
    ws.onopen = () => ws.send(JSON.stringify({ t: "auth", token } satisfies ClientFrame));
    ws.onmessage = (e) => this.onFrame(ws, e.data);
    ws.onclose = (e) => {
      if (this.ws === ws) this.connectionGone(e.code, e.reason, true);
    };
    ws.onerror = () => {}; // a close event always follows
    this.timer = setTimeout(() => {
      if (this.ws !== ws || this._state === "connected") return;
      this.detach(ws);
      ws.close();
      this.connectionGone(1006, "connect timeout", true);
    }, this.connectTimeoutMs);
  }

  private onFrame(ws: WebSocket, data: unknown): void {
    if (this.ws !== ws) return;
    this.liveness?.heard();
    const f = parseServerFrame(data);
    if (!f) return;
    switch (f.t) {
      case "hello":
        return this.onHello(f);
      case "ok":
      case "err":
        if (this.requests.answer(f)) return;
        if (f.t === "err") this.onUnsolicitedError(f);
        return;
      case "msg":
        return this.subs.get(f.ch)?.deliver(f);
      case "join":
      case "leave":
        return this.subs.get(f.ch)?.presenceEvent(f.t, f);
      case "expiring":
        return void this.refreshToken();
      case "call":
      case "offer":
      case "answer":
      case "ice":
      case "renegotiate":
        return this.calls.receive(f);
      case "reconnect":
        this.advised = { at: Date.now(), afterMs: Math.max(0, Number(f.after) || 0), reason: String(f.reason ?? "") };
        return;
      default: {
        const { t, ...event } = f as { t: string };
        const set = this.featureListeners.get(t);
        if (set) for (const listener of [...set]) safeCall(listener as (x: unknown) => void, event);
      }
    }
  }

  private onHello(hello: ServerFrame & { t: "hello" }): void {
    this.clearTimer();
    const { t: _t, ...rest } = hello;
    this._hello = rest;
    this._state = "connected";
    this.attempt = 0;
    this.lastError = undefined;
    this.watch(this.ws!, rest.ping);
    this.emit("connected", this._hello);
    this.calls.resume();
    for (const w of this.waiters.splice(0)) w.resolve(this._hello);
    for (const sub of this.subs.values()) this.sendSub(sub);
    const own = this.ownStatus;
    if (own) this.featureRequest({ t: "status", status: own.status, ...(own.text !== null ? { text: own.text } : {}) }).catch((err) => this.emit("error", err));
  }

  private onUnsolicitedError(f: { ch?: string; code: string; msg: string; retryAfter?: number }): void {
    const ended = typeof f.ch === "string" ? this.subs.get(f.ch) : undefined;
    const err = errorFromFrame(f, ended?.ch);
    // An err with ch ends that subscription (revoked access): over, not resubscribed.
    if (ended) return this.subscriptionEnded(ended, err);
    if (err.code === "AUTHENTICATION_FAILED") this.lastError = err;
    this.emit("error", err);
  }

  private subscriptionEnded(sub: Subscription<any>, err: SwitchboardClientError): void {
    if (this.subs.get(sub.ch) === sub) this.subs.delete(sub.ch);
    sub.failed(err);
    if (sub.options.onError) sub.options.onError(err);
    else this.emit("error", err);
  }

  private sendSub(sub: Subscription<any>): void {
    const fields = sub.subscribeFields();
    const ws = this.ws;
    this.requests
      .start((id) => this.send({ t: "sub", id, ...fields }), sub.ch)
      .then((ok) => {
        const failure = sub.subscribed(ok, fields.since);
        if (failure) this.emit("recoveryFailed", failure);
      })
      .catch((err: SwitchboardClientError) => {
        if (err.code === "DISCONNECTED" || err.code === "CLOSED") return; // resubscribed on the next connection
        if (err.code === "TIMEOUT") {
          // An unanswered subscribe means the connection is not usable: start over.
          if (ws && this.ws === ws) {
            this.detach(ws);
            ws.close();
            this.connectionGone(1006, "subscribe timed out", true);
          }
          return;
        }
        if (TRANSIENT.has(err.code)) return this.retrySub(sub, ws, err);
        this.subscriptionEnded(sub, err);
      });
  }

  /** A subscribe refused for a passing reason (the node's engine is down): asked again on this connection, not given up. */
  private retrySub(sub: Subscription<any>, ws: WebSocket | undefined, err: SwitchboardClientError): void {
    const delay = err.retryAfter ?? backoffDelayMs(1, this.minDelayMs, this.maxDelayMs);
    setTimeout(() => {
      if (this.ws === ws && this._state === "connected" && this.subs.get(sub.ch) === sub) this.sendSub(sub);
    }, delay);
  }

  private unsubscribed(sub: Subscription<any>): void {
    if (this.subs.get(sub.ch) !== sub) return;
    this.subs.delete(sub.ch);
    if (this._state === "connected") this.request(sub.ch, (id) => ({ t: "unsub", id, ch: sub.ch })).catch(() => {});
  }

  private async refreshToken(): Promise<void> {
    if (!this.tokens.renewable) {
      this.emit("error", new SwitchboardClientError("AUTHENTICATION_FAILED", "token expiring and no getToken to renew it"));
      return;
    }
    try {
      const token = await this.tokens.fetch();
      const ok = await this.request(undefined, (id) => ({ t: "refresh", id, token }));
      this.wsToken = token;
      if (typeof ok.exp === "number") {
        if (this._hello) this._hello = { ...this._hello, exp: ok.exp }; // never mutate a hello handed out
        this.emit("tokenRefreshed", { exp: ok.exp });
      }
    } catch (cause) {
      // The server closes with 4003 at expiry; the client then reconnects with a fresh token.
      const err = cause instanceof SwitchboardClientError ? cause : new SwitchboardClientError("AUTHENTICATION_FAILED", "getToken failed", { cause });
      this.emit("error", err);
    }
  }

  /** Starts the silence watch for `ws`: a ping after `pingSec` without frames, reconnect after twice that. */
  private watch(ws: WebSocket, pingSec: number): void {
    this.liveness?.stop();
    this.liveness = undefined;
    if (!(pingSec > 0)) return;
    this.liveness = new Liveness(
      pingSec * 1000,
      () => void this.request(undefined, (id) => ({ t: "ping", id })).catch(() => {}),
      (silentMs) => {
        if (this.ws !== ws) return;
        this.detach(ws);
        ws.close();
        this.connectionGone(1006, `server silent for ${Math.round(silentMs / 1000)} s`, true);
      },
    );
  }

  /** The socket is gone: fail what waited on it, then decide whether and when to reconnect. */
  private connectionGone(code: number, reason: string, mayReconnect: boolean): void {
    this.liveness?.stop();
    this.liveness = undefined;
    this.clearTimer();
    this.ws = undefined;
    const stopped = this._state === "closed";
    this.requests.failAll(stopped ? "CLOSED" : "DISCONNECTED", stopped ? "client closed" : `connection closed (${code})`);
    for (const sub of this.subs.values()) sub.connectionLost();
    if (stopped || !mayReconnect) {
      this.emit("disconnected", { code, reason, willReconnect: false });
      return;
    }
    if (code === 4001 || code === 4003) this.tokens.reject(this.wsToken);
    const next = reconnectDecision(code, { renewableToken: this.tokens.renewable, advised: this.advised, now: Date.now() });
    if (next.stop) {
      const err =
        code === 1000
          ? new SwitchboardClientError("DISCONNECTED", `${next.why}: ${reason}`)
          : code === 4001 && this.lastError
            ? this.lastError
            : new SwitchboardClientError("AUTHENTICATION_FAILED", next.why);
      this._state = "closed";
      this.emit("disconnected", { code, reason, willReconnect: false });
      this.stop(err);
      return;
    }
    this._state = "reconnecting";
    this.emit("disconnected", { code, reason, willReconnect: true });
    if (next.refused) this.settleWaiters(new SwitchboardClientError(next.refused, reason || "too many connections for this user"));
    this.scheduleReconnect(next.cause, next.delayMs, next.reason);
  }

  private scheduleReconnect(cause: ReconnectCause, delayMs?: number, reason?: string): void {
    const delay = delayMs ?? backoffDelayMs(this.attempt, this.minDelayMs, this.maxDelayMs);
    if (delayMs === undefined) this.attempt++;
    this._state = "reconnecting";
    this.emit("reconnecting", { attempt: this.attempt, delayMs: delay, cause, ...(reason !== undefined ? { reason } : {}) });
    this.clearTimer();
    this.timer = setTimeout(() => void this.open(), delay);
  }

  /** Gives up for good: the error is emitted and `connect()` callers are rejected. */
  private stop(err: SwitchboardClientError): void {
    this.clearTimer();
    this._state = "closed";
    this.emit("error", err);
    this.settleWaiters(err);
  }

  private settleWaiters(err: SwitchboardClientError): void {
    for (const w of this.waiters.splice(0)) w.reject(err);
  }

  private detach(ws: WebSocket): void {
    ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
    if (this.ws === ws) this.ws = undefined;
  }

  private clearTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
