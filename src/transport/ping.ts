import type { Hub } from "../hub/hub.ts";
import type { Conn } from "../hub/ports.ts";
import { SwitchboardError } from "../protocol/errors.ts";

/** A ping frame is `{"t":"ping","id":N}`; anything longer is not one and goes its usual way. */
const MAX_PING_LENGTH = 48;

/**
 * The application-level liveness probe (protocol README, "Switchboard
 * specifics"): an authenticated client sends `{"t":"ping","id":N}` and gets
 * `{"t":"ok","id":N}`, so a client that cannot see WebSocket control frames
 * (browsers) can still tell a silent server from a quiet one. It is answered
 * here, before the request path, and costs a rate-limit token like any frame.
 * Returns false when `raw` is not a ping of an authenticated connection; the
 * hub then handles it (and rejects a ping before `auth` as it rejects any frame).
 */
export function answerPing(hub: Hub, conn: Conn, raw: string | Buffer): boolean {
  if (typeof raw !== "string" || raw.length > MAX_PING_LENGTH || !conn.data.principal || !raw.includes('"ping"')) return false;
  let f: unknown;
  try {
    f = JSON.parse(raw);
  } catch {
    return false;
  }
  const { t, id, ...rest } = (f ?? {}) as { t?: unknown; id?: unknown };
  if (t !== "ping" || !Number.isSafeInteger(id) || Object.keys(rest).length > 0) return false;
  hub.countIn("ping");
  const wait = hub.bucket.take(conn.data);
  if (wait > 0) hub.fail(conn, id as number, new SwitchboardError("RATE_LIMIT_EXCEEDED", "too many frames; slow down", { retryAfter: wait }));
  else hub.send(conn, `{"t":"ok","id":${id as number}}`);
  return true;
}
