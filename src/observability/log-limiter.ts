/**
 * Rate limit of repeated log lines: during an outage the same warning can
 * fire for every request (tens of thousands a second), which buries the
 * one line that matters and costs the event loop. Per message text, the
 * first `perWindow` lines of a window are written; the rest are counted and
 * reported once, as a "suppressed N similar" line, when the window ends.
 */
export class LogLimiter {
  private readonly windows = new Map<string, { startedAt: number; written: number; suppressed: number }>();

  constructor(
    private readonly perWindow: number,
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Whether a line with this key may be written now. */
  admit(key: string): boolean {
    const now = this.now();
    let w = this.windows.get(key);
    if (!w || now - w.startedAt >= this.windowMs) {
      if (w && w.suppressed > 0) this.report(key, w.suppressed);
      w = { startedAt: now, written: 0, suppressed: 0 };
      this.windows.set(key, w);
    }
    if (w.written < this.perWindow) {
      w.written++;
      return true;
    }
    w.suppressed++;
    return false;
  }

  /** Reports the windows that ended (called on a timer, so a burst that stopped is still summed up). */
  flush(): void {
    const now = this.now();
    for (const [key, w] of this.windows) {
      if (now - w.startedAt < this.windowMs) continue;
      this.windows.delete(key);
      if (w.suppressed > 0) this.report(key, w.suppressed);
    }
  }

  /** Set by the logger: writes the summary line of `key`. */
  report: (key: string, suppressed: number) => void = () => {};
}
