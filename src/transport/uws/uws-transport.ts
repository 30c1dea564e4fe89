import type * as UWS from "@trufflesuite/uws-js-unofficial";
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import type { ServeOptions, Transport, TransportServer, UpgradeRequest } from "../port.ts";
import { header, HeaderList, readBody, readHead, writePlain, writeResponse, type Exchange, type RequestHead } from "./fetch-adapter.ts";
import { UwsSocket } from "./uws-socket.ts";

/**
 * uWebSockets.js for Node: the trufflesuite build, the maintained npm build
 * of uWS.js v20 with Node 20's binary in the package (the upstream project
 * does not publish to npm). A native addon, so required, not bundled.
 */
const uws = createRequire(import.meta.url)("@trufflesuite/uws-js-unofficial") as typeof UWS;

const decoder = new TextDecoder();
/** Bytes a frame may exceed the configured limit by and still be answered with a 1009 close frame (past it: a bare drop). */
const OVERSIZE_SLACK = 1024 * 1024;
/** A second process binding the same port fails (Bun without reusePort does the same). */
const LISTEN_EXCLUSIVE_PORT = (uws as unknown as { LIBUS_LISTEN_EXCLUSIVE_PORT: number }).LIBUS_LISTEN_EXCLUSIVE_PORT;

interface SocketUserData<D> {
  s: UwsSocket<D>;
}

interface UpgradeExchange extends Exchange {
  /** What uWS's res.upgrade needs, read from the upgrade request. */
  upgrade?: { key: string; protocol: string; extensions: string; context: UWS.us_socket_context_t };
}

/**
 * An upgrade request for `ServeOptions.upgrade`: the URL and headers as read
 * from uWS, and the exchange it came on, instead of an undici Request (whose
 * construction, headers and signal were about 40 % of the upgrade handler).
 */
class UwsUpgradeRequest implements UpgradeRequest {
  readonly headers: HeaderList;

  constructor(
    readonly url: string,
    pairs: [string, string][],
    readonly exchange: UpgradeExchange,
  ) {
    this.headers = new HeaderList(pairs);
  }
}

type Answer = Response | undefined | Promise<Response | undefined>;

/** Why listening failed, in Node's own error code (uWS only says "no"): the same bind, tried by a child process. */
function listenError(host: string, port: number, tls: boolean): Error {
  const probe = `require("node:net").createServer().once("error",(e)=>{process.stdout.write(String(e.code));process.exit(0)}).listen(${port},${JSON.stringify(host)},()=>{process.stdout.write("OK");process.exit(0)})`;
  const code = spawnSync(process.execPath, ["-e", probe], { encoding: "utf8", timeout: 5000 }).stdout.trim();
  const err = new Error(code === "OK" && tls ? "uWebSockets.js could not start TLS with these files" : `cannot listen on ${host}:${port}${code && code !== "OK" ? ` (${code})` : ""}`) as Error & { code?: string };
  if (code && code !== "OK") err.code = code;
  return err;
}

class UwsServer<D> implements TransportServer<D> {
  readonly port: number;
  private listenSocket: UWS.us_listen_socket | undefined;
  private readonly app: UWS.TemplatedApp;
  /** The exchange each Request came from (requestIP, upgrade); an UwsUpgradeRequest carries its own. */
  private readonly exchanges = new WeakMap<UpgradeRequest, UpgradeExchange>();
  private readonly origin: string;

  constructor(private readonly o: ServeOptions<D>) {
    let app: UWS.TemplatedApp;
    try {
      app = o.tls ? uws.SSLApp({ cert_file_name: o.tls.certFile, key_file_name: o.tls.keyFile }) : uws.App();
    } catch (err) {
      throw new Error(`uWebSockets.js could not start TLS with these files: ${(err as Error).message}`);
    }
    this.app = app;
    if (o.websocket) this.websocket(o.websocket);
    app.any("/*", (res, req) => this.http(res, req));
    // The binary takes (host, port, options, cb); its typings only know (port, options, cb).
    const listen = (port: number): UWS.us_listen_socket | false => {
      let ls: UWS.us_listen_socket | false = false;
      (app.listen as unknown as (host: string, port: number, options: number, cb: (s: UWS.us_listen_socket | false) => void) => void).call(
        app,
        o.hostname,
        port,
        o.reusePort ? 0 : LISTEN_EXCLUSIVE_PORT,
        (s) => (ls = s),
      );
      return ls;
    };
    let ls = listen(o.port);
    if (ls && o.port === 0) {
      // uSockets sets SO_REUSEADDR only when given a port: on a picked one, the TIME_WAIT connections this
      // process leaves would keep the next process from listening on the same port for a minute. So the
      // picked port is listened on again, by number.
      const picked = uws.us_socket_local_port(ls);
      uws.us_listen_socket_close(ls);
      ls = listen(picked);
    }
    if (!ls) throw listenError(o.hostname, o.port, o.tls !== undefined);
    this.listenSocket = ls;
    this.port = uws.us_socket_local_port(ls);
    this.origin = `${o.tls ? "https" : "http"}://${o.hostname.includes(":") ? `[${o.hostname}]` : o.hostname}:${this.port}`;
  }

