import { backoffDelayMs } from "./backoff.ts";
import { Calls } from "./calls.ts";
import { ClientConnection, type RoutedFrame } from "./connection.ts";
import { Conversation } from "./conversation.ts";
import { errorFromFrame } from "./requests.ts";
import type { Message, PresenceMember } from "./frames.ts";
import type { FeatureClientFrame, FeatureRequest, FeatureServerFrames, StatusEntry, UserStatus } from "./feature-frames.ts";
import { FeatureListeners } from "./feature-listeners.ts";
import { Notifications } from "./notifications.ts";
import { StatusWatch } from "./status-watch.ts";
import type { Subscription, SubscribeOptions } from "./subscription.ts";
import { SubscriptionRegistry } from "./subscriptions.ts";

/**
 * A Switchboard connection that stays up: it authenticates with the first
 * frame, reconnects with jittered backoff (or after the delay a draining node
 * advises), resubscribes every channel from its last offset and renews its
 * token before it expires. The connection lifecycle is in connection.ts; this
 * class is what an application calls: channels, features and calls.
 */
export class SwitchboardClient extends ClientConnection {
  /** Subscriptions by channel (subscriptions.ts): resubscribed on every hello. */
  private readonly subs = new SubscriptionRegistry({
    connected: () => this.state === "connected",
    socket: () => this.socket,
    start: (frame, ch) => this.startRequest(frame, ch),
    abandon: (ws, reason) => this.abandon(ws, reason),
    retryDelayMs: () => backoffDelayMs(1, this.minDelayMs, this.maxDelayMs),
    emit: (event, payload) => this.emit(event, payload),
  });
  /** Listeners of feature frames by `t` (typing, read, inbox, status…). */
  private readonly featureListeners = new FeatureListeners();
  /** The status last set with setStatus: set again after every reconnect. */
  private ownStatus: { status: UserStatus; text: string | null } | undefined;
  private _notifications: Notifications | undefined;
  /** Calls: invite/accept/…, call events and the signalling relay (src/client/calls.ts). */
  readonly calls = new Calls({ request: (frame) => this.request(undefined, frame), send: (frame) => this.send(frame) });

  /** Subscribes now if connected, otherwise on the next connection. One subscription per channel. */
  subscribe<T = unknown>(ch: string, onMessage: (msg: Message<T>) => void, options: SubscribeOptions = {}): Subscription<T> {
    return this.subs.add(ch, onMessage, options);
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
    if (this.state !== "connected") return false;
    try {
      this.send(frame);
      return true;
    } catch {
      return false;
    }
  }

  /** @internal Listens to a feature's server frames; returns the function that stops it. */
  onFeatureFrame<K extends keyof FeatureServerFrames>(t: K, listener: (f: FeatureServerFrames[K]) => void): () => void {
    return this.featureListeners.on(t, listener);
  }

  protected route(f: RoutedFrame): void {
    switch (f.t) {
      case "msg":
      case "join":
      case "leave":
        return this.subs.route(f);
      case "call":
      case "offer":
      case "answer":
      case "ice":
      case "renegotiate":
        return this.calls.receive(f);
      default:
        this.featureListeners.dispatch(f as { t: string });
    }
  }

  protected resumed(): void {
    this.calls.resume();
    this.subs.resubscribeAll();
    const own = this.ownStatus;
    if (own) this.featureRequest({ t: "status", status: own.status, ...(own.text !== null ? { text: own.text } : {}) }).catch((err) => this.emit("error", err));
  }

  protected lost(): void {
    this.subs.connectionLost();
  }

  /** An err with ch ends that subscription (revoked access): over, not resubscribed. */
  protected override unsolicited(f: { ch?: string; code: string; msg: string; retryAfter?: number }): void {
    const ended = typeof f.ch === "string" ? this.subs.get(f.ch) : undefined;
    if (ended) this.subs.ended(ended, errorFromFrame(f, ended.ch));
    else super.unsolicited(f);
  }
}
