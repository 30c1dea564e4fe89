import { ConnFlag, type Conn } from "./ports.ts";

/** At most one scan per this many ms: a scan walks every connection. */
const SCAN_EVERY_MS = 20;
/** ...and at most once per this many publishes that met backpressure. */
const CALLS_PER_CHECK = 64;
/**
 * A subscriber holding this share of the limit is marked: the transport closes
 * it as soon as it crosses the limit (Bun: within a publication or two), so a
 * scan rarely sees it over the limit itself.
 */
const MARK_AT = 0.5;

/**
 * A publish to a topic met backpressure (-1) or dropped a subscriber (0):
 * the transport closes a subscriber over its backpressure limit itself, and
 * its close then looks like any abnormal close (1006). This marks the
 * subscribers over the limit now (ConnFlag.SLOW) so that their close is counted
 * as a backpressure close.
 */
export class BackpressureWatch {
  private scanAt = -Infinity;
  private calls = 0;

  constructor(
    private readonly conns: ReadonlySet<Conn>,
    private readonly limit: number,
  ) {}

  /**
   * Whether an abnormal close of `conn` was a backpressure close: marked SLOW
   * while it was open (Bun), or still holding more than the limit when it
   * closed (uWebSockets.js, whose publish cannot report backpressure).
   */
  closedSlow(conn: Conn): boolean {
    return (conn.data.flags & ConnFlag.SLOW) !== 0 || conn.getBufferedAmount() >= this.limit;
  }

  note(topic: string): void {
    // A saturated node meets backpressure on nearly every publish: the clock is read on one call in CALLS_PER_CHECK.
    if (this.calls++ % CALLS_PER_CHECK !== 0) return;
    const now = performance.now();
    if (now - this.scanAt < SCAN_EVERY_MS) return;
    this.scanAt = now;
    const limit = this.limit * MARK_AT;
    for (const conn of this.conns) {
      const d = conn.data;
      if (!(d.flags & ConnFlag.SLOW) && conn.isSubscribed(topic) && conn.getBufferedAmount() >= limit) d.flags |= ConnFlag.SLOW;
    }
  }
}
