/** Error codes the server sends (PROTOCOL.md §5). */
export type ServerErrorCode =
  | "AUTHENTICATION_FAILED"
  | "AUTHORIZATION_FAILED"
  | "VALIDATION_ERROR"
  | "BAD_REQUEST"
  | "RATE_LIMIT_EXCEEDED"
  | "MESSAGE_TOO_LARGE"
  | "LIMIT_EXCEEDED"
  | "RESOURCE_NOT_FOUND"
  | "CONFLICT"
  | "SERVICE_UNAVAILABLE"
  | "INTERNAL_ERROR";

/**
 * Codes only the client produces; the server never sends them.
 * - `TIMEOUT`: no answer within `requestTimeoutMs`; the request may still have taken effect.
 * - `DISCONNECTED`: the request was sent but the connection closed before its answer; it may have taken effect.
 * - `CLOSED`: `close()` was called while the request was waiting.
 * (A request made while not connected is never sent and rejects with the server's
 * `SERVICE_UNAVAILABLE`: nothing happened, retrying is safe.)
 */
export type ClientErrorCode = "TIMEOUT" | "DISCONNECTED" | "CLOSED";

export type ErrorCode = ServerErrorCode | ClientErrorCode;

/** The one error type of the SDK: every rejected promise and `error` event carries one. */
export class SwitchboardClientError extends Error {
  readonly code: ErrorCode;
  /** Milliseconds until a retry may succeed (sent with RATE_LIMIT_EXCEEDED). */
  readonly retryAfter?: number;
  /** The channel the failure concerns, when there is one. */
  readonly ch?: string;

  constructor(code: ErrorCode, message: string, options: { retryAfter?: number; ch?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "SwitchboardClientError";
    this.code = code;
    if (options.retryAfter !== undefined) this.retryAfter = options.retryAfter;
    if (options.ch !== undefined) this.ch = options.ch;
  }
}
