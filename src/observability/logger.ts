import { LogLimiter } from "./log-limiter.ts";

/** Structured JSON-lines logger. Never pass payloads or tokens as fields. */
export type LogLevel = "debug" | "info" | "warn" | "error";
const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** Audit trail line (written at info level, tagged `audit: true`). */
  audit(event: string, fields: LogFields): void;
  /** True when audit lines are written; hot paths check it before building fields. */
  readonly auditing: boolean;
  child(fields: LogFields): Logger;
}

const TOKEN_IN_URL = /([?&]access_token=)[^&\s"]+/g;

/** Removes anything that looks like a token from a string that may hold a URL. */
export function redact(text: string): string {
  return text.replace(TOKEN_IN_URL, "$1[redacted]");
}

function errorFields(err: unknown): LogFields {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return { err: redact(err.message), ...(code !== undefined ? { errCode: code } : {}) };
  }
  return { err: redact(String(err)) };
}

/** Warnings and errors with the same message: at most this many per window, then one summary line. */
const REPEATS_PER_WINDOW = 10;
const REPEAT_WINDOW_MS = 5000;

/** One limiter per process output, shared by every child logger. */
function defaultLimiter(write: (line: string) => void): LogLimiter {
  const limiter = new LogLimiter(REPEATS_PER_WINDOW, REPEAT_WINDOW_MS);
  limiter.report = (key, suppressed) => {
    const sep = key.indexOf(" ");
    write(JSON.stringify({ ts: new Date().toISOString(), level: key.slice(0, sep), msg: `suppressed ${suppressed} similar`, similar: key.slice(sep + 1), suppressed }) + "\n");
  };
  setInterval(() => limiter.flush(), REPEAT_WINDOW_MS).unref();
  return limiter;
}

let stdoutWrite: ((line: string) => void) | undefined;

/**
 * The process's stdout, one writer for every logger. On Node a write to a
 * pipe or file is a synchronous write(2): one per line was 12.8 % of a
 * connect burst's busy time at LOG_LEVEL=info (an audit line per connect
 * and per subscribe). So there the lines of one event-loop turn go out in
 * one write, at the end of the turn, and whatever is pending goes out when
 * the process exits (its `exit` handlers run on process.exit too). Bun's
 * process.stdout buffers its writes itself.
 */
function stdout(): (line: string) => void {
  if (stdoutWrite) return stdoutWrite;
  if (typeof Bun !== "undefined") return (stdoutWrite = (l) => void process.stdout.write(l));
  let pending = "";
  const flush = () => {
    if (pending === "") return;
    const out = pending;
    pending = "";
    process.stdout.write(out);
  };
  process.on("exit", flush);
  return (stdoutWrite = (l) => {
    if (pending === "") setImmediate(flush);
    pending += l;
  });
}

export function createLogger(
  level: LogLevel,
  base: LogFields = {},
  write: (line: string) => void = stdout(),
  limiter: LogLimiter = defaultLimiter(write),
): Logger {
  const min = RANK[level];
  const emit = (lvl: LogLevel, msg: string, fields?: LogFields) => {
    if (RANK[lvl] < min) return;
    // Audit and info lines are never dropped; repeated warnings and errors are.
    if (RANK[lvl] >= RANK.warn && !limiter.admit(lvl + " " + msg)) return;
    const rec: LogFields = { ts: new Date().toISOString(), level: lvl, msg, ...base };
    if (fields) {
      for (const k in fields) {
        const v = fields[k];
        if (k === "err") Object.assign(rec, errorFields(v));
        else rec[k] = typeof v === "string" ? redact(v) : v;
      }
    }
    write(JSON.stringify(rec) + "\n");
  };
  return {
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
    audit: (event, f) => {
      if (RANK.info < min) return;
      emit("info", event, { audit: true, ...f });
    },
    auditing: RANK.info >= min,
    child: (f) => createLogger(level, { ...base, ...f }, write, limiter),
  };
}
