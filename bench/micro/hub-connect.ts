/**
 * JavaScript cost of an authenticated connect through the hub, without
 * sockets: per connection the upgrade's token check (HS256, the bench's
 * tokens), the connection state, `open` (lease, `hello`), then the connect
 * bench's two subscriptions (`room:idle`, whose namespace has presence with
 * join/leave, and `user:<sub>`), with the presence feature on the embedded
 * engine and the SQLite record store as the server wires them. Prints CPU µs
 * per connect and the JS heap each held connection costs after a full
 * collection (the native socket is not in it: see bench/micro/conn-memory.ts;
 * the stand-in socket holds ~40 B and the two topic keys).
 * Usage: npx bun bench/micro/hub-connect.ts   (N=connections per round, default 5000; R=rounds, default 4)
 */
import { heapStats } from "bun:jsc";
import { SignJWT } from "jose";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../../src/config/load.ts";
import { LocalEngine } from "../../src/engine/local/local-engine.ts";
import { presenceFeature } from "../../src/features/presence/presence-feature.ts";
import { ChannelPolicy } from "../../src/hub/channel-policy.ts";
import { Hub } from "../../src/hub/hub.ts";
import { systemClock, type Conn, type ConnData, type Principal } from "../../src/hub/ports.ts";
import { TokenVerifier } from "../../src/hub/token-verifier.ts";
import { createLogger } from "../../src/observability/logger.ts";
import { Metrics } from "../../src/observability/metrics.ts";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.ts";

const SECRET = "x".repeat(40);
const dataDir = mkdtempSync(join(tmpdir(), "sb-hub-connect-"));
const config = loadConfig({ NODE_ENV: "production", JWT_SECRET: SECRET, API_KEYS: "k".repeat(32), CORS_ORIGINS: "*", DATA_DIR: dataDir, WS_RATE_LIMIT_PER_SEC: "0", WS_MAX_CONNECTIONS_PER_USER: "0", LOG_LEVEL: "warn" });
const logger = createLogger("warn");
const policy = new ChannelPolicy(config.namespaces);
const verifier = new TokenVerifier({ secret: config.jwt.secret, algorithm: config.jwt.algorithm, requireExp: true, claimNames: policy.claimNames() });
const engine = new LocalEngine({ dataDir, nodeId: "micro", logger });
const hub = new Hub({ config, engine, verifier, policy, metrics: new Metrics(), logger, clock: systemClock });
await engine.start(hub);
const store = new SqliteStore(dataDir);
await store.start();
hub.register(presenceFeature(hub, store).feature);
let sent = 0;
hub.attach({ publish: () => 0, subscriberCount: () => 0 });

const N = Number(process.env.N ?? 5000);
const R = Number(process.env.R ?? 4);
const key = new TextEncoder().encode(SECRET);
const exp = Math.floor(Date.now() / 1000) + 3600;

async function tokens(tag: string): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < N; i++) {
    out.push(await new SignJWT({ sub: `${tag}-${i}`, tenant: "t1", roles: [], rooms: ["bench", "idle"] }).setProtectedHeader({ alg: "HS256" }).setExpirationTime(exp).sign(key));
  }
  return out;
}

/** A socket as small as it can be (prototype methods, its two topics in fields), so the heap figure is mostly the hub's. */
class FakeSocket {
  data!: ConnData;
  readonly remoteAddress = "127.0.0.1";
  private a: string | undefined;
  private b: string | undefined;
  send(s: string): number {
    sent += s.length;
    return s.length;
  }
  subscribe(t: string): void {
    if (this.a === undefined) this.a = t;
    else if (this.b === undefined) this.b = t;
    else throw new Error("the fake socket holds two topics");
  }
  unsubscribe(t: string): void {
    if (this.a === t) this.a = undefined;
    if (this.b === t) this.b = undefined;
  }
  isSubscribed(t: string): boolean {
    return this.a === t || this.b === t;
  }
  get subscriptions(): string[] {
    return [this.a, this.b].filter((t): t is string => t !== undefined);
  }
  close(): void {}
  getBufferedAmount(): number {
    return 0;
  }
  cork(cb: () => unknown): unknown {
    return cb();
  }
}

const turn = () => new Promise<void>((r) => setImmediate(r));
const held: Conn[] = [];

/** Connects N clients (token check, open, two subs) in batches of 128 as the bench's lanes would; CPU µs per connect. */
async function round(tag: string): Promise<number> {
  const ts = await tokens(tag);
  const cpu0 = process.cpuUsage();
  for (let b = 0; b < N; b += 128) {
    for (let i = b; i < Math.min(N, b + 128); i++) {
      const p = verifier.verifyNow(ts[i]!) as Principal;
      const conn = new FakeSocket() as Conn;
      conn.data = hub.newConnData(p, undefined);
      hub.open(conn);
      hub.message(conn, '{"t":"sub","id":1,"ch":"room:idle"}');
      hub.message(conn, `{"t":"sub","id":2,"ch":"user:${tag}-${i}"}`);
      held.push(conn);
    }
    await turn();
  }
  await turn();
  const cpu = process.cpuUsage(cpu0);
  return (cpu.user + cpu.system) / N;
}

// A warm-up round (JIT, statements), then measured rounds; every connection stays open.
await round("warm");
Bun.gc(true);
const heap0 = heapStats().heapSize;
const per: number[] = [];
for (let r = 0; r < R; r++) per.push(await round(`r${r}`));
Bun.gc(true);
const heapPer = (heapStats().heapSize - heap0) / (N * R);
const subscribed = held.filter((c) => c.data.subs === 2).length;
console.log(
  `${per.map((x) => x.toFixed(2)).join(" / ")} CPU µs per connect; JS heap ${heapPer.toFixed(0)} B per held connection (without the socket); ${subscribed} of ${held.length} with 2 subscriptions`,
);
await engine.stop();
await store.stop();
rmSync(dataDir, { recursive: true, force: true });
