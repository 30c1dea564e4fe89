import type { Clock } from "./ports.ts";

export interface BucketState {
  tokens: number;
  refillAt: number;
}

/**
 * A token bucket whose state lives in the caller's object (ws.data), so that
 * connections carry two numbers instead of a bucket instance.
 */
export class TokenBucket {
  constructor(
    readonly ratePerSec: number,
    readonly burst: number,
    private readonly clock: Clock,
  ) {}

  get enabled(): boolean {
    return this.ratePerSec > 0;
  }

  init(state: BucketState): void {
    state.tokens = this.burst;
    state.refillAt = this.clock.now();
  }

  /** Takes one token; returns 0 when allowed, else the ms until one is available. */
  take(state: BucketState): number {
    if (this.ratePerSec <= 0) return 0;
    const now = this.clock.now();
    const elapsed = now - state.refillAt;
    if (elapsed > 0) {
      state.tokens = Math.min(this.burst, state.tokens + (elapsed * this.ratePerSec) / 1000);
      state.refillAt = now;
    }
    if (state.tokens >= 1) {
      state.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil(((1 - state.tokens) * 1000) / this.ratePerSec));
  }
}
