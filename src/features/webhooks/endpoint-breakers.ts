import type { ComponentReport } from "../../observability/health.ts";
import type { Cell, Metrics } from "../../observability/metrics.ts";
import { CircuitBreaker, type BreakerState } from "./circuit-breaker.ts";

const STATE_VALUE: Record<BreakerState, number> = { closed: 0, "half-open": 1, open: 2 };
const MAX_ENDPOINTS = 1000;

/**
 * A circuit breaker per external endpoint (scheme + host + port of the URL),
 * on this node: the external APIs the node calls, their state and failures
 * for /health (`externalAPIs`) and /metrics.
 */
export class EndpointBreakers {
  private readonly breakers = new Map<string, { breaker: CircuitBreaker; state: Cell; failures: Cell }>();

  constructor(
    private readonly threshold: number,
    private readonly cooldownMs: number,
    private readonly now: () => number,
    private readonly metrics: Metrics,
  ) {}

  static endpointOf(url: string): string {
    return new URL(url).origin;
  }

  for(url: string): CircuitBreaker {
    const endpoint = EndpointBreakers.endpointOf(url);
    let e = this.breakers.get(endpoint);
    if (!e) {
      // Bounded: a closed breaker of a forgotten endpoint holds nothing worth keeping.
      if (this.breakers.size >= MAX_ENDPOINTS) for (const [k, v] of this.breakers) if (v.breaker.state === "closed") this.breakers.delete(k);
      const state = this.metrics.externalApiState.cell({ endpoint });
      const failures = this.metrics.externalApiFailures.cell({ endpoint });
      const breaker = new CircuitBreaker(this.threshold, this.cooldownMs, this.now, (s) => (state.value = STATE_VALUE[s]));
      this.breakers.set(endpoint, (e = { breaker, state, failures }));
    }
    return e.breaker;
  }

  /** Counts a failure in the metrics too. */
  failed(url: string): void {
    const endpoint = EndpointBreakers.endpointOf(url);
    this.for(url).failure();
    this.breakers.get(endpoint)!.failures.value++;
  }

  readonly report: ComponentReport = () => {
    const endpoints = [...this.breakers].map(([endpoint, { breaker: b }]) => ({
      endpoint,
      state: b.state,
      consecutiveFailures: b.consecutiveFailures,
      failures: b.totalFailures,
      ...(b.openedAtMs !== null ? { openedAt: new Date(b.openedAtMs).toISOString(), retryInMs: b.retryInMs() } : {}),
    }));
    return { status: endpoints.some((e) => e.state !== "closed") ? "degraded" : "ok", endpoints };
  };
}
