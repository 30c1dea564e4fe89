import type { Logger } from "../../observability/logger.ts";
import type { RedisClient } from "./connection.ts";

/** Failures that mean Redis is out of reach (or frozen), as opposed to a command Redis refused. */
const UNREACHABLE = /timed? ?out|not writeable|Connection is closed|MaxRetriesPerRequest|DEADLINE|ECONNREFUSED|CLUSTERDOWN|enableOfflineQueue/i;

export interface RedisAvailabilityOptions {
  /** Aborted when the engine stops; a stopped engine is never up again. */
  signal: AbortSignal;
  logger: Logger;
  /** Availability changed (forwarded to the engine sink). */
  onChange(up: boolean, reason: string): void;
}

export interface AvailabilityStatus {
  up: boolean;
  /** Why it is down; empty while up. */
  reason: string;
  /** Names of the bus readers currently failing. */
  readersDown: string[];
}

/**
 * Whether the Redis engine can serve: up while the command connection answers
 * and every bus reader runs. Command failures turn it down; the connection's
 * ready event, the PING probe and the readers turn it back up. It also keeps
 * the Redis clock skew, re-measured whenever the command connection comes back.
 */
export class RedisAvailability {
  private readonly opts: RedisAvailabilityOptions;
  private client: RedisClient | undefined;
  /** Redis clock minus local clock (ms). */
  private skew = 0;
  private commandUp = false;
  private readonly readersDown = new Set<string>();
  private up = false;
  private reason = "not started";

  constructor(opts: RedisAvailabilityOptions) {
    this.opts = opts;
  }

  /** Redis clock minus local clock (ms), for publish deadlines in Redis time. */
  get skewMs(): number {
    return this.skew;
  }

  get commandsUp(): boolean {
    return this.commandUp;
  }

  status(): AvailabilityStatus {
    return { up: this.up, reason: this.reason, readersDown: [...this.readersDown] };
  }

  /** Follows the command connection: probed, timed, and its ready/close events drive availability. */
  watch(client: RedisClient): void {
    this.client = client;
    client.on("ready", () => {
      this.commandUp = true;
      void this.measureSkew();
      this.refresh("redis ready");
    });
    client.on("close", () => {
      if (this.opts.signal.aborted) return;
      this.commandUp = false;
      this.refresh("redis connection lost");
    });
  }

  /** Start-up connected the command client; availability is refreshed once the readers run too. */
  markCommandUp(): void {
    this.commandUp = true;
  }

  readerState(name: string, up: boolean, reason: string): void {
    if (up) this.readersDown.delete(name);
    else this.readersDown.add(name);
    this.refresh(reason);
  }

  /** A command of `what` failed with `message`; only unreachability turns availability down. */
  commandFailed(what: string, message: string): void {
    if (!UNREACHABLE.test(message)) return;
    this.commandUp = false;
    this.refresh(`${what}: ${message}`);
  }

  /** The engine stopped: down for good, reported even if it already was down. */
  stopped(): void {
    this.commandUp = false;
    this.up = false;
    this.reason = "engine stopped";
    this.opts.onChange(false, "engine stopped");
  }

  refresh(reason: string): void {
    const up = this.commandUp && this.readersDown.size === 0 && !this.opts.signal.aborted;
    if (up === this.up) return;
    this.up = up;
    this.reason = up ? "" : reason;
    const log = this.opts.logger;
    (up ? log.info : log.error)(up ? "redis available" : "redis unavailable", { reason });
    this.opts.onChange(up, up ? "redis ready" : reason);
  }

  async measureSkew(): Promise<void> {
    const client = this.client;
    if (!client) return;
    try {
      const t0 = Date.now();
      const [sec, usec] = await client.time();
      const t1 = Date.now();
      this.skew = Number(sec) * 1000 + Math.floor(Number(usec) / 1000) - Math.round((t0 + t1) / 2);
    } catch (err) {
      this.opts.logger.warn("cannot read redis clock", { err });
    }
  }

  /** Run every second: is Redis answering? Drives availability back up after a freeze. */
  async probe(): Promise<void> {
    const client = this.client;
    if (!client || this.opts.signal.aborted) return;
    try {
      await client.ping();
      if (!this.commandUp) {
        this.commandUp = true;
        void this.measureSkew();
        this.refresh("redis answering again");
      }
    } catch (err) {
      if (this.commandUp) {
        this.commandUp = false;
        this.refresh(`ping failed: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  }
}
