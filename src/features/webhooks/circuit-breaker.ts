export type BreakerState = "closed" | "open" | "half-open";

/**
 * One endpoint's circuit breaker: `threshold` failures in a row open it;
 * while open, calls fail at once; after `cooldownMs` one trial call is let
 * through (half-open): its success closes the breaker, its failure opens it
 * again for another cooldown.
 */
export class CircuitBreaker {
  state: BreakerState = "closed";
  consecutiveFailures = 0;
  totalFailures = 0;
  openedAtMs: number | null = null;
  private trialInFlight = false;

  constructor(
    private readonly threshold: number,
    private readonly cooldownMs: number,
    private readonly now: () => number,
    private readonly changed: (state: BreakerState) => void = () => {},
  ) {}

  /** Whether a call may go out now (moves an open breaker whose cooldown passed to half-open). */
  allow(): boolean {
    if (this.state === "closed") return true;
    if (this.state === "open") {
      if (this.now() - this.openedAtMs! < this.cooldownMs) return false;
      this.set("half-open");
    }
    if (this.trialInFlight) return false;
    this.trialInFlight = true;
    return true;
  }

  success(): void {
    this.trialInFlight = false;
    this.consecutiveFailures = 0;
    if (this.state !== "closed") {
      this.openedAtMs = null;
      this.set("closed");
    }
  }

  failure(): void {
    this.trialInFlight = false;
    this.consecutiveFailures++;
    this.totalFailures++;
    if (this.state === "half-open" || (this.state === "closed" && this.consecutiveFailures >= this.threshold)) {
      this.openedAtMs = this.now();
      this.set("open");
    }
  }

  /** Milliseconds until an open breaker lets a trial through. */
  retryInMs(): number {
    return this.state === "open" ? Math.max(0, this.cooldownMs - (this.now() - this.openedAtMs!)) : 0;
  }

  private set(s: BreakerState): void {
    this.state = s;
    this.changed(s);
  }
}
