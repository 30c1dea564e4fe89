import type { Logger } from "../../observability/logger.ts";
import { BusReader, type StreamEntry } from "./bus-reader.ts";
import { connectWithin, createClient, type ConnectionTarget, type RedisClient } from "./connection.ts";
import type { RedisKeys } from "./keys.ts";

export interface BusReadersOptions {
  target: ConnectionTarget;
  keys: RedisKeys;
  nodeId: string;
  cluster: boolean;
  commandTimeoutMs: number;
  readBlockMs: number;
  readCount: number;
  logger: Logger;
  /** A reader (named after its stream in Cluster, "bus" otherwise) went up or down. */
  onState(name: string, up: boolean, reason: string): void;
}

/**
 * This node's bus readers over every shard stream plus the control stream,
 * each on a dedicated connection: one reader in standalone mode, one per
 * stream in Cluster (Cluster refuses multi-slot XREAD).
 */
export class BusReaders {
  private readonly opts: BusReadersOptions;
  private readonly clients: RedisClient[] = [];
  private readonly readers: BusReader[] = [];
  private loops: Promise<void>[] = [];

  constructor(opts: BusReadersOptions) {
    this.opts = opts;
  }

  get count(): number {
    return this.readers.length;
  }

  /** Gaps detected by all readers since start. */
  get gaps(): number {
    return this.readers.reduce((n, r) => n + r.gaps, 0);
  }

  /** When any reader last got an XREAD reply (ms since the epoch); 0 = never. */
  get lastReadAt(): number {
    return this.readers.reduce((t, r) => Math.max(t, r.lastReadAt), 0);
  }

  /**
   * Connects the readers and positions them at their streams' newest entries
   * (read with `client`). On failure the connections opened so far stay
   * tracked, so `disconnect()` closes them.
   */
  async open(client: RedisClient, connectMs: number, onEntries: (stream: string, entries: StreamEntry[]) => Promise<void> | void): Promise<void> {
    const { target, keys, nodeId, cluster, commandTimeoutMs, readBlockMs, readCount, logger } = this.opts;
    const groups = cluster ? [...keys.allBuses(), keys.control()].map((s) => [s]) : [[...keys.allBuses(), keys.control()]];
    for (const [i, streams] of groups.entries()) {
      const rc = createClient(target, `sb:${nodeId}:bus${i}`, commandTimeoutMs, readBlockMs);
      rc.on("error", (err: unknown) => logger.debug("redis bus client error", { err }));
      this.clients.push(rc);
      const name = cluster ? streams[0]! : "bus";
      this.readers.push(
        new BusReader({
          name,
          client: rc,
          streams,
          blockMs: readBlockMs,
          count: readCount,
          logger,
          onEntries,
          onState: (up, reason) => this.opts.onState(name, up, reason),
        }),
      );
    }
    await Promise.all(this.clients.map((rc) => connectWithin(rc, connectMs)));
    await Promise.all(this.readers.map((r) => r.init(client)));
  }

  /** See BusReader.caughtUp: undefined when `stream` was already read past `id`. */
  caughtUp(stream: string, id: string, timeoutMs: number): Promise<boolean> | undefined {
    for (const r of this.readers) {
      const p = r.caughtUp(stream, id, timeoutMs);
      if (p) return p;
    }
    return undefined;
  }

  run(signal: AbortSignal): void {
    this.loops = this.readers.map((r) => r.run(signal));
  }

  disconnect(): void {
    for (const c of this.clients) c.disconnect();
  }

  /** Resolves when every read loop has ended (after the signal given to `run` aborted). */
  async stopped(): Promise<void> {
    await Promise.allSettled(this.loops);
  }
}
