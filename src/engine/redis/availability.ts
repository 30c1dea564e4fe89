import type { Logger } from "../../observability/logger.ts";
import type { RedisClient } from "./connection.ts";

/** Failures that mean Redis is out of reach (or frozen), as opposed to a command Redis refused. */
const UNREACHABLE = /timed? ?out|not writeable|Connection is closed|MaxRetriesPerRequest|DEADLINE|ECONNREFUSED|CLUSTERDOWN|enableOfflineQueue/i;
/** Of those, a command that missed its deadline on a connection that is still open: Redis may only have been slow. */
const TIMED_OUT = /timed? ?out/i;
/**
 * Redis answers but refuses writes: its persistence failed (MISCONF: a failed
 * RDB save with stop-writes-on-bgsave-error, or AOF write errors), or it is a
 * replica now (READONLY, after a failover the node has not followed yet).
 */
const WRITES_REFUSED = /\b(MISCONF|READONLY)\b/;

/** The first sentence of a refusal, as readiness names it. */
function refusal(message: string): string {
  const at = message.search(/\b(MISCONF|READONLY)\b/);
  const text = at >= 0 ? message.slice(at) : message;
  const end = text.search(/[.,]/);
  return "redis refuses writes: " + (end > 0 ? text.slice(0, end) : text).slice(0, 200);
}

export interface RedisAvailabilityOptions {
  /** Aborted when the engine stops; a stopped engine is never up again. */
  signal: AbortSignal;
  logger: Logger;
  /** Availability changed (forwarded to the engine sink). */
  onChange(up: boolean, reason: string): void;
  /**
   * Keys the probe writes (with a short expiry): one while writes succeed;
   * with `everyShard`, one in each shard's hash slot, so that a refusal on any
   * master keeps availability down until all of them accept writes again.
   */
  probeKeys(everyShard: boolean): string[];
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
 * and every bus reader runs. Command failures turn it down (a timeout on an
 * open connection only once a probe right after times out too); the
 * connection's ready event, the probe and the readers turn it back up. It also keeps
 * the Redis clock skew, re-measured whenever the command connection comes back.
 */
export class RedisAvailability {
  private readonly opts: RedisAvailabilityOptions;
  private client: RedisClient | undefined;
  /** Redis clock minus local clock (ms). */
  private skew = 0;
  private commandUp = false;
  /** Why Redis refuses writes (MISCONF, READONLY); empty while it accepts them. */
  private writesRefused = "";
  private readonly readersDown = new Set<string>();
  private up = false;
  private reason = "not started";
  /** The probe in flight, shared by the timer and by recheck(). */
  private probing: Promise<void> | undefined;
  /** The probe that confirms a timeout (see missedDeadline), in flight. */
  private confirming: Promise<void> | undefined;

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

  /** A command of `what` failed with `message`; only unreachability and refused writes turn availability down. */
  commandFailed(what: string, message: string): void {
    if (WRITES_REFUSED.test(message)) return this.refuseWrites(message);
    if (!UNREACHABLE.test(message)) return;
    if (this.missedDeadline(message)) return;
    this.commandUp = false;
    this.refresh(`${what}: ${message}`);
  }

  /**
   * A command that timed out while the connection stays open is not an
   * outage yet: one slow command (a large script, an fsync stall) delays
   * every command behind it, and turning readiness 503 for it would have a
   * load balancer drain a node that is fine. A probe sent now decides: it
   * answers within its own deadline (Redis was slow, nothing changes) or
   * times out too (down). So Redis is declared down after about two command
   * timeouts of silence instead of one. True when the probe decides.
   */
  private missedDeadline(message: string): boolean {
    if (!TIMED_OUT.test(message) || !this.commandUp || this.client?.status !== "ready" || this.opts.signal.aborted) return false;
    this.confirming ??= this.probeOnce(true).finally(() => (this.confirming = undefined));
    return true;
  }

  /** The engine stopped: down for good, reported even if it already was down. */
  stopped(): void {
    this.commandUp = false;
    this.up = false;
    this.reason = "engine stopped";
    this.opts.onChange(false, "engine stopped");
  }

  private refuseWrites(message: string): void {
    this.writesRefused = refusal(message);
    this.refresh(this.writesRefused);
  }

  /** Recomputes up/down; while down, a refusal of writes names the reason over whatever else was reported. */
  refresh(reason: string): void {
    const up = this.commandUp && this.writesRefused === "" && this.readersDown.size === 0 && !this.opts.signal.aborted;
    const why = up ? "" : this.commandUp && this.writesRefused !== "" ? this.writesRefused : reason;
    const changed = up !== this.up;
    if (!changed && why === this.reason) return;
    this.up = up;
    this.reason = why;
    if (changed) {
      const log = this.opts.logger;
      (up ? log.info : log.error)(up ? "redis available" : "redis unavailable", { reason: why || reason });
    }
    this.opts.onChange(up, up ? "redis ready" : why);
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

  /**
   * Run every second: does Redis answer and accept writes? A short-lived
   * write, not a PING, so that Redis refusing writes (MISCONF, READONLY)
   * turns readiness down even while nothing is published. Drives
   * availability back up after a freeze or once writes are accepted again.
   */
  probe(): Promise<void> {
    return (this.probing ??= this.probeOnce().finally(() => (this.probing = undefined)));
  }

  /**
   * While commands are known to fail: probes now (sharing a probe in flight)
   * and says whether Redis answers again, so the first publish after a stall
   * is not refused for up to a probe interval after Redis came back.
   */
  async recheck(): Promise<boolean> {
    if (this.commandUp) return true;
    await this.probe();
    return this.commandUp;
  }

  /** `confirming`: this probe decides a timeout (missedDeadline); its own timeout turns availability down. */
  private async probeOnce(confirming = false): Promise<void> {
    const client = this.client;
    if (!client || this.opts.signal.aborted) return;
    try {
      const refused = this.writesRefused !== "";
      await Promise.all(this.opts.probeKeys(refused).map((k) => client.set(k, "1", "PX", 10_000)));
      if (refused) {
        this.writesRefused = "";
        this.opts.logger.info("redis accepts writes again");
      }
      if (!this.commandUp) {
        this.commandUp = true;
        void this.measureSkew();
      }
      this.refresh("redis answering again");
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      if (WRITES_REFUSED.test(message)) {
        this.commandUp = true;
        this.refuseWrites(message);
      } else if (this.commandUp && (confirming || !this.missedDeadline(message))) {
        this.commandUp = false;
        this.refresh(`probe failed: ${message}`);
      }
    }
  }
}
