/**
 * One seeded chaos run (tests/chaos/chaos.test.ts runs the CI budget,
 * bench/soak/chaos.ts a larger one): SDK publishers and subscribers over
 * many channels on three nodes and one Redis with `appendfsync always`,
 * while seeded faults kill and restart nodes, pause and kill Redis and
 * drop client connections. The seed fixes the schedule of faults and every
 * random choice; process timing still varies from run to run.
 */
import { mulberry32 } from "../helpers/seeded-random.ts";
import { until } from "../helpers/until.ts";
import { dropSocket, openSockets, Publisher, Subscriber } from "./actors.ts";
import { ChaosCluster, footprint, type ProcessFootprint } from "./cluster.ts";
import { verify, type Verdict } from "./verify.ts";

export interface ChaosParams {
  seed: number;
  /** Publications to send (acknowledged or not) before the faults stop. */
  messages: number;
  /** Faults injected at the least, publishing on past `messages` if needed (default 8). */
  minFaults?: number;
  channels: number;
  publishers: number;
  subscribers: number;
  /** Channels each subscriber takes. */
  channelsPerSubscriber: number;
  /** In-flight publications per publisher. */
  window: number;
  /** Pause of each in-flight lane between publications (0: publish as fast as answers come). */
  paceMs?: number;
  /** Soak: run this long (faults and load), instead of until `messages` were acknowledged. */
  durationSec?: number;
  /** Soak: seconds between faults, [lo, hi) (default: spread over the message budget). */
  faultEverySec?: [number, number];
  /** Indexes of the nodes that may be SIGKILLed (default: all). */
  killable?: number[];
  /** History kept per channel (default: sized from messages/channels). */
  historySize?: number;
  /** SIGKILL and restart Redis once more right before the load stops (the soak's last fault was one). */
  finalRedisKill?: boolean;
  /** Called once the cluster runs, before any load (e.g. to start more clients). */
  started?: (cluster: ChaosCluster, channels: string[]) => Promise<void>;
  /** Called when publishing stopped, before the run is verified. */
  loadStopped?: () => Promise<void>;
  /** Keep every node process's log in this directory (see ChaosCluster), at `nodeLogLevel`. */
  nodeLogDir?: string;
  nodeLogLevel?: string;
  /** PRESENCE_TTL_SEC of the nodes (default 3, see ChaosCluster). */
  presenceTtlSec?: number;
  log: (line: string) => void;
}

export interface ChaosReport extends Verdict {
  seed: number;
  sent: number;
  faults: Record<string, number>;
  seconds: number;
  footprints: { node: string; baseline: ProcessFootprint; end: ProcessFootprint }[];
  harness: { baseline: number; end: number };
}


type FaultKind = "node-kill" | "redis-pause" | "redis-kill" | "client-drop";
const FAULTS: FaultKind[] = ["node-kill", "redis-pause", "redis-kill", "client-drop"];

