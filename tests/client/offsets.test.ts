import { describe, expect, test } from "bun:test";
import { compareOffsets } from "../../src/client/offsets.ts";

describe("compareOffsets", () => {
  test("orders decimal offsets numerically, also beyond 2^53", () => {
    expect(compareOffsets("9", "10")).toBeLessThan(0);
    expect(compareOffsets("10", "9")).toBeGreaterThan(0);
    expect(compareOffsets("42", "42")).toBe(0);
    expect(compareOffsets("9007199254740993", "9007199254740992")).toBeGreaterThan(0);
    expect(compareOffsets("123456789012345678901234567890", "123456789012345678901234567891")).toBeLessThan(0);
  });

  test("ignores leading zeros", () => {
    expect(compareOffsets("007", "7")).toBe(0);
    expect(compareOffsets("0010", "9")).toBeGreaterThan(0);
    expect(compareOffsets("0", "000")).toBe(0);
  });

  test("falls back to string order for non-decimal offsets", () => {
    expect(compareOffsets("a", "b")).toBeLessThan(0);
    expect(compareOffsets("1700000000000-1", "1700000000000-0")).toBeGreaterThan(0);
  });
});
