import { SwitchboardClient, type CallEvent, type CallInfo, type PeerLink } from "../index.ts";
import { $, errText, note } from "./dom.ts";

/**
 * The /demo/call page: two people (two tabs with dev identities) call each
 * other. The caller invites, the callee's devices ring (on its `user:<id>`
 * channel, recovered after a reconnect), one accepts or rejects, video and
 * audio flow over a real RTCPeerConnection whose negotiation goes through
 * Switchboard's call relay (`connectPeer`), and either side hangs up.
 */
const status = $("status");
const userInput = $<HTMLInputElement>("user");
const calleeInput = $<HTMLInputElement>("callee");
const mediaSelect = $<HTMLSelectElement>("media");
const callBtn = $<HTMLButtonElement>("call");
const hangupBtn = $<HTMLButtonElement>("hangup");
const incoming = $("incoming");
const callState = $("call-state");
const pcState = $("pc");
const localVideo = $<HTMLVideoElement>("local");
const remoteVideo = $<HTMLVideoElement>("remote");

const params = new URLSearchParams(location.search);
userInput.value = params.get("sub") ?? "guest-" + Math.random().toString(36).slice(2, 6);

let client: SwitchboardClient | undefined;
let me = "";
/** The call on screen (ringing here, being placed, or live), and its media. */
let current: { info: CallInfo; pc?: RTCPeerConnection; link?: PeerLink; local?: MediaStream } | undefined;
/** An invitation ringing on this device, waiting for accept or reject. */
let ringing: CallInfo | undefined;

function setStatus(state: string): void {
  status.textContent = state;
  status.dataset.state = state;
  const connected = state === "connected";
  calleeInput.disabled = mediaSelect.disabled = !connected;
  refreshButtons();
}

function refreshButtons(): void {
  const connected = client?.state === "connected";
  callBtn.disabled = !connected || current !== undefined;
  hangupBtn.disabled = !connected || current === undefined;
}

function show(state: "idle" | "ringing" | "calling" | "live" | "ended", text: string): void {
  callState.dataset.state = state;
  callState.textContent = text;
  refreshButtons();
}

const other = (c: CallInfo) => (c.caller === me ? c.participants.filter((p) => p.user !== me).map((p) => p.user).join(", ") : c.caller);

async function media(kind: "audio" | "video"): Promise<MediaStream> {
  const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: kind === "video" });
  localVideo.srcObject = stream;
  return stream;
}

/** A peer connection for the current call, its negotiation relayed by Switchboard; the caller is the impolite end. */
async function peer(polite: boolean): Promise<RTCPeerConnection> {
  const c = client!;
  const call = current!;
  const { iceServers } = await c.calls.iceServers();
  const pc = new RTCPeerConnection({ iceServers });
  (window as unknown as { pc: RTCPeerConnection }).pc = pc;
  call.pc = pc;
  call.link = c.calls.connectPeer(pc, call.info.id, { polite });
  // connectPeer reports first media on "connected"; this listener only shows the state.
  pc.addEventListener("connectionstatechange", () => {
    pcState.dataset.state = pc.connectionState;
    pcState.textContent = `(media: ${pc.connectionState})`;
    note(`peer connection ${pc.connectionState}`);
  });
  pc.addEventListener("track", (e) => {
    if (remoteVideo.srcObject !== e.streams[0]) remoteVideo.srcObject = e.streams[0] ?? new MediaStream([e.track]);
  });
  return pc;
}

function addTracks(): void {
  const call = current;
  if (!call?.pc || !call.local) return;
  for (const track of call.local.getTracks()) call.pc.addTrack(track, call.local);
}

/** Stops media and relaying; the page shows why the call is over. */
function finish(text: string): void {
  const call = current;
  current = undefined;
  call?.link?.close();
  call?.pc?.close();
  for (const t of call?.local?.getTracks() ?? []) t.stop();
  localVideo.srcObject = remoteVideo.srcObject = null;
  pcState.dataset.state = "closed";
  pcState.textContent = "";
  show("ended", text);
}

function stopRinging(text: string): void {
  ringing = undefined;
  incoming.hidden = true;
  if (!current) show("ended", text);
}

function endText(c: CallInfo, e: CallEvent): string {
  if (c.outcome === "rejected") return `${e.user} rejected the call`;
  if (c.outcome === "missed") return c.caller === me ? `${other(c)} did not answer` : `Missed call from ${c.caller}`;
  if (c.outcome === "cancelled") return c.caller === me ? "Call cancelled" : `${c.caller} cancelled the call`;
  if (c.outcome === "failed") return "Call ended: connection lost";
  return c.endedBy === me ? "You hung up" : `${c.endedBy ?? "The server"} hung up`;
}

