import type { Logger } from "../../observability/logger.ts";
import { SwitchboardError } from "../../protocol/errors.ts";
import type { RedisClient } from "./connection.ts";
import { LuaScript, RESOLVE_PUBLISH } from "./scripts.ts";

const RESOLVE = new LuaScript("resolve-publish", RESOLVE_PUBLISH);
/** Markers asked about per round; a round waits for its answers before the next starts. */
const BATCH = 500;

export interface InDoubtOptions {
  /** The command client; throws while the engine is not running. */
  client(): RedisClient;
  /** How long a publish may stay in doubt before it is answered "outcome unknown". */
  waitMs: number;
  /** How long a fence lives (longer than any copy of the publish can still reach Redis). */
  fenceTtlMs: number;
  /** Publishes held in doubt at most; beyond that they are answered "outcome unknown" at once. */
  maxPending: number;
  /** Time between rounds while something is in doubt. */
  roundMs: number;
  logger: Logger;
}

interface Pending {
  since: number;
  resolve(off: string): void;
  reject(err: SwitchboardError): void;
}

/** The answer when the publish was fenced: Redis never performed it and never will. */
export function notPublished(cause: unknown): SwitchboardError {
  return new SwitchboardError("SERVICE_UNAVAILABLE", "publish failed: redis unavailable", { cause });
}

function outcomeUnknown(): SwitchboardError {
  return new SwitchboardError("INTERNAL_ERROR", "publish outcome unknown: redis did not answer in time, the message may have been published");
}

/**
 * Publishes whose command reached (or may have reached) Redis without a
 * reply: a timeout, or the connection was lost with the command in flight.
 * Redis may have performed them, so they are not answered at once. Each
 * round asks Redis, per publish marker, whether the publish script ran: if
 * it did, the publish is answered with its offset; if not, RESOLVE_PUBLISH
 * fences the marker in the same step, so no late or replayed copy can run,
 * and the publish is answered SERVICE_UNAVAILABLE (nothing was published).
 * Rounds repeat while Redis does not answer, up to `waitMs` per publish.
 */
export class InDoubtPublishes {
  private readonly opts: InDoubtOptions;
  private readonly pending = new Map<string, Pending>();
  private timer: ReturnType<typeof setInterval> | undefined;
  private running = false;
  private stopped = false;
  /** Outcomes so far, for /health. */
  readonly settled = { applied: 0, fenced: 0, unknown: 0 };

  constructor(opts: InDoubtOptions) {
    this.opts = opts;
  }

  get size(): number {
    return this.pending.size;
  }

  /** The outcome of the publish whose marker is `marker`: its offset, or a rejection. */
  settle(marker: string): Promise<string> {
    if (this.stopped || this.pending.size >= this.opts.maxPending || this.pending.has(marker)) {
      this.settled.unknown++;
      return Promise.reject(outcomeUnknown());
    }
    const { promise, resolve, reject } = Promise.withResolvers<string>();
    this.pending.set(marker, { since: Date.now(), resolve, reject });
    this.timer ??= setInterval(() => void this.round(), this.opts.roundMs);
    return promise;
  }

  /** The engine stopped: whatever is still in doubt stays unknown. */
  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    this.timer = undefined;
    for (const p of this.pending.values()) p.reject(outcomeUnknown());
    this.settled.unknown += this.pending.size;
    this.pending.clear();
  }

  private async round(): Promise<void> {
    if (this.running || this.stopped) return;
    this.running = true;
    try {
      const now = Date.now();
      const batch: [string, Pending][] = [];
      let unknown = 0;
      for (const [marker, p] of this.pending) {
        if (now - p.since > this.opts.waitMs) {
          this.pending.delete(marker);
          p.reject(outcomeUnknown());
          unknown++;
        } else if (batch.length < BATCH) batch.push([marker, p]);
      }
      this.settled.unknown += unknown;
      let applied = 0;
      let fenced = 0;
      if (batch.length > 0) {
        const client = this.opts.client();
        const answers = await Promise.allSettled(batch.map(([marker]) => RESOLVE.run(client, [marker], [this.opts.fenceTtlMs])));
        answers.forEach((a, i) => {
          if (a.status !== "fulfilled") return; // still unreachable: asked again next round
          const [marker, p] = batch[i]!;
          if (!this.pending.delete(marker)) return;
          const v = String(a.value);
          if (v === "!") {
            fenced++;
            p.reject(notPublished(undefined));
          } else {
            applied++;
            p.resolve(v);
          }
        });
      }
      this.settled.applied += applied;
      this.settled.fenced += fenced;
      if (applied + fenced + unknown > 0) {
        this.opts.logger.warn("in-doubt publishes settled", { applied, fenced, unknown, pending: this.pending.size });
      }
    } catch (err) {
      this.opts.logger.debug("in-doubt round failed", { err });
    } finally {
      this.running = false;
      if (this.pending.size === 0 && this.timer !== undefined) {
        clearInterval(this.timer);
        this.timer = undefined;
      }
    }
  }
}
