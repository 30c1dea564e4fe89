import type { SocketNamespace } from "../../config/socketio.ts";
import type { Hub } from "../../hub/hub.ts";
import type { Conn, ConnData, Principal } from "../../hub/ports.ts";
import { CLOSE } from "../../protocol/codes.ts";
import { SwitchboardError } from "../../protocol/errors.ts";
import { errorAck, errorBody, failureShape, routeEvent } from "./event-routes.ts";
import { publicationParts } from "./publication-args.ts";
import { connectSubscriptions, lastSequence } from "./recovery-point.ts";
import type { RecoveryStore, SessionRecord } from "./recovery-store.ts";
import type { SocketHost } from "./socket-host.ts";
import { ackPacket, connectAck, connectError, disconnectPacket, eventHead, SIO, type SocketPacket } from "./socket-packets.ts";
import type { FanoutMember, SocketIoFanout } from "./socketio-fanout.ts";
import { SubscriptionMarks } from "./subscription-marks.ts";

/** What every namespace socket of a node shares. */
export interface SocketContext {
  hub: Hub;
  fanout: SocketIoFanout;
  store: RecoveryStore | undefined;
}

interface Pending {
  /** Socket.IO ack id of the client's event; undefined when it asked for none. */
  ack: number | undefined;
  shape: ((ok: Record<string, unknown>) => unknown) | undefined;
  fail: ((err: Record<string, unknown>) => unknown) | undefined;
  /** A subscription made while connecting (auto-subscribe or recovery). */
  internal: boolean;
  /** Channel key of a sub request, and whether this request created its mark. */
  key: string | undefined;
  created: boolean;
  since: string | undefined;
  event: string;
}

/** The `ok` of a `pub` as request-handlers.ts writes it. */
const PUB_OK = /^\{"t":"ok","id":(\d{1,15}),"off":"(\d{1,30})"\}$/;

const CONNECTING = 0;
const CONNECTED = 1;
const CLOSED = 2;

function randomId(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(15))).toString("base64url");
}

/**
 * A Socket.IO namespace socket: to the hub, one Switchboard connection (the
 * Conn port), whose native frames it turns into Socket.IO packets, and whose
 * client events it turns into native requests.
 */
export class SioSocket implements Conn, FanoutMember {
  data: ConnData;
  private state = CONNECTING;
  private readonly id = randomId();
  private pid: string | undefined;
  private record: SessionRecord | undefined;
  /** True while the connect-time resubscriptions of a recovered session all recover fully. */
  private recoveredAll = false;
  /** Delivery sequence of the client's last recovery offset (see recovery-point.ts). */
  private offsetSeq = -Infinity;
  private connectWaits = 0;
  private frozen = false;
  private readonly marks = new SubscriptionMarks();
  /** Requests sent to the hub and not answered yet; most idle sockets have none, so it is made on first use. */
  private pending: Map<number, Pending> | null = null;
  private nextId = 1;
  private readonly head: string;

  constructor(
    private readonly ctx: SocketContext,
    private readonly host: SocketHost,
    readonly nsp: string,
    private readonly ns: SocketNamespace,
  ) {
    this.data = ctx.hub.newConnData(undefined);
    this.head = eventHead(nsp);
  }

  get remoteAddress(): string {
    return this.host.remoteAddress;
  }

  // --- connect ---

  /** Handles the client's CONNECT: token from `auth.token` (else the handshake's), then the hub's admission. */
  start(auth: unknown): void {
    const a = typeof auth === "object" && auth !== null ? (auth as Record<string, unknown>) : {};
    const token = typeof a.token === "string" ? a.token : this.host.token;
    const hub = this.ctx.hub;
    if (token === undefined) {
      hub.open(this);
      return hub.authFailed(this, undefined, new SwitchboardError("AUTHENTICATION_FAILED", "no token: pass auth.token, an Authorization header or access_token"));
    }
    let verified: Principal | Promise<Principal>;
    try {
      verified = hub.deps.verifier.verifyNow(token);
    } catch (err) {
      hub.open(this);
      return hub.authFailed(this, undefined, err as SwitchboardError);
    }
    const admit = (p: Principal) => {
      if (this.state === CLOSED) return;
      if (typeof a.pid === "string" && this.ctx.store) return void this.recover(p, a.pid, a.offset);
      this.open(p);
    };
    if (verified instanceof Promise) {
      verified.then(admit, (err: SwitchboardError) => {
        if (this.state === CLOSED) return;
        hub.open(this);
        hub.authFailed(this, undefined, err);
      });
    } else admit(verified);
  }

