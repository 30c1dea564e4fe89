/**
 * How long one large history read blocks the event loop on the embedded
 * engine (issue 16, item 1): a room filled with ~1 MB messages, then
 * 1. engine reads bounded by the answer caps (HISTORY_ANSWER_MAX_BYTES for
 *    `history`, RECOVERY_MAX_BYTES for a `sub since` backlog): wall time of
 *    the whole read (including any turns it yields) and its CPU time;
 * 2. a `sub` with `since` through the hub (a connection whose `send` only
 *    counts bytes: the socket write itself is not included), while a timer
 *    chain measures the gaps between event-loop turns: the longest gap is
 *    the longest single block every other socket of the node would wait.
 * Each case runs REPS times and prints min / median / max (min is the figure
 * without other load; the machine is shared, so max includes being descheduled).
 * Usage: node_modules/.bin/bun bench/history-stall.ts   (HS_MESSAGES 100, HS_BYTES 1000000, HS_REPS 30)
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../src/config/load.ts";
import { HISTORY_ANSWER_MAX_BYTES, RECOVERY_MAX_BYTES } from "../src/engine/history-budget.ts";
import { LocalEngine } from "../src/engine/local/local-engine.ts";
import { ChannelPolicy } from "../src/hub/channel-policy.ts";
import { Hub } from "../src/hub/hub.ts";
import { systemClock, type Conn } from "../src/hub/ports.ts";
import { TokenVerifier } from "../src/hub/token-verifier.ts";
import { createLogger } from "../src/observability/logger.ts";
import { Metrics } from "../src/observability/metrics.ts";

const messages = Number(process.env.HS_MESSAGES ?? 100);
const bytes = Number(process.env.HS_BYTES ?? 1_000_000);
const reps = Number(process.env.HS_REPS ?? 30);
const dir = mkdtempSync(join(tmpdir(), "sb-hs-"));
const config = loadConfig({ NODE_ENV: "production", JWT_SECRET: "x".repeat(40), API_KEYS: "k".repeat(32), CORS_ORIGINS: "*", DATA_DIR: dir, WS_RATE_LIMIT_PER_SEC: "0", WS_MAX_CONNECTIONS_PER_USER: "0", LOG_LEVEL: "error" });
const logger = createLogger("error");
const policy = new ChannelPolicy(config.namespaces);
const verifier = new TokenVerifier({ secret: config.jwt.secret, algorithm: config.jwt.algorithm, requireExp: false, claimNames: policy.claimNames() });
const engine = new LocalEngine({ dataDir: dir, nodeId: "hs", logger });
const hub = new Hub({ config, engine, verifier, policy, metrics: new Metrics(), logger, clock: systemClock });
await engine.start(hub);
hub.attach({ publish: (_topic, data) => data.length, subscriberCount: () => 0 });

const { c: room, key } = policy.route("bench", "room:big");
const opts = room.options;
if (opts.historySize < messages) throw new Error(`room history size ${opts.historySize} < ${messages}`);
const data = JSON.stringify({ blob: "x".repeat(bytes - 12) });
let first = "";
for (let i = 0; i < messages; i++) {
  const off = await engine.publish(key, { ch: "room:big", ev: "n", data, ts: Date.now() }, opts);
  if (i === 0) first = off;
}

const f = (x: number) => x.toFixed(2);

/**
 * CPU ms of the main (event-loop) thread alone, from /proc (10 ms ticks, so
 * only summed over many reads): process CPU also counts the GC and JIT
 * threads, which run more while a read spans several turns.
 */
function mainThreadMs(): number {
  const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, "utf8");
  const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(rest[11]) + Number(rest[12])) * 10;
}
const at = (xs: number[], q: number) => xs[Math.min(xs.length - 1, Math.floor(xs.length * q))]!;

async function measure(name: string, read: () => ReturnType<LocalEngine["history"]>): Promise<void> {
  const wall: number[] = [];
  const cpu: number[] = [];
  let answerBytes = 0;
  const main0 = mainThreadMs();
  for (let r = 0; r < reps; r++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const res = await read();
    // What the hub does next for `history`: one answer string.
    const answer = '{"t":"ok","id":1,"messages":[' + res.frames.join(",") + "]}";
    wall.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
    answerBytes = answer.length;
  }
  wall.sort((a, b) => a - b);
  cpu.sort((a, b) => a - b);
  const main = (mainThreadMs() - main0) / reps;
  console.log(`${name}: answer ${(answerBytes / 1048576).toFixed(2)} MiB; wall ms min ${f(wall[0]!)} p50 ${f(at(wall, 0.5))} max ${f(wall.at(-1)!)}; cpu ms p50 ${f(at(cpu, 0.5))}, main thread ${f(main)} per read`);
}

