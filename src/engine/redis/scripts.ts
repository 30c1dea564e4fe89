import { createHash } from "node:crypto";
import type { RedisClient } from "./connection.ts";

/**
 * Lua scripts. Each touches keys of one hash tag only (one shard), so it runs
 * atomically in Redis Cluster too. Times come from Redis' TIME so lease
 * expiries do not depend on the nodes' clocks agreeing.
 */
const NOW = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;

/**
 * KEYS: meta, history, bus, marker. ARGV: frame head, frame tail, historySize,
 * historyTtlSec, streamMaxLen, channel key, ts, deadline (Redis ms, 0 = none),
 * metaTtlSec, markerTtlMs.
 * A new epoch (new channel, or its keys expired) starts at the current time in
 * microseconds, above any offset an earlier epoch can have handed out, so an
 * old `since` is reported as not recovered instead of matching new messages.
 * The marker (one per publish, named by the publish's token) makes the
 * publish idempotent and resolvable: the script records the offset there, a
 * replay of the same command returns that offset instead of publishing again,
 * and a marker fenced by RESOLVE_PUBLISH ('!') refuses it for good. Both checks
 * come before any write, so a refused script changed nothing. The meta hash
 * keeps the bus entry id of the last publish ('bid', see HISTORY).
 * The deadline refuses a publish that Redis only gets to after the node already
 * gave up on it (e.g. Redis was frozen by SIGSTOP).
 */
export const PUBLISH = `${NOW}
local done = redis.call('GET', KEYS[4])
if done then
  if done == '!' then return redis.error_reply('FENCED publish was given up by its node') end
  return done
end
local deadline = tonumber(ARGV[8])
if deadline > 0 and now > deadline then return redis.error_reply('DEADLINE publish reached Redis after its deadline') end
local off = redis.call('HINCRBY', KEYS[1], 'off', 1)
if off == 1 then
  local base = t[1] .. string.format('%06d', tonumber(t[2]))
  redis.call('HSET', KEYS[1], 'base', base, 'off', base)
  off = redis.call('HINCRBY', KEYS[1], 'off', 1)
end
local o = string.format('%.0f', off)
local frame = ARGV[1] .. o .. ARGV[2]
local size = tonumber(ARGV[3])
if size > 0 then
  redis.call('XADD', KEYS[2], 'MAXLEN', size, o .. '-0', 'f', frame, 'ts', ARGV[7])
  local ttl = tonumber(ARGV[4])
  if ttl > 0 then redis.call('EXPIRE', KEYS[2], ttl) end
end
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[9]))
local bid = redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[5], '*', 'k', ARGV[6], 'o', o, 'f', frame)
redis.call('HSET', KEYS[1], 'bid', bid)
redis.call('SET', KEYS[4], o, 'PX', ARGV[10])
return o
`;

/**
 * KEYS: marker of a publish whose reply was lost. ARGV: fenceTtlMs. The
 * publish's offset when Redis performed it; otherwise fences the token ('!'),
 * so that a late or replayed copy of the publish is refused, and returns '!'.
 */
export const RESOLVE_PUBLISH = `local done = redis.call('GET', KEYS[1])
if done then return done end
redis.call('SET', KEYS[1], '!', 'PX', ARGV[1])
return '!'
`;

/**
 * KEYS: meta, history, replaced. ARGV: since ('' = newest), limit. Returns
 * {off, base, entries, bid}: an entry that was replaced (REPLACE) carries its
 * replacement frame; bid is the bus entry id of the channel's last publish, so
 * the caller can wait until its bus reader got that far.
 */
export const HISTORY = `local m = redis.call('HMGET', KEYS[1], 'off', 'base', 'bid')
local off = m[1] or '0'
local base = m[2] or '0'
local bid = m[3] or ''
local entries
if ARGV[1] == '' then
  entries = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', ARGV[2])
else
  local since = ARGV[1]
  if since == '0' then since = base end
  entries = redis.call('XRANGE', KEYS[2], '(' .. since .. '-0', '+', 'COUNT', ARGV[2])
end
if type(entries) == 'table' and #entries > 0 and redis.call('EXISTS', KEYS[3]) == 1 then
  for _, e in ipairs(entries) do
    local r = redis.call('HGET', KEYS[3], string.sub(e[1], 1, -3))
    if r then e[2][2] = r end
  end
end
return {off, base, entries, bid}
`;

/**
 * KEYS: history, replaced. ARGV: offset, frame. Records the replacement of a
 * history entry (a stream entry cannot be rewritten in place); the hash lives
 * as long as the history stream. 0 when history does not hold the entry.
 */
