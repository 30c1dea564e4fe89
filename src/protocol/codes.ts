/** Error codes of PROTOCOL.md §5, the one table that maps them to HTTP statuses. */
export const ERROR_CODES = [
  "AUTHENTICATION_FAILED",
  "AUTHORIZATION_FAILED",
  "VALIDATION_ERROR",
  "BAD_REQUEST",
  "RATE_LIMIT_EXCEEDED",
  "MESSAGE_TOO_LARGE",
  "LIMIT_EXCEEDED",
  "RESOURCE_NOT_FOUND",
  "CONFLICT",
  "SERVICE_UNAVAILABLE",
  "INTERNAL_ERROR",
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export const HTTP_STATUS: Record<ErrorCode, 400 | 401 | 403 | 404 | 409 | 413 | 429 | 500 | 503> = {
  AUTHENTICATION_FAILED: 401,
  AUTHORIZATION_FAILED: 403,
  VALIDATION_ERROR: 400,
  BAD_REQUEST: 400,
  RATE_LIMIT_EXCEEDED: 429,
  MESSAGE_TOO_LARGE: 413,
  LIMIT_EXCEEDED: 429,
  RESOURCE_NOT_FOUND: 404,
  CONFLICT: 409,
  SERVICE_UNAVAILABLE: 503,
  INTERNAL_ERROR: 500,
};

/** WebSocket close codes of PROTOCOL.md §5. */
export const CLOSE = {
  NORMAL: 1000,
  GOING_AWAY: 1001,
  /** Reported locally when a socket ended without a close frame (never sent). */
  ABNORMAL: 1006,
  POLICY: 1008,
  TOO_BIG: 1009,
  RESTART: 1012,
  AUTH_FAILED: 4001,
  TOKEN_EXPIRED: 4003,
  TOO_MANY_CONNECTIONS: 4008,
} as const;
