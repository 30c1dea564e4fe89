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

export function createLogger(level: LogLevel, base: LogFields = {}, write: (line: string) => void = (l) => process.stdout.write(l)): Logger {
  const min = RANK[level];
  const emit = (lvl: LogLevel, msg: string, fields?: LogFields) => {
    if (RANK[lvl] < min) return;
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
    child: (f) => createLogger(level, { ...base, ...f }, write),
  };
}