  private websocket(h: NonNullable<ServeOptions<D>["websocket"]>): void {
    // uWS copies the user data's own properties onto its socket object: `s` is the UwsSocket.
    const user = (ws: UWS.WebSocket<unknown>) => (ws.getUserData() as SocketUserData<D>).s;
    this.app.ws("/*", {
      compression: h.perMessageDeflate ? uws.SHARED_COMPRESSOR : uws.DISABLED,
      // uWS drops a connection whose frame is over its limit without a close frame (the client sees 1006);
      // Bun sends 1009. So uWS's limit sits OVERSIZE_SLACK above ours and the message handler sends the 1009.
      maxPayloadLength: h.maxPayloadLength + OVERSIZE_SLACK,
      idleTimeout: h.idleTimeout,
      maxBackpressure: h.backpressureLimit,
      closeOnBackpressureLimit: h.closeOnBackpressureLimit ? 1 : 0,
      sendPingsAutomatically: h.sendPings,
      upgrade: (res, req, context) => {
        const key = req.getHeader("sec-websocket-key");
        const protocol = req.getHeader("sec-websocket-protocol");
        const extensions = req.getHeader("sec-websocket-extensions");
        const { head, ex } = readHead(res, req, this.origin, false);
        (ex as UpgradeExchange).upgrade = { key, protocol, extensions, context };
        this.dispatch(ex, () => this.upgradeAnswer(head, ex), false);
      },
      open: (ws) => {
        const s = user(ws);
        s.ws = ws;
        h.open(s);
      },
      message: (ws, msg, isBinary) => {
        if (msg.byteLength > h.maxPayloadLength) return user(ws).close(1009, "Received too big message");
        h.message(user(ws), isBinary ? Buffer.from(msg.slice(0)) : decoder.decode(msg));
      },
      ...(h.pong ? { pong: (ws: UWS.WebSocket<unknown>) => h.pong!(user(ws)) } : {}),
      // uWS closes a socket over its backpressure limit itself and reports 1006, as for a lost connection
      // (Bun does the same, but its publish answers -1 first, which lets the hub mark the socket). uWS's
      // publish cannot say so; but uWS unsubscribes a closing socket before its close handler, with the
      // socket still readable: what it still held then tells the two apart (see UwsSocket.queuedAtClose).
      subscription: (ws, _topic, newCount, oldCount) => {
        if (newCount >= oldCount) return;
        const s = user(ws);
        if (s.ws === undefined) return;
        try {
          s.queuedAtClose = ws.getBufferedAmount();
        } catch {
          // uWS ended the socket itself (a close frame it refused): it is no longer readable.
        }
      },
      close: (ws, code, msg) => {
        const s = user(ws);
        const reason = decoder.decode(msg);
        s.detach();
        // Bun runs close handlers after the call that closed the socket; so does this.
        queueMicrotask(() => h.close(s, code, reason));
      },
    });
  }

  private http(res: UWS.HttpResponse, req: UWS.HttpRequest): void {
    const { head, ex } = readHead(res, req, this.origin, true);
    const m = head.method;
    const length = header(head, "content-length");
    if (m === "GET" || m === "HEAD" || (length === undefined && header(head, "transfer-encoding") === undefined) || length === "0") {
      return this.dispatch(ex, () => this.o.fetch(this.request(head, ex, undefined), this), m === "HEAD");
    }
    readBody(
      ex,
      this.o.maxRequestBodySize,
      (body) => this.dispatch(ex, () => this.o.fetch(this.request(head, ex, body), this), false),
      () => writePlain(ex, 413, JSON.stringify({ error: { code: "MESSAGE_TOO_LARGE", message: `request body is larger than ${this.o.maxRequestBodySize} bytes` } }), true),
    );
  }

