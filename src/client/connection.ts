import { backoffDelayMs } from "./backoff.ts";
import { defaultWebSocket } from "./default-websocket.ts";
import { Emitter } from "./emitter.ts";
import { SwitchboardClientError } from "./errors.ts";
import { parseServerFrame, type ClientFrame, type Hello, type ServerFrame } from "./frames.ts";
import type { ClientEvents, ConnectionState } from "./events.ts";
import type { FeatureClientFrame } from "./feature-frames.ts";
import { Liveness } from "./liveness.ts";
import type { ClientOptions } from "./options.ts";
import { reconnectDecision, type ReconnectCause } from "./reconnect-policy.ts";
import { errorFromFrame, PendingRequests } from "./requests.ts";
import { TokenSource } from "./token.ts";

const OPEN = 1;

/** A server frame the connection itself does not handle: channels, calls, features. */
export type RoutedFrame = Exclude<ServerFrame, { t: "hello" | "ok" | "err" | "expiring" | "reconnect" }>;

/**
 * The connection half of the client: one authenticated WebSocket at a time,
 * its lifecycle (connect timeout, silence watch, token renewal, reconnect
 * with jittered backoff or after the delay a draining node advises) and the
 * requests waiting on it. What arrives for channels, calls and features goes
 * to `route`; `resumed` runs on every `hello`, `lost` whenever the socket goes.
 */
export abstract class ClientConnection extends Emitter<ClientEvents> {
  readonly url: string;
  private readonly tokens: TokenSource;
  protected readonly minDelayMs: number;
  protected readonly maxDelayMs: number;
  private readonly connectTimeoutMs: number;
  private readonly WS: typeof WebSocket;
  private readonly requests: PendingRequests;
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

  /** A frame for a channel, a call or a feature. */
  protected abstract route(f: RoutedFrame): void;
  /** A connection said hello (first or after a reconnect): restore what lives across connections. */
  protected abstract resumed(): void;
  /** The socket went away; the requests on it have been failed. */
  protected abstract lost(): void;

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

  /** The socket requests go out on now; compared by identity (a retry meant for an older socket is dropped). */
  protected get socket(): WebSocket | undefined {
    return this.ws;
  }

  /** Sends a request on the open connection; while not connected nothing is sent and it rejects with SERVICE_UNAVAILABLE. */
  protected request(ch: string | undefined, frame: (id: number) => ClientFrame | FeatureClientFrame): Promise<Record<string, unknown>> {
    if (this._state !== "connected") {
      return Promise.reject(new SwitchboardClientError("SERVICE_UNAVAILABLE", `not connected (${this._state})`, { ch }));
    }
    return this.startRequest(frame, ch);
  }

  /** Sends a request on the current socket whatever the state; it fails with DISCONNECTED when the socket is not open. */
  protected startRequest(frame: (id: number) => ClientFrame | FeatureClientFrame, ch?: string): Promise<Record<string, unknown>> {
    return this.requests.start((id) => this.send(frame(id)), ch);
  }

  protected send(frame: ClientFrame | FeatureClientFrame): void {
    if (this.ws?.readyState !== OPEN) throw new SwitchboardClientError("DISCONNECTED", "socket not open");
    this.ws.send(JSON.stringify(frame));
  }

  /** Gives up `ws` as unusable without waiting for its close handshake, then reconnects (if it is still the current socket). */
  protected abandon(ws: WebSocket, reason: string): void {
    if (this.ws !== ws) return;
    this.detach(ws);
    ws.close();
    this.connectionGone(1006, reason, true);
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
      if (this._state !== "connected") this.abandon(ws, "connect timeout");
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
        if (f.t === "err") this.unsolicited(f);
        return;
      case "expiring":
        return void this.refreshToken();
      case "reconnect":
        this.advised = { at: Date.now(), afterMs: Math.max(0, Number(f.after) || 0), reason: String(f.reason ?? "") };
        return;
      default:
        this.route(f);
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
    for (const w of this.waiters.splice(0)) w.resolve(this._hello);
    this.resumed();
  }

  /** An `err` no request waits for, emitted as `error`; a refused token is kept as the reason should the server then close with 4001. */
  protected unsolicited(f: { ch?: string; code: string; msg: string; retryAfter?: number }): void {
    const err = errorFromFrame(f);
    if (err.code === "AUTHENTICATION_FAILED") this.lastError = err;
    this.emit("error", err);
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
      (silentMs) => this.abandon(ws, `server silent for ${Math.round(silentMs / 1000)} s`),
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
    this.lost();
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