function onCall(e: CallEvent): void {
  const c = e.call;
  note(`call ${c.id.slice(0, 8)}: ${e.ev} (${e.user})`);
  if (e.ev === "ringing" && !current && c.caller !== me) {
    ringing = c;
    $("incoming-text").textContent = `${c.caller} is calling you (${c.media})`;
    incoming.hidden = false;
    show("ringing", `Incoming ${c.media} call from ${c.caller}…`);
    return;
  }
  if (ringing?.id === c.id && (e.ev === "answered_elsewhere" || c.state === "ended")) {
    stopRinging(e.ev === "answered_elsewhere" ? "Answered on another device" : endText(c, e));
    return;
  }
  if (current?.info.id !== c.id) return;
  current.info = c;
  if (e.ev === "accepted" && c.caller === me && !current.pc) {
    show("live", `In a call with ${e.user}`);
    void peer(false).then(addTracks, (err) => note(`peer failed: ${errText(err)}`));
  } else if (e.ev === "away") note(`${e.user}'s connection dropped; waiting for them to come back`);
  else if (c.state === "ended") finish(endText(c, e));
}

function connect(): void {
  me = userInput.value;
  $("whoami").textContent = `as ${me}`;
  client?.close();
  const wsUrl = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/v1/ws`;
  const c = (client = new SwitchboardClient(wsUrl, {
    getToken: async () => {
      const res = await fetch(`/demo/token?sub=${encodeURIComponent(me)}`);
      if (!res.ok) throw new Error(`token endpoint answered ${res.status}`);
      return ((await res.json()) as { token: string }).token;
    },
  }));
  c.on("connecting", () => setStatus("connecting"));
  c.on("connected", (h) => (setStatus("connected"), note(`connected as ${h.user} to node ${h.node}`)));
  c.on("disconnected", ({ willReconnect }) => setStatus(willReconnect ? "reconnecting" : "closed"));
  c.on("error", (e) => note(`error ${e.code}: ${e.message}`));
  c.calls.on("call", onCall);
  c.calls.on("resumed", (info) => note(`back in call ${info.id.slice(0, 8)}`));
  // Ringing comes on the personal channel: a tab that was offline recovers an invitation still ringing.
  c.subscribe(`user:${me}`, (m) => c.calls.fromUserChannel(m, c.hello?.conn), { onSubscribed: (r) => note(`following ${r.ch}`) });
  c.connect().catch((err) => note(`gave up: ${errText(err)}`));
}

$("connect-form").addEventListener("submit", (e) => {
  e.preventDefault();
  connect();
});

$("call-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  if (!client || current) return;
  const kind = mediaSelect.value as "audio" | "video";
  const callee = calleeInput.value;
  try {
    const local = await media(kind);
    const info = await client.calls.invite([callee], { media: kind });
    current = { info, local };
    show("calling", `Calling ${callee}…`);
  } catch (err) {
    note(`call failed: ${errText(err)}`);
    finish(`Could not call ${callee}`);
  }
});

$("accept").addEventListener("click", async () => {
  const call = ringing;
  if (!client || !call) return;
  incoming.hidden = true;
  ringing = undefined;
  try {
    current = { info: call, local: await media(call.media) };
    // Listening for the caller's offer before the accept reaches it; tracks are added once the call is ours.
    await peer(true);
    current.info = await client.calls.accept(call.id);
    addTracks();
    show("live", `In a call with ${call.caller}`);
  } catch (err) {
    note(`accept failed: ${errText(err)}`);
    finish("Could not join the call");
  }
});

$("reject").addEventListener("click", async () => {
  const call = ringing;
  if (!client || !call) return;
  stopRinging("You rejected the call");
  await client.calls.reject(call.id).catch((err) => note(`reject failed: ${errText(err)}`));
});

hangupBtn.addEventListener("click", async () => {
  const call = current;
  if (!client || !call) return;
  const ringingOut = call.info.state === "ringing" && call.info.caller === me;
  finish(ringingOut ? "Call cancelled" : "You hung up");
  await (ringingOut ? client.calls.cancel(call.info.id) : client.calls.hangup(call.info.id)).catch((err) => note(`hang up failed: ${errText(err)}`));
});

setStatus("idle");
show("idle", "No call");
if (params.has("sub")) connect();
