import type { Logger } from "../../observability/logger.ts";
import { encodeMsg, encodePresenceEvent } from "../../protocol/encode.ts";
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
} from "../engine.ts";
import { BusDelivery } from "./bus-delivery.ts";
import { BusReader, type StreamEntry } from "./bus-reader.ts";
import { historyOffset } from "./bus-delivery.ts";
import { connectWithin, createClient, type RedisClient } from "./connection.ts";
import { RedisKeys } from "./keys.ts";
import { PresenceLeases } from "./presence-leases.ts";
import * as lua from "./scripts.ts";

export interface RedisEngineOptions {
  /** `redis://…` of a single Redis; ignored when `clusterNodes` is set. */
  url?: string;
  /** `host:port` seeds of a Redis Cluster. */
  clusterNodes?: string[];
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
  presenceAdd: new lua.LuaScript("presence-add", lua.PRESENCE_ADD),
  presenceRemove: new lua.LuaScript("presence-remove", lua.PRESENCE_REMOVE),
  presenceList: new lua.LuaScript("presence-list", lua.PRESENCE_LIST),
  userAcquire: new lua.LuaScript("user-acquire", lua.USER_ACQUIRE),
  userCount: new lua.LuaScript("user-count", lua.USER_COUNT),
};

const OFF_SLOT = '"off":""';
const SINCE = /^\d{1,16}$/;
/** Offset keys of channels without a history TTL still expire when idle this long. */
const IDLE_META_TTL_SEC = 86_400;
const CONTROL_MAXLEN = 10_000;

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
  private client: RedisClient | undefined;
  private readerClients: RedisClient[] = [];
  private readers: BusReader[] = [];
  private loops: Promise<void>[] = [];
  private readonly abort = new AbortController();
  private timers: ReturnType<typeof setInterval>[] = [];
  private sink: EngineSink | undefined;
  /** Redis clock minus local clock (ms), for publish deadlines in Redis time. */
  private skewMs = 0;
  private commandUp = false;
  private readersDown = new Set<string>();
  private up = false;
  private reason = "not started";
  private delivery: BusDelivery | undefined;

  constructor(opts: RedisEngineOptions) {
    if (!opts.url && !(opts.clusterNodes && opts.clusterNodes.length > 0)) throw new TypeError("RedisEngine needs url or clusterNodes");
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
      readHistory: (key, since, limit) => this.readHistory(key, since, limit),
    });
    this.delivery = delivery;
    const target = { url: this.opts.url, clusterNodes: this.opts.clusterNodes };
    const connectMs = Math.max(this.opts.commandTimeoutMs * 3, 3000);
    const client = createClient(target, `sb:${this.opts.nodeId}:cmd`, this.opts.commandTimeoutMs);
    this.client = client;
    client.on("error", (err: unknown) => this.log.debug("redis client error", { err }));
    client.on("ready", () => {
      this.commandUp = true;
      void this.measureSkew();
      this.refreshAvailability("redis ready");
    });
    client.on("close", () => {
      if (this.abort.signal.aborted) return;
      this.commandUp = false;
      this.refreshAvailability("redis connection lost");
    });
    try {
      await connectWithin(client, connectMs);
      await this.measureSkew();
      const groups = this.cluster ? [...this.keys.allBuses(), this.keys.control()].map((s) => [s]) : [[...this.keys.allBuses(), this.keys.control()]];
      for (const [i, streams] of groups.entries()) {
        const rc = createClient(target, `sb:${this.opts.nodeId}:bus${i}`, this.opts.commandTimeoutMs, this.opts.readBlockMs);
        rc.on("error", (err: unknown) => this.log.debug("redis bus client error", { err }));
        this.readerClients.push(rc);
        const name = this.cluster ? streams[0]! : "bus";
        this.readers.push(
          new BusReader({
            name,
            client: rc,
            streams,
            blockMs: this.opts.readBlockMs,
            count: this.opts.readCount,
            logger: this.log,
            onEntries: (stream, entries) => delivery.handle(stream, entries),
            onState: (up, reason) => {
              if (up) this.readersDown.delete(name);
              else this.readersDown.add(name);
              this.refreshAvailability(reason);
            },
          }),
        );
      }
      await Promise.all(this.readerClients.map((rc) => connectWithin(rc, connectMs)));
      await Promise.all(this.readers.map((r) => r.init(client)));
    } catch (err) {
      await this.closeClients();
      throw new SwitchboardError("SERVICE_UNAVAILABLE", `cannot connect to redis: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    this.commandUp = true;
    this.loops = this.readers.map((r) => r.run(this.abort.signal));
    const heartbeatMs = this.heartbeatMs();
    this.timers.push(setInterval(() => void this.tick(), heartbeatMs));
    this.timers.push(setInterval(() => void this.probe(), Math.min(1000, heartbeatMs)));
    this.refreshAvailability("redis ready");
    this.log.info("redis engine started", { mode: this.cluster ? "cluster" : "standalone", shards: this.opts.shards, readers: this.readers.length });
  }

  async publish(key: string, pub: PublicationInput, opts: ChannelOptions): Promise<string> {
    const client = this.ready();
    const head = encodeMsg(pub, "");
    const at = head.indexOf(OFF_SLOT) + OFF_SLOT.length - 1;
    const deadline = Date.now() + this.skewMs + Math.max(this.opts.commandTimeoutMs - 100, this.opts.commandTimeoutMs / 2);
    const metaTtlSec = opts.historyTtlSec > 0 ? opts.historyTtlSec : IDLE_META_TTL_SEC;
    const shard = this.keys.shardOf(key);
    try {
      const off = await S.publish.run(
        client,
        [this.keys.meta(key), this.keys.history(key), this.keys.bus(shard)],
        [head.slice(0, at), head.slice(at), opts.historySize, opts.historyTtlSec, this.opts.streamMaxLen, key, pub.ts, Math.floor(deadline), metaTtlSec],
      );
      return String(off);
    } catch (err) {
      throw this.unavailable("publish", err);
    }
  }

  async signal(key: string, frame: string): Promise<void> {
    const client = this.ready();
    try {
      await client.xadd(this.keys.bus(this.keys.shardOf(key)), "MAXLEN", "~", this.opts.streamMaxLen, "*", "k", key, "f", frame);
    } catch (err) {
      throw this.unavailable("signal", err);
    }
  }

  async history(key: string, query: HistoryQuery, opts: ChannelOptions): Promise<HistoryResult> {
    const since = query.since;
    if (since !== undefined && !SINCE.test(since)) {
      const off = await this.currentOffset(key);
      return { frames: [], off, recovered: false };
    }
    const [off, base, entries] = await this.readHistory(key, since ?? "", query.limit);
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

  async presenceAdd(key: string, member: PresenceMember): Promise<void> {
    const client = this.ready();
    const json = PresenceLeases.memberJson(member);
    this.leases.holdMember(key, member.conn, json);
    const shard = this.keys.shardOf(key);
    try {
      await S.presenceAdd.run(client, [this.keys.presence(key), this.keys.presenceLeases(shard)], [
        member.conn,
        json,
        this.keys.leaseMember(key, member.conn),
        this.heartbeatMs() * 2,
        Math.max(this.opts.presenceTtlSec * 2, 2),
      ]);
    } catch (err) {
      throw this.unavailable("presence add", err);
    }
  }

  async presenceRemove(key: string, conn: string): Promise<boolean> {
    this.leases.dropMember(key, conn);
    const client = this.ready();
    try {
      const shard = this.keys.shardOf(key);
      const n = await S.presenceRemove.run(client, [this.keys.presence(key), this.keys.presenceLeases(shard)], [conn, this.keys.leaseMember(key, conn)]);
      return n === 1;
    } catch (err) {
      throw this.unavailable("presence remove", err);
    }
  }

  async presence(key: string): Promise<PresenceEntry[]> {
    const client = this.ready();
    let jsons: string[];
    try {
      jsons = (await S.presenceList.run(client, [this.keys.presence(key), this.keys.presenceLeases(this.keys.shardOf(key))], [key])) as string[];
    } catch (err) {
      throw this.unavailable("presence", err);
    }
    const byUser = new Map<string, PresenceEntry>();
    for (const j of jsons) {
      const m = JSON.parse(j) as { user: string; info?: unknown };
      const e = byUser.get(m.user);
      if (e) e.conns++;
      else byUser.set(m.user, m.info === undefined ? { user: m.user, conns: 1 } : { user: m.user, conns: 1, info: m.info });
    }
    return [...byUser.values()];
  }

  async acquireUserConn(userKey: string, conn: string, max: number): Promise<boolean> {
    const client = this.ready();
    try {
      const ok = await S.userAcquire.run(client, [this.keys.userConns(userKey)], [conn, max, this.heartbeatMs() * 2, Math.max(this.opts.presenceTtlSec * 2, 2)]);
      if (ok === 1) this.leases.holdUserConn(userKey, conn);
      return ok === 1;
    } catch (err) {
      throw this.unavailable("connection lease", err);
    }
  }

  async releaseUserConn(userKey: string, conn: string): Promise<void> {
    this.leases.dropUserConn(userKey, conn);
    const client = this.ready();
    try {
      await client.zrem(this.keys.userConns(userKey), conn);
    } catch (err) {
      throw this.unavailable("connection lease release", err);
    }
  }

  async userConnCount(userKey: string): Promise<number> {
    const client = this.ready();
    try {
      return Number(await S.userCount.run(client, [this.keys.userConns(userKey)], []));
    } catch (err) {
      throw this.unavailable("connection count", err);
    }
  }

  async control(msg: ControlMessage): Promise<void> {
    const client = this.ready();
    try {
      await client.xadd(this.keys.control(), "MAXLEN", "~", CONTROL_MAXLEN, "*", "c", JSON.stringify(msg));
    } catch (err) {
      throw this.unavailable("control", err);
    }
  }

  /** Redis expires idle channels itself (key TTLs) and history() skips messages older than their TTL: nothing to delete here. */
  async trim(): Promise<number> {
    return 0;
  }

  health(): EngineHealth {
    const gaps = this.readers.reduce((n, r) => n + r.gaps, 0);
    const lastReadAt = this.readers.reduce((t, r) => Math.max(t, r.lastReadAt), 0);
    return {
      up: this.up,
      detail: this.up ? `redis ${this.cluster ? "cluster" : "standalone"}: ready` : `redis unavailable: ${this.reason}`,
      mode: this.cluster ? "cluster" : "standalone",
      shards: this.opts.shards,
      readers: this.readers.length,
      readersDown: [...this.readersDown],
      busGaps: gaps,
      gapRepairs: this.delivery?.repairs ?? 0,
      lastBusReadMsAgo: lastReadAt ? Date.now() - lastReadAt : null,
      ...this.leases.size,
    };
  }

  async stop(): Promise<void> {
    if (this.abort.signal.aborted) return;
    this.abort.abort();
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    await this.closeClients();
    await Promise.allSettled(this.loops);
    this.commandUp = false;
    this.up = false;
    this.reason = "engine stopped";
    this.sink?.availability(false, "engine stopped");
  }

  private async closeClients(): Promise<void> {
    const all = [this.client, ...this.readerClients].filter((c): c is RedisClient => c !== undefined);
    for (const c of all) c.disconnect();
  }

  private ready(): RedisClient {
    if (!this.client || this.abort.signal.aborted) throw new SwitchboardError("SERVICE_UNAVAILABLE", "redis engine is not running");
    return this.client;
  }

  private unavailable(what: string, err: unknown): SwitchboardError {
    const message = err instanceof Error ? err.message : String(err);
    if (/timed? ?out|not writeable|Connection is closed|MaxRetriesPerRequest|DEADLINE|ECONNREFUSED|CLUSTERDOWN|enableOfflineQueue/i.test(message)) {
      this.commandUp = false;
      this.refreshAvailability(`${what}: ${message}`);
    }
    this.log.warn("redis command failed", { op: what, err });
    return new SwitchboardError("SERVICE_UNAVAILABLE", `${what} failed: redis unavailable`, { cause: err });
  }

  private refreshAvailability(reason: string): void {
    const up = this.commandUp && this.readersDown.size === 0 && !this.abort.signal.aborted;
    if (up === this.up) return;
    this.up = up;
    this.reason = up ? "" : reason;
    (up ? this.log.info : this.log.error)(up ? "redis available" : "redis unavailable", { reason });
    this.sink?.availability(up, up ? "redis ready" : reason);
  }

  private async measureSkew(): Promise<void> {
    const client = this.client;
    if (!client) return;
    try {
      const t0 = Date.now();
      const [sec, usec] = await client.time();
      const t1 = Date.now();
      this.skewMs = Number(sec) * 1000 + Math.floor(Number(usec) / 1000) - Math.round((t0 + t1) / 2);
    } catch (err) {
      this.log.warn("cannot read redis clock", { err });
    }
  }

  /** Every second: is Redis answering? Drives availability back up after a freeze. */
  private async probe(): Promise<void> {
    const client = this.client;
    if (!client || this.abort.signal.aborted) return;
    try {
      await client.ping();
      if (!this.commandUp) {
        this.commandUp = true;
        void this.measureSkew();
        this.refreshAvailability("redis answering again");
      }
    } catch (err) {
      if (this.commandUp) {
        this.commandUp = false;
        this.refreshAvailability(`ping failed: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  }

  /** Heartbeat period: refresh this node's leases, sweep everyone's expired ones, forget channels nobody here listens to. */
  private async tick(): Promise<void> {
    const client = this.client;
    if (!client || this.abort.signal.aborted || !this.commandUp) return;
    this.delivery?.forgetUnsubscribed();
    try {
      await this.leases.heartbeat(client);
      await this.leases.sweep(client);
    } catch (err) {
      this.log.warn("presence heartbeat failed", { err });
    }
  }

  private async readHistory(key: string, since: string, limit: number): Promise<[string, string, StreamEntry[]]> {
    const client = this.ready();
    try {
      const [off, base, entries] = (await S.history.run(client, [this.keys.meta(key), this.keys.history(key)], [since, limit])) as [string, string, StreamEntry[]];
      return [String(off), String(base), entries ?? []];
    } catch (err) {
      throw this.unavailable("history", err);
    }
  }

  private async currentOffset(key: string): Promise<string> {
    const [off] = await this.readHistory(key, "", 0);
    return off;
  }
}

function channelOf(key: string): string {
  return key.slice(key.indexOf("/") + 1);
}
