import { expect, test } from "bun:test";
import { TokenBucket } from "../../src/hub/token-bucket.ts";

function fakeClock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

test("a burst is allowed, then refill follows the rate, with retry-after in ms", () => {
  const clock = fakeClock();
  const bucket = new TokenBucket(10, 5, clock);
  const st = { tokens: 0, refillAt: 0 };
  bucket.init(st);
  for (let i = 0; i < 5; i++) expect(bucket.take(st)).toBe(0);
  expect(bucket.take(st)).toBe(100);
  clock.advance(50);
  expect(bucket.take(st)).toBe(50);
  clock.advance(50);
  expect(bucket.take(st)).toBe(0);
  clock.advance(10_000);
  for (let i = 0; i < 5; i++) expect(bucket.take(st)).toBe(0);
  expect(bucket.take(st)).toBeGreaterThan(0);
});

test("rate 0 disables the limit", () => {
  const bucket = new TokenBucket(0, 1, fakeClock());
  const st = { tokens: 0, refillAt: 0 };
  for (let i = 0; i < 1000; i++) expect(bucket.take(st)).toBe(0);
});
