import { describe, expect, test } from "bun:test";
import { backoffDelayMs } from "../../src/client/backoff.ts";

describe("backoffDelayMs", () => {
  test("grows exponentially: the window doubles per attempt above the floor", () => {
    const top = () => 1; // the largest jitter
    expect([0, 1, 2, 3, 4].map((a) => backoffDelayMs(a, 100, 100_000, top))).toEqual([200, 400, 800, 1600, 3200]);
  });

  test("never goes below the minimum nor above the maximum", () => {
    expect(backoffDelayMs(0, 100, 10_000, () => 0)).toBe(100);
    expect(backoffDelayMs(50, 100, 10_000, () => 0)).toBe(100);
    expect(backoffDelayMs(50, 100, 10_000, () => 1)).toBe(10_000);
    expect(backoffDelayMs(10_000, 100, 10_000, () => 0.999)).toBeLessThanOrEqual(10_000);
  });

  test("jitter spreads delays over the whole window", () => {
    const delays = Array.from({ length: 2000 }, () => backoffDelayMs(5, 100, 60_000));
    const min = Math.min(...delays);
    const max = Math.max(...delays);
    expect(min).toBeGreaterThanOrEqual(100);
    expect(max).toBeLessThanOrEqual(6400);
    // Uniform over [100, 6400]: both ends of the window are reached.
    expect(min).toBeLessThan(1000);
    expect(max).toBeGreaterThan(5500);
  });

  test("min equal to max gives a constant delay", () => {
    expect(backoffDelayMs(3, 250, 250)).toBe(250);
  });
});
