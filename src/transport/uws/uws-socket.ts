import type { TransportSocket } from "../port.ts";
import type { WebSocket } from "@trufflesuite/uws-js-unofficial";

type UwsWebSocket = WebSocket<unknown>;

/** uWS's send status: 1 sent, 0 queued (backpressure), 2 dropped (over maxBackpressure). */
const SENT = 1;
const QUEUED = 0;

/**
 * A uWebSockets.js socket with the port's (Bun's) semantics: one small
 * object per connection beside uWS's own. uWS invalidates its socket at
 * close (any call then throws);
 * from then on every method here is a no-op, as on Bun.
 */
export class UwsSocket<D> implements TransportSocket<D> {
  /** Set at open; undefined once closed. */
  ws: UwsWebSocket | undefined = undefined;
  /**
   * Bytes uWS still held for this socket when it closed, read while uWS
   * unsubscribes a closing socket (the transport's subscription handler):
   * a socket uWS closed for being over its backpressure limit is told
   * apart from any other abnormal close by it. 0 while open.
   */
  queuedAtClose = 0;

  /** `remoteAddress` is the upgrade request's peer (uWS cannot tell it any more once the socket closed). */
  constructor(
    public data: D,
    readonly remoteAddress: string,
  ) {}

  /** Called by the transport in uWS's close handler: the uWS socket is gone. */
  detach(): void {
    this.ws = undefined;
  }

  send(data: string | Uint8Array): number {
    const ws = this.ws;
    if (!ws) return 0;
    const s = ws.send(data, typeof data !== "string", false);
    if (s === SENT) return data.length || 1;
    return s === QUEUED ? -1 : 0;
  }

  publish(topic: string, data: string): number {
    // uWS leaves out the publishing socket, like Bun with publishToSelf: false.
    return this.ws?.publish(topic, data, false, false) ? 1 : 0;
  }

  subscribe(topic: string): void {
    this.ws?.subscribe(topic);
  }

  unsubscribe(topic: string): void {
    const ws = this.ws;
    if (!ws) return;
    ws.unsubscribe(topic);
    // The subscription handler ran for this one too: only an unsubscribe at close counts.
    this.queuedAtClose = 0;
  }

  isSubscribed(topic: string): boolean {
    return this.ws?.isSubscribed(topic) ?? false;
  }

  get subscriptions(): string[] {
    return this.ws?.getTopics() ?? [];
  }

  close(code = 1000, reason = ""): void {
    const ws = this.ws;
    if (!ws) return;
    // end() sends the close frame and runs the close handler (see uws-transport.ts) before it returns;
    // the socket is detached first, so nothing in between reads the uWS socket uWS is tearing down.
    this.ws = undefined;
    ws.end(code, reason);
  }

  /** Inside the close handler: what was still queued when the connection closed (see queuedAtClose). */
  getBufferedAmount(): number {
    return this.ws?.getBufferedAmount() ?? this.queuedAtClose;
  }

  cork<T>(cb: (ws: TransportSocket<D>) => T): T {
    const ws = this.ws;
    if (!ws) return cb(this);
    let out!: T;
    ws.cork(() => {
      out = cb(this);
    });
    return out;
  }

  ping(): number {
    const ws = this.ws;
    if (!ws) return 0;
    return ws.ping() === SENT ? 1 : -1;
  }
}
