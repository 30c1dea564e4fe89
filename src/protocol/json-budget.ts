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

const BACKSLASH = 92;
/** What each ASCII character is to the scan: 0 nothing, then the kinds below (one table load per character). */
const KIND = new Uint8Array(128);
const STRING = 1;
const MEMBER = 2;
const OPEN = 3;
const CLOSE = 4;
KIND[34] = STRING;
KIND[58] = MEMBER;
KIND[123] = OPEN;
KIND[91] = OPEN;
KIND[125] = CLOSE;
KIND[93] = CLOSE;

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
  // Every level needs its own bracket and every member at least four characters (`"":0`): a text
  // too short for MAX_OBJECT_MEMBERS with few brackets anywhere (strings included) is within
  // budget. Counting brackets is a couple of native indexOf scans; most frames stop here.
  if (n <= maxDepth) return undefined;
  if (n < MAX_OBJECT_MEMBERS * 4 && occurrencesAtMost(text, "{", "[", maxDepth)) return undefined;
  let depth = 0;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c >= 128) continue;
    const kind = KIND[c]!;
    if (kind === 0) continue;
    if (kind === STRING) {
      i = stringEnd(text, i);
      if (i < 0) return undefined;
    } else if (kind === MEMBER) {
      if (depth > 0 && ++members[depth]! > MAX_OBJECT_MEMBERS) return "members";
    } else if (kind === OPEN) {
      if (++depth > maxDepth) return "depth";
      members[depth] = 0;
    } else if (depth > 0) depth--;
  }
  return undefined;
}

/** The refusal text for an excess, naming the limit. */
export function budgetMessage(excess: JsonBudgetExcess, what: string): string {
  return excess === "depth" ? `${what} nests deeper than ${MAX_JSON_DEPTH} levels` : `${what} has an object with more than ${MAX_OBJECT_MEMBERS} members`;
}

/** Whether `a` and `b` occur at most `limit` times in `text` together. */
function occurrencesAtMost(text: string, a: string, b: string, limit: number): boolean {
  let count = 0;
  for (let i = text.indexOf(a); i >= 0; i = text.indexOf(a, i + 1)) if (++count > limit) return false;
  for (let i = text.indexOf(b); i >= 0; i = text.indexOf(b, i + 1)) if (++count > limit) return false;
  return true;
}

/** Index of the quote closing the string that opens at `open`, or -1 when it never closes. */
function stringEnd(text: string, open: number): number {
  let j = open;
  for (;;) {
    j = text.indexOf('"', j + 1);
    if (j < 0) return -1;
    if (text.charCodeAt(j - 1) !== BACKSLASH) return j;
    let slashes = 0;
    for (let k = j - 1; text.charCodeAt(k) === BACKSLASH; k--) slashes++;
    if ((slashes & 1) === 0) return j;
  }
}
