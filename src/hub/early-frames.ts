import { SwitchboardError } from "../protocol/errors.ts";
import type { Conn } from "./ports.ts";

/** Frames a client may send before `hello` while its authentication is under way (held, then replayed). */
const MAX_EARLY_FRAMES = 16;

/**
 * Frames that arrive while a connection's authentication is under way (a
 * verified upgrade token waiting for its lease, or an auth frame being
 * checked) are held unparsed in `conn.data.early` and replayed in order once
 * `hello` went out; dropped when authentication fails. Bounded by count and
 * by the frame size limit.
 */
export class EarlyFrames {
  constructor(private readonly maxBytes: number) {}

  /** Authentication is under way: frames until `hello` are held. */
  start(conn: Conn): void {
    conn.data.early ??= [];
  }

  /** Holds `raw`; the error to answer when the connection already holds too much. */
  hold(conn: Conn, raw: string): SwitchboardError | undefined {
    const early = conn.data.early!;
    let bytes = raw.length;
    for (const f of early) bytes += f.length;
    if (early.length >= MAX_EARLY_FRAMES || bytes > this.maxBytes) {
      return new SwitchboardError("RATE_LIMIT_EXCEEDED", "too many frames before hello; wait for hello");
    }
    early.push(raw);
    return undefined;
  }

  /** Authentication ended: the held frames, to replay when it succeeded (none are kept either way). */
  end(conn: Conn): string[] | null {
    const early = conn.data.early;
    conn.data.early = null;
    return early;
  }
}
