import type { TransportServer as Server } from "../port.ts";
import { presenceTopic } from "../../hub/channel-policy.ts";
import type { Conn, DeliveryTap } from "../../hub/ports.ts";
import type { Cell, Metrics } from "../../observability/metrics.ts";
import { DeliveryRing } from "./delivery-ring.ts";
import { publicationParts } from "./publication-args.ts";
import { eventHead } from "./socket-packets.ts";

/** A namespace socket as the fan-out sees it. */
export interface FanoutMember {
  readonly nsp: string;
  /** Delivers an already framed packet to a socket on HTTP long-polling. */
  pushPolling(packet: string): void;
  /** Subscribes the socket's WebSocket to a native topic; false while the socket is on long-polling. */
  subscribeWs(topic: string): boolean;
  unsubscribeWs(topic: string): void;
  /** Publishes to a native topic's subscribers except this socket's WebSocket. */
  publishWs(topic: string, packet: string): void;
}

interface NspSubscribers {
  /** Native topic of this (namespace, channel): WebSocket sockets get the packet by one server.publish. */
  topic: string;
  head: string;
  ws: number;
  /** Sockets still on long-polling get the same packet string from a loop (there is no native topic for them); null while there are none. */
  polling: Set<FanoutMember> | null;
}

interface KeyState {
  byNsp: Map<string, NspSubscribers>;
  ring: DeliveryRing;
}

/** Socket.IO event names of the features' signals, by native frame type (documented in src/protocol/README.md). */
export const FEATURE_EVENTS: Readonly<Record<string, string>> = {
  typing: "typing",
  read: "message:read",
  redact: "message:redacted",
  status: "status",
};

function isMember(c: Conn): c is Conn & FanoutMember {
  return typeof (c as Partial<FanoutMember>).publishWs === "function";
}

export function sioTopic(nsp: string, key: string): string {
  return "sio" + nsp + "\n" + key;
}

/**
 * Socket.IO fan-out: each publication delivered on this node is framed once
 * per Socket.IO namespace with subscribers (`42[ev,data,meta,"<offset>"]`)
 * and published to a native topic of its own, so native and Socket.IO
 * subscribers each cost one encode. Every publication gets a node delivery
 * sequence, the per-packet offset of Socket.IO's connection-state recovery.
 */
export class SocketIoFanout implements DeliveryTap {
  private readonly keys = new Map<string, KeyState>();
  private server: Pick<Server<unknown>, "publish"> | undefined;
  /** Node delivery sequence; `epoch` makes it unique across restarts of this node. */
  seq = 0;
  readonly epoch: string;
  private readonly out: Cell;

  constructor(epoch: string, metrics: Metrics) {
    this.epoch = epoch;
    this.out = metrics.messagesOut.cell({ type: "socketio" });
  }

  attach(server: Pick<Server<unknown>, "publish">): void {
    this.server = server;
  }

  has(key: string): boolean {
    return this.keys.has(key);
  }

  deliver(key: string, frame: string): void {
    const st = this.keys.get(key);
    if (st === undefined) return;
    const parts = publicationParts(frame);
    if (parts === undefined) return;
    const seq = ++this.seq;
    st.ring.push(seq, parts.off);
    const tail = parts.ev + "," + parts.args + ',"' + this.epoch + seq + '"]';
    for (const subs of st.byNsp.values()) {
      const packet = subs.head + tail;
      if (subs.ws > 0 && this.server) this.server.publish(subs.topic, packet);
      if (subs.polling !== null) for (const m of subs.polling) m.pushPolling(packet);
      this.out.value += subs.ws + (subs.polling?.size ?? 0);
    }
  }

