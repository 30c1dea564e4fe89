/** A start-up failure: one line on stderr saying what to do, and exit 1 (no stack: the operator's problem, not a bug). */
export function fatal(message: string): never {
  process.stderr.write(`switchboard: ${message}\n`);
  process.exit(1);
}
