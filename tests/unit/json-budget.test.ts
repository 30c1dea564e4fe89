import { expect, test } from "bun:test";
import { jsonOverBudget, MAX_JSON_DEPTH, MAX_OBJECT_MEMBERS } from "../../src/protocol/json-budget.ts";

const nest = (n: number, open = "[", close = "]") => open.repeat(n) + "0" + close.repeat(n);
const wide = (n: number) => "{" + Array.from({ length: n }, (_, i) => `"k${i}":${i}`).join(",") + "}";

test("depth: 64 levels pass, 65 do not, for arrays, objects and mixes", () => {
  expect(jsonOverBudget(nest(MAX_JSON_DEPTH))).toBeUndefined();
  expect(jsonOverBudget(nest(MAX_JSON_DEPTH + 1))).toBe("depth");
  expect(jsonOverBudget(nest(MAX_JSON_DEPTH, '{"a":', "}"))).toBeUndefined();
  expect(jsonOverBudget(nest(MAX_JSON_DEPTH + 1, '{"a":', "}"))).toBe("depth");
  expect(jsonOverBudget(nest(40, '[{"a":', "}]"))).toBe("depth");
  // Siblings do not add up: depth is nesting, not bracket count.
  expect(jsonOverBudget("[" + Array(1000).fill(nest(60)).join(",") + "]")).toBeUndefined();
});

test("brackets and colons inside strings, escaped quotes included, do not count", () => {
  expect(jsonOverBudget(JSON.stringify({ s: "[".repeat(10_000) + ":".repeat(20_000) }))).toBeUndefined();
  expect(jsonOverBudget(JSON.stringify({ s: 'a\\"[[[[' + "\\".repeat(7) + '"' + "[".repeat(100) }))).toBeUndefined();
  // An escaped backslash before the closing quote ends the string; what follows is structure again.
  expect(jsonOverBudget('["\\\\",' + nest(MAX_JSON_DEPTH) + "]")).toBe("depth");
});

test("members: 10,000 in one object pass, 10,001 do not; arrays and separate objects are not summed", () => {
  expect(jsonOverBudget(wide(MAX_OBJECT_MEMBERS))).toBeUndefined();
  expect(jsonOverBudget(wide(MAX_OBJECT_MEMBERS + 1))).toBe("members");
  expect(jsonOverBudget(`{"t":"pub","data":${wide(MAX_OBJECT_MEMBERS + 1)}}`)).toBe("members");
  expect(jsonOverBudget("[" + Array(30).fill(wide(1000)).join(",") + "]")).toBeUndefined();
  expect(jsonOverBudget("[" + Array.from({ length: 100_000 }, (_, i) => i).join(",") + "]")).toBeUndefined();
  // After a nested object closes, its parent's count continues where it was.
  expect(jsonOverBudget(`{"a":${wide(9_999)},` + Array.from({ length: 9_999 }, (_, i) => `"b${i}":1`).join(",") + "}")).toBeUndefined();
});

test("frames of every day are within budget", () => {
  expect(jsonOverBudget('{"t":"pub","id":1,"ch":"room:1","ev":"chat","data":{"text":"hello [world]: {ok}"}}')).toBeUndefined();
  expect(jsonOverBudget("not json at all {{{{")).toBeUndefined();
});
