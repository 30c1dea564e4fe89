import { expect, test } from "bun:test";
import { coalesce } from "../../src/store/sql/write-queue.ts";

test("one-row INSERTs of the same shape become one multi-row INSERT; superseded raise-to updates are dropped; the rest keeps its order", () => {
  const ins = (n: number) => ({ sql: "x", params: [n, `v${n}`], merge: "INSERT INTO t (a, b)", mergeTail: "ON CONFLICT DO NOTHING" });
  const bump = (n: number) => ({ sql: "UPDATE c SET at = ? WHERE at < ?", params: [n, n], last: "c1" });
  const other = { sql: "DELETE FROM d WHERE k = ?", params: ["k"] };
  const out = coalesce([{ statements: [ins(1), bump(1)] }, { statements: [other, ins(2), bump(2)] }, { statements: [ins(3)] }]);
  expect(out).toEqual([
    { sql: "INSERT INTO t (a, b) VALUES (?, ?), (?, ?), (?, ?) ON CONFLICT DO NOTHING", params: [1, "v1", 2, "v2", 3, "v3"] },
    bump(2),
    other,
  ]);
});

test("a merged INSERT holds at most 400 rows; the next rows start another, each with its tail", () => {
  const rows = Array.from({ length: 401 }, (_, i) => ({ sql: "x", params: [i], merge: "INSERT INTO t (a)", mergeTail: "ON CONFLICT DO NOTHING" }));
  const out = coalesce([{ statements: rows }]);
  expect(out.length).toBe(2);
  expect(out[0]!.params.length).toBe(400);
  expect(out[0]!.sql.endsWith("(?) ON CONFLICT DO NOTHING")).toBe(true);
  expect(out[1]).toEqual({ sql: "INSERT INTO t (a) VALUES (?) ON CONFLICT DO NOTHING", params: [400] });
});