  private async recover(p: Principal, pid: string, offset: unknown): Promise<void> {
    try {
      const record = await this.ctx.store!.load(p.tenant, pid);
      if (record && record.user === p.sub) {
        this.record = record;
        this.pid = pid;
        this.offsetSeq = lastSequence(record, offset);
      }
    } catch (err) {
      this.ctx.hub.deps.logger.warn("socket.io session record unavailable", { err });
    }
    if (this.state !== CLOSED) this.open(p);
  }

  private open(p: Principal): void {
    this.data.preauth = p;
    this.ctx.hub.open(this);
  }

  /** After `hello`: the connect-time subscriptions, then the CONNECT answer once all of them are answered. */
  private admitted(): void {
    const plan = connectSubscriptions(this.record, this.offsetSeq, this.ns.autoSubscribe, this.data.principal!);
    this.recoveredAll = plan.recovered;
    this.connectWaits = plan.subs.length;
    if (plan.subs.length === 0) return this.connected();
    for (const s of plan.subs) this.request({ t: "sub", ...s }, undefined, undefined, undefined, true, "connect");
  }

  private connected(): void {
    if (this.state !== CONNECTING) return;
    this.state = CONNECTED;
    const recovered = this.recoveredAll;
    if (!recovered) this.pid = this.ctx.store ? randomId() : undefined;
    this.record = undefined;
    this.host.send(connectAck(this.nsp, this.id, this.pid));
    // Many gateways greet with a `connected` event after their connection handler ran; clients wait for it.
    const p = this.data.principal!;
    const hello = { socketId: this.id, user: p.sub, tenant: p.tenant, node: this.ctx.hub.deps.config.nodeId, recovered };
    this.host.send(this.head + '"connected",' + JSON.stringify(hello) + "]");
  }

  // --- client packets ---

  onPacket(pkt: SocketPacket): void {
    if (this.state !== CONNECTED) return;
    if (pkt.type === SIO.DISCONNECT) return this.end(CLOSE.NORMAL, false);
    if (pkt.type === SIO.EVENT) return this.onEvent(pkt);
    if (pkt.type === SIO.BINARY_EVENT) {
      return this.failEvent(pkt.id, "binary", new SwitchboardError("BAD_REQUEST", "binary payloads are not supported; send JSON"));
    }
    // ACKs of the client answer nothing the server asked (it asks none); BINARY_ACK likewise.
  }

  private onEvent(pkt: SocketPacket): void {
    const args = pkt.data;
    if (!Array.isArray(args) || typeof args[0] !== "string") {
      return this.failEvent(pkt.id, "", new SwitchboardError("BAD_REQUEST", "an event is [name, ...args]"));
    }
    const name = args[0];
    let routed;
    try {
      routed = routeEvent(this.ns, name, args[1]);
    } catch (err) {
      return this.failEvent(pkt.id, name, err, failureShape(this.ns, name, args[1]));
    }
    this.request(routed.frame, pkt.id, routed.ack, routed.fail, false, name);
  }

  private failEvent(ack: number | undefined, event: string, err: unknown, fail?: Pending["fail"]): void {
    this.ctx.hub.countIn("invalid");
    const id = this.nextId++;
    (this.pending ??= new Map()).set(id, { ack, shape: undefined, fail, internal: false, key: undefined, created: false, since: undefined, event });
    this.ctx.hub.fail(this, id, err);
  }

