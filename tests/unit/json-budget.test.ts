/**
 * The JSON depth guard in front of JSON.parse: exact at the 64-level
 * boundary whichever path answers (few brackets: counted; many: scanned),
 * blind to brackets inside strings, escaped quotes included.
 */
import { describe, expect, test } from "bun:test";
import { MAX_JSON_DEPTH, nestsDeeperThan } from "../../src/protocol/json-budget.ts";

const nest = (levels: number, inner = "1") => "[".repeat(levels) + inner + "]".repeat(levels);

describe("nestsDeeperThan", () => {
  test("64 levels pass and 65 are refused, padded or not", () => {
    expect(MAX_JSON_DEPTH).toBe(64);
    expect(nestsDeeperThan(nest(64))).toBe(false);
    expect(nestsDeeperThan(nest(65))).toBe(true);
    expect(nestsDeeperThan(`{"t":"pub","data":${nest(63)},"pad":"${"x".repeat(200)}"}`)).toBe(false);
    expect(nestsDeeperThan(`{"t":"pub","data":${nest(64)},"pad":"${"x".repeat(200)}"}`)).toBe(true);
  });

  test("many brackets side by side are shallow; brackets inside strings do not nest", () => {
    const siblings = `{"rows":[${Array.from({ length: 500 }, (_, i) => `{"i":${i},"v":[1,2]}`).join(",")}]}`;
    expect(nestsDeeperThan(siblings)).toBe(false);
    expect(nestsDeeperThan(`{"text":"${"[".repeat(500)}"}`)).toBe(false);
    expect(nestsDeeperThan(`{"text":"a \\" ${"{".repeat(100)} \\" b"}`)).toBe(false);
    // The same brackets outside the string are too deep.
    expect(nestsDeeperThan(`{"text":"a \\" b",${"[".repeat(100)}`)).toBe(true);
  });

  test("an ordinary chat frame is not too deep", () => {
    expect(nestsDeeperThan('{"t":"pub","id":12,"ch":"room:ward","ev":"m","data":{"s":7,"q":3,"text":"where is the bathroom?"}}')).toBe(false);
  });
});
