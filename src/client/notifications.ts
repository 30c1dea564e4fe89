import type { SwitchboardClient } from "./client.ts";
import type { Notification } from "./feature-frames.ts";

/**
 * The user's notifications inbox. Live notifications arrive as `ev:
 * "notification"` messages on the user's personal channel (subscribe to
 * `user:<id>`); the unread count reaches every connection of the user.
 */
export class Notifications {
  constructor(private readonly client: SwitchboardClient) {}

  /** Newest first; `unread` lists only unread ones; `before` a notification id to page on. */
  async list<T = unknown>(opts: { unread?: boolean; limit?: number; before?: string } = {}): Promise<{ notifications: Notification<T>[]; unread: number }> {
    const ok = await this.client.featureRequest({
      t: "inbox",
      ...(opts.unread !== undefined ? { unread: opts.unread } : {}),
      ...(opts.limit !== undefined ? { limit: opts.limit } : {}),
      ...(opts.before !== undefined ? { before: opts.before } : {}),
    });
    return { notifications: (ok.notifications as Notification<T>[]) ?? [], unread: Number(ok.unread) };
  }

  /** Marks the ids (all when omitted) read; resolves with the unread count after. */
  async markRead(ids?: string[]): Promise<number> {
    const ok = await this.client.featureRequest({ t: "inbox_read", ...(ids !== undefined ? { ids } : {}) });
    return Number(ok.unread);
  }

  /** The unread count changed (posted, or marked read anywhere). */
  onUnread(listener: (unread: number) => void): () => void {
    return this.client.onFeatureFrame("inbox", (f) => listener(f.unread));
  }
}
