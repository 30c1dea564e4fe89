import type { Hono } from "hono";
import type { Config } from "../config/load.ts";
import type { Hub } from "../hub/hub.ts";
import type { ConnData, Principal } from "../hub/ports.ts";
import type { TokenVerifier } from "../hub/token-verifier.ts";
import type { Logger } from "../observability/logger.ts";
import { SwitchboardError } from "../protocol/errors.ts";
import { clientAddressResolver } from "./client-address.ts";
import { errorResponse } from "./http/errors.ts";
import { IpAdmission } from "./ip-admission.ts";
import { IdleWatch } from "./idle-watch.ts";
import { answerPing } from "./ping.ts";
// The transport port, under the Bun names this file was written with (Bun.serve is one implementation of it).
import type { SocketHandlers as WebSocketHandler, Transport, TransportServer as Server, TransportSocket as ServerWebSocket, UpgradeRequest } from "./port.ts";
import type { SioWsData } from "./socketio/engine-session.ts";
import { SOCKETIO_PATH, SocketIoEndpoint } from "./socketio/socketio-endpoint.ts";

export interface ServeDeps {
  config: Config;
  hub: Hub;
  verifier: TokenVerifier;
  app: Hono;
  logger: Logger;
  /** Bun.serve or uWebSockets.js (chosen in src/main.ts). */
  transport: Transport;
  /** Pause of each collection forced after a connect burst, in seconds. */
  onForcedGc?: (seconds: number) => void;
}

const WS_PATH = "/v1/ws";

/**
 * A burst of connects (a deploy, a network blip: thousands of clients
 * reconnecting) leaves handshake, token-verification and subscription garbage
 * that the collector may keep for a long time. Once a burst of at least
 * GC_AFTER_OPENS connects is over and the frames that follow it (the
 * clients' subscriptions) have gone quiet for a check period, collect it;
 * on a node whose frames never go quiet, collect once the connects have been
 * quiet for QUIET_CHECKS_MAX periods.
 */
const GC_AFTER_OPENS = 1000;
const QUIET_CHECKS_MAX = 8;

class ConnectBurstCollector {
  private opens = 0;
  private opensAtLastCheck = 0;
  private frames = 0;
  private framesAtLastCheck = 0;
  private quietChecks = 0;
  private readonly timer: Timer;

  constructor(logger: Logger, collect: () => void, onForcedGc: (seconds: number) => void = () => {}) {
    this.timer = setInterval(() => {
      const framesQuiet = this.frames === this.framesAtLastCheck;
      this.framesAtLastCheck = this.frames;
      if (this.opens >= GC_AFTER_OPENS && this.opens === this.opensAtLastCheck) {
        this.quietChecks++;
        if (framesQuiet || this.quietChecks >= QUIET_CHECKS_MAX) {
          const t0 = performance.now();
          const opens = this.opens;
          this.opens = 0;
          this.quietChecks = 0;
          collect();
          const pauseMs = performance.now() - t0;
          onForcedGc(pauseMs / 1000);
          logger.debug("collected garbage after a connect burst", { opens, pauseMs: Math.round(pauseMs) });
        }
      } else this.quietChecks = 0;
      this.opensAtLastCheck = this.opens;
    }, 250);
    this.timer.unref();
  }

  opened(): void {
    this.opens++;
  }

  frame(): void {
    this.frames++;
  }
}

type SocketData = ConnData | SioWsData;

/** `/socket.io/` sockets carry their Engine.IO session in `ws.data.sio`; native ones never have it. */
function isSocketIo(ws: ServerWebSocket<SocketData>): ws is ServerWebSocket<SioWsData> {
  return (ws.data as Partial<SioWsData>).sio !== undefined;
}

