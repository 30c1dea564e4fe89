import { randomBytes } from "node:crypto";
import type { Logger } from "../../observability/logger.ts";
import { encodeMsg, encodePresenceEvent, msgHead } from "../../protocol/encode.ts";
import { SwitchboardError } from "../../protocol/errors.ts";
import type {
  ChannelOptions,
  ControlMessage,
  Engine,
  EngineHealth,
  EngineSink,
  HistoryQuery,
  HistoryResult,
  PresenceEntry,
  PresenceMember,
  PublicationInput,
  PublishReceiver,
} from "../engine.ts";
import { BusDelivery } from "./bus-delivery.ts";
import type { StreamEntry } from "./bus-reader.ts";
import type { RedisClient } from "./connection.ts";
import { HeldPublish } from "./held-publish.ts";
import { historyResult, isOffset } from "./history-result.ts";
import { InDoubtPublishes } from "./in-doubt.ts";
import { RedisKeys } from "./keys.ts";
import { PresenceLeases } from "./presence-leases.ts";
import { RedisPresence } from "./redis-presence.ts";
import { RedisRuntime } from "./runtime.ts";
import * as lua from "./scripts.ts";
import { capFrames } from "../history-budget.ts";

export interface RedisEngineOptions {
  /** `redis://…` of a single Redis; ignored when `clusterNodes` is set. */
  url?: string;
  /** `host:port` seeds of a Redis Cluster. */
  clusterNodes?: string[];
  /** Redis Sentinel discovery, password, TLS CA: see ConnectionTarget. */
  sentinels?: string[];
  sentinelName?: string;
  password?: string;
  tlsCa?: string;
  /** Prefix of every key ("sb"). */
  prefix: string;
  nodeId: string;
  /** Bus streams publications are sharded over (16). */
  shards: number;
  /** A command slower than this fails with SERVICE_UNAVAILABLE (1000). */
  commandTimeoutMs: number;
  /** Presence and user-connection leases; heartbeats every ttl/3 (15). */
  presenceTtlSec: number;
  /** Bus streams are trimmed to about this many entries (MAXLEN ~, 100000). */
  streamMaxLen: number;
  /** XREAD BLOCK time (1000). */
  readBlockMs: number;
  /** XREAD COUNT (500). */
  readCount: number;
  logger: Logger;
}

const S = {
  publish: new lua.LuaScript("publish", lua.PUBLISH),
  history: new lua.LuaScript("history", lua.HISTORY),
  replace: new lua.LuaScript("replace", lua.REPLACE),
};

const OFF_SLOT = '"off":""';
/** Offset keys of channels without a history TTL still expire when idle this long. */
const IDLE_META_TTL_SEC = 86_400;
const CONTROL_MAXLEN = 10_000;
/** How long a history read waits for this node's bus reader to reach the channel's last publish. */
const BUS_CATCH_UP_MS = 1000;

/**
 * The Redis engine: a Lua script per publish atomically assigns the offset,
 * appends to the channel's history and XADDs the encoded frame to the
 * channel's shard bus stream; every node reads all bus streams and forwards
 * frames as-is to local subscribers. See keys.ts for the key layout.
 */
export class RedisEngine implements Engine {
  readonly kind = "redis" as const;
  private readonly opts: RedisEngineOptions;
  private readonly keys: RedisKeys;
  private readonly log: Logger;
  private readonly leases: PresenceLeases;
  private readonly members: RedisPresence;
  private readonly runtime: RedisRuntime;
  private sink: EngineSink | undefined;
  private delivery: BusDelivery | undefined;
  private readonly held: HeldPublish;
  private readonly inDoubt: InDoubtPublishes;
  private readonly incarnation = randomBytes(6).toString("base64url") + ".";
  private publishSeq = 0;
  /** Life of a publish marker and of a fence: well past the in-doubt wait and any publish deadline. */
  private readonly markerTtlMs: number;

