/**
 * Channel offsets are decimal integer strings that grow per channel. They can
 * exceed 2^53, so they are compared as digit strings (length, then
 * lexicographically) instead of as numbers. Non-decimal offsets fall back to
 * plain string order.
 */
const DECIMAL = /^\d+$/;

/** Negative when `a` is older than `b`, zero when equal, positive when newer. */
export function compareOffsets(a: string, b: string): number {
  if (DECIMAL.test(a) && DECIMAL.test(b)) {
    const x = stripZeros(a);
    const y = stripZeros(b);
    if (x.length !== y.length) return x.length - y.length;
    return x < y ? -1 : x > y ? 1 : 0;
  }
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The newer of two offsets; `undefined` counts as older than any offset. */
export function newerOffset(a: string | undefined, b: string | undefined): string | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return compareOffsets(a, b) >= 0 ? a : b;
}

function stripZeros(s: string): string {
  let i = 0;
  while (i < s.length - 1 && s[i] === "0") i++;
  return s.slice(i);
}
