/** Measures event-loop lag as the lateness of a repeating timer; the last value and the max since reset. */
export class LoopLagMonitor {
  lastMs = 0;
  maxMs = 0;
  private timer: Timer | undefined;

  constructor(private readonly intervalMs = 500, private readonly onSample?: (lagMs: number) => void) {}

  start(): void {
    let expected = performance.now() + this.intervalMs;
    this.timer = setInterval(() => {
      const now = performance.now();
      this.lastMs = Math.max(0, now - expected);
      if (this.lastMs > this.maxMs) this.maxMs = this.lastMs;
      expected = now + this.intervalMs;
      this.onSample?.(this.lastMs);
    }, this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