export const REPLACE = `local e = redis.call('XRANGE', KEYS[1], ARGV[1] .. '-0', ARGV[1] .. '-0')
if #e == 0 then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
local ttl = redis.call('PTTL', KEYS[1])
if ttl > 0 then redis.call('PEXPIRE', KEYS[2], ttl) else redis.call('PERSIST', KEYS[2]) end
return 1
`;

/** KEYS: presence hash, shard leases. ARGV: conn, member JSON, lease member, leaseMs, keyTtlSec. */
export const PRESENCE_ADD = `${NOW}
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[4]), ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[5])
redis.call('EXPIRE', KEYS[2], ARGV[5])
return 1
`;

/** KEYS: presence hash, shard leases. ARGV: conn, lease member. 1 when it was present: the caller emits leave. */
export const PRESENCE_REMOVE = `redis.call('ZREM', KEYS[2], ARGV[2])
return redis.call('HDEL', KEYS[1], ARGV[1])
`;

/** KEYS: presence hash, shard leases. ARGV: channel key. Member JSONs whose lease has not expired. */
export const PRESENCE_LIST = `${NOW}
local all = redis.call('HGETALL', KEYS[1])
local out = {}
for i = 1, #all, 2 do
  local s = redis.call('ZSCORE', KEYS[2], ARGV[1] .. '\\0' .. all[i])
  if s and tonumber(s) > now then out[#out + 1] = all[i + 1] end
end
return out
`;

/**
 * KEYS: shard leases, presence hash per member. ARGV: leaseMs, keyTtlSec, then
 * (lease member, conn, member JSON) per hash. Re-adds members a sweep removed
 * (this node was slow, or Redis lost them) and returns their indexes so the
 * node can announce them again with join.
 */
export const PRESENCE_HEARTBEAT = `${NOW}
local lease = tonumber(ARGV[1])
local readded = {}
for i = 2, #KEYS do
  local j = 3 + (i - 2) * 3
  if redis.call('ZADD', KEYS[1], now + lease, ARGV[j]) == 1 then
    redis.call('HSET', KEYS[i], ARGV[j + 1], ARGV[j + 2])
    readded[#readded + 1] = i - 1
  end
  redis.call('EXPIRE', KEYS[i], ARGV[2])
end
redis.call('EXPIRE', KEYS[1], ARGV[2])
return readded
`;

/**
 * KEYS: shard leases. ARGV: presence hash prefix of the shard, limit. Removes
 * expired members; the node whose call removed one emits its leave, so each
 * leave is emitted once. Returns {key, conn, member JSON}…
 */
export const PRESENCE_SWEEP = `${NOW}
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[2]))
local out = {}
for _, m in ipairs(expired) do
  redis.call('ZREM', KEYS[1], m)
  local sep = string.find(m, '\\0', 1, true)
  if sep then
    local key = string.sub(m, 1, sep - 1)
    local conn = string.sub(m, sep + 1)
    local h = ARGV[1] .. key
    local v = redis.call('HGET', h, conn)
    if v then
      redis.call('HDEL', h, conn)
      out[#out + 1] = key
      out[#out + 1] = conn
      out[#out + 1] = v
    end
  end
end
return out
`;

/** KEYS: user conns. ARGV: conn, max (0 = unlimited), leaseMs, keyTtlSec. 1 = acquired. */
export const USER_ACQUIRE = `${NOW}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local lease = now + tonumber(ARGV[3])
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  local max = tonumber(ARGV[2])
  if max > 0 and redis.call('ZCARD', KEYS[1]) >= max then return 0 end
end
redis.call('ZADD', KEYS[1], lease, ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[4])
return 1
`;

/** KEYS: user conns. Live (unexpired) connections. */
export const USER_COUNT = `${NOW}
return redis.call('ZCOUNT', KEYS[1], '(' .. now, '+inf')
`;

/** KEYS: user conn zsets. ARGV: leaseMs, keyTtlSec, one conn per key. */
export const USER_HEARTBEAT = `${NOW}
local lease = now + tonumber(ARGV[1])
for i = 1, #KEYS do
  redis.call('ZADD', KEYS[i], lease, ARGV[i + 2])
  redis.call('EXPIRE', KEYS[i], ARGV[2])
end
return #KEYS
`;

/** A script run with EVALSHA, falling back to EVAL when Redis lost its script cache (restart, failover). */
export class LuaScript {
  readonly sha: string;

  constructor(
    readonly name: string,
    readonly source: string,
  ) {
    this.sha = createHash("sha1").update(source).digest("hex");
  }

  async run(client: RedisClient, keys: string[], args: (string | number)[]): Promise<unknown> {
    try {
      return await client.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith("NOSCRIPT")) throw err;
      return client.eval(this.source, keys.length, ...keys, ...args);
    }
  }
}
