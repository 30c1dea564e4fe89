import { channelKey } from "../../hub/channel-policy.ts";
import { featureControl } from "../../hub/features.ts";
import type { Hub } from "../../hub/hub.ts";
import type { Notification, NotificationInput, Store } from "../../store/ports.ts";
import { encodeInboxCount, encodeNotification } from "./notification-frames.ts";

/** The personal channel notifications are delivered on (PROTOCOL.md §4: `user:<id>`). */
const USER_NS = "user";

/**
 * The notifications inbox: stored per user in the record store, delivered
 * live as an `ev: "notification"` publication on the user's personal
 * channel, and the unread count pushed to every connection of the user on
 * every node whenever it changes.
 */
export class NotificationService {
  constructor(
    private readonly hub: Hub,
    private readonly store: Store,
    private readonly retentionDays: number,
  ) {}

  async post(tenant: string, users: readonly string[], n: NotificationInput): Promise<Notification[]> {
    const now = this.hub.deps.clock.now();
    const unique = [...new Set(users)];
    const stored = await this.store.addNotifications(tenant, unique, n, now, this.retentionDays > 0 ? now + this.retentionDays * 86_400_000 : null);
    const userNs = this.hub.deps.policy.namespaces[USER_NS];
    await Promise.all(
      unique.map(async (user, i) => {
        if (userNs) {
          const ch = USER_NS + ":" + user;
          const options = this.hub.deps.policy.resolve(ch).options;
          // Stored already: a failed live delivery is logged, the inbox still has it.
          await this.hub.deps.engine
            .publish(channelKey(tenant, ch), { ch, ev: "notification", data: encodeNotification(stored[i]!), ts: now }, options)
            .catch((err) => this.hub.deps.logger.warn("notification delivery failed", { err, tenant, user }));
        }
        await this.pushCount(tenant, user);
      }),
    );
    return stored;
  }

  list(tenant: string, user: string, unreadOnly: boolean, limit: number, before: string | undefined): Promise<Notification[]> {
    return this.store.notifications(tenant, user, { unreadOnly, limit, before }, this.hub.deps.clock.now());
  }

  unread(tenant: string, user: string): Promise<number> {
    return this.store.unreadNotifications(tenant, user, this.hub.deps.clock.now());
  }

  /** Marks ids (all when undefined) read; every connection of the user learns the new count. */
  async markRead(tenant: string, user: string, ids: readonly string[] | undefined): Promise<number> {
    const unread = await this.store.markNotificationsRead(tenant, user, ids, this.hub.deps.clock.now());
    await this.broadcastCount(tenant, user, unread);
    return unread;
  }

  private async pushCount(tenant: string, user: string): Promise<void> {
    await this.broadcastCount(tenant, user, await this.unread(tenant, user));
  }

  private async broadcastCount(tenant: string, user: string, unread: number): Promise<void> {
    await this.hub.deps.engine.control(featureControl("notifications", { op: "unread", tenant, user, unread })).catch((err) => {
      this.hub.deps.logger.warn("unread count push failed", { err, tenant, user });
    });
  }

  /** On every node: the user's local connections get `{"t":"inbox","unread":N}`. */
  deliverCount(tenant: string, user: string, unread: number): void {
    const frame = encodeInboxCount(unread);
    for (const conn of this.hub.connectionsOf(tenant, user)) this.hub.send(conn, frame);
  }
}
