import type { ChannelOptions, HistoryResult } from "../engine.ts";
import { historyOffset } from "./bus-delivery.ts";
import type { StreamEntry } from "./bus-reader.ts";

const OFFSET = /^\d{1,16}$/;

/** False for a `since` that cannot be an offset of any channel (the HISTORY script only takes digits). */
export function isOffset(since: string): boolean {
  return OFFSET.test(since);
}

/**
 * The port's result from the HISTORY script's reply [off, epoch base, entries
 * after `since`, or the newest ones without it]: entries older than the
 * channel's TTL are dropped, and `recovered` holds only when the first kept
 * entry directly follows `since` ("0" means the epoch base).
 */
export function historyResult(since: string | undefined, [off, base, entries]: [string, string, StreamEntry[]], opts: ChannelOptions): HistoryResult {
  const minTs = opts.historyTtlSec > 0 ? Date.now() - opts.historyTtlSec * 1000 : 0;
  const kept: StreamEntry[] = [];
  for (const e of since === undefined ? entries.reverse() : entries) if (Number(e[1][3]) >= minTs) kept.push(e);
  const frames = kept.map((e) => e[1][1]!);
  if (since === undefined) return { frames, off, recovered: true };
  const top = Number(off);
  const from = since === "0" ? Number(base) : Number(since);
  if (from > top) return { frames: [], off, recovered: false };
  if (from === top) return { frames: [], off, recovered: true };
  if (opts.historySize <= 0) return { frames: [], off, recovered: false };
  const recovered = kept.length > 0 && historyOffset(kept[0]![0]) === from + 1;
  return { frames, off, recovered };
}
