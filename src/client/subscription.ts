import { safeCall } from "./emitter.ts";
import { SwitchboardClientError } from "./errors.ts";
import type { Message, PresenceEvent } from "./frames.ts";
import { compareOffsets, newerOffset } from "./offsets.ts";

export interface SubscribeOptions {
  /** Deliver every retained message after this offset first (e.g. one you stored). */
  since?: string;
  /** Receive `join`/`leave` events of the channel. */
  presence?: boolean;
  onJoin?(event: PresenceEvent): void;
  onLeave?(event: PresenceEvent): void;
  /**
   * A resubscribe could not recover every missed message (the offset is older
   * than the channel's retained history): refetch your state. Messages the
   * server still had were delivered before this call.
   */
  onRecoveryFailed?(info: RecoveryFailure): void;
  /** Called after every successful (re)subscribe. */
  onSubscribed?(result: SubscribeResult): void;
  /**
   * The server refused the subscription (e.g. AUTHORIZATION_FAILED), or ended
   * it later (access revoked on a token refresh: `err.ch` names it); the
   * subscription is over and is not resubscribed. Without this handler the
   * client emits `error`.
   */
  onError?(err: SwitchboardClientError): void;
}

export interface SubscribeResult {
  ch: string;
  /** The channel's current offset at subscribe time. */
  off: string;
  /** False when `since` was older than the retained history. */
  recovered: boolean;
  /** How many missed messages the server sent before its answer. */
  missed: number;
  /** True for the automatic resubscribe after a reconnect. */
  resubscribed: boolean;
}

export interface RecoveryFailure {
  ch: string;
  /** The offset the client asked to resume after. */
  since: string;
  /** The channel's current offset; delivery continues after it. */
  off: string;
}

export type SubscriptionState = "subscribing" | "subscribed" | "unsubscribed";

/**
 * One channel subscription. It outlives connections: after a reconnect the
 * client resubscribes with `since` = the last offset seen, and messages at or
 * before that offset are dropped, so the handler sees each message once.
 */
export class Subscription<T = unknown> {
  readonly ch: string;
  /** Resolves on the first successful subscribe; rejects if the server refuses it or it is unsubscribed first. */
  readonly ready: Promise<SubscribeResult>;
  private _state: SubscriptionState = "subscribing";
  /** Highest offset delivered to the handler (or given as `since`): the dedup threshold. */
  private seenOff: string | undefined;
  /** The channel offset of the last subscribe answer: where to resume when nothing newer was seen. */
  private baseOff: string | undefined;
  private everSubscribed = false;
  private settleReady!: { resolve(r: SubscribeResult): void; reject(e: SwitchboardClientError): void };

  constructor(
    ch: string,
    private readonly onMessage: (msg: Message<T>) => void,
    readonly options: SubscribeOptions,
    private readonly detach: (sub: Subscription<T>) => void,
  ) {
    this.ch = ch;
    this.seenOff = options.since;
    this.ready = new Promise<SubscribeResult>((resolve, reject) => {
      this.settleReady = { resolve, reject };
    });
    // The ready promise is optional to await; an unobserved rejection must not crash the app.
    this.ready.catch(() => {});
  }

  get state(): SubscriptionState {
    return this._state;
  }

  /** The offset a resubscribe resumes after. */
  get lastOffset(): string | undefined {
    return newerOffset(this.seenOff, this.baseOff);
  }

  /** Stops delivery and tells the server (when connected). Idempotent. */
  unsubscribe(): void {
    if (this._state === "unsubscribed") return;
    this._state = "unsubscribed";
    if (!this.everSubscribed) this.settleReady.reject(new SwitchboardClientError("CLOSED", "unsubscribed before the first answer", { ch: this.ch }));
    this.detach(this);
  }

  /** @internal The `sub` frame fields for the next (re)subscribe. */
  subscribeFields(): { ch: string; since?: string; presence?: true } {
    const since = this.lastOffset;
    return {
      ch: this.ch,
      ...(since !== undefined ? { since } : {}),
      ...(this.options.presence ? { presence: true as const } : {}),
    };
  }

  /** @internal A `msg` frame for this channel. */
  deliver(msg: Message<T>): void {
    if (this._state === "unsubscribed") return;
    if (msg.off !== undefined) {
      if (this.seenOff !== undefined && compareOffsets(msg.off, this.seenOff) <= 0) return;
      this.seenOff = msg.off;
    }
    safeCall(this.onMessage, msg);
  }

  /** @internal A `join` or `leave` frame for this channel. */
  presenceEvent(kind: "join" | "leave", event: PresenceEvent): void {
    if (this._state === "unsubscribed") return;
    safeCall(kind === "join" ? this.options.onJoin : this.options.onLeave, event);
  }

  /**
   * @internal The `ok` answer to a `sub` frame that carried `sentSince` (if any).
   * Returns the recovery failure it reported, if any, so the client can emit it too.
   */
  subscribed(answer: Record<string, unknown>, sentSince: string | undefined): RecoveryFailure | undefined {
    if (this._state === "unsubscribed") return undefined;
    const off = String(answer.off ?? "");
    const result: SubscribeResult = {
      ch: this.ch,
      off,
      recovered: answer.recovered !== false,
      missed: typeof answer.missed === "number" ? answer.missed : 0,
      resubscribed: this.everSubscribed,
    };
    if (off !== "" && this.seenOff !== undefined && compareOffsets(off, this.seenOff) < 0) {
      // The channel's offsets went backwards (its history was wiped): what was seen
      // says nothing about new messages any more, and continuity is lost.
      this.seenOff = off;
      this.baseOff = undefined;
      result.recovered = false;
    }
    if (off !== "") this.baseOff = newerOffset(this.baseOff, off);
    this._state = "subscribed";
    const first = !this.everSubscribed;
    this.everSubscribed = true;
    const failure = sentSince !== undefined && !result.recovered ? { ch: this.ch, since: sentSince, off } : undefined;
    if (failure) safeCall(this.options.onRecoveryFailed, failure);
    safeCall(this.options.onSubscribed, result);
    if (first) this.settleReady.resolve(result);
    return failure;
  }

  /** @internal The connection went away; a resubscribe follows on the next one. */
  connectionLost(): void {
    if (this._state === "subscribed") this._state = "subscribing";
  }

  /** @internal The server refused or ended the subscription, or it ended before its first answer. */
  failed(err: SwitchboardClientError): void {
    this._state = "unsubscribed";
    this.settleReady.reject(err);
  }
}