export async function runChaos(p: ChaosParams): Promise<ChaosReport> {
  const t0 = performance.now();
  const rnd = mulberry32(p.seed);
  const between = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo));
  const harnessFds0 = footprint(process.pid).fds;
  const cluster = new ChaosCluster({ logDir: p.nodeLogDir, logLevel: p.nodeLogLevel, presenceTtlSec: p.presenceTtlSec });
  const channels = Array.from({ length: p.channels }, (_, i) => `room:c${i}`);
  const rooms = channels.map((c) => c.slice(5));
  const publishers: Publisher[] = [];
  const subscribers: Subscriber[] = [];
  const faults: Record<string, number> = { "node-kill": 0, "redis-pause": 0, "redis-kill": 0, "client-drop": 0 };
  try {
    await cluster.start(3, p.historySize ?? Math.max(1000, Math.ceil((p.messages / p.channels) * 4)));
    await p.started?.(cluster, channels);
    const url = (i: number) => `ws://127.0.0.1:${cluster.nodes[i % cluster.nodes.length]!.port}/v1/ws`;
    for (let i = 0; i < p.subscribers; i++) {
      // Every channel on subscribers of every node: a seeded shuffle, then a window of it.
      const order = [...channels].sort(() => rnd() - 0.5);
      subscribers.push(new Subscriber(`sub${i}`, url(i), order.slice(0, p.channelsPerSubscriber), rooms));
    }
    await Promise.all(subscribers.map((s) => s.start()));
    for (let i = 0; i < p.publishers; i++) publishers.push(new Publisher(`pub${i}`, url(i), channels, rooms));
    const sent = () => publishers.reduce((n, x) => n + x.sent, 0);
    const acked = () => publishers.reduce((n, x) => n + x.acked, 0);
    let stop = false;
    const picks = publishers.map((_, i) => mulberry32(p.seed * 31 + i));
    const publishing = publishers.map((x, i) => x.run(p.window, () => Math.floor(picks[i]!() * 1e9), () => stop, p.paceMs ?? 0));
    p.log(`chaos seed=${p.seed}: ${p.messages} publications over ${p.channels} channels, ${p.publishers} publishers, ${p.subscribers} subscribers`);

    // Fault points are seeded acknowledgement counts. A fault takes a while (a node restarts,
    // Redis comes back) and publishing goes on meanwhile, so a fast machine reaches the budget
    // after fewer of them: the load then stays on until at least minFaults were injected.
    const minFaults = p.minFaults ?? 8;
    const injected = () => Object.values(faults).reduce((a, b) => a + b, 0);
    let nextFault = 0;
    const elapsed = () => (performance.now() - t0) / 1000;
    const done = () => (p.durationSec !== undefined ? elapsed() >= p.durationSec : acked() >= p.messages && injected() >= minFaults);
    while (!done()) {
      if (p.durationSec !== undefined) {
        const [lo, hi] = p.faultEverySec ?? [30, 90];
        await Bun.sleep(Math.min(between(lo * 1000, hi * 1000), Math.max(0, (p.durationSec - elapsed()) * 1000)));
      } else {
        nextFault += between(p.messages / 60, p.messages / 20);
        if (acked() < p.messages) await waitForCount(acked, Math.min(p.messages, nextFault));
        else await Bun.sleep(between(100, 400));
      }
      if (done()) break;
      const kind = FAULTS[Math.floor(rnd() * FAULTS.length)]!;
      faults[kind]!++;
      const at = Math.round((performance.now() - t0) / 100) / 10;
      if (kind === "node-kill") {
        const killable = p.killable ?? cluster.nodes.map((_, i) => i);
        const node = cluster.nodes[killable[Math.floor(rnd() * killable.length)]!]!;
        p.log(`  ${at}s acked=${acked()} SIGKILL ${node.name}`);
        await cluster.killAndRestart(node, between(200, 1500));
      } else if (kind === "redis-pause") {
        const ms = between(300, 2000);
        p.log(`  ${at}s acked=${acked()} SIGSTOP redis for ${ms} ms`);
        cluster.redis.pause();
        await Bun.sleep(ms);
        cluster.redis.resume();
      } else if (kind === "redis-kill") {
        p.log(`  ${at}s acked=${acked()} SIGKILL redis`);
        await cluster.redis.kill();
        await Bun.sleep(between(200, 1500));
        await cluster.redis.restart();
      } else {
        const all = [...openSockets];
        const n = Math.max(1, Math.floor(all.length * (0.1 + rnd() * 0.4)));
        p.log(`  ${at}s acked=${acked()} drop ${n} of ${all.length} client connections`);
        for (const ws of all.sort(() => rnd() - 0.5).slice(0, n)) dropSocket(ws);
      }
    }
    if (p.finalRedisKill) {
      faults["redis-kill"]!++;
      p.log(`  ${Math.round((performance.now() - t0) / 100) / 10}s acked=${acked()} SIGKILL redis (final)`);
      await cluster.redis.kill();
      await Bun.sleep(500);
      await cluster.redis.restart();
    }
    stop = true;
    await Promise.all(publishing);
    await p.loadStopped?.();
    p.log(`  ${Math.round((performance.now() - t0) / 1000)}s publishing done: ${sent()} sent, ${acked()} acknowledged; waiting for subscribers to catch up`);

    const verdict = await settleAndVerify(cluster, publishers, subscribers, channels, p.log);
    for (const c of [...publishers, ...subscribers]) c.client.close();
    await until(async () => ((await Promise.all(cluster.nodes.map((n) => connections(n.server.url)))).every((n) => n === 0) ? true : undefined), "every node to have no connections", 30_000);
    const footprints = cluster.nodes.map((n) => ({ node: n.name, baseline: n.baseline, end: footprint(n.server.proc.pid) }));
    await until(async () => (openSockets.size === 0 ? true : undefined), "the harness's sockets to close", 10_000);
    return {
      ...verdict,
      seed: p.seed,
      sent: sent(),
      faults,
      seconds: Math.round((performance.now() - t0) / 1000),
      footprints,
      harness: { baseline: harnessFds0, end: footprint(process.pid).fds },
    };
  } finally {
    for (const c of [...publishers, ...subscribers]) c.client.close();
    await cluster.stop();
  }
}

async function waitForCount(count: () => number, target: number): Promise<void> {
  await until(async () => (count() >= target ? true : undefined), `${target} publications acknowledged`, 120_000);
}

