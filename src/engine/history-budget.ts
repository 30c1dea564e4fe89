/**
 * Bytes per history answer: a room filled with 1 MB messages must not make
 * one `history` read (synchronous in the embedded engine) and one answer
 * frame hold hundreds of megabytes. The rest is read by paging.
 */

/** Most bytes of messages in one `history` answer (WebSocket and HTTP); at least one message always goes out. */
export const HISTORY_ANSWER_MAX_BYTES = 1024 * 1024;
/** Most bytes of backlog replayed on a `sub` with `since`; a larger gap answers `recovered: false`. */
export const RECOVERY_MAX_BYTES = 4 * 1024 * 1024;

/** A running byte count over frames of one answer; `cut` once a frame did not fit. */
export class ByteBudget {
  cut = false;
  private used = 0;

  constructor(private readonly maxBytes: number) {}

  /** Whether a frame of `length` still fits (the first one always does); marks the budget cut when not. */
  admit(length: number): boolean {
    if (this.used > 0 && this.used + length > this.maxBytes) {
      this.cut = true;
      return false;
    }
    this.used += length;
    return true;
  }
}

/**
 * Keeps the frames that fit `maxBytes`: the oldest ones, or with
 * `keepNewest` the newest ones (frames are oldest first either way).
 */
export function capFrames(frames: string[], maxBytes: number | undefined, keepNewest: boolean): { frames: string[]; more: boolean } {
  if (maxBytes === undefined) return { frames, more: false };
  const budget = new ByteBudget(maxBytes);
  if (!keepNewest) {
    let n = 0;
    while (n < frames.length && budget.admit(frames[n]!.length)) n++;
    return budget.cut ? { frames: frames.slice(0, n), more: true } : { frames, more: false };
  }
  let i = frames.length;
  while (i > 0 && budget.admit(frames[i - 1]!.length)) i--;
  return budget.cut ? { frames: frames.slice(i), more: true } : { frames, more: false };
}
