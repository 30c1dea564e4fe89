import type { PresenceEntry, PresenceMember } from "../engine.ts";
import type { RedisKeys } from "./keys.ts";
import { PresenceLeases } from "./presence-leases.ts";
import type { RedisRuntime } from "./runtime.ts";
import * as lua from "./scripts.ts";

const S = {
  presenceAdd: new lua.LuaScript("presence-add", lua.PRESENCE_ADD),
  presenceRemove: new lua.LuaScript("presence-remove", lua.PRESENCE_REMOVE),
  presenceList: new lua.LuaScript("presence-list", lua.PRESENCE_LIST),
  userAcquire: new lua.LuaScript("user-acquire", lua.USER_ACQUIRE),
  userCount: new lua.LuaScript("user-count", lua.USER_COUNT),
};

export interface RedisPresenceDeps {
  runtime: RedisRuntime;
  keys: RedisKeys;
  leases: PresenceLeases;
  /** Lease heartbeat period; a lease lives two of them. */
  heartbeatMs: number;
  presenceTtlSec: number;
}

/**
 * The Redis engine's presence members and per-user connection leases: each
 * write goes to Redis with a lease this node keeps alive (PresenceLeases), so
 * a member or connection of a node that died expires by itself.
 */
export class RedisPresence {
  constructor(private readonly d: RedisPresenceDeps) {}

  async add(key: string, member: PresenceMember): Promise<void> {
    const client = this.d.runtime.command();
    const json = PresenceLeases.memberJson(member);
    this.d.leases.holdMember(key, member.conn, json);
    const shard = this.d.keys.shardOf(key);
    try {
      await S.presenceAdd.run(client, [this.d.keys.presence(key), this.d.keys.presenceLeases(shard)], [
        member.conn,
        json,
        this.d.keys.leaseMember(key, member.conn),
        this.d.heartbeatMs * 2,
        Math.max(this.d.presenceTtlSec * 2, 2),
      ]);
    } catch (err) {
      throw this.d.runtime.failure("presence add", err);
    }
  }

  async remove(key: string, conn: string): Promise<boolean> {
    this.d.leases.dropMember(key, conn);
    await this.d.leases.settled();
    const client = this.d.runtime.command();
    try {
      const shard = this.d.keys.shardOf(key);
      const n = await S.presenceRemove.run(client, [this.d.keys.presence(key), this.d.keys.presenceLeases(shard)], [conn, this.d.keys.leaseMember(key, conn)]);
      return n === 1;
    } catch (err) {
      throw this.d.runtime.failure("presence remove", err);
    }
  }

  async list(key: string): Promise<PresenceEntry[]> {
    const client = this.d.runtime.command();
    let jsons: string[];
    try {
      jsons = (await S.presenceList.run(client, [this.d.keys.presence(key), this.d.keys.presenceLeases(this.d.keys.shardOf(key))], [key])) as string[];
    } catch (err) {
      throw this.d.runtime.failure("presence", err);
    }
    return PresenceLeases.entries(jsons);
  }

  async acquireUserConn(userKey: string, conn: string, max: number): Promise<boolean> {
    const client = this.d.runtime.command();
    try {
      const ok = await S.userAcquire.run(client, [this.d.keys.userConns(userKey)], [conn, max, this.d.heartbeatMs * 2, Math.max(this.d.presenceTtlSec * 2, 2)]);
      if (ok === 1) this.d.leases.holdUserConn(userKey, conn);
      return ok === 1;
    } catch (err) {
      throw this.d.runtime.failure("connection lease", err);
    }
  }

  async releaseUserConn(userKey: string, conn: string): Promise<void> {
    this.d.leases.dropUserConn(userKey, conn);
    await this.d.leases.settled();
    const client = this.d.runtime.command();
    try {
      await client.zrem(this.d.keys.userConns(userKey), conn);
    } catch (err) {
      throw this.d.runtime.failure("connection lease release", err);
    }
  }

  async userConnCount(userKey: string): Promise<number> {
    const client = this.d.runtime.command();
    try {
      return Number(await S.userCount.run(client, [this.d.keys.userConns(userKey)], []));
    } catch (err) {
      throw this.d.runtime.failure("connection count", err);
    }
  }
}
