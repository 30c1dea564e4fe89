/** Delay before retry number `attempt` (1 = the first retry): doubling from `baseMs`, ±25 % jitter so failed jobs do not retry in step, at most an hour. */
export function retryDelayMs(baseMs: number, attempt: number, random: () => number = Math.random): number {
  const exp = baseMs * 2 ** Math.min(30, Math.max(0, attempt - 1));
  return Math.round(Math.min(3_600_000, exp) * (0.75 + random() * 0.5));
}
