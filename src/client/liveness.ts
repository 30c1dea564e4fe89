/**
 * Notices a dead connection from the client side. A half-open TCP connection
 * (a frozen or unplugged server) raises no close event for minutes, and
 * browsers do not expose WebSocket pings, so the client watches for frames:
 * after `intervalMs` (the server's `hello.ping`) without any it sends a
 * `ping`, and after twice that it declares the connection dead. Checked every
 * quarter interval, so `dead` runs at most 2.25 × intervalMs after the last frame.
 */
export class Liveness {
  private lastFrameAt = Date.now();
  private probedAt = 0;
  private readonly timer: ReturnType<typeof setInterval>;

  constructor(
    private readonly intervalMs: number,
    private readonly probe: () => void,
    private readonly dead: (silentMs: number) => void,
  ) {
    this.timer = setInterval(() => this.check(), Math.max(1, intervalMs / 4));
    // Never keep a Node/Bun process alive just to watch a connection.
    (this.timer as { unref?: () => void }).unref?.();
  }

  heard(): void {
    this.lastFrameAt = Date.now();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private check(): void {
    const now = Date.now();
    const silent = now - this.lastFrameAt;
    if (silent >= 2 * this.intervalMs) {
      this.stop();
      this.dead(silent);
    } else if (silent >= this.intervalMs && this.probedAt < this.lastFrameAt) {
      this.probedAt = now;
      this.probe();
    }
  }
}
