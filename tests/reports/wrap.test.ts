import { expect, test } from "bun:test";
import { measure } from "../../src/reports/layout/text-runs.ts";
import { wrap } from "../../src/reports/layout/wrap.ts";

const WIDTH = 200;
const SIZE = 9;
const fits = (line: string) => measure(line, "regular") * SIZE <= WIDTH + 1e-9;

test("an unbroken 100 KB base64 string is cut into lines that each fit, losing nothing", () => {
  const blob = Buffer.from(crypto.getRandomValues(new Uint8Array(75_000))).toString("base64");
  const lines = wrap(blob, WIDTH, SIZE, "regular");
  expect(lines.join("")).toBe(blob);
  expect(lines.every(fits)).toBe(true);
  // Lines are filled: the next line's first character would not have fitted.
  expect(lines.slice(0, -1).every((l, n) => measure(l + lines[n + 1]![0], "regular") * SIZE > WIDTH)).toBe(true);
});

test("text breaks at spaces, long words are split, newlines end lines, ideographs break anywhere", () => {
  const text = "Albuterol 2 puffs before PE and as needed for wheeze; supercalifragilisticexpialidocious".repeat(3) + "\nnext paragraph";
  const lines = wrap(text, WIDTH, SIZE, "regular");
  expect(lines.every(fits)).toBe(true);
  expect(lines.join(" ").replace(/\s+/g, "")).toBe(text.replace(/\s+/g, ""));
  expect(lines[lines.length - 1]).toBe("next paragraph");
  expect(lines[0]!.endsWith(" ")).toBe(false);
  const cjk = "王小明在操场上摔倒了左手腕肿胀需要冰敷并通知家长".repeat(4);
  const cjkLines = wrap(cjk, 100, SIZE, "regular");
  expect(cjkLines.length).toBeGreaterThan(2);
  expect(cjkLines.join("")).toBe(cjk);
  expect(cjkLines.every((l) => measure(l, "regular") * SIZE <= 100 + 1e-9)).toBe(true);
});
