import { SwitchboardClientError } from "./errors.ts";
import type { ClientEvents } from "./events.ts";
import type { ClientFrame, Message, PresenceEvent } from "./frames.ts";
import { Subscription, type SubscribeOptions } from "./subscription.ts";

/** Refusals that say "not now" rather than "no": a subscribe is retried after them. */
const TRANSIENT: ReadonlySet<string> = new Set(["SERVICE_UNAVAILABLE", "RATE_LIMIT_EXCEEDED", "INTERNAL_ERROR"]);

/** What the registry needs from the client's connection. */
export interface SubscriptionHost {
  /** True from the connection's `hello` until it is gone. */
  connected(): boolean;
  /** The current socket; compared by identity only (a retry meant for an older socket is dropped). */
  socket(): WebSocket | undefined;
  /** Sends a request frame on the current socket; settles with its `ok` (rejects with its `err`, TIMEOUT or DISCONNECTED). */
  start(frame: (id: number) => ClientFrame, ch: string): Promise<Record<string, unknown>>;
  /** Gives `ws` up as unusable (closed without waiting) and reconnects, if it is still the current socket. */
  abandon(ws: WebSocket, reason: string): void;
  /** Delay before a transient refusal without `retryAfter` is asked again. */
  retryDelayMs(): number;
  emit<K extends "error" | "recoveryFailed">(event: K, payload: ClientEvents[K]): void;
}

/**
 * The client's subscriptions by channel, one per channel. They outlive
 * connections: each is (re)subscribed on every `hello`, and only a refusal
 * (or `unsubscribe()`) ends one. Frames for a channel are routed here.
 */
export class SubscriptionRegistry {
  private readonly subs = new Map<string, Subscription<any>>();

  constructor(private readonly host: SubscriptionHost) {}

  /** A new subscription, sent now if connected; throws TypeError when `ch` already has a live one. */
  add<T>(ch: string, onMessage: (msg: Message<T>) => void, options: SubscribeOptions): Subscription<T> {
    const existing = this.subs.get(ch);
    if (existing && existing.state !== "unsubscribed") throw new TypeError(`already subscribed to ${ch}`);
    const sub = new Subscription<T>(ch, onMessage, options, (s) => this.unsubscribed(s));
    this.subs.set(ch, sub);
    if (this.host.connected()) this.send(sub);
    return sub;
  }

  get(ch: string): Subscription<any> | undefined {
    return this.subs.get(ch);
  }

  /** A `msg`, `join` or `leave` frame: to its channel's subscription, if any. */
  route(f: ({ t: "msg" } & Message) | ({ t: "join" | "leave" } & PresenceEvent)): void {
    const sub = this.subs.get(f.ch);
    if (!sub) return;
    if (f.t === "msg") sub.deliver(f);
    else sub.presenceEvent(f.t, f);
  }

  /** A new connection said hello: every subscription is sent again from its last offset. */
  resubscribeAll(): void {
    for (const sub of this.subs.values()) this.send(sub);
  }

  /** The connection went away: each subscription waits for the next one. */
  connectionLost(): void {
    for (const sub of this.subs.values()) sub.connectionLost();
  }

  /** The server refused or ended `sub`: it is over (not resubscribed); its onError, else the client's `error`, hears why. */
  ended(sub: Subscription<any>, err: SwitchboardClientError): void {
    if (this.subs.get(sub.ch) === sub) this.subs.delete(sub.ch);
    sub.failed(err);
    if (sub.options.onError) sub.options.onError(err);
    else this.host.emit("error", err);
  }

  private send(sub: Subscription<any>): void {
    const fields = sub.subscribeFields();
    const ws = this.host.socket();
    this.host
      .start((id) => ({ t: "sub", id, ...fields }), sub.ch)
      .then((ok) => {
        const failure = sub.subscribed(ok, fields.since);
        if (failure) this.host.emit("recoveryFailed", failure);
      })
      .catch((err: SwitchboardClientError) => {
        if (err.code === "DISCONNECTED" || err.code === "CLOSED") return; // resubscribed on the next connection
        if (err.code === "TIMEOUT") {
          // An unanswered subscribe means the connection is not usable: start over.
          if (ws) this.host.abandon(ws, "subscribe timed out");
          return;
        }
        if (TRANSIENT.has(err.code)) return this.retry(sub, ws, err);
        this.ended(sub, err);
      });
  }

  /** A subscribe refused for a passing reason (the node's engine is down): asked again on this connection, not given up. */
  private retry(sub: Subscription<any>, ws: WebSocket | undefined, err: SwitchboardClientError): void {
    const delay = err.retryAfter ?? this.host.retryDelayMs();
    setTimeout(() => {
      if (this.host.socket() === ws && this.host.connected() && this.subs.get(sub.ch) === sub) this.send(sub);
    }, delay);
  }

  private unsubscribed(sub: Subscription<any>): void {
    if (this.subs.get(sub.ch) !== sub) return;
    this.subs.delete(sub.ch);
    if (this.host.connected()) this.host.start((id) => ({ t: "unsub", id, ch: sub.ch }), sub.ch).catch(() => {});
  }
}
