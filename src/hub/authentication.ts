import { CLOSE } from "../protocol/codes.ts";
import { encodeErr } from "../protocol/encode.ts";
import type { SwitchboardError } from "../protocol/errors.ts";
import type { Hub } from "./hub.ts";
import { ConnFlag, type Conn, type Principal } from "./ports.ts";

/**
 * The end of authentication: the per-user connection lease, then `hello`
 * (or the refusal and the close), then the frames held meanwhile.
 */
export class Authentication {
  /** The parts of `hello` that are the same for every connection, encoded once. */
  private readonly helloNode: string;
  private readonly helloTail: string;

  constructor(private readonly hub: Hub) {
    const { nodeId, ws } = hub.deps.config;
    this.helloNode = ',"node":' + JSON.stringify(nodeId) + ',"user":';
    const limits = { maxFrame: ws.maxMessageSize, maxSubs: ws.maxSubscriptions, rate: ws.rateLimitPerSec, burst: ws.rateLimitBurst };
    this.helloTail = ',"ping":' + Math.floor(ws.idleTimeoutSec / 2) + ',"limits":' + JSON.stringify(limits) + "}";
  }

  /**
   * Completes authentication: per-user limit, then `hello`. `id` echoes an auth
   * frame's id. When the engine answers the lease at once (the embedded engine
   * does), `hello` goes out inside the socket's open callback, in the same
   * write as the upgrade response.
   */
  authenticate(conn: Conn, p: Principal, id: number | undefined): void {
    const d = conn.data;
    if (d.principal || d.closing) return;
    const hub = this.hub;
    const userKey = p.tenant + "/" + p.sub;
    let lease: boolean | Promise<boolean>;
    try {
      lease = hub.deps.engine.acquireUserConn(userKey, hub.connId(conn), hub.deps.config.ws.maxConnectionsPerUser);
    } catch (err) {
      return this.leaseFailed(conn, id, err);
    }
    if (typeof lease === "boolean") return this.admit(conn, p, id, userKey, lease);
    // Frames that arrive while the lease is asked for are held until `hello` (an auth frame's check started holding them already).
    hub.authenticating(conn);
    lease.then(
      (allowed) => this.admit(conn, p, id, userKey, allowed),
      (err) => this.leaseFailed(conn, id, err),
    );
  }

  private leaseFailed(conn: Conn, id: number | undefined, err: unknown): void {
    conn.data.early = null;
    this.hub.send(conn, encodeErr(id, "SERVICE_UNAVAILABLE", "cannot check the connection limit now; retry later"));
    conn.close(CLOSE.GOING_AWAY, "engine unavailable");
    this.hub.deps.logger.warn("lease acquire failed", { err });
  }

  private admit(conn: Conn, p: Principal, id: number | undefined, userKey: string, allowed: boolean): void {
    const hub = this.hub;
    const d = conn.data;
    const { engine, metrics, logger, config } = hub.deps;
    if (d.closing) {
      if (allowed) void engine.releaseUserConn(userKey, hub.connId(conn)).catch(() => {});
      return;
    }
    if (!allowed) {
      d.early = null;
      metrics.errors.inc({ code: "LIMIT_EXCEEDED" });
      hub.send(conn, encodeErr(id, "LIMIT_EXCEEDED", `at most ${config.ws.maxConnectionsPerUser} connections per user`));
      conn.close(CLOSE.TOO_MANY_CONNECTIONS, "too many connections for this user");
      logger.audit("connect_refused", { conn: hub.connId(conn), user: p.sub, tenant: p.tenant, reason: "connections per user" });
      return;
    }
    d.flags |= ConnFlag.LEASED;
    d.principal = p;
    d.userKey = userKey;
    hub.bucket.init(d);
    hub.byUser.add(userKey, conn);
    let hello = '{"t":"hello","conn":' + JSON.stringify(hub.connId(conn)) + this.helloNode + JSON.stringify(p.sub);
    if (p.tenant) hello += ',"tenant":' + JSON.stringify(p.tenant);
    if (p.expMs !== undefined) hello += ',"exp":' + Math.floor(p.expMs / 1000);
    hub.send(conn, hello + this.helloTail);
    if (logger.auditing) logger.audit("connect", { conn: hub.connId(conn), user: p.sub, tenant: p.tenant, ip: d.clientIp ?? conn.remoteAddress });
    hub.features.connected(conn);
    if (d.early !== null) hub.authenticated(conn);
  }

  failed(conn: Conn, id: number | undefined, err: SwitchboardError): void {
    const { metrics, logger } = this.hub.deps;
    conn.data.early = null;
    metrics.authFailures.inc();
    metrics.errors.inc({ code: "AUTHENTICATION_FAILED" });
    this.hub.send(conn, encodeErr(id, "AUTHENTICATION_FAILED", err.message));
    conn.close(CLOSE.AUTH_FAILED, "authentication failed");
    logger.audit("auth_failure", { conn: this.hub.connId(conn), reason: err.message, ip: conn.data.clientIp ?? conn.remoteAddress });
  }
}
