import { SwitchboardClient, SwitchboardClientError, type Message, type Subscription } from "../index.ts";

/** The /demo page: connect with a dev token, subscribe to a room, show messages and presence, publish. */
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

const params = new URLSearchParams(location.search);
userInput.value = params.get("sub") ?? "guest-" + Math.random().toString(36).slice(2, 6);
roomInput.value = params.get("room") ?? "lobby";

let client: SwitchboardClient | undefined;
let sub: Subscription | undefined;
let channel = "";

function note(line: string): void {
  log.textContent += `${new Date().toLocaleTimeString()} ${line}\n`;
  log.scrollTop = log.scrollHeight;
}

function setState(state: string): void {
  status.textContent = state;
  status.dataset.state = state;
  const connected = state === "connected";
  text.disabled = send.disabled = !connected;
  connectBtn.disabled = state !== "idle" && state !== "closed";
  disconnectBtn.disabled = !connectBtn.disabled;
}

function showMessage(m: Message): void {
  const li = document.createElement("li");
  li.dataset.off = m.off ?? "";
  const meta = document.createElement("span");
  meta.className = "meta";
  meta.textContent = `${new Date(m.ts).toLocaleTimeString()} #${m.off ?? "-"} ${m.ev}`;
  const from = document.createElement("span");
  from.className = "from";
  from.textContent = m.from ?? "server";
  const body = document.createElement("span");
  body.className = "text";
  const d = m.data as { text?: unknown } | null;
  body.textContent = d && typeof d === "object" && typeof d.text === "string" ? d.text : JSON.stringify(m.data);
  li.append(meta, from, body);
  messages.append(li);
  messages.scrollTop = messages.scrollHeight;
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
  const wsUrl = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/v1/ws`;
  client = new SwitchboardClient(wsUrl, {
    getToken: async () => {
      const res = await fetch(`/demo/token?sub=${encodeURIComponent(user)}&room=${encodeURIComponent(room)}`);
      if (!res.ok) throw new Error(`token endpoint answered ${res.status}`);
      return ((await res.json()) as { token: string }).token;
    },
  });
  client.on("connecting", ({ attempt }) => (setState("connecting"), note(`connecting (attempt ${attempt})`)));
  client.on("connected", (h) => (setState("connected"), note(`connected as ${h.user} to node ${h.node}`)));
  client.on("disconnected", ({ code, willReconnect }) => (setState(willReconnect ? "reconnecting" : "closed"), note(`disconnected (${code})`)));
  client.on("reconnecting", ({ delayMs, cause }) => note(`reconnecting in ${delayMs} ms (${cause})`));
  client.on("error", (e) => note(`error ${e.code}: ${e.message}`));
  client.on("tokenRefreshed", ({ exp }) => note(`token refreshed, expires ${new Date(exp * 1000).toLocaleTimeString()}`));
  sub = client.subscribe(channel, showMessage, {
    presence: true,
    onJoin: () => void refreshPresence(),
    onLeave: () => void refreshPresence(),
    onSubscribed: (r) => (note(`subscribed to ${r.ch} at #${r.off}${r.missed ? `, ${r.missed} missed` : ""}`), void refreshPresence()),
    onRecoveryFailed: () => note("some messages were lost while offline; showing new ones only"),
  });
  client.connect().catch((e: SwitchboardClientError) => note(`gave up: ${e.code}`));
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