async function connections(baseUrl: string): Promise<number> {
  const text = await (await fetch(baseUrl + "/metrics")).text();
  const line = text.split("\n").find((l) => l.startsWith("switchboard_connections "));
  return Number(line?.split(" ")[1] ?? NaN);
}

/** Waits until every subscriber reached each channel's last offset, then checks the run. */
async function settleAndVerify(cluster: ChaosCluster, publishers: Publisher[], subscribers: Subscriber[], channels: string[], log: (line: string) => void): Promise<Verdict> {
  const truth = new Map<string, { off: string; id: string }[]>();
  const api = cluster.nodes[0]!.server;
  const redisState = () => redisInfo(cluster).then((i) => `redis ${i}`);
  for (const n of cluster.nodes) await ready(n.name, n.server.url, log, redisState);
  for (const ch of channels) truth.set(ch, await readAll(api.url, ch));
  const lagging = () => {
    const out: string[] = [];
    for (const s of subscribers) {
      for (const ch of s.channels) {
        const list = truth.get(ch)!;
        const last = list.length ? BigInt(list[list.length - 1]!.off) : 0n;
        if (s.lastOff(ch) < last) out.push(`${s.name} ${ch} at ${s.lastOff(ch)} of ${last} (client ${s.client.state}, subscription ${s.subscription(ch)})`);
      }
    }
    return out;
  };
  await until(async () => (lagging().length === 0 ? true : undefined), "every subscriber to reach the last offset of its channels", 60_000).catch((err) => {
    throw new Error(`${(err as Error).message}: ${lagging().slice(0, 10).join("; ")}`);
  });
  return verify(truth, publishers, subscribers);
}

/**
 * Waits ≤ 60 s for `/health/ready` 200. Every change of the answer is logged
 * with its time, and a node that never gets there fails the run with its
 * last answer and its engine's /health report (readers down, last bus read).
 */
async function ready(name: string, url: string, log: (line: string) => void, more: () => Promise<string>): Promise<void> {
  const t0 = performance.now();
  let last = "";
  const changes: string[] = [];
  await until(
    async () => {
      const r = await fetch(url + "/health/ready").then(async (x) => ({ status: x.status, body: await x.text() }), (e) => ({ status: 0, body: String(e) }));
      const answer = `${r.status} ${r.body}`.slice(0, 300);
      if (answer !== last) changes.push(`${((performance.now() - t0) / 1000).toFixed(1)}s ${answer}`);
      last = answer;
      return r.status === 200 ? true : undefined;
    },
    `${name} to be ready`,
    60_000,
  ).catch(async (err) => {
    const health = await fetch(url + "/health").then((x) => x.text(), (e) => String(e));
    throw new Error(`${(err as Error).message} (answers: ${changes.slice(-10).join(" | ")}; /health: ${health.slice(0, 1500)}; ${await more()})`);
  });
  if (changes.length > 1) log(`  ${name} ready after: ${changes.join(" | ")}`);
}

/**
 * A few persistence figures of the chaos Redis (loading, AOF size, rewrite,
 * delayed fsyncs) and its latency monitor's latest spikes over 100 ms (the
 * monitor is switched on here, again after every restart), for diagnostics.
 */
export async function redisInfo(cluster: ChaosCluster): Promise<string> {
  const cli = (...args: string[]) => cluster.redis.cli(...args).catch((e: unknown) => String(e));
  const text = await cli("INFO", "persistence");
  const want = ["loading", "aof_current_size", "aof_rewrite_in_progress", "aof_delayed_fsync", "aof_last_write_status"];
  const fields = text.split(/\r?\n/).filter((l) => want.includes(l.split(":")[0]!));
  await cli("CONFIG", "SET", "latency-monitor-threshold", "100");
  const latest = (await cli("LATENCY", "LATEST")).trim().split(/\s+/).join(" ");
  return `${fields.length ? fields.join(" ") : text.trim().slice(0, 200)} latency-latest: ${latest.slice(0, 300)}`;
}

/** The whole retained history of `ch`, paged with since (answers are bounded in bytes). */
async function readAll(baseUrl: string, ch: string): Promise<{ off: string; id: string }[]> {
  const out: { off: string; id: string }[] = [];
  let since = "0";
  for (;;) {
    const r = await fetch(`${baseUrl}/v1/channels/${ch}/history?since=${since}&limit=1000`, { headers: { authorization: "Bearer test-api-key" } });
    if (r.status !== 200) throw new Error(`history of ${ch} answered ${r.status}: ${await r.text()}`);
    const body = (await r.json()) as { messages: { off: string; data: { id: string } }[] };
    if (body.messages.length === 0) return out;
    for (const m of body.messages) out.push({ off: m.off, id: m.data.id });
    since = body.messages[body.messages.length - 1]!.off;
  }
}