  /**
   * Join/leave of a channel, to the sockets subscribed with `presence: true`
   * (their entries live under the channel's presence topic name): emitted as
   * `presence:join` / `presence:leave` with `{ch, user, conn}`.
   */
  signal(key: string, frame: string): void {
    const st = this.keys.get(presenceTopic(key));
    if (st === undefined) return;
    const f = JSON.parse(frame) as { t: string; ch: string; user: string; conn: string };
    const tail = (f.t === "join" ? '"presence:join",' : '"presence:leave",') + JSON.stringify({ ch: f.ch, user: f.user, conn: f.conn }) + "]";
    for (const subs of st.byNsp.values()) {
      const packet = subs.head + tail;
      if (subs.ws > 0 && this.server) this.server.publish(subs.topic, packet);
      if (subs.polling !== null) for (const m of subs.polling) m.pushPolling(packet);
    }
  }

  /**
   * A feature's signal, to the sockets subscribed to `key`: emitted under
   * FEATURE_EVENTS' name with the frame's fields (less `t`), plus
   * `conversationId` (the channel name after its namespace) when it names a
   * channel. The sender, when it is a socket of this node, does not get it.
   */
  feature(key: string, frame: string, sender?: Conn): void {
    const st = this.keys.get(key);
    if (st === undefined) return;
    const { t, ...body } = JSON.parse(frame) as Record<string, unknown>;
    const name = FEATURE_EVENTS[t as string];
    if (name === undefined) return;
    if (typeof body.ch === "string") body.conversationId = body.ch.slice(body.ch.indexOf(":") + 1);
    const tail = '"' + name + '",' + JSON.stringify(body) + "]";
    const self = sender !== undefined && isMember(sender) ? sender : undefined;
    for (const [nsp, subs] of st.byNsp) {
      const packet = subs.head + tail;
      if (subs.ws > 0 && this.server) {
        // Bun's ws.publish leaves out the publishing WebSocket: the sender does not hear itself.
        if (self !== undefined && self.nsp === nsp && subs.polling?.has(self) !== true) self.publishWs(subs.topic, packet);
        else this.server.publish(subs.topic, packet);
      }
      if (subs.polling !== null) for (const m of subs.polling) if (m !== self) m.pushPolling(packet);
    }
  }

  /** The recovery offset of a publication sent to one socket only (history replays). */
  nextOffset(): { seq: number; offset: string } {
    const seq = ++this.seq;
    return { seq, offset: this.epoch + seq };
  }

  add(m: FanoutMember, key: string): void {
    let st = this.keys.get(key);
    if (!st) this.keys.set(key, (st = { byNsp: new Map(), ring: new DeliveryRing() }));
    let subs = st.byNsp.get(m.nsp);
    if (!subs) st.byNsp.set(m.nsp, (subs = { topic: sioTopic(m.nsp, key), head: eventHead(m.nsp), ws: 0, polling: null }));
    if (m.subscribeWs(subs.topic)) subs.ws++;
    else (subs.polling ??= new Set()).add(m);
  }

  remove(m: FanoutMember, key: string): void {
    const st = this.keys.get(key);
    const subs = st?.byNsp.get(m.nsp);
    if (!st || !subs) return;
    if (subs.polling?.delete(m) !== true) {
      m.unsubscribeWs(subs.topic);
      subs.ws--;
    }
    if (subs.ws === 0 && !subs.polling?.size) st.byNsp.delete(m.nsp);
    if (st.byNsp.size === 0) this.keys.delete(key);
  }

  /** A socket moved from long-polling to its WebSocket: it now gets the native topic. */
  upgraded(m: FanoutMember, key: string): void {
    const subs = this.keys.get(key)?.byNsp.get(m.nsp);
    if (!subs || subs.polling?.delete(m) !== true) return;
    if (m.subscribeWs(subs.topic)) subs.ws++;
    else subs.polling.add(m);
  }

  /** Deliveries of `key` on this node after sequence `seq` (see DeliveryRing). */
  deliveredAfter(key: string, seq: number): { entries: [number, string][]; complete: boolean } {
    const st = this.keys.get(key);
    return st ? st.ring.after(seq) : { entries: [], complete: true };
  }
}
