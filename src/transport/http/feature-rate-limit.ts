import type { MiddlewareHandler } from "hono";
import { TokenBucket, type BucketState } from "../../hub/token-bucket.ts";
import type { Clock } from "../../hub/ports.ts";
import { SwitchboardError } from "../../protocol/errors.ts";

/** Buckets kept at most; past this the map starts over (every caller gets a full bucket again, never less). */
const MAX_BUCKETS = 10_000;

export interface FeatureRateLimitOptions {
  /** Requests per second per caller (token bucket refill); 0 disables. */
  perSec: number;
  /** Bucket size per caller. */
  burst: number;
  clock?: Clock;
}

/**
 * A token bucket per caller for the feature routes under /v1 (conversations,
 * notifications, status, calls, jobs, webhooks, reports): the API key's
 * index when the request carries one, else the client address. A caller over
 * its budget gets 429 RATE_LIMIT_EXCEEDED with Retry-After (seconds) and
 * `retryAfter` (ms) in the error body. Registered once per route path, so a
 * request is charged once even where two route patterns match it.
 */
export function featureRateLimit(opts: FeatureRateLimitOptions): MiddlewareHandler<{ Variables: { apiKey: number; ip: string | undefined; rateCharged: boolean } }> {
  const bucket = new TokenBucket(opts.perSec, opts.burst, opts.clock ?? { now: () => Date.now() });
  const buckets = new Map<string, BucketState>();
  return async (c, next) => {
    if (!bucket.enabled || c.get("rateCharged")) return next();
    c.set("rateCharged", true);
    const apiKey = c.get("apiKey");
    const who = apiKey !== undefined ? "k" + apiKey : "ip" + (c.get("ip") ?? "");
    let state = buckets.get(who);
    if (!state) {
      if (buckets.size >= MAX_BUCKETS) buckets.clear();
      state = { tokens: 0, refillAt: 0 };
      bucket.init(state);
      buckets.set(who, state);
    }
    const waitMs = bucket.take(state);
    if (waitMs > 0) throw new SwitchboardError("RATE_LIMIT_EXCEEDED", `more than ${opts.perSec} requests a second to the feature routes; retry later`, { retryAfter: waitMs });
    return next();
  };
}
