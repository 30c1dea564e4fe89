/**
 * bun:test's describe/test for suites that also run on Node
 * (tests/helpers/on-node.ts): the same calls, with every registered case's
 * full name ("outer > inner > case") recorded, so that the Node run can be
 * checked case by case against what Bun registered. In the Node bundle
 * "bun:test" is tests/helpers/bun-test-on-node.ts.
 */
import * as bun from "bun:test";

export { afterAll, afterEach, beforeAll, beforeEach, expect, setDefaultTimeout } from "bun:test";

export const NAME_SEPARATOR = " > ";

const registered: string[] = [];
let path: readonly string[] = [];

/** The path is taken when describe is called: Bun runs describe bodies later, in order. */
export function describe(name: string, body: () => void): void {
  const inner = [...path, name];
  bun.describe(name, () => {
    const outer = path;
    path = inner;
    try {
      body();
    } finally {
      path = outer;
    }
  });
}

export function test(name: string, fn: () => unknown, timeoutMs?: number): void {
  registered.push([...path, name].join(NAME_SEPARATOR));
  bun.test(name, fn as () => Promise<void>, timeoutMs);
}

/** The full names of the cases registered so far under the top-level describe `suite`. */
export function casesUnder(suite: string): string[] {
  return registered.filter((n) => n.startsWith(suite + NAME_SEPARATOR));
}
