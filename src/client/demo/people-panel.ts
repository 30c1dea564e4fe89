import type { StatusEntry, StatusWatch, SwitchboardClient, UserStatus } from "../index.ts";
import { $, clock, el, errText, note } from "./dom.ts";

const LABEL: Record<UserStatus, string> = { online: "online", away: "away", busy: "busy", in_call: "in a call", offline: "offline" };

/**
 * The People list: who is in the room (presence) and every member of the
 * conversation, each with the status they set (followed live with
 * watchStatus, from any node) or their last seen time.
 */
export class PeoplePanel {
  private readonly list = $("presence");
  private readonly select = $<HTMLSelectElement>("my-status");
  private present = new Map<string, number>();
  private readonly statuses = new Map<string, StatusEntry>();
  private readonly known = new Set<string>();
  private watch: StatusWatch | undefined;
  private watched = "";

  constructor(
    private readonly client: SwitchboardClient,
    private readonly me: string,
  ) {
    this.select.value = "online";
    this.select.onchange = () => void this.setStatus(this.select.value as UserStatus);
  }

  private async setStatus(status: UserStatus): Promise<void> {
    try {
      await this.client.setStatus(status);
      note(`status set to ${LABEL[status]}`);
      this.statuses.set(this.me, { user: this.me, status, online: status !== "offline", lastSeen: null });
      this.render();
    } catch (err) {
      note(`status refused: ${errText(err)}`);
    }
  }

  /** Conversation members and room presence both name people to follow. */
  addPeople(users: Iterable<string>): void {
    for (const u of users) this.known.add(u);
    const others = [...this.known].filter((u) => u !== this.me).sort();
    if (others.join(",") !== this.watched && others.length > 0) {
      this.watch?.stop();
      this.watched = others.join(",");
      this.watch = this.client.watchStatus(others, (e) => {
        this.statuses.set(e.user, e);
        this.render();
      });
      this.watch.ready.catch((err) => note(`status watch refused: ${errText(err)}`));
    }
    this.render();
  }

  async refreshPresence(ch: string): Promise<void> {
    if (this.client.state !== "connected") return;
    try {
      const members = await this.client.presence(ch);
      this.present = new Map(members.map((m) => [m.user, m.conns]));
      this.addPeople(this.present.keys());
    } catch (err) {
      this.list.replaceChildren(el("li", "meta", `presence unavailable (${errText(err)})`));
    }
  }

  private render(): void {
    const users = [...new Set([...this.present.keys(), ...this.known])].sort();
    this.list.replaceChildren(
      ...users.map((user) => {
        const li = el("li", "");
        li.dataset.user = user;
        const conns = this.present.get(user);
        const name = el("span", "who", user === this.me ? `${user} (you)` : user);
        const s = this.statuses.get(user);
        const status = s?.status ?? (conns !== undefined ? "online" : "offline");
        const pill = el("span", "pill", LABEL[status]);
        pill.dataset.status = status;
        li.append(name, pill);
        if (conns !== undefined && conns > 1) li.append(el("span", "meta", `${conns} tabs`));
        if (conns === undefined && status === "offline" && s?.lastSeen) li.append(el("span", "meta", `last seen ${clock(s.lastSeen)}`));
        return li;
      }),
    );
  }

  stop(): void {
    this.watch?.stop();
    this.list.replaceChildren();
  }
}