  private request(frame: Record<string, unknown>, ack: number | undefined, shape: Pending["shape"], fail: Pending["fail"], internal: boolean, event: string): void {
    const id = this.nextId++;
    let key: string | undefined;
    let created = false;
    const since = typeof frame.since === "string" ? frame.since : undefined;
    if (frame.t === "sub" && typeof frame.ch === "string") {
      key = this.data.principal!.tenant + "/" + frame.ch;
      created = this.marks.requested(key, frame.ch, since);
    }
    (this.pending ??= new Map()).set(id, { ack, shape, fail, internal, key, created, since, event });
    frame.id = id;
    this.ctx.hub.request(this, frame);
  }

  // --- hub → client (the Conn port) ---

  send(frame: string): number {
    if (this.state === CLOSED) return 1;
    const t = frame.charCodeAt(6);
    if (t === 109 /* m */) return this.sendPublication(frame);
    if (t === 111 /* o */) {
      // A publish's ok (the hot path) is read without JSON.parse.
      const m = PUB_OK.exec(frame);
      return this.answer(m ? { t: "ok", id: Number(m[1]), off: m[2] } : (JSON.parse(frame) as Record<string, unknown>));
    }
    if (t === 101 /* e */ && frame.charCodeAt(7) === 114 /* r */) return this.answer(JSON.parse(frame) as Record<string, unknown>);
    if (t === 104 /* h */) {
      this.admitted();
      return 1;
    }
    if (t === 114 /* r */) return this.drain((JSON.parse(frame) as { after: number }).after);
    if (t === 101 /* e: expiring */) return this.host.send(this.head + '"expiring",{' + frame.slice(frame.indexOf('"in"')) + "]");
    // The notifications feature's unread count: {"t":"inbox","unread":N}.
    if (t === 105 /* i */) return this.host.send(this.head + '"notifications:unread",{' + frame.slice(frame.indexOf('"unread"')) + "]");
    return 1;
  }

  private sendPublication(frame: string): number {
    const parts = publicationParts(frame);
    if (parts === undefined) return 1;
    const { seq, offset } = this.ctx.fanout.nextOffset();
    this.marks.sent(this.data.principal!.tenant + "/" + parts.ch, seq, parts.off);
    return this.host.send(this.head + parts.ev + "," + parts.args + ',"' + offset + '"]');
  }

  private answer(f: Record<string, unknown>): number {
    const id = f.id as number | undefined;
    const p = id === undefined ? undefined : this.pending?.get(id);
    if (p !== undefined) {
      this.pending!.delete(id!);
      if (this.pending!.size === 0) this.pending = null;
    }
    const ok = f.t === "ok";
    if (p?.key !== undefined) this.marks.answered(p.key, ok, f.off, p.since, p.created);
    if (p === undefined) {
      // An unsolicited err: before CONNECT it refuses the socket, afterwards it is an `error` event.
      if (this.state === CONNECTING) return this.host.send(connectError(this.nsp, f.code as string, f.msg as string));
      return this.host.send(this.head + '"error",' + errorBody(f.code as string, f.msg as string) + "]");
    }
    if (p.internal) {
      if (!ok || f.recovered === false) this.recoveredAll = false;
      if (!ok) this.ctx.hub.deps.logger.debug("socket.io connect-time subscription refused", { code: f.code, conn: this.ctx.hub.connId(this) });
      if (--this.connectWaits === 0) this.connected();
      return 1;
    }
    if (p.ack === undefined) {
      if (ok) return 1;
      return this.host.send(this.head + '"error",' + errorBody(f.code as string, f.msg as string, f.retryAfter as number | undefined, p.event) + "]");
    }
    const arg = ok
      ? JSON.stringify(p.shape ? p.shape(f) : {})
      : p.fail
        ? JSON.stringify(p.fail(f))
        : errorAck(f.code as string, f.msg as string, f.retryAfter as number | undefined);
    return this.host.send(ackPacket(this.nsp, p.ack, arg ?? "null"));
  }

  subscribe(topic: string): void {
    if (this.marks.subscribe(topic, this.ctx.fanout.seq) && !this.frozen) this.ctx.fanout.add(this, topic);
  }

  unsubscribe(topic: string): void {
    if (this.marks.unsubscribe(topic) && !this.frozen) this.ctx.fanout.remove(this, topic);
  }

