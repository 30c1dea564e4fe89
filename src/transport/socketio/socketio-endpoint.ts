import type { TransportServer as Server } from "../port.ts";
import type { Config } from "../../config/load.ts";
import type { Hub } from "../../hub/hub.ts";
import type { TokenVerifier } from "../../hub/token-verifier.ts";
import type { Logger } from "../../observability/logger.ts";
import { SwitchboardError } from "../../protocol/errors.ts";
import { errorResponse } from "../http/errors.ts";
import { encodeOpen } from "./engine-packets.ts";
import { EngineSession, type SessionOwner, type SioWebSocket, type SioWsData } from "./engine-session.ts";
import { RecoveryStore } from "./recovery-store.ts";
import { SioSocket, type SocketContext } from "./sio-socket.ts";
import { connectError, decodeSocketPacket, PacketError, SIO } from "./socket-packets.ts";
import { SocketIoFanout } from "./socketio-fanout.ts";

export const SOCKETIO_PATH = "/socket.io/";

export interface SocketIoDeps {
  config: Config;
  hub: Hub;
  verifier: TokenVerifier;
  logger: Logger;
}

type AnyServer = Server<never>;

/** Shared by every request without an Origin (native apps, servers): no object per session. */
const NO_CORS: Record<string, string> = Object.freeze({}) as Record<string, string>;

function handshakeToken(req: Request, url: URL): string | undefined {
  const h = req.headers.get("authorization");
  const m = h ? /^Bearer\s+(.+)$/i.exec(h) : null;
  if (m) return m[1]!.trim();
  return url.searchParams.get("access_token") ?? url.searchParams.get("token") ?? undefined;
}

function sessionId(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(15))).toString("base64url");
}

/**
 * `GET/POST /socket.io/`: Engine.IO v4 (long-polling with upgrade, or
 * WebSocket) carrying Socket.IO v5, onto the same hub as `/v1/ws`.
 */
export class SocketIoEndpoint implements SessionOwner {
  private readonly sessions = new Map<string, EngineSession>();
  private readonly ctx: SocketContext;
  private readonly allowed: Set<string> | undefined;
  private readonly pingIntervalMs: number;
  private readonly pingTimeoutMs: number;
  private readonly maxPayload: number;
  readonly backpressureLimit: number;
  readonly fanout: SocketIoFanout;
  private readonly timer: Timer;

  constructor(private readonly d: SocketIoDeps) {
    const { config, hub } = d;
    this.pingIntervalMs = config.socketio.pingIntervalMs;
    this.pingTimeoutMs = config.socketio.pingTimeoutMs;
    this.maxPayload = config.ws.maxMessageSize;
    this.backpressureLimit = config.ws.backpressureLimit;
    this.allowed = config.corsOrigins ? new Set(config.corsOrigins) : undefined;
    this.fanout = new SocketIoFanout(config.nodeId + "." + Date.now().toString(36) + ".", hub.deps.metrics);
    const store = config.socketio.recoverySec > 0 ? new RecoveryStore(() => hub.deps.engine, config.socketio.recoverySec) : undefined;
    this.ctx = { hub, fanout: this.fanout, store };
    hub.addTap(this.fanout);
    this.timer = setInterval(() => this.tick(), Math.min(1000, Math.floor(this.pingIntervalMs / 4)));
    this.timer.unref();
  }

  attach(server: Pick<AnyServer, "publish">): void {
    this.fanout.attach(server);
  }

  private tick(): void {
    const now = Date.now();
    for (const s of this.sessions.values()) s.tick(now, this.pingIntervalMs, this.pingTimeoutMs);
  }

  private cors(req: Request): Record<string, string> | undefined {
    const origin = req.headers.get("origin");
    if (!origin) return NO_CORS;
    if (this.allowed && !this.allowed.has(origin)) return undefined;
    return { "access-control-allow-origin": origin, "access-control-allow-credentials": "true", vary: "Origin" };
  }

  private refuse(code: ConstructorParameters<typeof SwitchboardError>[0], message: string, headers: Record<string, string> = {}): Response {
    const r = errorResponse(new SwitchboardError(code, message));
    for (const [k, v] of Object.entries(headers)) r.headers.set(k, v);
    return r;
  }