/** Raw Bun handlers: no closure per connection, everything per-socket lives in the small `ws.data`. */
function handlers(hub: Hub, config: Config, bursts: ConnectBurstCollector, admission: IpAdmission, sio: SocketIoEndpoint): WebSocketHandler<SocketData> {
  return {
    open: (ws) => {
      bursts.opened();
      if (isSocketIo(ws)) return sio.wsOpen(ws);
      hub.open(ws as ServerWebSocket<ConnData>);
    },
    message: (ws, msg) => {
      bursts.frame();
      if (isSocketIo(ws)) return sio.wsMessage(ws, msg);
      const conn = ws as ServerWebSocket<ConnData>;
      IdleWatch.seen(conn.data);
      if (!answerPing(hub, conn, msg)) hub.message(conn, msg);
    },
    pong: (ws) => {
      if (!isSocketIo(ws)) IdleWatch.seen((ws as ServerWebSocket<ConnData>).data);
    },
    close: (ws, code) => {
      if (isSocketIo(ws)) return sio.wsClose(ws);
      const conn = ws as ServerWebSocket<ConnData>;
      admission.closed(conn.data);
      hub.close(conn, code);
    },
    maxPayloadLength: config.ws.maxMessageSize,
    idleTimeout: IdleWatch.backstopSec(config.ws.idleTimeoutSec),
    backpressureLimit: config.ws.backpressureLimit,
    closeOnBackpressureLimit: true,
    // Pings come from IdleWatch, at half the idle time.
    sendPings: false,
    perMessageDeflate: false,
    // Only ws.publish is affected (the hub fans out with server.publish): a typing signal skips its sender.
    publishToSelf: false,
  };
}

function bearer(req: UpgradeRequest, url: URL): string | undefined {
  const h = req.headers.get("authorization");
  if (h) {
    const m = /^Bearer\s+(.+)$/i.exec(h);
    if (m) return m[1]!.trim();
  }
  return url.searchParams.get("access_token") ?? undefined;
}

