/**
 * Work budget of JSON text, checked before JSON.parse. Parsing a deep value
 * is cheap, but everything after it (validation, JSON.stringify of `data`)
 * is slow and recursive on it: 50,000 levels cost about a second. Parsing
 * one object with very many distinct keys is itself superlinear (10,000
 * keys ~1 ms, 50,000 keys 40–300 ms).
 */

/** Deepest nesting of objects/arrays accepted in a frame or request body (the frame object itself is level 1). */
export const MAX_JSON_DEPTH = 64;
/** Most members of any one object. */
export const MAX_OBJECT_MEMBERS = 10_000;

export type JsonBudgetExcess = "depth" | "members";

const QUOTE = 34;
const BACKSLASH = 92;
const COLON = 58;
const OPEN_OBJECT = 123;
const OPEN_ARRAY = 91;
const CLOSE_OBJECT = 125;
const CLOSE_ARRAY = 93;

/** Members counted per open level (index = depth); only objects' entries grow. */
const members = new Int32Array(MAX_JSON_DEPTH + 2);

/**
 * Why `text` exceeds the budget (more than `maxDepth` nested levels, or an
 * object with more than MAX_OBJECT_MEMBERS members), or undefined. One pass
 * without allocating; string contents are skipped with indexOf, so long
 * strings cost native-scan time. Invalid JSON may give either answer:
 * JSON.parse still judges validity afterwards.
 */
export function jsonOverBudget(text: string, maxDepth = MAX_JSON_DEPTH): JsonBudgetExcess | undefined {
  const n = text.length;
  if (maxDepth > MAX_JSON_DEPTH) throw new RangeError(`maxDepth above ${MAX_JSON_DEPTH}`);
  // Every level needs its own bracket and every member a colon: a short text is within budget.
  if (n <= maxDepth) return undefined;
  let depth = 0;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      i = stringEnd(text, i);
      if (i < 0) return undefined;
    } else if (c === COLON) {
      if (depth > 0 && ++members[depth]! > MAX_OBJECT_MEMBERS) return "members";
    } else if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      if (++depth > maxDepth) return "depth";
      members[depth] = 0;
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      if (depth > 0) depth--;
    }
  }
  return undefined;
}

/** The refusal text for an excess, naming the limit. */
export function budgetMessage(excess: JsonBudgetExcess, what: string): string {
  return excess === "depth" ? `${what} nests deeper than ${MAX_JSON_DEPTH} levels` : `${what} has an object with more than ${MAX_OBJECT_MEMBERS} members`;
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