  isSubscribed(topic: string): boolean {
    return this.marks.isLive(topic);
  }

  get subscriptions(): string[] {
    return this.marks.liveChannels();
  }

  getBufferedAmount(): number {
    return this.host.bufferedAmount();
  }

  cork(cb: () => unknown): unknown {
    return this.host.cork(cb);
  }

  /**
   * Closes for the hub. Drain and going-away end the Engine.IO connection so
   * that the client reconnects by itself; every other reason (server
   * disconnect, expiry, policy) is a Socket.IO DISCONNECT, which the client
   * does not retry.
   */
  close(code?: number): void {
    if (this.state === CLOSED) return;
    if (code === CLOSE.RESTART || code === CLOSE.GOING_AWAY || code === CLOSE.TOKEN_EXPIRED) {
      return this.host.closeTransport(code === CLOSE.TOKEN_EXPIRED ? "token expired" : "server going away");
    }
    if (this.state === CONNECTED) this.host.send(disconnectPacket(this.nsp));
    this.end(code ?? CLOSE.NORMAL, false);
  }

  // --- fan-out member ---

  pushPolling(packet: string): void {
    if (this.state !== CLOSED && this.host.send(packet) === 0) this.close(CLOSE.POLICY);
  }

  subscribeWs(topic: string): boolean {
    return this.host.subscribeWs(topic);
  }

  unsubscribeWs(topic: string): void {
    this.host.unsubscribeWs(topic);
  }

  publishWs(topic: string, packet: string): void {
    this.host.publishWs(topic, packet);
  }

  /** The Engine.IO connection moved to WebSocket: channel deliveries switch to native topics. */
  upgraded(): void {
    if (this.frozen) return;
    for (const topic of this.marks.fanoutTopics()) this.ctx.fanout.upgraded(this, topic);
  }

  // --- end of life ---

  /** The Engine.IO connection is gone (network, ping timeout, drain): keep the session for recovery. */
  transportClosed(): void {
    this.end(CLOSE.GOING_AWAY, true);
  }

  /**
   * Drain: freeze deliveries (what comes next is recovered on the node the
   * client reconnects to), save the session while the drain waits for it,
   * then end the connection after the jittered delay.
   */
  private drain(afterMs: number): number {
    if (this.state !== CONNECTED || this.frozen) return 1;
    const hub = this.ctx.hub;
    const saved = this.freezeAndSave();
    hub.inflight++;
    const t0 = Date.now();
    void saved.finally(() => {
      hub.inflight--;
      const wait = Math.max(0, afterMs - (Date.now() - t0));
      setTimeout(() => this.host.closeTransport("server is restarting"), wait).unref();
    });
    return 1;
  }

  /** Stops every delivery to this socket (it leaves the fan-out); what comes later is for recovery. */
  private detach(): void {
    if (this.frozen) return;
    this.frozen = true;
    for (const topic of this.marks.fanoutTopics()) this.ctx.fanout.remove(this, topic);
  }

  private freezeAndSave(): Promise<void> {
    const p = this.data.principal;
    if (this.frozen || !p || !this.pid || !this.ctx.store || this.state !== CONNECTED) {
      this.detach();
      return Promise.resolve();
    }
    const record: SessionRecord = { user: p.sub, epoch: this.ctx.fanout.epoch, chs: this.marks.records(this.ctx.fanout) };
    this.detach();
    const hub = this.ctx.hub;
    const conn = hub.connId(this);
    return this.ctx.store.save(p.tenant, this.pid, record).then(
      () => {
        if (hub.deps.logger.auditing) hub.deps.logger.audit("socketio_session_saved", { conn, user: p.sub, tenant: p.tenant, channels: record.chs.length });
      },
      (err) => hub.deps.logger.warn("socket.io session record not saved", { err, conn }),
    );
  }

  private end(code: number, keep: boolean): void {
    if (this.state === CLOSED) return;
    if (keep) void this.freezeAndSave();
    else this.detach();
    this.state = CLOSED;
    this.ctx.hub.close(this, code);
    this.host.socketEnded(this.nsp);
  }
}