/** Starts the transport (Bun.serve or uWebSockets.js): `/v1/ws` upgrades to the hub, `/socket.io/` is the Socket.IO endpoint, everything else goes to Hono. */
export function serve(d: ServeDeps): Server<SocketData> {
  const { config, hub, verifier, app } = d;
  const allowed = config.corsOrigins ? new Set(config.corsOrigins) : undefined;
  const admission = new IpAdmission({ upgradesPerSec: config.ws.upgradesPerIpPerSec, maxUnauthenticated: config.ws.maxUnauthenticatedPerIp, now: () => hub.deps.clock.now() });
  /** The ConnData of the upgrade accept() just made (read at once by its caller). */
  let lastData: ConnData | undefined;
  const clientAddress = clientAddressResolver(config.trustProxy);
  /** Only behind a trusted proxy is there anything to keep beyond the socket's own peer address. */
  const forwardedIp = config.trustProxy ? (req: UpgradeRequest, server: Server<ConnData>) => clientAddress(server.requestIP(req)?.address, req.headers) : () => undefined;

  /** Synchronous whenever the token can be checked at once (HS256): an upgrade then needs no promise. */
  const sio = new SocketIoEndpoint({ config, hub, verifier, logger: d.logger });

  function upgrade(req: UpgradeRequest, server: Server<SocketData>, url: URL): Response | undefined | Promise<Response | undefined> {
    if (req.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return errorResponse(new SwitchboardError("BAD_REQUEST", "this endpoint expects a WebSocket upgrade"));
    }
    if (hub.draining) return errorResponse(new SwitchboardError("SERVICE_UNAVAILABLE", "node is draining; reconnect to another node"));
    const origin = req.headers.get("origin");
    if (allowed && origin && !allowed.has(origin)) {
      return errorResponse(new SwitchboardError("AUTHORIZATION_FAILED", "origin is not allowed"));
    }
    const max = config.ws.maxGlobalConnections;
    if (max > 0 && hub.conns.size >= max) {
      hub.deps.metrics.errors.inc({ code: "LIMIT_EXCEEDED" });
      return errorResponse(new SwitchboardError("LIMIT_EXCEEDED", "this node is at its connection limit"));
    }
    // Per-IP admission counts the client behind a trusted balancer, not the balancer.
    const ip = admission.active ? (clientAddress(server.requestIP(req)?.address, req.headers) ?? "") : "";
    const token = bearer(req, url);
    const refused = admission.check(ip, token !== undefined);
    if (refused) {
      hub.deps.metrics.errors.inc({ code: refused.code });
      return errorResponse(refused);
    }
    if (token === undefined) {
      const res = accept(req, server, undefined);
      if (res === undefined) admission.waitingFor(ip, lastData!);
      return res;
    }
    let verified: Principal | Promise<Principal>;
    try {
      verified = verifier.verifyNow(token);
    } catch (err) {
      return refuse(req, server, err as SwitchboardError);
    }
    if (verified instanceof Promise) {
      return verified.then(
        (p) => accept(req, server, p),
        (err: SwitchboardError) => refuse(req, server, err),
      );
    }
    return accept(req, server, verified);
  }

  function accept(req: UpgradeRequest, server: Server<SocketData>, preauth: Principal | undefined): Response | undefined {
    lastData = hub.newConnData(preauth, forwardedIp(req, server as Server<ConnData>));
    if (server.upgrade(req, { data: lastData })) return undefined;
    return errorResponse(new SwitchboardError("BAD_REQUEST", "WebSocket upgrade failed"));
  }

  /** `e` is the verifier's AUTHENTICATION_FAILED (TokenVerifier.verifyNow fails with nothing else). */
  function refuse(req: UpgradeRequest, server: Server<SocketData>, e: SwitchboardError): Response {
    hub.deps.metrics.authFailures.inc();
    hub.deps.metrics.errors.inc({ code: "AUTHENTICATION_FAILED" });
    // The path says which endpoint and how; the logger redacts an access_token in it.
    const url = new URL(req.url);
    d.logger.audit("auth_failure", { reason: e.message, ip: clientAddress(server.requestIP(req)?.address, req.headers), via: "upgrade", path: url.pathname + url.search });
    return errorResponse(e);
  }

  new IdleWatch(hub, config.ws.idleTimeoutSec);
  const tls = config.tls ? { certFile: config.tls.certFile, keyFile: config.tls.keyFile } : undefined;
  const bun = d.transport.serve<SocketData>({
    hostname: config.host,
    port: config.port,
    // WORKERS / REUSE_PORT: the kernel spreads new connections over every process bound to the port.
    reusePort: config.reusePort,
    ...(tls ? { tls } : {}),
    // Bun's own limit answers a bare 413; keep it well above ours so that oversize
    // bodies get the JSON error below (by Content-Length) or from Hono's bodyLimit.
    maxRequestBodySize: Math.max(64 * 1024 * 1024, 4 * config.ws.maxMessageSize),
    fetch(req, server) {
      const url = new URL(req.url);
      if (url.pathname === WS_PATH) return upgrade(req, server, url);
      if (url.pathname === SOCKETIO_PATH) return sio.fetch(req, server as Server<SioWsData>, url);
      const length = Number(req.headers.get("content-length") ?? 0);
      if (length > config.ws.maxMessageSize) {
        return errorResponse(new SwitchboardError("MESSAGE_TOO_LARGE", `request body is larger than ${config.ws.maxMessageSize} bytes`));
      }
      return app.fetch(req, { server });
    },
    // The same route for uWS's lighter upgrade requests (Bun sends them to fetch above).
    upgrade: { path: WS_PATH, handle: upgrade },
    websocket: handlers(hub, config, new ConnectBurstCollector(d.logger, () => d.transport.collectGarbage(), d.onForcedGc), admission, sio),
    error(err) {
      d.logger.error("unhandled server error", { err });
      return errorResponse(new SwitchboardError("INTERNAL_ERROR", "internal error"));
    },
  });
  sio.attach(bun);
  return bun;
}

export type SwitchboardSocket = ServerWebSocket<ConnData>;
