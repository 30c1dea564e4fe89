import type { SwitchboardClient } from "./client.ts";
import type { ReadEvent, RedactEvent } from "./feature-frames.ts";
import type { Message } from "./frames.ts";
import type { Subscription, SubscribeOptions } from "./subscription.ts";

export interface ReadResult {
  /** The read position now stored (never moves backwards). */
  off: string;
  /** Unread messages left in this conversation, and in all of the user's conversations. */
  unread: number;
  total: number;
}

/**
 * A chat conversation: its channel (`chat:<id>`), persisted messages,
 * typing indicators and read receipts. Live messages come through
 * `subscribe`, with the client's usual recovery after reconnects.
 */
export class Conversation {
  readonly ch: string;

  constructor(
    private readonly client: SwitchboardClient,
    readonly id: string,
    namespace: string,
  ) {
    this.ch = namespace + ":" + id;
  }

  subscribe<T = unknown>(onMessage: (msg: Message<T>) => void, options: SubscribeOptions = {}): Subscription<T> {
    return this.client.subscribe<T>(this.ch, onMessage, options);
  }

  /** Sends a message; resolves once it is stored, with its offset. */
  send(data: unknown, ev = "message"): Promise<{ off: string }> {
    return this.client.publish(this.ch, ev, data);
  }

  /** Tells the other members this user is typing (or stopped); ephemeral, false when not connected. */
  typing(active = true): boolean {
    return this.client.featureSignal({ t: "typing", ch: this.ch, active });
  }

  /** Marks the conversation read up to `off` (a message's offset). */
  async markRead(off: string): Promise<ReadResult> {
    const ok = await this.client.featureRequest({ t: "read", ch: this.ch, off }, this.ch);
    return { off: String(ok.off), unread: Number(ok.unread), total: Number(ok.total) };
  }

  /** Another member's (or this user's other connection's) read position moved. */
  onRead(listener: (e: ReadEvent) => void): () => void {
    return this.client.onFeatureFrame("read", (e) => {
      if (e.ch === this.ch) listener(e);
    });
  }

  onRedact(listener: (e: RedactEvent) => void): () => void {
    return this.client.onFeatureFrame("redact", (e) => {
      if (e.ch === this.ch) listener(e);
    });
  }

  /**
   * `listener(user, true)` when a member starts typing and `(user, false)`
   * when they stop or their indicator expires without a refresh.
   */
  onTyping(listener: (user: string, typing: boolean) => void): () => void {
    const timers = new Map<string, ReturnType<typeof setTimeout>>();
    const stop = this.client.onFeatureFrame("typing", (e) => {
      if (e.ch !== this.ch) return;
      const was = timers.get(e.user);
      if (was !== undefined) clearTimeout(was);
      timers.delete(e.user);
      if (e.active) {
        timers.set(
          e.user,
          setTimeout(() => {
            timers.delete(e.user);
            listener(e.user, false);
          }, e.expires),
        );
      }
      if (e.active !== (was !== undefined)) listener(e.user, e.active);
    });
    return () => {
      stop();
      for (const t of timers.values()) clearTimeout(t);
      timers.clear();
    };
  }

  /** Stored messages older than `before` (the newest when absent), oldest first; `more` when older ones exist. */
  async messages<T = unknown>(opts: { before?: string; limit?: number } = {}): Promise<{ messages: Message<T>[]; more: boolean }> {
    const ok = await this.client.featureRequest(
      { t: "messages", ch: this.ch, ...(opts.before !== undefined ? { before: opts.before } : {}), ...(opts.limit !== undefined ? { limit: opts.limit } : {}) },
      this.ch,
    );
    return { messages: (ok.messages as Message<T>[]) ?? [], more: ok.more === true };
  }

  /** This conversation's unread count and the user's total. */
  async unread(): Promise<{ unread: number; total: number }> {
    const ok = await this.client.featureRequest({ t: "unread" });
    const list = (ok.conversations as { id: string; unread: number }[]) ?? [];
    return { unread: list.find((c) => c.id === this.id)?.unread ?? 0, total: Number(ok.total) };
  }
}