  constructor(opts: RedisEngineOptions) {
    if (!opts.url && !opts.clusterNodes?.length && !opts.sentinels?.length) throw new TypeError("RedisEngine needs url, clusterNodes or sentinels");
    if (!Number.isInteger(opts.shards) || opts.shards < 1) throw new TypeError("RedisEngine shards must be a positive integer");
    this.opts = opts;
    this.keys = new RedisKeys(opts.prefix, opts.shards);
    this.log = opts.logger.child({ component: "redis-engine" });
    const heartbeatMs = this.heartbeatMs();
    this.leases = new PresenceLeases({
      keys: this.keys,
      leaseMs: heartbeatMs * 2,
      keyTtlSec: Math.max(opts.presenceTtlSec * 2, 2),
      logger: this.log,
      onRejoin: (key, m) => void this.signal(key, encodePresenceEvent("join", channelOf(key), m.user, m.conn)),
      onExpired: (key, m) => void this.signal(key, encodePresenceEvent("leave", channelOf(key), m.user, m.conn)),
    });
    const inDoubtWaitMs = Math.max(5000, opts.commandTimeoutMs * 8);
    this.markerTtlMs = Math.max(30_000, inDoubtWaitMs * 3);
    this.inDoubt = new InDoubtPublishes({
      client: () => this.runtime.command(),
      waitMs: inDoubtWaitMs,
      fenceTtlMs: this.markerTtlMs,
      maxPending: 10_000,
      roundMs: 100,
      logger: this.log,
    });
    this.runtime = new RedisRuntime({
      target: { url: opts.url, clusterNodes: opts.clusterNodes, sentinels: opts.sentinels, sentinelName: opts.sentinelName, password: opts.password, tlsCa: opts.tlsCa },
      keys: this.keys,
      nodeId: opts.nodeId,
      cluster: this.cluster,
      commandTimeoutMs: opts.commandTimeoutMs,
      readBlockMs: opts.readBlockMs,
      readCount: opts.readCount,
      heartbeatMs,
      logger: this.log,
      onAvailability: (up, reason) => this.sink?.availability(up, reason),
    });
    this.members = new RedisPresence({ runtime: this.runtime, keys: this.keys, leases: this.leases, heartbeatMs, presenceTtlSec: opts.presenceTtlSec });
    this.held = new HeldPublish({
      keys: this.keys,
      runtime: this.runtime,
      nodeId: opts.nodeId,
      streamMaxLen: opts.streamMaxLen,
      commandTimeoutMs: opts.commandTimeoutMs,
      metaTtlSec: (o) => (o.historyTtlSec > 0 ? o.historyTtlSec : IDLE_META_TTL_SEC),
    });
  }

  private get cluster(): boolean {
    return !!this.opts.clusterNodes && this.opts.clusterNodes.length > 0;
  }

  private heartbeatMs(): number {
    return Math.max(Math.floor((this.opts.presenceTtlSec * 1000) / 3), 100);
  }

  async start(sink: EngineSink): Promise<void> {
    this.sink = sink;
    const delivery = new BusDelivery({
      controlStream: this.keys.control(),
      sink,
      logger: this.log,
      readHistory: async (key, since, limit) => (await this.readHistory(key, since, limit)).slice(0, 3) as [string, string, StreamEntry[]],
    });
    this.delivery = delivery;
    await this.runtime.start({
      onEntries: (stream, entries) => delivery.handle(stream, entries),
      onHeartbeat: (client) => this.heartbeat(client),
    });
    this.log.info("redis engine started", { mode: this.cluster ? "cluster" : "standalone", shards: this.opts.shards, readers: this.runtime.bus.count });
  }

