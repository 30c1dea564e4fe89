import { setTimeout as sleep } from "node:timers/promises";
import { encodeMsg } from "../../protocol/encode.ts";
import { SwitchboardError } from "../../protocol/errors.ts";
import type { ChannelOptions, PublicationInput } from "../engine.ts";
import type { RedisKeys } from "./keys.ts";
import type { RedisRuntime } from "./runtime.ts";
import { LuaScript } from "./scripts.ts";

/**
 * KEYS: meta, hold. ARGV: token, holdMs, metaTtlSec. Takes the channel's hold
 * ({1, current offset}) or answers {0, ms the current holder has left}. A
 * channel without offset yet starts its epoch here, as PUBLISH would.
 */
const HOLD = `if not redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then return {0, redis.call('PTTL', KEYS[2])} end
local off = redis.call('HGET', KEYS[1], 'off')
if not off then
  local t = redis.call('TIME')
  off = t[1] .. string.format('%06d', tonumber(t[2]))
  redis.call('HSET', KEYS[1], 'base', off, 'off', off)
  redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
end
return {1, off}
`;

/**
 * KEYS: meta, history, bus, hold. ARGV: token, offset at hold time,
 * historySize, historyTtlSec, streamMaxLen, channel key, metaTtlSec, deadline
 * (Redis ms, 0 = none), then per publication: frame head, frame tail, ts.
 * Publishes them at the offsets after the held one (as PUBLISH does each) and
 * lets the hold go; refused, with nothing written, when the hold was lost.
 */
const PUBLISH_HELD = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local deadline = tonumber(ARGV[8])
if deadline > 0 and now > deadline then return redis.error_reply('DEADLINE publish reached Redis after its deadline') end
if redis.call('GET', KEYS[4]) ~= ARGV[1] then return redis.error_reply('HOLD lost: another publisher took the channel') end
if redis.call('HGET', KEYS[1], 'off') ~= ARGV[2] then return redis.error_reply('HOLD lost: the channel offset moved') end
local o = tonumber(ARGV[2])
local size = tonumber(ARGV[3])
local out = {}
local bid = ''
for i = 9, #ARGV, 3 do
  o = o + 1
  local os = string.format('%.0f', o)
  local frame = ARGV[i] .. os .. ARGV[i + 1]
  if size > 0 then redis.call('XADD', KEYS[2], 'MAXLEN', size, os .. '-0', 'f', frame, 'ts', ARGV[i + 2]) end
  bid = redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[5], '*', 'k', ARGV[6], 'o', os, 'f', frame)
  out[#out + 1] = os
end
local ttl = tonumber(ARGV[4])
if size > 0 and ttl > 0 then redis.call('EXPIRE', KEYS[2], ttl) end
-- 'bid': the bus entry of the channel's last publish, as PUBLISH keeps it (HISTORY returns it for the bus catch-up wait).
redis.call('HSET', KEYS[1], 'off', string.format('%.0f', o), 'bid', bid)
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[7]))
redis.call('DEL', KEYS[4])
return out
`;

/** KEYS: hold. ARGV: token. Lets the hold go if it is still this token's. */
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

const S = {
  hold: new LuaScript("hold", HOLD),
  publishHeld: new LuaScript("publish-held", PUBLISH_HELD),
  release: new LuaScript("release", RELEASE),
};

const OFF_SLOT = '"off":""';
const MAX_PAUSE_MS = 20;

export interface HeldPublishOptions {
  keys: RedisKeys;
  runtime: RedisRuntime;
  nodeId: string;
  streamMaxLen: number;
  commandTimeoutMs: number;
  /** Key TTL of a channel's offset hash (see RedisEngine.publish). */
  metaTtlSec(opts: ChannelOptions): number;
}

/**
 * Engine.publishCommitted on Redis: a hold per channel (SET NX PX with a
 * token), the caller's commit, then one script that publishes the batch at
 * the held offsets only if the hold is still this call's and the offset has
 * not moved. Waiting for another node's hold polls with a short, growing pause.
 */
export class HeldPublish {
  private seq = 0;

  constructor(private readonly o: HeldPublishOptions) {}

  async publish(key: string, pubs: readonly PublicationInput[], opts: ChannelOptions, commit: (offs: readonly string[]) => Promise<void>, holdMs: number): Promise<string[]> {
    const { keys, runtime } = this.o;
    const token = this.o.nodeId + ":" + ++this.seq;
    const metaTtlSec = this.o.metaTtlSec(opts);
    const held = await this.hold(key, token, holdMs, metaTtlSec);
    const offs = pubs.map((_, i) => String(BigInt(held) + BigInt(i + 1)));
    try {
      await commit(offs);
    } catch (err) {
      await S.release.run(runtime.command(), [keys.held(key)], [token]).catch(() => {});
      throw err;
    }
    const args: (string | number)[] = [token, held, opts.historySize, opts.historyTtlSec, this.o.streamMaxLen, key, metaTtlSec];
    args.push(Math.floor(Date.now() + runtime.availability.skewMs + this.o.commandTimeoutMs / 2));
    for (const p of pubs) {
      const head = encodeMsg(p, "");
      const at = head.indexOf(OFF_SLOT) + OFF_SLOT.length - 1;
      args.push(head.slice(0, at), head.slice(at), p.ts);
    }
    try {
      const out = (await S.publishHeld.run(runtime.command(), [keys.meta(key), keys.history(key), keys.bus(keys.shardOf(key)), keys.held(key)], args)) as string[];
      return out.map(String);
    } catch (err) {
      if (err instanceof Error && err.message.includes("HOLD lost")) throw new SwitchboardError("SERVICE_UNAVAILABLE", "the channel was taken over while the records were committed; nothing was published", { cause: err });
      throw runtime.failure("publish", err);
    }
  }

  /** The offset at which `token` now holds `key`; waits while another call holds it (at most its hold time and a command timeout). */
  private async hold(key: string, token: string, holdMs: number, metaTtlSec: number): Promise<string> {
    const { keys, runtime } = this.o;
    const giveUpAt = Date.now() + holdMs + this.o.commandTimeoutMs;
    let pauseMs = 1;
    for (;;) {
      let r: [number, string | number];
      try {
        r = (await S.hold.run(runtime.command(), [keys.meta(key), keys.held(key)], [token, holdMs, metaTtlSec])) as [number, string | number];
      } catch (err) {
        throw runtime.failure("publish hold", err);
      }
      if (r[0] === 1) return String(r[1]);
      if (Date.now() >= giveUpAt) throw new SwitchboardError("SERVICE_UNAVAILABLE", "the channel is held by another publisher; nothing was published");
      await sleep(Math.max(1, Math.min(pauseMs, Number(r[1]))));
      pauseMs = Math.min(pauseMs * 2, MAX_PAUSE_MS);
    }
  }
}
