import { compareOffsets, SwitchboardClient, SwitchboardClientError, type Message, type Subscription } from "../index.ts";

/**
 * The /demo page: connect with a dev token, subscribe to a room, show the
 * room's recent history and then live messages and presence, publish.
 */
const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const status = $("status");
const userInput = $<HTMLInputElement>("user");
const roomInput = $<HTMLInputElement>("room");
const text = $<HTMLInputElement>("text");
const send = $<HTMLButtonElement>("send");
const connectBtn = $<HTMLButtonElement>("connect");
const disconnectBtn = $<HTMLButtonElement>("disconnect");
const messages = $("messages");
const presence = $("presence");
const log = $("log");
const notice = $("notice");
/** Recent messages shown when a room is joined. */
const HISTORY_LIMIT = 50;

const params = new URLSearchParams(location.search);
userInput.value = params.get("sub") ?? "guest-" + Math.random().toString(36).slice(2, 6);
roomInput.value = params.get("room") ?? "lobby";

let client: SwitchboardClient | undefined;
let sub: Subscription | undefined;
let channel = "";
/** Offsets on screen: history and live delivery may overlap, each message is shown once. */
const shown = new Set<string>();

function note(line: string): void {
  log.textContent += `${new Date().toLocaleTimeString()} ${line}\n`;
  log.scrollTop = log.scrollHeight;
}

function setState(state: string): void {
  status.textContent = state;
  status.dataset.state = state;
  const connected = state === "connected";
  text.disabled = send.disabled = !connected;
  connectBtn.disabled = state !== "idle" && state !== "closed" && state !== "refused";
  disconnectBtn.disabled = !connectBtn.disabled;
}

function messageItem(m: Message, fromHistory: boolean): HTMLLIElement {
  const li = document.createElement("li");
  li.dataset.off = m.off ?? "";
  if (fromHistory) li.className = "history";
  const from = document.createElement("span");
  from.className = "from";
  from.textContent = m.from ?? "server";
  const meta = document.createElement("span");
  meta.className = "meta";
  meta.textContent = `${new Date(m.ts).toLocaleTimeString()} #${m.off ?? "-"} ${m.ev}`;
  const body = document.createElement("span");
  body.className = "text";
  const d = m.data as { text?: unknown } | null;
  body.textContent = d && typeof d === "object" && typeof d.text === "string" ? d.text : JSON.stringify(m.data);
  li.append(from, meta, body);
  return li;
}

/** Adds a message in offset order (history arrives after live messages may have); false when it is already shown. */
function showMessage(m: Message, fromHistory = false): boolean {
  if (m.off !== undefined) {
    if (shown.has(m.off)) return false;
    shown.add(m.off);
  }
  const li = messageItem(m, fromHistory);
  const later = m.off === undefined ? undefined : Array.from(messages.children).find((el) => {
    const off = (el as HTMLElement).dataset.off;
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
    note(`history unavailable (${err instanceof SwitchboardClientError ? err.code : String(err)})`);
  }
}

/** The server refused the connection for a limit: retrying would be refused again, so stop and say so. */
function refused(c: SwitchboardClient, why: string): void {
  c.close();
  setState("refused");
  notice.textContent = `Connection refused: ${why}. Close another tab or window of this user, then press Connect.`;
  notice.hidden = false;
  note(`refused (${why}); not retrying`);
}

async function refreshPresence(): Promise<void> {
  if (!client || client.state !== "connected") return;
  try {
    const members = await client.presence(channel);
    presence.replaceChildren(
      ...members.map((m) => {
        const li = document.createElement("li");
        li.textContent = m.conns > 1 ? `${m.user} (${m.conns} tabs)` : m.user;
        return li;
      }),
    );
  } catch (err) {
    const li = document.createElement("li");
    li.className = "meta";
    li.textContent = `presence unavailable (${err instanceof SwitchboardClientError ? err.code : String(err)})`;
    presence.replaceChildren(li);
  }
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
  const wsUrl = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/v1/ws`;
  const c = (client = new SwitchboardClient(wsUrl, {
    getToken: async () => {
      const res = await fetch(`/demo/token?sub=${encodeURIComponent(user)}&room=${encodeURIComponent(room)}`);
      if (!res.ok) throw new Error(`token endpoint answered ${res.status}`);
      return ((await res.json()) as { token: string }).token;
    },
  }));
  const ch = channel;
  c.on("connecting", ({ attempt }) => (setState("connecting"), note(`connecting (attempt ${attempt + 1})`)));
  c.on("connected", (h) => (setState("connected"), note(`connected as ${h.user} (tenant ${h.tenant ?? "none"}) to node ${h.node}`)));
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
  c.on("tokenRefreshed", ({ exp }) => note(`token refreshed, expires ${new Date(exp * 1000).toLocaleTimeString()}`));
  sub = c.subscribe(ch, (m) => void showMessage(m), {
    presence: true,
    onJoin: () => void refreshPresence(),
    onLeave: () => void refreshPresence(),
    onSubscribed: (r) => {
      note(`subscribed to ${r.ch} at #${r.off}${r.missed ? `, ${r.missed} missed` : ""}`);
      void refreshPresence();
      if (!r.resubscribed) void loadHistory(c, ch);
    },
    onRecoveryFailed: () => note("some messages were lost while offline; showing new ones only"),
  });
  c.connect().catch((e: SwitchboardClientError) => note(`gave up: ${e.code}`));
}

$("connect-form").addEventListener("submit", (e) => {
  e.preventDefault();
  connect();
});

disconnectBtn.addEventListener("click", () => {
  sub?.unsubscribe();
  client?.close();
  presence.replaceChildren();
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
    note(`publish failed: ${err instanceof SwitchboardClientError ? err.code : String(err)}`);
  }
});

setState("idle");
if (params.has("sub")) connect();