  async publish(key: string, pub: PublicationInput, opts: ChannelOptions): Promise<string> {
    const client = this.runtime.command();
    // Known unreachable (a command timed out, the connection is down): refused without sending, so
    // that nothing more is put in doubt, unless a probe (shared by concurrent publishes) finds Redis answering again.
    if (!this.runtime.availability.commandsUp && !(await this.runtime.availability.recheck())) throw this.runtime.failure("publish", new Error("not sent: redis is unreachable"));
    const head = encodeMsg(pub, "");
    const at = head.indexOf(OFF_SLOT) + OFF_SLOT.length - 1;
    // Redis refuses the script after this: half the timeout is left for the reply (an AOF fsync of
    // the backlog a stalled Redis works through), so a publish the node gave up on is rarely one
    // Redis still performed.
    const deadline = Date.now() + this.runtime.availability.skewMs + this.opts.commandTimeoutMs / 2;
    const metaTtlSec = opts.historyTtlSec > 0 ? opts.historyTtlSec : IDLE_META_TTL_SEC;
    const shard = this.keys.shardOf(key);
    const marker = this.keys.publishMarker(key, this.publishToken());
    try {
      const off = await S.publish.run(
        client,
        [this.keys.meta(key), this.keys.history(key), this.keys.bus(shard), marker],
        [head.slice(0, at), head.slice(at), opts.historySize, opts.historyTtlSec, this.opts.streamMaxLen, key, pub.ts, Math.floor(deadline), metaTtlSec, this.markerTtlMs],
      );
      return String(off);
    } catch (err) {
      const failure = this.runtime.failure("publish", err);
      if (!mayHaveRun(err)) throw failure;
      // Sent without an answer: Redis may have performed it. Answered once Redis says which.
      return this.inDoubt.settle(marker);
    }
  }

  publishCommitted(key: string, pubs: readonly PublicationInput[], opts: ChannelOptions, commit: (offs: readonly string[]) => Promise<void>, holdMs: number): Promise<string[]> {
    return this.held.publish(key, pubs, opts, commit, holdMs);
  }

  /** Unique per publish across nodes and restarts: a random incarnation and a counter. */
  private publishToken(): string {
    return this.incarnation + (++this.publishSeq).toString(36);
  }

  publishTo<T>(key: string, pub: PublicationInput, opts: ChannelOptions, receiver: PublishReceiver<T>, tag: T): void {
    this.publish(key, pub, opts).then(
      (off) => receiver.published(tag, off),
      (err) => receiver.failed(tag, err),
    );
  }

  async signal(key: string, frame: string): Promise<void> {
    const client = this.runtime.command();
    try {
      await client.xadd(this.keys.bus(this.keys.shardOf(key)), "MAXLEN", "~", this.opts.streamMaxLen, "*", "k", key, "f", frame);
    } catch (err) {
      throw this.runtime.failure("signal", err);
    }
  }

  async history(key: string, query: HistoryQuery, opts: ChannelOptions): Promise<HistoryResult> {
    const since = query.since;
    if (since !== undefined && !isOffset(since)) {
      const [off, , , bid] = await this.readHistory(key, "", 0);
      await this.busCaughtUp(key, bid);
      return { frames: [], off, recovered: false };
    }
    const [off, base, entries, bid] = await this.readHistory(key, since ?? "", query.limit);
    await this.busCaughtUp(key, bid);
    const res = historyResult(since, [off, base, entries], opts);
    if (query.maxBytes === undefined) return res;
    const capped = capFrames(res.frames, query.maxBytes, since === undefined);
    return capped.more ? { ...res, frames: capped.frames, more: true } : res;
  }

  async replace(key: string, off: string, frame: string, _opts: ChannelOptions): Promise<boolean> {
    if (!isOffset(off) || !frame.startsWith(msgHead(channelOf(key), off))) throw new TypeError("a replacement must be a msg frame of the same channel and offset");
    const client = this.runtime.command();
    try {
      return (await S.replace.run(client, [this.keys.history(key), this.keys.replaced(key)], [off, frame])) === 1;
    } catch (err) {
      throw this.runtime.failure("replace", err);
    }
  }

  /**
   * Waits (bounded) until this node's bus reader has delivered the channel's
   * last publish as of a history read. A subscriber that recovers from
   * history (or starts at its offset) is then subscribed only after the live
   * copies of those messages went by, so none of them reaches it twice. A
   * reader that does not get there in time (Redis just restarted, the reader
   * is still backing off) fails the read with SERVICE_UNAVAILABLE: the client
   * subscribes again a moment later instead of getting messages twice.
   */
  private async busCaughtUp(key: string, bid: string): Promise<void> {
    if (bid === "") return;
    const wait = this.runtime.bus.caughtUp(this.keys.bus(this.keys.shardOf(key)), bid, BUS_CATCH_UP_MS);
    if (wait && !(await wait)) throw new SwitchboardError("SERVICE_UNAVAILABLE", "history failed: this node's bus reader is behind; retry shortly");
  }

