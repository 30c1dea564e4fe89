import type { TestClient } from "./ws-client.ts";

/**
 * Round trips of an innocent client while something else runs: sends one
 * `presence` request at a time on `ch` until `during` settles (and at least
 * `min` times), and returns every round trip in ms. What a user on the same
 * node feels during an attack.
 */
export async function probeRoundTrips(client: TestClient, ch: string, during: Promise<unknown>, min = 30): Promise<number[]> {
  let done = false;
  during.then(
    () => (done = true),
    () => (done = true),
  );
  const rtts: number[] = [];
  while (!done || rtts.length < min) {
    const t0 = performance.now();
    const answer = await client.request({ t: "presence", ch }, 60_000);
    if (answer.t !== "ok") throw new Error(`probe request failed: ${JSON.stringify(answer)}`);
    rtts.push(performance.now() - t0);
  }
  return rtts;
}

/** The `q` quantile (0–1) of `values`, nearest rank. */
export function percentile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))]!;
}
