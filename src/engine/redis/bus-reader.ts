import type { Logger } from "../../observability/logger.ts";
import { reconnectDelayMs, type RedisClient } from "./connection.ts";

/** One stream entry as XREAD returns it: id and flat [field, value, …]. */
export type StreamEntry = [id: string, fields: string[]];

export interface BusReaderOptions {
  name: string;
  /** A dedicated connection: XREAD BLOCK holds it for up to `blockMs`. */
  client: RedisClient;
  streams: string[];
  blockMs: number;
  count: number;
  logger: Logger;
  /** Handles a batch of one stream, in id order; the loop waits for it before reading on. */
  onEntries(stream: string, entries: StreamEntry[]): Promise<void> | void;
  /** Reader health changed (drives the engine's availability). */
  onState(up: boolean, reason: string): void;
}

/** Stream ids compare as (ms, seq) pairs; both parts can exceed 2^53 in theory, so use BigInt. */
export function compareIds(a: string, b: string): number {
  const [am = "0", as = "0"] = a.split("-");
  const [bm = "0", bs = "0"] = b.split("-");
  const d = BigInt(am) - BigInt(bm) || BigInt(as) - BigInt(bs);
  return d < 0n ? -1 : d > 0n ? 1 : 0;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}

/**
 * The bus read loop: one owned async loop per dedicated connection, reading
 * its streams with XREAD BLOCK … COUNT n from the last ids it handled. After
 * an error it backs off, reconnects (ioredis) and resumes from those ids, so
 * local subscribers see no duplicates; entries trimmed away meanwhile are
 * detected (XINFO first entry past our last id) and logged as a gap.
 */
export class BusReader {
  private readonly ids: string[];
  private readonly opts: BusReaderOptions;
  /** Gaps detected since start (entries trimmed before this node read them). */
  gaps = 0;
  lastReadAt = 0;

  private waiters: { i: number; id: string; resolve: () => void }[] = [];

  constructor(opts: BusReaderOptions) {
    this.opts = opts;
    this.ids = opts.streams.map(() => "0-0");
  }

  /**
   * Undefined when this reader already handed on `stream`'s entries up to
   * `id`; otherwise resolves true once it has, or false after `timeoutMs`
   * (a reader that is down must not hold its caller forever).
   */
  caughtUp(stream: string, id: string, timeoutMs: number): Promise<boolean> | undefined {
    const i = this.opts.streams.indexOf(stream);
    if (i < 0 || compareIds(this.ids[i]!, id) >= 0) return undefined;
    return new Promise((resolve) => {
      const w = { i, id, resolve: () => (clearTimeout(timer), resolve(true)) };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        resolve(false);
      }, timeoutMs);
      this.waiters.push(w);
    });
  }

  private wake(i: number): void {
    if (this.waiters.length === 0) return;
    const id = this.ids[i]!;
    this.waiters = this.waiters.filter((w) => {
      if (w.i !== i || compareIds(id, w.id) < 0) return true;
      w.resolve();
      return false;
    });
  }

  /** Starts from each stream's newest entry: this node delivers what is published from now on. */
  async init(client: RedisClient): Promise<void> {
    const last = await Promise.all(this.opts.streams.map((s) => client.xrevrange(s, "+", "-", "COUNT", 1)));
    last.forEach((entries, i) => {
      const first = entries[0];
      if (first) this.ids[i] = first[0];
    });
  }

  async run(signal: AbortSignal): Promise<void> {
    const { client, streams, blockMs, count, logger, name } = this.opts;
    let attempt = 0;
    let down = true;
    let checkGaps = false;
    while (!signal.aborted) {
      try {
        if (checkGaps) {
          await this.detectGaps();
          checkGaps = false;
        }
        const reply = (await client.call("XREAD", "COUNT", count, "BLOCK", blockMs, "STREAMS", ...streams, ...this.ids)) as
          | [string, StreamEntry[]][]
          | null;
        this.lastReadAt = Date.now();
        if (attempt > 0) logger.info("bus reader resumed", { reader: name, attempts: attempt });
        if (down) this.opts.onState(true, "bus reader running");
        down = false;
        attempt = 0;
        if (!reply) continue;
        for (const [stream, entries] of reply) {
          if (entries.length === 0) continue;
          const i = streams.indexOf(stream);
          await this.opts.onEntries(stream, entries);
          this.ids[i] = entries[entries.length - 1]![0];
          this.wake(i);
        }
      } catch (err) {
        if (signal.aborted) break;
        attempt++;
        checkGaps = true;
        down = true;
        const delayMs = reconnectDelayMs(attempt);
        (attempt === 1 ? logger.warn : logger.error)("bus read failed; retrying", { reader: name, err, attempt, delayMs });
        this.opts.onState(false, `bus reader: ${err instanceof Error ? err.message : String(err)}`);
        await sleep(delayMs, signal);
      }
    }
  }

  /** After an outage: were entries after our last ids trimmed (or lost) before we could read them? */
  private async detectGaps(): Promise<void> {
    const { client, streams, logger, name } = this.opts;
    for (let i = 0; i < streams.length; i++) {
      const last = this.ids[i]!;
      if (last === "0-0") continue;
      let info: unknown[];
      try {
        info = (await client.call("XINFO", "STREAM", streams[i]!)) as unknown[];
      } catch (err) {
        if (err instanceof Error && err.message.includes("no such key")) {
          this.gaps++;
          logger.error("bus gap: stream is gone (Redis lost data?); messages may have been missed", { reader: name, stream: streams[i], lastId: last });
          continue;
        }
        throw err;
      }
      const field = (f: string) => String(info[info.indexOf(f) + 1] ?? "0-0");
      // Trimming does not record deleted ids; if the entry we read last is gone, the ones after it may be too.
      const firstEntry = field("recorded-first-entry-id");
      const lastGenerated = field("last-generated-id");
      if (compareIds(firstEntry, last) > 0 || compareIds(lastGenerated, last) < 0) {
        this.gaps++;
        logger.error("bus gap: entries may have been trimmed or lost before this node read them; channels repair from history on their next message", {
          reader: name,
          stream: streams[i],
          lastId: last,
          firstEntry,
          lastGenerated,
        });
      }
    }
  }
}