  presenceAdd(key: string, member: PresenceMember): Promise<void> {
    return this.members.add(key, member);
  }

  presenceRemove(key: string, conn: string): Promise<boolean> {
    return this.members.remove(key, conn);
  }

  presence(key: string): Promise<PresenceEntry[]> {
    return this.members.list(key);
  }

  acquireUserConn(userKey: string, conn: string, max: number): Promise<boolean> {
    return this.members.acquireUserConn(userKey, conn, max);
  }

  releaseUserConn(userKey: string, conn: string): Promise<void> {
    return this.members.releaseUserConn(userKey, conn);
  }

  userConnCount(userKey: string): Promise<number> {
    return this.members.userConnCount(userKey);
  }

  async control(msg: ControlMessage): Promise<void> {
    const client = this.runtime.command();
    try {
      await client.xadd(this.keys.control(), "MAXLEN", "~", CONTROL_MAXLEN, "*", "c", JSON.stringify(msg));
    } catch (err) {
      throw this.runtime.failure("control", err);
    }
  }

  /** Redis expires idle channels itself (key TTLs) and history() skips messages older than their TTL: nothing to delete here. */
  async trim(): Promise<number> {
    return 0;
  }

  health(): EngineHealth {
    const { up, reason, readersDown } = this.runtime.availability.status();
    const { bus } = this.runtime;
    const lastReadAt = bus.lastReadAt;
    return {
      up,
      detail: up ? `redis ${this.cluster ? "cluster" : "standalone"}: ready` : `redis unavailable: ${reason}`,
      mode: this.cluster ? "cluster" : "standalone",
      shards: this.opts.shards,
      readers: bus.count,
      readersDown,
      busGaps: bus.gaps,
      gapRepairs: this.delivery?.repairs ?? 0,
      channels: this.delivery?.channels ?? 0,
      lastBusReadMsAgo: lastReadAt ? Date.now() - lastReadAt : null,
      ...this.leases.size,
      publishesInDoubt: this.inDoubt.size,
      inDoubtSettled: this.inDoubt.settled,
    };
  }

  async stop(): Promise<void> {
    this.inDoubt.stop();
    await this.runtime.stop();
  }

  /** Heartbeat period: refresh this node's leases, sweep everyone's expired ones, forget channels nobody here listens to. */
  private async heartbeat(client: RedisClient): Promise<void> {
    this.delivery?.forgetUnsubscribed();
    try {
      await this.leases.heartbeat(client);
      await this.leases.sweep(client);
    } catch (err) {
      this.log.warn("presence heartbeat failed", { err });
    }
  }

  private async readHistory(key: string, since: string, limit: number): Promise<[string, string, StreamEntry[], string]> {
    const client = this.runtime.command();
    try {
      const [off, base, entries, bid] = (await S.history.run(client, [this.keys.meta(key), this.keys.history(key), this.keys.replaced(key)], [since, limit])) as [
        string,
        string,
        StreamEntry[],
        string?,
      ];
      return [String(off), String(base), entries ?? [], bid ? String(bid) : ""];
    } catch (err) {
      throw this.runtime.failure("history", err);
    }
  }
}

/**
 * Whether a failed publish command may still have been performed: it was
 * written to Redis and no answer came (timeout, connection lost in flight).
 * Not when Redis answered with an error (the script checks before it writes)
 * or the client refused to send it (not connected, no offline queue).
 */
function mayHaveRun(err: unknown): boolean {
  if (!(err instanceof Error)) return true;
  if (err.name === "ReplyError") return false;
  return !/Stream isn't writeable|enableOfflineQueue|Cluster isn't ready|is not running/.test(err.message);
}

function channelOf(key: string): string {
  return key.slice(key.indexOf("/") + 1);
}
