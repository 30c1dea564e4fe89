import { compareOffsets, type Conversation, type Message, type Subscription, type SwitchboardClient } from "../index.ts";
import { $, clock, dataText, el, errText, note, setBadge } from "./dom.ts";

/** Stored messages shown when the conversation is opened. */
const HISTORY_LIMIT = 50;
/** Typing refreshes at most this often: the server's typing budget is 2 a second and the indicator lasts 5 s. */
const TYPING_REFRESH_MS = 2000;
/** At most two typing signals a second (the server's sustained typing rate); a later one waits, the newest state wins. */
const TYPING_GAP_MS = 500;

/**
 * The conversation `chat:<room>`: stored messages (history on join), typing
 * indicators, read receipts ("seen by bob") and unread badges. The user has
 * read the conversation when the message box has focus (or on send).
 */
export class ChatPanel {
  private readonly conv: Conversation;
  private readonly list = $("chat-messages");
  private readonly input = $<HTMLInputElement>("chat-text");
  private readonly typingLine = $("typing");
  private readonly shown = new Set<string>();
  private readonly readers = new Map<string, string>();
  private readonly typers = new Set<string>();
  private readonly stops: (() => void)[] = [];
  private sub: Subscription | undefined;
  private myRead: string | undefined;
  /** The user's unread messages in other conversations (the server's count). */
  private elsewhere: { id: string; unread: number }[] = [];
  private lastTyping = 0;
  private typingSent = { at: 0, active: false };
  private typingDue: { active: boolean; timer: ReturnType<typeof setTimeout> } | undefined;

  constructor(
    private readonly client: SwitchboardClient,
    private readonly me: string,
    room: string,
  ) {
    this.conv = client.conversation(room);
    $("chat-title").textContent = `Conversation ${this.conv.ch}`;
    this.list.replaceChildren();
    this.stops.push(this.conv.onTyping((user, on) => (on ? this.typers.add(user) : this.typers.delete(user), this.renderTyping())));
    this.stops.push(this.conv.onRead((e) => {
      if (e.user === this.me) this.readUpTo(e.off);
      else this.readers.set(e.user, e.off);
      this.renderReceipts();
    }));
    this.input.onfocus = () => void this.markRead();
    this.input.oninput = () => {
      if (Date.now() - this.lastTyping < TYPING_REFRESH_MS) return;
      this.lastTyping = Date.now();
      this.signalTyping(true);
    };
    this.sub = this.conv.subscribe((m) => this.onLive(m), {
      onSubscribed: (r) => {
        note(`subscribed to ${r.ch} at #${r.off}`);
        if (!r.resubscribed) void this.loadHistory();
        else void this.refreshUnread();
      },
    });
  }

  private reading(): boolean {
    return document.activeElement === this.input && document.hasFocus();
  }

  private onLive(m: Message): void {
    if (!this.show(m, false)) return;
    if (m.from !== this.me && this.reading()) void this.markRead();
    this.renderBadges();
  }

  /** Adds a message in offset order; false when it is already shown. */
  private show(m: Message, fromHistory: boolean): boolean {
    if (m.off === undefined || this.shown.has(m.off)) return false;
    this.shown.add(m.off);
    const li = el("li", fromHistory ? "history" : "");
    li.dataset.off = m.off;
    li.dataset.from = m.from ?? "";
    // History's unread ones are placed from the server's count (refreshUnread); a live message of another member is new.
    if (!fromHistory && m.from !== this.me && (this.myRead === undefined || compareOffsets(m.off, this.myRead) > 0)) li.classList.add("unread");
    li.append(el("span", "from", m.from ?? "server"), el("span", "meta", `${clock(m.ts)} #${m.off}`), el("span", "text", dataText(m.data)));
    const later = Array.from(this.list.children).find((x) => compareOffsets((x as HTMLElement).dataset.off!, m.off!) > 0);
    this.list.insertBefore(li, later ?? null);
    this.list.scrollTop = this.list.scrollHeight;
    return true;
  }

  private async loadHistory(): Promise<void> {
    let added: number;
    try {
      const { messages } = await this.conv.messages({ limit: HISTORY_LIMIT });
      added = messages.filter((m) => this.show(m, true)).length;
    } catch (err) {
      note(`conversation history unavailable (${errText(err)})`);
      return void (await this.refreshUnread());
    }
    await this.refreshUnread(true);
    note(added > 0 ? `showing ${added} stored message${added === 1 ? "" : "s"} from ${this.conv.ch}` : `no stored messages in ${this.conv.ch}`);
  }

