/**
 * Wall-clock milliseconds with sub-millisecond resolution that agree across
 * processes on one machine (performance.timeOrigin is taken from the system
 * clock at process start; Bun's process.hrtime is per-process, so it cannot
 * be compared between the publisher and the subscribers).
 */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, Math.max(0, ms)));
}

export async function sleepUntil(atMs: number): Promise<void> {
  await sleep(atMs - nowMs());
  // Timers round to whole milliseconds and may fire up to one early: a publication stamped with
  // its scheduled time and sent before it would show a negative latency. Wait out the rest.
  while (nowMs() < atMs) {
    // at most about a millisecond
  }
}
