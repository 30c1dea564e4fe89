import type { Config } from "../config/load.ts";
import type { Metrics } from "../observability/metrics.ts";
import { CLOSE } from "../protocol/codes.ts";
import { encodeErr } from "../protocol/encode.ts";
import { ConnFlag, type Clock, type Conn } from "./ports.ts";

export interface SweepDeps {
  config: Pick<Config, "ws" | "jwt" | "drain">;
  metrics: Metrics;
  clock: Clock;
  conns: ReadonlySet<Conn>;
  send(conn: Conn, frame: string): void;
}

/**
 * The hub's timers and its end: once a second, closes connections that did
 * not authenticate in time and those whose token expired, and warns those
 * whose token is about to; on drain, tells every client to reconnect
 * elsewhere and closes them once in-flight publishes are answered.
 */
export class Sweeper {
  private timer: Timer | undefined;

  constructor(private readonly d: SweepDeps) {}

  start(): void {
    this.timer = setInterval(() => this.sweep(), 1000);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  sweep(): void {
    const { clock, config, conns, metrics } = this.d;
    const now = clock.now();
    const { authTimeoutMs } = config.ws;
    const warnMs = config.jwt.expiryWarningSec * 1000;
    for (const conn of conns) {
      const d = conn.data;
      if (d.closing) continue;
      const p = d.principal;
      if (!p) {
        if (now - d.openedAt >= authTimeoutMs) {
          metrics.authFailures.inc();
          this.d.send(conn, encodeErr(undefined, "AUTHENTICATION_FAILED", "no auth frame within the authentication timeout"));
          conn.close(CLOSE.AUTH_FAILED, "authentication timeout");
        }
        continue;
      }
      if (p.expMs === undefined) continue;
      if (now >= p.expMs) {
        d.closing = true;
        conn.close(CLOSE.TOKEN_EXPIRED, "token expired");
      } else if (!(d.flags & ConnFlag.WARNED) && p.expMs - now <= warnMs) {
        d.flags |= ConnFlag.WARNED;
        this.d.send(conn, '{"t":"expiring","in":' + Math.max(1, Math.ceil((p.expMs - now) / 1000)) + "}");
      }
    }
  }

  /**
   * Sends every client `reconnect` (jittered delay), waits until `inflight()`
   * is 0 or the deadline passed, sends what `flush` still holds, then closes
   * every connection with 1012.
   */
  async drain(deadlineMs: number, inflight: () => number, flush: () => void): Promise<void> {
    const { clock, config, conns } = this.d;
    const maxAfter = config.drain.reconnectMaxMs;
    for (const conn of conns) {
      const after = Math.floor(Math.random() * (maxAfter + 1));
      this.d.send(conn, '{"t":"reconnect","after":' + after + ',"reason":"server is restarting"}');
    }
    const until = clock.now() + deadlineMs;
    while (inflight() > 0 && clock.now() < until) await new Promise((r) => setTimeout(r, 10));
    // Acks of publishes that just finished may still sit in the outbox: send them before the close.
    flush();
    for (const conn of [...conns]) conn.close(CLOSE.RESTART, "server restart");
    this.stop();
  }
}
