import type { TransportSocket } from "../port.ts";
import { CLOSE_PACKET, EIO, joinPayload, NOOP_PACKET, PING_PACKET, PROBE_PING, PROBE_PONG, splitPayload } from "./engine-packets.ts";
import type { SocketHost } from "./socket-host.ts";
import type { SioSocket } from "./sio-socket.ts";

/** `ws.data` of a `/socket.io/` WebSocket: its session, and whether it is an upgrade probe of a polling session. */
export interface SioWsData {
  sio: EngineSession;
  probe: boolean;
}

export type SioWebSocket = TransportSocket<SioWsData>;

/** What a session reports to the endpoint that owns it. */
export interface SessionOwner {
  /** A text packet of type message (4): the Socket.IO packet after the leading `4`. */
  onMessage(session: EngineSession, packet: string): void;
  ended(session: EngineSession, reason: string): void;
  transportChanged(session: EngineSession, from: "polling" | "websocket" | undefined, to: "polling" | "websocket" | undefined): void;
  readonly backpressureLimit: number;
}

const TEXT = { "content-type": "text/plain; charset=UTF-8" };

/**
 * One Engine.IO connection: long-polling (a queue answered by the pending
 * GET) until it upgrades to its WebSocket, or WebSocket from the start.
 * Socket.IO namespace sockets are multiplexed on it.
 */
export class EngineSession implements SocketHost {
  ws: SioWebSocket | undefined;
  private probe: SioWebSocket | undefined;
  private upgrading = false;
  private queue: string[] = [];
  private queuedBytes = 0;
  private poll: PromiseWithResolvers<Response> | undefined;
  private flushScheduled = false;
  private closed = false;
  readonly sockets = new Map<string, SioSocket>();
  /** When the next ping goes out, and the pong deadline while one is outstanding (0 = none). */
  pingAt: number;
  pongBy = 0;
  /** A session without namespace sockets is ended at this time (ms since epoch): the authentication timeout after it had none. */
  private connectBy: number;

  constructor(
    readonly sid: string,
    private readonly owner: SessionOwner,
    readonly remoteAddress: string,
    readonly token: string | undefined,
    private readonly headers: Record<string, string>,
    now: number,
    pingIntervalMs: number,
    private readonly authTimeoutMs: number,
  ) {
    this.pingAt = now + pingIntervalMs;
    this.connectBy = now + authTimeoutMs;
  }

  /** A namespace socket started on this session. */
  addSocket(nsp: string, socket: SioSocket): void {
    this.connectBy = Infinity;
    this.sockets.set(nsp, socket);
  }

  get transport(): "polling" | "websocket" {
    return this.ws ? "websocket" : "polling";
  }

  // --- SocketHost ---

  send(packet: string): number {
    if (this.closed) return 0;
    if (this.ws) return this.ws.send(packet);
    this.queue.push(packet);
    this.queuedBytes += packet.length;
    if (this.queuedBytes > this.owner.backpressureLimit) return 0;
    if (this.poll && !this.flushScheduled) {
      this.flushScheduled = true;
      queueMicrotask(() => this.flush());
    }
    return packet.length;
  }

  bufferedAmount(): number {
    return this.ws ? this.ws.getBufferedAmount() : this.queuedBytes;
  }

  cork(cb: () => unknown): unknown {
    return this.ws ? this.ws.cork(cb) : cb();
  }

  subscribeWs(topic: string): boolean {
    if (!this.ws) return false;
    this.ws.subscribe(topic);
    return true;
  }

  unsubscribeWs(topic: string): void {
    this.ws?.unsubscribe(topic);
  }

  publishWs(topic: string, packet: string): void {
    this.ws?.publish(topic, packet);
  }

  socketEnded(nsp: string): void {
    this.sockets.delete(nsp);
    if (this.sockets.size === 0) this.connectBy = Date.now() + this.authTimeoutMs;
  }

  closeTransport(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    for (const s of [...this.sockets.values()]) s.transportClosed();
    const from = this.transport;
    if (this.poll) this.answerPoll(CLOSE_PACKET);
    this.probe?.close(1000);
    this.ws?.close(1000, reason.slice(0, 100));
    this.queue = [];
    this.owner.transportChanged(this, from, undefined);
    this.owner.ended(this, reason);
  }

