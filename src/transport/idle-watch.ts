import type { Hub } from "../hub/hub.ts";
import type { ConnData } from "../hub/ports.ts";
import { CLOSE } from "../protocol/codes.ts";
import type { TransportSocket } from "./port.ts";

/**
 * Liveness as PROTOCOL.md says it: a connection silent for half the idle
 * time gets a ping; one silent (no frame, no pong) for the whole idle time is
 * closed with a 1001 close frame. uWS's own idle timeout cannot do this: it
 * pings just before the deadline and then drops the TCP connection without a
 * close frame (the client records 1006). One timer for every socket, so
 * nothing runs per connection except stamping `seenAt` when bytes arrive.
 */
export class IdleWatch {
  private readonly idleMs: number;

  constructor(
    private readonly hub: Hub,
    idleTimeoutSec: number,
  ) {
    this.idleMs = idleTimeoutSec * 1000;
    // idleTimeoutSec ≥ 8: a check every second at most keeps ping and close within 1 s of their time.
    setInterval(() => this.check(), Math.min(1000, this.idleMs / 8)).unref();
  }

  /** A frame or a pong arrived. */
  static seen(d: ConnData): void {
    d.seenAt = Date.now();
  }

  /** uWS's own idle timeout, kept far behind ours, only catches a socket whose close handshake never ends. */
  static backstopSec(idleTimeoutSec: number): number {
    return Math.min(960, idleTimeoutSec * 2);
  }

  private check(): void {
    const now = Date.now();
    const half = this.idleMs / 2;
    for (const conn of this.hub.conns) {
      const d = conn.data;
      if (d.closing) continue;
      const silent = now - d.seenAt;
      if (silent >= this.idleMs) {
        d.closing = true;
        conn.close(CLOSE.GOING_AWAY, "idle timeout");
      } else if (silent >= half && d.pingedAt <= d.seenAt) {
        d.pingedAt = now;
        (conn as unknown as TransportSocket<ConnData>).ping();
      }
    }
  }
}
