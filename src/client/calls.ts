import { Emitter } from "./emitter.ts";
import type { CallClientFrame, CallEvent, CallInfo, CallServerFrame, CallSignal, SignalKind } from "./call-frames.ts";
import { connectPeer, type PeerLink, type PeerOptions } from "./call-peer.ts";

export interface CallsEvents {
  /** Every call event (`ringing`, `accepted`, `answered_elsewhere`, `missed`, `ended`, …). */
  call: CallEvent;
  /** An incoming call is ringing on this device. */
  ringing: CallEvent;
  /** A relayed offer/answer/ice/renegotiate for a call this device is in. */
  signal: CallSignal;
  /** After a reconnect this device took the call back (`rejoin`): signals flow again; restart ICE if media stalled. */
  resumed: CallInfo;
}

/** Events published on `user:<id>` as well as sent straight: delivered once. */
const ONCE = new Set(["ringing", "accepted", "answered_elsewhere", "rejected", "cancelled", "missed", "ended"]);

/** What the calls API needs from the connection (the client passes its request and send). */
export interface CallsPort {
  request(frame: (id: number) => CallClientFrame): Promise<Record<string, unknown>>;
  send(frame: CallClientFrame): void;
}

export interface InviteOptions {
  media?: "audio" | "video";
  /** Carried on the call and its record, e.g. `{visit: "v-42"}`. */
  context?: unknown;
  /** Ring this long instead of the server's CALL_RING_TIMEOUT_MS. */
  ringMs?: number;
}

export interface QualitySample {
  rttMs: number;
  jitterMs: number;
  lossPct: number;
  bitrateKbps: number;
}

/** `client.calls`: the call lifecycle, its events, and the signalling relay. */
export class Calls extends Emitter<CallsEvents> {
  /** Calls this device is bound to: rejoined after a reconnect (within the server's grace period). */
  private readonly mine = new Set<string>();
  /** Keys of the latest events that can arrive by two paths (see repeated). */
  private readonly recent: string[] = [];

  constructor(private readonly port: CallsPort) {
    super();
  }

  private async act(t: "accept" | "reject" | "cancel" | "hangup" | "leave" | "rejoin" | "call_get", call: string): Promise<CallInfo> {
    const ok = await this.port.request((id) => ({ t, id, call }));
    const info = ok.call as CallInfo;
    if (t === "accept" || t === "rejoin") this.mine.add(call);
    if (t === "leave" || info.state === "ended") this.mine.delete(call);
    return info;
  }

  /** Called by the client once it is connected again: this device takes its calls back. */
  resume(): void {
    for (const call of this.mine) {
      this.act("rejoin", call).then(
        (info) => this.emit("resumed", info),
        () => this.mine.delete(call),
      );
    }
  }

  async invite(to: string[], opts: InviteOptions = {}): Promise<CallInfo> {
    const ok = await this.port.request((id) => {
      const f: CallClientFrame = { t: "invite", id, to, media: opts.media ?? "video" };
      if (opts.context !== undefined) f.context = opts.context;
      if (opts.ringMs !== undefined) f.ringMs = opts.ringMs;
      return f;
    });
    const info = ok.call as CallInfo;
    this.mine.add(info.id);
    return info;
  }

  /** Rings more users into a live call this user is in; they join by accepting. */
  async add(call: string, to: string[], opts: { ringMs?: number } = {}): Promise<CallInfo> {
    const ok = await this.port.request((id) => (opts.ringMs === undefined ? { t: "invite", id, call, to } : { t: "invite", id, call, to, ringMs: opts.ringMs }));
    return ok.call as CallInfo;
  }

  accept(call: string): Promise<CallInfo> {
    return this.act("accept", call);
  }
  reject(call: string): Promise<CallInfo> {
    return this.act("reject", call);
  }
  /** The caller withdraws the invitation before anyone answered. */
  cancel(call: string): Promise<CallInfo> {
    return this.act("cancel", call);
  }
  /** Ends the call for everyone. */
  hangup(call: string): Promise<CallInfo> {
    return this.act("hangup", call);
  }
  /** Leaves a group call that goes on without this user. */
  leave(call: string): Promise<CallInfo> {
    return this.act("leave", call);
  }
  /** Binds this device to the call: after a reconnect (within the grace period), after `leave`, or to move the call to this device. */
  rejoin(call: string): Promise<CallInfo> {
    return this.act("rejoin", call);
  }
  get(call: string): Promise<CallInfo> {
    return this.act("call_get", call);
  }

