import { compareOffsets, SwitchboardClient, type Message, type Subscription } from "../index.ts";
import { ChatPanel } from "./chat-panel.ts";
import { $, clock, dataText, el, errText, note } from "./dom.ts";
import { InboxPanel } from "./inbox-panel.ts";
import { PeoplePanel } from "./people-panel.ts";

/**
 * The /demo page: connect with a dev token, subscribe to a room (its recent
 * history, then live messages and presence), chat in the room's
 * conversation, follow statuses and the notifications inbox.
 */
const status = $("status");
const userInput = $<HTMLInputElement>("user");
const roomInput = $<HTMLInputElement>("room");
const text = $<HTMLInputElement>("text");
const send = $<HTMLButtonElement>("send");
const chatText = $<HTMLInputElement>("chat-text");
const chatSend = $<HTMLButtonElement>("chat-send");
const connectBtn = $<HTMLButtonElement>("connect");
const disconnectBtn = $<HTMLButtonElement>("disconnect");
const messages = $("messages");
const notice = $("notice");
/** Recent messages shown when a room is joined. */
const HISTORY_LIMIT = 50;

const params = new URLSearchParams(location.search);
userInput.value = params.get("sub") ?? "guest-" + Math.random().toString(36).slice(2, 6);
roomInput.value = params.get("room") ?? "lobby";

let client: SwitchboardClient | undefined;
let sub: Subscription | undefined;
let panels: { chat: ChatPanel; inbox: InboxPanel; people: PeoplePanel } | undefined;
let channel = "";
/** Offsets on screen: history and live delivery may overlap, each message is shown once. */
const shown = new Set<string>();

function setState(state: string): void {
  status.textContent = state;
  status.dataset.state = state;
  const connected = state === "connected";
  text.disabled = send.disabled = chatText.disabled = chatSend.disabled = !connected;
  for (const id of ["my-status", "notify"]) $<HTMLInputElement>(id).disabled = !connected;
  connectBtn.disabled = state !== "idle" && state !== "closed" && state !== "refused";
  disconnectBtn.disabled = !connectBtn.disabled;
}

function messageItem(m: Message, fromHistory: boolean): HTMLLIElement {
  const li = el("li", fromHistory ? "history" : "");
  li.dataset.off = m.off ?? "";
  li.append(el("span", "from", m.from ?? "server"), el("span", "meta", `${clock(m.ts)} #${m.off ?? "-"} ${m.ev}`), el("span", "text", dataText(m.data)));
  return li;
}

/** Adds a message in offset order (history arrives after live messages may have); false when it is already shown. */
function showMessage(m: Message, fromHistory = false): boolean {
  if (m.off !== undefined) {
    if (shown.has(m.off)) return false;
    shown.add(m.off);
  }
  const li = messageItem(m, fromHistory);
  const later = m.off === undefined ? undefined : Array.from(messages.children).find((x) => {
    const off = (x as HTMLElement).dataset.off;
    return off !== undefined && off !== "" && compareOffsets(off, m.off!) > 0;
  });
  messages.insertBefore(li, later ?? null);
  messages.scrollTop = messages.scrollHeight;
  return true;
}

async function loadHistory(c: SwitchboardClient, ch: string): Promise<void> {
  try {
    const { messages: recent } = await c.history(ch, { limit: HISTORY_LIMIT });
    const added = recent.filter((m) => showMessage(m, true)).length;
    note(added > 0 ? `showing ${added} recent message${added === 1 ? "" : "s"} from ${ch}` : `no recent messages in ${ch}`);
  } catch (err) {
    note(`history unavailable (${errText(err)})`);
  }
}

function stopPanels(): void {
  panels?.chat.stop();
  panels?.inbox.stop();
  panels?.people.stop();
  panels = undefined;
}

/** The server refused the connection for a limit: retrying would be refused again, so stop and say so. */
function refused(c: SwitchboardClient, why: string): void {
  c.close();
  stopPanels();
  setState("refused");
  notice.textContent = `Connection refused: ${why}. Close another tab or window of this user, then press Connect.`;
  notice.hidden = false;
  note(`refused (${why}); not retrying`);
}

function connect(): void {
  const user = userInput.value;
  const room = roomInput.value;
  channel = `room:${room}`;
  $("channel-title").textContent = `Messages in ${channel}`;
  $("whoami").textContent = `as ${user}`;
  messages.replaceChildren();
  shown.clear();
  notice.hidden = true;
  stopPanels();
  const wsUrl = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/v1/ws`;
  const c = (client = new SwitchboardClient(wsUrl, {
    getToken: async () => {
      // The dev node also makes the user a member of the room's conversation.
      const res = await fetch(`/demo/token?sub=${encodeURIComponent(user)}&room=${encodeURIComponent(room)}`);
      if (!res.ok) throw new Error(`token endpoint answered ${res.status}`);
      const body = (await res.json()) as { token: string; members: string[] };
      panels?.people.addPeople(body.members);
      return body.token;
    },
  }));
  // Before connecting: the client sends every subscription once the connection is up.
  panels = { chat: new ChatPanel(c, user, room), inbox: new InboxPanel(c, user), people: new PeoplePanel(c, user) };
  const ch = channel;
  c.on("connecting", ({ attempt }) => (setState("connecting"), note(`connecting (attempt ${attempt + 1})`)));
  c.on("connected", (h) => {
    setState("connected");
    note(`connected as ${h.user} (tenant ${h.tenant ?? "none"}) to node ${h.node}`);
  });
  c.on("disconnected", ({ code, willReconnect }) => {
    setState(willReconnect ? "reconnecting" : "closed");
    note(`disconnected (${code})`);
    // 4008: too many connections for this user; the SDK would keep backing off and be refused again.
    if (code === 4008) refused(c, "too many connections for this user");
  });
  c.on("reconnecting", ({ delayMs, cause }) => note(`reconnecting in ${delayMs} ms (${cause})`));
  c.on("error", (e) => {
    note(`error ${e.code}: ${e.message}`);
    // A connection-level refusal carries no channel; a channel's LIMIT_EXCEEDED (too many subscriptions) does.
    if (e.code === "LIMIT_EXCEEDED" && e.ch === undefined && c.state !== "closed") refused(c, e.message);
  });
  c.on("tokenRefreshed", ({ exp }) => note(`token refreshed, expires ${clock(exp * 1000)}`));
  const presence = () => void panels?.people.refreshPresence(ch);
  sub = c.subscribe(ch, (m) => void showMessage(m), {
    presence: true,
    onJoin: presence,
    onLeave: presence,
    onSubscribed: (r) => {
      note(`subscribed to ${r.ch} at #${r.off}${r.missed ? `, ${r.missed} missed` : ""}`);
      presence();
      if (!r.resubscribed) void loadHistory(c, ch);
    },
    onRecoveryFailed: () => note("some messages were lost while offline; showing new ones only"),
  });
  c.connect().catch((e) => note(`gave up: ${errText(e)}`));
}

$("connect-form").addEventListener("submit", (e) => {
  e.preventDefault();
  connect();
});

disconnectBtn.addEventListener("click", () => {
  sub?.unsubscribe();
  stopPanels();
  client?.close();
  setState("closed");
});

$("publish-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const value = text.value.trim();
  if (!value || !client) return;
  text.value = "";
  try {
    await client.publish(channel, "chat", { text: value });
  } catch (err) {
    note(`publish failed: ${errText(err)}`);
  }
});

$("chat-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const value = chatText.value.trim();
  if (!value || !panels) return;
  chatText.value = "";
  void panels.chat.send(value);
});

setState("idle");
if (params.has("sub")) connect();
