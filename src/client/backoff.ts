/**
 * Reconnect delay for the `attempt`-th consecutive failure (0-based):
 * exponential growth with full jitter above a floor, i.e. uniformly random in
 * [minMs, min(maxMs, minMs * 2^(attempt+1))]. The jitter spreads a crowd of
 * clients that lost the same node; the floor keeps `minMs` an honest minimum.
 */
export function backoffDelayMs(attempt: number, minMs: number, maxMs: number, random: () => number = Math.random): number {
  const cap = Math.min(maxMs, minMs * 2 ** Math.min(attempt + 1, 30));
  if (cap <= minMs) return minMs;
  return Math.round(minMs + random() * (cap - minMs));
}