  /** Handles a request to SOCKETIO_PATH; `undefined` when it became a WebSocket. */
  fetch(req: Request, server: Server<SioWsData>, url: URL): Response | Promise<Response> | undefined {
    const cors = this.cors(req);
    if (!cors) return this.refuse("AUTHORIZATION_FAILED", "origin is not allowed");
    if (req.method === "OPTIONS") {
      return new Response(null, {
        status: 204,
        headers: { ...cors, "access-control-allow-methods": "GET, POST", "access-control-allow-headers": req.headers.get("access-control-request-headers") ?? "content-type" },
      });
    }
    const q = url.searchParams;
    if (q.get("EIO") !== "4") return this.refuse("BAD_REQUEST", "only Engine.IO v4 is supported (socket.io-client 3 or later)", cors);
    const transport = q.get("transport");
    const sid = q.get("sid");
    if (transport === "websocket") {
      if (req.headers.get("upgrade")?.toLowerCase() !== "websocket") return this.refuse("BAD_REQUEST", "transport=websocket expects a WebSocket upgrade", cors);
      let data: SioWsData;
      if (sid !== null) {
        const s = this.sessions.get(sid);
        if (!s || s.ws) return this.refuse("BAD_REQUEST", "unknown session id", cors);
        data = { sio: s, probe: true };
      } else {
        const refused = this.admissible(cors);
        if (refused) return refused;
        data = { sio: this.newSession(req, server, url, cors), probe: false };
      }
      if (server.upgrade(req, { data })) return undefined;
      if (!data.probe) this.sessions.delete(data.sio.sid);
      return this.refuse("BAD_REQUEST", "WebSocket upgrade failed", cors);
    }
    if (transport !== "polling") return this.refuse("BAD_REQUEST", "transport must be polling or websocket", cors);
    if (sid === null) {
      if (req.method !== "GET") return this.refuse("BAD_REQUEST", "a session starts with a GET", cors);
      const refused = this.admissible(cors);
      if (refused) return refused;
      const s = this.newSession(req, server, url, cors);
      this.transportChanged(s, undefined, "polling");
      return new Response(this.openPacket(s.sid, ["websocket"]), { headers: { "content-type": "text/plain; charset=UTF-8", ...cors } });
    }
    const s = this.sessions.get(sid);
    if (!s) return this.refuse("BAD_REQUEST", "unknown session id", cors);
    if (req.method === "GET") {
      // A long-poll waits up to a ping interval; keep Bun's idle timer from cutting it first.
      server.timeout(req, Math.ceil((this.pingIntervalMs + this.pingTimeoutMs) / 1000) + 5);
      const answer = s.onPoll(req.signal);
      if (answer) return answer;
      s.closeTransport("overlapping poll");
      return this.refuse("BAD_REQUEST", "a poll is already pending for this session", cors);
    }
    if (req.method !== "POST") return this.refuse("BAD_REQUEST", "polling takes GET or POST", cors);
    if (Number(req.headers.get("content-length") ?? 0) > this.maxPayload) {
      s.closeTransport("payload too large");
      return this.refuse("MESSAGE_TOO_LARGE", `payload is larger than ${this.maxPayload} bytes`, cors);
    }
    return req.text().then((body) => {
      if (body.length > this.maxPayload) {
        s.closeTransport("payload too large");
        return this.refuse("MESSAGE_TOO_LARGE", `payload is larger than ${this.maxPayload} bytes`, cors);
      }
      s.onPost(body);
      return new Response("ok", { headers: { "content-type": "text/html", ...cors } });
    });
  }

  private admissible(cors: Record<string, string>): Response | undefined {
    const hub = this.d.hub;
    if (hub.draining) return this.refuse("SERVICE_UNAVAILABLE", "node is draining; reconnect to another node", cors);
    const max = this.d.config.ws.maxGlobalConnections;
    // Engine.IO sessions count too: a session holds memory before its first CONNECT makes it a hub connection.
    if (max > 0 && Math.max(hub.conns.size, this.sessions.size) >= max) {
      hub.deps.metrics.errors.inc({ code: "LIMIT_EXCEEDED" });
      return this.refuse("LIMIT_EXCEEDED", "this node is at its connection limit", cors);
    }
    return undefined;
  }

  private newSession(req: Request, server: Server<SioWsData>, url: URL, cors: Record<string, string>): EngineSession {
    const s = new EngineSession(sessionId(), this, server.requestIP(req)?.address ?? "", handshakeToken(req, url), cors, Date.now(), this.pingIntervalMs, this.d.config.ws.authTimeoutMs);
    this.sessions.set(s.sid, s);
    return s;
  }

  private openPacket(sid: string, upgrades: string[]): string {
    return encodeOpen({ sid, upgrades, pingInterval: this.pingIntervalMs, pingTimeout: this.pingTimeoutMs, maxPayload: this.maxPayload });
  }

  // --- WebSocket handlers (dispatched from ws-server.ts) ---

  wsOpen(ws: SioWebSocket): void {
    const { sio, probe } = ws.data;
    if (probe) sio.openProbe(ws);
    else sio.openWs(ws, this.openPacket(sio.sid, []));
  }

  wsMessage(ws: SioWebSocket, msg: string | Buffer): void {
    // Binary frames only carry attachments of binary packets, which are refused at their header.
    if (typeof msg === "string") ws.data.sio.onWsText(ws, msg);
  }

  wsClose(ws: SioWebSocket): void {
    ws.data.sio.onWsClose(ws);
  }

  // --- SessionOwner ---

  onMessage(session: EngineSession, text: string): void {
    let pkt;
    try {
      pkt = decodeSocketPacket(text);
    } catch (err) {
      if (!(err instanceof PacketError)) throw err;
      this.d.hub.countIn("invalid");
      return session.closeTransport("malformed Socket.IO packet");
    }
    if (pkt.type === SIO.CONNECT) {
      if (session.sockets.has(pkt.nsp)) return;
      const ns = this.d.config.socketio.namespaces[pkt.nsp];
      if (!ns) {
        session.send(connectError(pkt.nsp, "RESOURCE_NOT_FOUND", "Invalid namespace"));
        return;
      }
      const socket = new SioSocket(this.ctx, session, pkt.nsp, ns);
      session.addSocket(pkt.nsp, socket);
      return socket.start(pkt.data);
    }
    session.sockets.get(pkt.nsp)?.onPacket(pkt);
  }

  ended(session: EngineSession): void {
    this.sessions.delete(session.sid);
  }

  transportChanged(_s: EngineSession, from: "polling" | "websocket" | undefined, to: "polling" | "websocket" | undefined): void {
    const m = this.d.hub.deps.metrics.socketio;
    if (from) m.inc({ transport: from }, -1);
    if (to) m.inc({ transport: to });
  }
}
