import { appendFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger, type Logger } from "../../src/observability/logger.ts";

/**
 * A logger for an in-process engine under test. Outage tests make it log
 * errors on purpose, so its lines go to the test's own log file,
 * $TMPDIR/switchboard-<name>-<pid>.log, not into `npm test` output;
 * TEST_LOG_LEVEL=warn prints them to stderr instead.
 */
export function testLogger(name: string): Logger {
  if (process.env.TEST_LOG_LEVEL === "warn") return createLogger("warn", {}, (line) => process.stderr.write(line));
  const file = join(tmpdir(), `switchboard-${name}-${process.pid}.log`);
  return createLogger("error", {}, (line) => appendFileSync(file, line));
}
