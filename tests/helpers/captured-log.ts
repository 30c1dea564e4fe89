import { createLogger, type Logger, type LogLevel } from "../../src/observability/logger.ts";

/**
 * A logger for engines run inside the test process. Lines are kept, not
 * printed: a test that provokes errors on purpose (Redis frozen or killed)
 * keeps them in its own log, shown only when that test fails (`wrap`). Lines
 * logged outside any wrapped test (and its aftermath) are printed by `flush`
 * (e.g. in afterAll), so an unexpected error is never hidden.
 */
export function capturedLogger(level: LogLevel): { logger: Logger; lines: string[]; wrap(fn: () => Promise<void>): () => Promise<void>; flush(): void } {
  const lines: string[] = [];
  const logger = createLogger(level, {}, (line) => void lines.push(line));
  /** Set once a wrapped test passed: what is logged after it (engines stopping) is still its own. */
  let claimed = false;
  const flush = () => {
    if (claimed) lines.length = 0;
    if (lines.length > 0) process.stderr.write(lines.splice(0).join(""));
  };
  return {
    logger,
    lines,
    wrap: (fn) => async () => {
      flush();
      claimed = false;
      try {
        await fn();
      } catch (err) {
        process.stderr.write("--- engine log of the failed test ---\n");
        flush();
        throw err;
      }
      lines.length = 0;
      claimed = true;
    },
    flush,
  };
}