  private request(head: RequestHead, ex: UpgradeExchange, body: Uint8Array | undefined): Request {
    const r = new Request(head.url, { method: head.method, headers: head.headers, body: body as BodyInit | undefined, signal: ex.abort?.signal });
    this.exchanges.set(r, ex);
    return r;
  }

  /** An upgrade to `ServeOptions.upgrade`'s path goes there without a Request; any other to `fetch`. */
  private upgradeAnswer(head: RequestHead, ex: UpgradeExchange): Answer {
    const fast = this.o.upgrade;
    if (fast) {
      const url = new URL(head.url);
      if (url.pathname === fast.path) return fast.handle(new UwsUpgradeRequest(head.url, head.headers, ex), this, url);
    }
    return this.o.fetch(this.request(head, ex, undefined), this);
  }

  /** Runs `answer` and writes what it answers; a throw (a Host that makes no URL, too) is `error`'s answer, as on Bun. */
  private dispatch(ex: UpgradeExchange, answer: () => Answer, head: boolean): void {
    let out: Answer;
    try {
      out = answer();
    } catch (err) {
      out = this.o.error(err);
    }
    if (out instanceof Promise) {
      out.then(
        (r) => this.finish(ex, r, head),
        (err) => this.finish(ex, this.o.error(err), head),
      );
    } else this.finish(ex, out, head);
  }

  private finish(ex: UpgradeExchange, r: Response | undefined, head: boolean): void {
    if (r === undefined) {
      // Answered nothing: fine after an upgrade, a bug otherwise.
      if (!ex.done) writePlain(ex, 500, JSON.stringify({ error: { code: "INTERNAL_ERROR", message: "no response" } }));
      return;
    }
    writeResponse(ex, r, head).catch(() => {
      // The body stream failed halfway: the client cannot get a whole answer now.
      if (!ex.done && !ex.aborted) {
        ex.done = true;
        ex.res.close();
      }
    });
  }

  private exchangeOf(req: UpgradeRequest): UpgradeExchange | undefined {
    return req instanceof UwsUpgradeRequest ? req.exchange : this.exchanges.get(req);
  }

  upgrade(req: UpgradeRequest, options: { data: D }): boolean {
    const ex = this.exchangeOf(req);
    const u = ex?.upgrade;
    if (!ex || !u || ex.aborted || ex.done) return false;
    ex.done = true;
    const userData: SocketUserData<D> = { s: new UwsSocket(options.data, ex.peer) };
    ex.res.cork(() => ex.res.upgrade(userData, u.key, u.protocol, u.extensions, u.context));
    // uWS may keep the exchange's onAborted closure as long as the socket lives: keep it small.
    ex.upgrade = undefined;
    return true;
  }

  requestIP(req: UpgradeRequest): { address: string } | null {
    const ex = this.exchangeOf(req);
    return ex ? { address: ex.peer } : null;
  }

  /** uWS only times out a request while it is being received; an unanswered one may wait as long as it needs. */
  timeout(_req: Request, _seconds: number): void {}

  publish(topic: string, data: string): number {
    this.wake();
    return this.app.publish(topic, data, false, false) ? 1 : 0;
  }

  private woken = false;
  private readonly woke = (): void => {
    this.woken = false;
  };

  /**
   * uWS sends topic publications when its loop iteration ends. A publication
   * made outside a uWS callback (the engine's batch commit runs from
   * setImmediate) would otherwise wait for whatever wakes the loop next — a
   * timer tens of milliseconds away. A pending immediate keeps the next
   * iteration from blocking, so they go out at once.
   */
  private wake(): void {
    if (this.woken) return;
    this.woken = true;
    setImmediate(this.woke);
  }

  subscriberCount(topic: string): number {
    return this.app.numSubscribers(topic);
  }

  stop(closeActive = false): void {
    if (this.listenSocket) uws.us_listen_socket_close(this.listenSocket);
    this.listenSocket = undefined;
    if (closeActive) (this.app as { close?: () => void }).close?.();
  }
}

/** The transport port on Node: uWebSockets.js, with the Hono app behind a small fetch adapter. */
export const uwsTransport: Transport = {
  name: "uws",
  serve: <D>(o: ServeOptions<D>) => new UwsServer<D>(o),
  collectGarbage(): void {
    // Only when started with --expose-gc (npm run start:node does).
    (globalThis as { gc?: () => void }).gc?.();
  },
};
