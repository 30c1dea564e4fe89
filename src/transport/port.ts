/**
 * What Switchboard needs from a WebSocket + HTTP server, as one small port
 * with two implementations: Bun.serve on Bun (bun-transport.ts) and
 * uWebSockets.js on Node (uws/uws-transport.ts). The shapes are Bun's, which
 * the rest of the code was written against; src/main.ts picks the
 * implementation by the runtime that runs it, and nothing else knows which.
 */

/** One accepted WebSocket; `data` is what the upgrade attached. Methods on a closed socket are no-ops (send answers 0). */
export interface TransportSocket<D> {
  data: D;
  readonly remoteAddress: string;
  /** >0 bytes sent, -1 queued (backpressure), 0 dropped (over the limit, or closed). */
  send(data: string | Uint8Array): number;
  /** To the topic's subscribers except this socket. */
  publish(topic: string, data: string): number;
  subscribe(topic: string): void;
  unsubscribe(topic: string): void;
  isSubscribed(topic: string): boolean;
  readonly subscriptions: string[];
  /** A close frame with `code` and `reason`, then the TCP close. */
  close(code?: number, reason?: string): void;
  /** Bytes queued for the client; inside the close handler, those still queued when it closed where the transport can tell (uWS; Bun answers 0). */
  getBufferedAmount(): number;
  /** Runs `cb` with this socket's writes batched into one syscall. */
  cork<T>(cb: (ws: TransportSocket<D>) => T): T;
  ping(): number;
}

/** Header lookup as `Headers.get` does it: a name in any case; repeated headers joined with ", "; null when absent. */
export interface HeaderReader {
  get(name: string): string | null;
}

/**
 * What the WebSocket upgrade route reads of its request. A fetch Request is
 * one (Bun hands its native Request); uWS hands a lighter one for
 * `ServeOptions.upgrade` (building an undici Request per upgrade was most of
 * its handler's time).
 */
export interface UpgradeRequest {
  /** Absolute; `new URL` of it is what `new URL(request.url)` would be (uWS's is the string as received, not normalized). */
  readonly url: string;
  readonly headers: HeaderReader;
}

export interface TransportServer<D> {
  /** The port it listens on (the one picked when asked for 0). */
  readonly port: number | undefined;
  /** To every socket subscribed to `topic`: >0 sent, -1 backpressure, 0 nobody took it. */
  publish(topic: string, data: string): number;
  subscriberCount(topic: string): number;
  /** Inside `fetch`, possibly after an await: turns the request into a WebSocket carrying `data`; `fetch` then answers undefined. */
  upgrade(req: UpgradeRequest, options: { data: D }): boolean;
  /** The peer of the connection `req` came on. */
  requestIP(req: UpgradeRequest): { address: string } | null;
  /** Lets `req` stay unanswered for up to `seconds` (long-polls, reports). */
  timeout(req: Request, seconds: number): void;
  /** Stops listening; with `closeActive`, ends open connections too. */
  stop(closeActive?: boolean): void;
}

export interface SocketHandlers<D> {
  open(ws: TransportSocket<D>): void;
  /** Text frames as strings, binary ones as Buffers. */
  message(ws: TransportSocket<D>, msg: string | Buffer): void;
  pong?(ws: TransportSocket<D>): void;
  close(ws: TransportSocket<D>, code: number, reason: string): void;
  maxPayloadLength: number;
  /** The transport's own idle timeout (s): a backstop behind IdleWatch. */
  idleTimeout: number;
  backpressureLimit: number;
  closeOnBackpressureLimit: boolean;
  sendPings: boolean;
  perMessageDeflate: boolean;
  /** false: a socket's own publish skips it (both implementations only support false). */
  publishToSelf: false;
}

export interface ServeOptions<D> {
  hostname: string;
  port: number;
  /** SO_REUSEPORT: several processes share the port. */
  reusePort: boolean;
  tls?: { certFile: string; keyFile: string };
  /** A request body over this is refused (413) before the handler sees it. */
  maxRequestBodySize: number;
  /** Answers a request; undefined once `server.upgrade` took it. */
  fetch(req: Request, server: TransportServer<D>): Response | undefined | Promise<Response | undefined>;
  /**
   * A transport MAY hand WebSocket upgrade requests whose path is exactly
   * `path` (any query) to `handle` instead of `fetch`, with a lighter
   * UpgradeRequest and its URL already parsed (uWS does; Bun does not: its
   * Request is native and its `fetch` gets them). So `fetch` must answer
   * those requests exactly as `handle` does: both call the same route.
   */
  upgrade?: { path: string; handle(req: UpgradeRequest, server: TransportServer<D>, url: URL): Response | undefined | Promise<Response | undefined> };
  websocket?: SocketHandlers<D>;
  error(err: unknown): Response;
}

export interface Transport {
  /** "bun" (Bun.serve) or "uws" (uWebSockets.js on Node). */
  readonly name: "bun" | "uws";
  /** Listens at once (throws with `code` EADDRINUSE/EACCES/EADDRNOTAVAIL when it cannot). */
  serve<D>(options: ServeOptions<D>): TransportServer<D>;
  /** A full collection, and the freed pages handed back where the runtime can (after connect bursts). */
  collectGarbage(): void;
}