/** An authenticated connection whose writes only count bytes; resolves `answered` on the `ok` to request `id`. */
function connection(): { conn: Conn; sent: () => number; answer: (id: number) => Promise<string> } {
  let sent = 0;
  let waiting: { id: string; resolve: (frame: string) => void } | undefined;
  const conn: Conn = {
    data: hub.newConnData(undefined),
    remoteAddress: "127.0.0.1",
    send: (s) => {
      sent += s.length;
      if (waiting && s.startsWith(waiting.id)) waiting.resolve(s);
      return s.length;
    },
    subscribe: () => {},
    unsubscribe: () => {},
    isSubscribed: () => false,
    subscriptions: [],
    close: () => {},
    getBufferedAmount: () => 0,
    cork: (cb) => cb(),
  };
  hub.open(conn);
  hub.authenticate(conn, { sub: "reader", tenant: "bench", roles: [], claims: { rooms: ["big"] }, expMs: undefined }, undefined);
  return {
    conn,
    sent: () => sent,
    answer: (id) => new Promise((resolve) => (waiting = { id: `{"t":"ok","id":${id},`, resolve })),
  };
}

/** Gaps between consecutive timer turns while `during` runs: the longest is the longest block of the loop. */
async function loopGaps(during: () => Promise<unknown>): Promise<{ max: number; turns: number }> {
  let running = true;
  let last = performance.now();
  let max = 0;
  let turns = 0;
  const tick = () => {
    const now = performance.now();
    max = Math.max(max, now - last);
    last = now;
    turns++;
    if (running) setTimeout(tick, 0);
  };
  setTimeout(tick, 0);
  await new Promise((r) => setTimeout(r, 5));
  max = 0;
  turns = 0;
  last = performance.now();
  await during();
  running = false;
  // The turn that ends with the answer counts too.
  max = Math.max(max, performance.now() - last);
  return { max, turns };
}

async function measureSub(): Promise<void> {
  const blocks: number[] = [];
  const walls: number[] = [];
  let backlog = 0;
  let turns = 0;
  const main0 = mainThreadMs();
  for (let r = 0; r < reps; r++) {
    const c = connection();
    const id = 10 + r;
    const t0 = performance.now();
    const gaps = await loopGaps(async () => {
      const answered = c.answer(id);
      hub.message(c.conn, JSON.stringify({ t: "sub", id, ch: "room:big", since: first }));
      const ok = JSON.parse(await answered) as { missed: number };
      backlog = ok.missed;
    });
    walls.push(performance.now() - t0);
    blocks.push(gaps.max);
    turns = gaps.turns;
    hub.close(c.conn, 1000);
  }
  // (Includes the 5 ms idle lead-in of each measurement, which costs ~nothing.)
  const main = (mainThreadMs() - main0) / reps;
  blocks.sort((a, b) => a - b);
  walls.sort((a, b) => a - b);
  console.log(`sub since first through the hub, recovery cap ${RECOVERY_MAX_BYTES / 1048576} MiB: ${backlog} messages; longest loop block ms min ${f(blocks[0]!)} p50 ${f(at(blocks, 0.5))} max ${f(blocks.at(-1)!)}; until ok ms p50 ${f(at(walls, 0.5))} (${turns} timer turns in the last); main thread CPU ${f(main)} ms per sub`);
}

console.log(`history-stall: ${messages} messages of ${bytes} bytes in one room, ${reps} reads per case`);
const read = (q: Parameters<LocalEngine["history"]>[1]) => () => engine.history(key, q, opts);
await measure("history newest, limit 100, 1 MiB cap", read({ limit: 100, maxBytes: HISTORY_ANSWER_MAX_BYTES }));
await measure("history since 0, limit 100, 1 MiB cap", read({ since: "0", limit: 100, maxBytes: HISTORY_ANSWER_MAX_BYTES }));
await measure(`sub since first, limit 100, recovery cap ${RECOVERY_MAX_BYTES / 1048576} MiB`, read({ since: first, limit: 100, maxBytes: RECOVERY_MAX_BYTES }));
await measureSub();
await engine.stop();
rmSync(dir, { recursive: true, force: true });
