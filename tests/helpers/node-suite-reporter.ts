/**
 * A node:test reporter (`node --test-reporter=<this bundle>`): one JSON line
 * per finished case, `{"name", "ok", "error"?}`; suites are left out.
 * Read by tests/helpers/on-node.ts.
 */
interface TestEvent {
  type: string;
  data: { name: string; details?: { type?: string; error?: { message?: string; cause?: unknown } } };
}

function describeError(err: { message?: string; cause?: unknown } | undefined): string {
  // node:test wraps the case's own error in `cause`.
  const cause = err?.cause as { message?: string; stack?: string } | undefined;
  return String(cause?.stack ?? cause?.message ?? err?.message ?? "failed").slice(0, 4000);
}

export default async function* reporter(source: AsyncIterable<TestEvent>): AsyncGenerator<string> {
  for await (const ev of source) {
    if ((ev.type !== "test:pass" && ev.type !== "test:fail") || ev.data.details?.type === "suite") continue;
    const ok = ev.type === "test:pass";
    yield JSON.stringify(ok ? { name: ev.data.name, ok } : { name: ev.data.name, ok, error: describeError(ev.data.details?.error) }) + "\n";
  }
}
