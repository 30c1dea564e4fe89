/**
 * Nesting budget of JSON text, checked before JSON.parse: parsing a deep
 * value is cheap, but everything after it (validation, JSON.stringify of
 * `data`) is slow and recursive on it — 50,000 levels cost about a second.
 */

/** Deepest nesting of objects/arrays accepted in a frame or request body (the frame object itself is level 1). */
export const MAX_JSON_DEPTH = 64;

const QUOTE = 34;
const BACKSLASH = 92;

/**
 * True when `text` opens more than `maxDepth` nested objects/arrays. One pass
 * over the text without allocating; string contents are skipped with
 * indexOf, so long strings cost native-scan time. Invalid JSON may give
 * either answer: JSON.parse still judges validity afterwards.
 */
export function nestsDeeperThan(text: string, maxDepth = MAX_JSON_DEPTH): boolean {
  const n = text.length;
  // Every level needs its own bracket: a short text cannot be too deep.
  if (n <= maxDepth) return false;
  // Nor can one with at most maxDepth opening brackets anywhere (inside strings or not): counted
  // with native indexOf, this settles ordinary frames without the per-character scan below.
  if (openingBrackets(text, maxDepth + 1) <= maxDepth) return false;
  let depth = 0;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      i = stringEnd(text, i);
      if (i < 0) return false;
    } else if (c === 123 || c === 91) {
      if (++depth > maxDepth) return true;
    } else if (c === 125 || c === 93) depth--;
  }
  return false;
}

/** How many `{` and `[` the text holds, counting no further than `limit`. */
function openingBrackets(text: string, limit: number): number {
  let count = 0;
  for (let i = text.indexOf("{"); i >= 0 && count < limit; i = text.indexOf("{", i + 1)) count++;
  for (let i = text.indexOf("["); i >= 0 && count < limit; i = text.indexOf("[", i + 1)) count++;
  return count;
}

/** Index of the quote closing the string that opens at `open`, or -1 when it never closes. */
function stringEnd(text: string, open: number): number {
  let j = open;
  for (;;) {
    j = text.indexOf('"', j + 1);
    if (j < 0) return -1;
    let slashes = 0;
    for (let k = j - 1; text.charCodeAt(k) === BACKSLASH; k--) slashes++;
    if ((slashes & 1) === 0) return j;
  }
}
