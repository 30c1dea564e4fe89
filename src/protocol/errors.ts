import type { ErrorCode } from "./codes.ts";

/** The one error type of Switchboard; HTTP and WebSocket layers map `code`, nobody else formats errors. */
export class SwitchboardError extends Error {
  readonly code: ErrorCode;
  /** Milliseconds until a retry may succeed (RATE_LIMIT_EXCEEDED). */
  readonly retryAfter?: number;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; retryAfter?: number }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "SwitchboardError";
    this.code = code;
    if (options?.retryAfter !== undefined) this.retryAfter = options.retryAfter;
  }
}

/** Anything thrown becomes a SwitchboardError; unknown failures are INTERNAL_ERROR without leaking their text. */
export function toSwitchboardError(err: unknown): SwitchboardError {
  if (err instanceof SwitchboardError) return err;
  return new SwitchboardError("INTERNAL_ERROR", "internal error", { cause: err });
}