  // --- long-polling ---

  private flush(): void {
    this.flushScheduled = false;
    if (!this.poll || this.queue.length === 0) return;
    const body = joinPayload(this.queue);
    this.queue = [];
    this.queuedBytes = 0;
    this.answerPoll(body);
  }

  private answerPoll(body: string): void {
    const p = this.poll!;
    this.poll = undefined;
    p.resolve(new Response(body, { headers: { ...TEXT, ...this.headers } }));
  }

  /** A GET: answered at once when packets wait, otherwise when the next one is queued (a ping at the latest). */
  onPoll(signal: AbortSignal): Response | Promise<Response> | undefined {
    if (this.poll || this.ws) return undefined;
    if (this.upgrading || this.closed) return new Response(this.closed ? CLOSE_PACKET : NOOP_PACKET, { headers: { ...TEXT, ...this.headers } });
    this.poll = Promise.withResolvers<Response>();
    const mine = this.poll;
    signal.addEventListener("abort", () => {
      if (this.poll === mine) this.poll = undefined;
    });
    if (this.queue.length > 0) this.flush();
    return mine.promise;
  }

  /** A POST body: packets separated by the record separator. */
  onPost(body: string): void {
    for (const p of splitPayload(body)) this.onPacket(p);
  }

  // --- WebSocket ---

  /** The session's own WebSocket (no polling before it). */
  openWs(ws: SioWebSocket, openPacket: string): void {
    this.ws = ws;
    ws.send(openPacket);
    this.owner.transportChanged(this, undefined, "websocket");
  }

  openProbe(ws: SioWebSocket): void {
    if (this.probe || this.ws || this.closed) return void ws.close(1000);
    this.probe = ws;
  }

  onWsText(ws: SioWebSocket, text: string): void {
    if (ws === this.ws) return this.onPacket(text);
    if (ws !== this.probe) return;
    if (text === PROBE_PING) {
      ws.send(PROBE_PONG);
      this.upgrading = true;
      // The client pauses polling before it upgrades: release its pending GET.
      if (this.poll && this.queue.length === 0) this.answerPoll(NOOP_PACKET);
    } else if (text === EIO.UPGRADE && this.upgrading) {
      this.upgrading = false;
      this.probe = undefined;
      this.ws = ws;
      if (this.poll) this.answerPoll(NOOP_PACKET);
      const queued = this.queue;
      this.queue = [];
      this.queuedBytes = 0;
      ws.cork(() => {
        for (const p of queued) ws.send(p);
      });
      for (const s of this.sockets.values()) s.upgraded();
      this.owner.transportChanged(this, "polling", "websocket");
    }
  }

  onWsClose(ws: SioWebSocket): void {
    if (ws === this.probe) {
      this.probe = undefined;
      this.upgrading = false;
    } else if (ws === this.ws) this.closeTransport("transport close");
  }

  // --- packets from the client, either transport ---

  private onPacket(p: string): void {
    if (this.closed) return;
    const type = p.charAt(0);
    if (type === EIO.MESSAGE) return this.owner.onMessage(this, p.slice(1));
    if (type === EIO.PONG) this.pongBy = 0;
    else if (type === EIO.CLOSE) this.closeTransport("client close");
    // noop, ping (v3 clients) and binary packets (`b…`) carry nothing for the server.
  }

  /** Called by the endpoint's timer: pings every interval, ends the session when a pong is overdue. */
  tick(now: number, pingIntervalMs: number, pingTimeoutMs: number): void {
    if (this.closed) return;
    if (now > this.connectBy) return this.closeTransport("no connected namespace within the authentication timeout");
    if (this.pongBy !== 0) {
      if (now > this.pongBy) this.closeTransport("ping timeout");
      return;
    }
    if (now >= this.pingAt) {
      this.pingAt = now + pingIntervalMs;
      this.pongBy = now + pingTimeoutMs;
      this.send(PING_PACKET);
    }
  }

  get isClosed(): boolean {
    return this.closed;
  }
}
