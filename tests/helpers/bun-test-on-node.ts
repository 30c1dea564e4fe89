/**
 * The part of bun:test the shared suites use, on Node: node:test runs the
 * cases (sequentially, hooks of enclosing describes included, as bun:test
 * does) and Jest's `expect` checks them. Each node:test case is named by its
 * full path ("outer > inner > case", as tests/helpers/suite.ts records it on
 * Bun), so the reporter (node-suite-reporter.ts) can answer per case.
 * Bundled in place of "bun:test" by tests/helpers/on-node.ts; not a test
 * framework of its own.
 */
// What src/main.ts gives the server on Node before anything else (Promise.withResolvers on Node 20).
import "../../src/runtime/polyfills.ts";
import { expect } from "expect";
import * as node from "node:test";

export { expect };

const SEPARATOR = " > ";
let defaultTimeoutMs = 5000;
let path: readonly string[] = [];

export function setDefaultTimeout(ms: number): void {
  defaultTimeoutMs = ms;
}

type Fn = () => unknown;
const run = (fn: Fn) => async () => {
  await fn();
};

export function describe(name: string, body: () => void): void {
  const inner = [...path, name];
  node.describe(name, () => {
    const outer = path;
    path = inner;
    try {
      body();
    } finally {
      path = outer;
    }
  });
}

export function test(name: string, fn: Fn, timeout?: number | { timeout?: number }): void {
  const ms = typeof timeout === "number" ? timeout : (timeout?.timeout ?? defaultTimeoutMs);
  node.it([...path, name].join(SEPARATOR), { timeout: ms }, run(fn));
}
export const it = test;

export const beforeAll = (fn: Fn, ms?: number) => node.before(run(fn), { timeout: ms ?? defaultTimeoutMs });
export const afterAll = (fn: Fn, ms?: number) => node.after(run(fn), { timeout: ms ?? defaultTimeoutMs });
export const beforeEach = (fn: Fn, ms?: number) => node.beforeEach(run(fn), { timeout: ms ?? defaultTimeoutMs });
export const afterEach = (fn: Fn, ms?: number) => node.afterEach(run(fn), { timeout: ms ?? defaultTimeoutMs });
