/**
 * Redis key layout. Every key of a channel carries its shard's hash tag
 * (`{sb:s3}`), so one Lua script can touch the channel's offset, history and
 * the shard's bus stream atomically, also in Redis Cluster, while the shards
 * spread over the cluster's masters.
 *
 *   {P:sN}:bus            stream: bus entries of shard N (k = channel key, f = frame)
 *   {P:sN}:m:<key>        hash: off (last offset), base (first offset - 1 of this epoch), bid (bus id of the last publish)
 *   {P:sN}:h:<key>        stream: history, entry id "<off>-0", fields f (frame), ts
 *   {P:sN}:x:<key>        hash: replaced history entries (redaction), off → frame; same TTL as h
 *   {P:sN}:o:<key>        string: the token of a publishCommitted call holding the channel (PX hold time)
 *   {P:sN}:p:<key>        hash: presence members, conn → {"user","info"} JSON
 *   {P:sN}:pe             zset: presence leases of shard N, "<key>\0<conn>" → expiry ms
 *   {P:sN}:u:<userKey>    zset: a user's connection leases, conn → expiry ms
 *   {P:sN}:t:<token>      string: a publish's outcome, its offset or '!' (fenced); expires
 *   {P:ctl}:bus           stream: control messages to every node
 *   {P:ctl}:probe:<node>  string: a node's availability probe write (expires); {P:sN}:probe:<node> per shard
 */
export class RedisKeys {
  constructor(
    readonly prefix: string,
    readonly shards: number,
  ) {}

  /** FNV-1a over the UTF-16 code units: cheap, stable across nodes and releases. */
  shardOf(key: string): number {
    let h = 0x811c9dc5;
    for (let i = 0; i < key.length; i++) {
      h ^= key.charCodeAt(i);
      h = Math.imul(h, 0x01000193);
    }
    return (h >>> 0) % this.shards;
  }

  tag(shard: number): string {
    return "{" + this.prefix + ":s" + shard + "}";
  }

  bus(shard: number): string {
    return this.tag(shard) + ":bus";
  }

  allBuses(): string[] {
    return Array.from({ length: this.shards }, (_, i) => this.bus(i));
  }

  meta(key: string): string {
    return this.tag(this.shardOf(key)) + ":m:" + key;
  }

  history(key: string): string {
    return this.tag(this.shardOf(key)) + ":h:" + key;
  }

  held(key: string): string {
    return this.tag(this.shardOf(key)) + ":o:" + key;
  }

  replaced(key: string): string {
    return this.tag(this.shardOf(key)) + ":x:" + key;
  }

  presence(key: string): string {
    return this.tag(this.shardOf(key)) + ":p:" + key;
  }

  /** Prefix of presence hashes in shard N, for scripts that derive the hash key from a lease member. */
  presencePrefix(shard: number): string {
    return this.tag(shard) + ":p:";
  }

  presenceLeases(shard: number): string {
    return this.tag(shard) + ":pe";
  }

  leaseMember(key: string, conn: string): string {
    return key + "\0" + conn;
  }

  /** Outcome marker of the publish `token` to `key` (same shard, so the publish script writes it atomically). */
  publishMarker(key: string, token: string): string {
    return this.tag(this.shardOf(key)) + ":t:" + token;
  }

  userConns(userKey: string): string {
    return this.tag(this.shardOf(userKey)) + ":u:" + userKey;
  }

  probe(nodeId: string): string {
    return "{" + this.prefix + ":ctl}:probe:" + nodeId;
  }

  allProbes(nodeId: string): string[] {
    return Array.from({ length: this.shards }, (_, i) => this.tag(i) + ":probe:" + nodeId);
  }

  control(): string {
    return "{" + this.prefix + ":ctl}:bus";
  }
}
