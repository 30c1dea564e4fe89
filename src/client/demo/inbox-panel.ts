import type { Message, Notification, Subscription, SwitchboardClient } from "../index.ts";
import { $, clock, el, errText, note, setBadge } from "./dom.ts";

/** Newest notifications listed in the panel. */
const SHOWN = 10;

/**
 * The notifications inbox: the newest notifications (live ones arrive on the
 * user's personal channel `user:<id>`), the unread count every connection of
 * the user sees change, mark one or all read, and a button that has the dev
 * node post a sample notification through its server API.
 */
export class InboxPanel {
  private readonly list = $("notifications");
  private readonly items = new Map<string, Notification>();
  private readonly stopUnread: () => void;
  private readonly sub: Subscription;

  constructor(
    private readonly client: SwitchboardClient,
    private readonly me: string,
  ) {
    this.list.replaceChildren();
    // Marked read from another tab too: the count changes, and the list is read again to show which.
    this.stopUnread = client.notifications.onUnread((n) => (this.setUnread(n), void this.refresh()));
    this.sub = client.subscribe(`user:${me}`, (m: Message) => {
      if (m.ev !== "notification") return;
      const n = m.data as Notification;
      this.items.set(n.id, n);
      this.render();
    }, { onSubscribed: () => void this.refresh() });
    $<HTMLButtonElement>("notify").onclick = () => void this.postSample();
    $<HTMLButtonElement>("read-all").onclick = () => void this.markRead();
  }

  private setUnread(n: number): void {
    setBadge($("inbox-unread"), n, "unread");
    $<HTMLButtonElement>("read-all").disabled = n === 0;
  }

  private async refresh(): Promise<void> {
    try {
      const { notifications, unread } = await this.client.notifications.list({ limit: SHOWN });
      for (const n of notifications) this.items.set(n.id, n);
      this.setUnread(unread);
      this.render();
    } catch (err) {
      note(`notifications unavailable (${errText(err)})`);
    }
  }

  private async postSample(): Promise<void> {
    const res = await fetch(`/demo/notify?sub=${encodeURIComponent(this.me)}`, { method: "POST" });
    note(res.ok ? "the dev node posted a sample notification" : `posting a notification failed (${res.status})`);
  }

  private async markRead(id?: string): Promise<void> {
    try {
      this.setUnread(await this.client.notifications.markRead(id === undefined ? undefined : [id]));
      const now = Date.now();
      for (const n of this.items.values()) if (id === undefined || n.id === id) n.readTs ??= now;
      this.render();
    } catch (err) {
      note(`mark read failed: ${errText(err)}`);
    }
  }

  private render(): void {
    const newest = [...this.items.values()].sort((a, b) => (a.id < b.id ? 1 : -1)).slice(0, SHOWN);
    this.list.replaceChildren(
      ...newest.map((n) => {
        const li = el("li", n.readTs === null ? "unread" : "");
        li.append(el("span", "from", n.title), el("span", "meta", clock(n.ts)));
        if (n.body) li.append(el("span", "text", n.body));
        if (n.readTs === null) {
          const b = el("button", "small", "Mark read");
          b.type = "button";
          b.onclick = () => void this.markRead(n.id);
          li.append(b);
        }
        return li;
      }),
    );
  }

  stop(): void {
    this.stopUnread();
    this.sub.unsubscribe();
    $<HTMLButtonElement>("read-all").disabled = true;
  }
}
