import { SwitchboardError } from "../../protocol/errors.ts";
import { RedisAvailability } from "./availability.ts";
import type { StreamEntry } from "./bus-reader.ts";
import { BusReaders, type BusReadersOptions } from "./bus-readers.ts";
import { connectWithin, createClient, type RedisClient } from "./connection.ts";

export interface RedisRuntimeOptions extends Omit<BusReadersOptions, "onState"> {
  heartbeatMs: number;
  /** Availability changed (forwarded to the engine sink). */
  onAvailability(up: boolean, reason: string): void;
}

export interface RedisRuntimeHandlers {
  onEntries(stream: string, entries: StreamEntry[]): Promise<void> | void;
  /** Every heartbeat period while Redis answers. */
  onHeartbeat(client: RedisClient): Promise<void>;
}

/**
 * What runs while the engine is started: the command connection, the bus
 * readers, the heartbeat and probe timers, and the availability they feed.
 * Start-up succeeds or fails as a whole; stop is final.
 */
export class RedisRuntime {
  readonly availability: RedisAvailability;
  readonly bus: BusReaders;
  private readonly opts: RedisRuntimeOptions;
  private client: RedisClient | undefined;
  private readonly abort = new AbortController();
  private timers: ReturnType<typeof setInterval>[] = [];

  constructor(opts: RedisRuntimeOptions) {
    this.opts = opts;
    this.availability = new RedisAvailability({
      signal: this.abort.signal,
      logger: opts.logger,
      onChange: opts.onAvailability,
      probeKeys: (everyShard) => (everyShard ? opts.keys.allProbes(opts.nodeId) : [opts.keys.probe(opts.nodeId)]),
    });
    this.bus = new BusReaders({ ...opts, onState: (name, up, reason) => this.availability.readerState(name, up, reason) });
  }

  get stopped(): boolean {
    return this.abort.signal.aborted;
  }

  /** Connects the command client and the readers, then starts reading and the timers; rejects with SERVICE_UNAVAILABLE. */
  async start(handlers: RedisRuntimeHandlers): Promise<void> {
    const { target, nodeId, commandTimeoutMs, heartbeatMs, logger: log } = this.opts;
    const connectMs = Math.max(commandTimeoutMs * 3, 3000);
    const client = createClient(target, `sb:${nodeId}:cmd`, commandTimeoutMs);
    this.client = client;
    client.on("error", (err: unknown) => log.debug("redis client error", { err }));
    this.availability.watch(client);
    try {
      await connectWithin(client, connectMs);
      await this.availability.measureSkew();
      await this.bus.open(client, connectMs, handlers.onEntries);
    } catch (err) {
      await this.closeClients();
      throw new SwitchboardError("SERVICE_UNAVAILABLE", `cannot connect to redis: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    this.availability.markCommandUp();
    this.bus.run(this.abort.signal);
    this.timers.push(setInterval(() => void this.heartbeat(handlers), heartbeatMs));
    this.timers.push(setInterval(() => void this.availability.probe(), Math.min(1000, heartbeatMs)));
    this.availability.refresh("redis ready");
  }

  /** The command client; SERVICE_UNAVAILABLE before start and after stop. */
  command(): RedisClient {
    if (!this.client || this.abort.signal.aborted) throw new SwitchboardError("SERVICE_UNAVAILABLE", "redis engine is not running");
    return this.client;
  }

  /** The error a failed command `what` surfaces as; a failure meaning Redis is unreachable also turns availability down. */
  failure(what: string, err: unknown): SwitchboardError {
    this.availability.commandFailed(what, err instanceof Error ? err.message : String(err));
    this.opts.logger.warn("redis command failed", { op: what, err });
    return new SwitchboardError("SERVICE_UNAVAILABLE", `${what} failed: redis unavailable`, { cause: err });
  }

  /** Stops timers and readers and closes every connection; a second call does nothing. */
  async stop(): Promise<void> {
    if (this.abort.signal.aborted) return;
    this.abort.abort();
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    await this.closeClients();
    await this.bus.stopped();
    this.availability.stopped();
  }

  private async closeClients(): Promise<void> {
    this.client?.disconnect();
    this.bus.disconnect();
  }

  private async heartbeat(handlers: RedisRuntimeHandlers): Promise<void> {
    const client = this.client;
    if (!client || this.abort.signal.aborted || !this.availability.commandsUp) return;
    await handlers.onHeartbeat(client);
  }
}