  async iceServers(): Promise<{ iceServers: RTCIceServer[]; ttlSec: number }> {
    const ok = await this.port.request((id) => ({ t: "ice_servers", id }));
    return { iceServers: ok.iceServers as RTCIceServer[], ttlSec: ok.ttlSec as number };
  }

  async stats(call: string, s: QualitySample): Promise<void> {
    await this.port.request((id) => ({ t: "call_stats", id, call, ...s }));
  }

  /** Tells the server media flows (for the accept → media histogram); connectPeer does it on "connected". */
  async mediaStarted(call: string): Promise<void> {
    await this.port.request((id) => ({ t: "call_media", id, call }));
  }

  /** Sends a signal to one participant (`to`) or all others; refusals arrive as the client's `error` event. */
  signal(call: string, kind: SignalKind, data: unknown, to?: string): void {
    this.port.send(to === undefined ? { t: kind, call, data } : { t: kind, call, to, data });
  }

  /** Wires an RTCPeerConnection's negotiation (offer/answer, ICE, restarts) to this call's relay. */
  connectPeer(pc: RTCPeerConnection, call: string, opts: PeerOptions = {}): PeerLink {
    return connectPeer(this, pc, call, opts);
  }

  /**
   * True for an event this device saw already: a device that subscribes to
   * its user channel at the moment of a transition can get it both straight
   * and on the channel. Only the events the user channel carries are
   * compared; the key holds what changes between two real ones (states, the
   * ring deadline of a user rung again, the end).
   */
  private repeated(e: CallEvent): boolean {
    if (!ONCE.has(e.ev)) return false;
    const c = e.call;
    const who = c.participants.find((p) => p.user === e.user);
    const key = [c.id, e.ev, e.user, c.participants.map((p) => p.state).join(","), who?.ringUntil ?? c.ringUntil, c.endedTs].join("|");
    if (this.recent.includes(key)) return true;
    this.recent.push(key);
    if (this.recent.length > 64) this.recent.shift();
    return false;
  }

  /**
   * Feeds a message of the user's own channel (`user:<id>`) to the calls API:
   * ringing and what ends it are published there, so a device subscribed to
   * it (with `since` after a reconnect) rings even for a call that started
   * while it was offline. `conn` is this connection's id (`client.hello.conn`):
   * an `accepted` by another device of the user becomes `answered_elsewhere`.
   * A ringing whose ring time is over is not emitted. Other messages are ignored.
   */
  fromUserChannel(m: { ev: string; data: unknown }, conn: string | undefined): void {
    if (m.ev !== "call" || typeof m.data !== "object" || m.data === null) return;
    const d = m.data as { ev: CallEvent["ev"]; user: string; call: CallInfo; conn?: string | null };
    let ev = d.ev;
    if (ev === "accepted" && d.conn !== undefined && d.conn !== conn) ev = "answered_elsewhere";
    if (ev === "ringing") {
      const me = d.call.participants.find((p) => p.user === d.user && p.role === "invitee") ?? d.call.participants.find((p) => p.role === "invitee");
      if ((me?.ringUntil ?? d.call.ringUntil) <= Date.now() || d.call.state === "ended") return;
    }
    this.receive({ t: "call", ev, user: d.user, call: d.call });
  }

  /** Called by the client for the feature's frames. */
  receive(f: CallServerFrame): void {
    if (f.t === "call") {
      const e: CallEvent = { ev: f.ev, user: f.user, call: f.call };
      if (this.repeated(e)) return;
      if (e.call.state === "ended") this.mine.delete(e.call.id);
      if (e.ev === "ringing") this.emit("ringing", e);
      this.emit("call", e);
    } else this.emit("signal", f);
  }
}