  /**
   * The server's unread counts. On join they also say where this user's read
   * position is: the newest `unread` messages of others are the unread ones.
   */
  private async refreshUnread(placeReadPosition = false): Promise<void> {
    try {
      const ok = await this.client.featureRequest({ t: "unread" });
      const list = (ok.conversations as { id: string; unread: number }[]) ?? [];
      this.elsewhere = list.filter((c) => c.id !== this.conv.id);
      if (placeReadPosition) {
        let left = list.find((c) => c.id === this.conv.id)?.unread ?? 0;
        for (const li of Array.from(this.list.children).reverse() as HTMLElement[]) {
          const mine = li.dataset.from === this.me;
          li.classList.toggle("unread", !mine && left > 0);
          if (!mine && left > 0) left--;
        }
      }
      this.renderBadges();
    } catch (err) {
      note(`unread counts unavailable (${errText(err)})`);
    }
  }

  /** Marks everything shown as read (the newest message's offset). */
  async markRead(): Promise<void> {
    const last = (this.list.lastElementChild as HTMLElement | null)?.dataset.off;
    if (last === undefined || this.client.state !== "connected") return;
    if (this.list.querySelector("li.unread") === null && this.myRead !== undefined && compareOffsets(last, this.myRead) <= 0) return;
    try {
      const r = await this.conv.markRead(last);
      this.readUpTo(r.off);
      this.elsewhere = [{ id: "", unread: r.total - r.unread }];
      void this.refreshUnread();
    } catch (err) {
      note(`mark read failed: ${errText(err)}`);
    }
  }

  private readUpTo(off: string): void {
    if (this.myRead === undefined || compareOffsets(off, this.myRead) > 0) this.myRead = off;
    for (const li of Array.from(this.list.querySelectorAll<HTMLElement>("li.unread"))) {
      if (compareOffsets(li.dataset.off!, this.myRead) <= 0) li.classList.remove("unread");
    }
    this.renderBadges();
  }

  async send(text: string): Promise<void> {
    this.lastTyping = 0;
    this.signalTyping(false);
    try {
      await this.conv.send({ text });
      void this.markRead();
    } catch (err) {
      note(`send failed: ${errText(err)}`);
    }
  }

  /** Typing on or off, spaced to stay within the typing budget (a refused signal would leave the others' indicator stale). */
  private signalTyping(active: boolean): void {
    if (this.typingDue) {
      this.typingDue.active = active;
      return;
    }
    if (!active && !this.typingSent.active) return;
    const wait = Math.max(0, this.typingSent.at + TYPING_GAP_MS - Date.now());
    const due = { active, timer: setTimeout(() => {
      this.typingDue = undefined;
      if (!due.active && !this.typingSent.active) return;
      this.typingSent = { at: Date.now(), active: due.active };
      this.conv.typing(due.active);
    }, wait) };
    this.typingDue = due;
  }

  private renderTyping(): void {
    const who = [...this.typers].sort();
    this.typingLine.textContent = who.length === 0 ? "" : `${who.join(" and ")} ${who.length === 1 ? "is" : "are"} typing…`;
  }

  /** "seen by bob" on the newest message each other member has read. */
  private renderReceipts(): void {
    for (const s of Array.from(this.list.querySelectorAll(".seen"))) s.remove();
    const byMessage = new Map<HTMLElement, string[]>();
    for (const [user, off] of [...this.readers].sort()) {
      const items = Array.from(this.list.children) as HTMLElement[];
      const last = items.filter((li) => compareOffsets(li.dataset.off!, off) <= 0 && li.dataset.from !== user).pop();
      if (last) byMessage.set(last, [...(byMessage.get(last) ?? []), user]);
    }
    for (const [li, users] of byMessage) li.append(el("span", "seen", `seen by ${users.join(", ")}`));
  }

  private renderBadges(): void {
    const here = this.list.querySelectorAll("li.unread").length;
    const total = here + this.elsewhere.reduce((n, c) => n + c.unread, 0);
    setBadge($("chat-unread"), here, "unread");
    setBadge($("total-unread"), total, "unread");
    const rows = [{ id: this.conv.id, unread: here }, ...this.elsewhere.filter((c) => c.id !== "" && c.unread > 0)];
    $("conversations").replaceChildren(
      ...rows.map((c) => {
        const li = el("li", c.id === this.conv.id ? "current" : "");
        const badge = el("span", "badge");
        setBadge(badge, c.unread, "unread");
        li.append(el("span", "who", `chat:${c.id}`), badge);
        return li;
      }),
    );
  }

  stop(): void {
    this.sub?.unsubscribe();
    for (const s of this.stops.splice(0)) s();
    if (this.typingDue) clearTimeout(this.typingDue.timer);
    this.typingDue = undefined;
    this.input.onfocus = this.input.oninput = null;
    this.typers.clear();
    this.renderTyping();
  }
}
