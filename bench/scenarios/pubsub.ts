/**
 * Shared engine of `fanout` and `crossnode`: groups of subscribing workers,
 * one publisher worker, a timeline of phases. Publications are attributed to
 * phases by their scheduled send time, so the listeners and the publisher
 * agree without talking to each other.
 */
import { nowMs, sleep } from "../lib/clock.ts";
import { mergeHistograms, type Histogram } from "../lib/latency.ts";
import { CpuMeter, saturation, type CpuUsage } from "../lib/procs.ts";
import { LoadWorker } from "../lib/workers.ts";
import type { Endpoint } from "../load/dialects.ts";
import type { Phase } from "../load/jobs.ts";
import { ROOM, type Target } from "../targets.ts";
import { addTallies, type DeliveryTally } from "../load/delivery-check.ts";
import { authFor, spread } from "./common.ts";

export interface Group { name: string; ep: Endpoint; subscribers: number; workers: number }

export interface PubSubOutcome {
  /** group → phase → merged latency histogram and deliveries. */
  groups: Record<string, Record<string, { hist: Histogram; received: number }>>;
  published: Record<string, { sent: number; acked: number; refused: number; seconds: number }>;
  /** The first refusal's text, if any publication was refused. */
  firstRefusal?: string;
  /** Answers the publisher got for no unanswered publication of its own. */
  strayAnswers: number;
  /** What the subscribers saw but did not count, and negative latencies clamped to 0. */
  tally: DeliveryTally;
  negative: number;
  publisherLag: Histogram;
  cpu: Record<string, CpuUsage & { saturated: string }>;
  subscribers: Record<string, number>;
  closed: number;
  /** Frames the publisher received (acks; more would mean it was also busy reading). */
  publisherFrames?: number;
}

export async function runPubSub(t: Target, tag: string, groups: Group[], pubEp: Endpoint, phases: Phase[], workers: LoadWorker[], serverPids: number[]): Promise<PubSubOutcome> {
  const byGroup: { g: Group; ws: LoadWorker[] }[] = [];
  for (const g of groups) {
    const ws = spread(g.subscribers, g.workers).map((k, i) =>
      LoadWorker.start(`${tag}-${g.name}-w${i}`, { kind: "listen", dialect: t.dialect, ep: g.ep, auth: authFor(t, `${tag}${g.name}${i}`), n: k, ch: ROOM, concurrency: 128 }),
    );
    workers.push(...ws);
    byGroup.push({ g, ws });
  }
  const pub = LoadWorker.start(`${tag}-pub`, { kind: "publish", dialect: t.dialect, ep: pubEp, auth: authFor(t, `${tag}pub`), ch: ROOM });
  workers.push(pub);
  const listeners = byGroup.flatMap((b) => b.ws);
  const ready = await Promise.all(listeners.map((w) => w.waitFor("ready", 120_000)));
  await pub.waitFor("ready", 30_000);
  const failed = ready.reduce((s, r) => s + r.failed, 0);
  if (failed > 0) throw new Error(`${failed} subscribers failed: ${ready.find((r) => r.firstError)?.firstError}`);
  // Subscriptions are acknowledged before `ready`, but a clustered target may
  // need a moment before the other node forwards the channel.
  await sleep(200);
  // Whole milliseconds: publication times are then exact integers of µs at both ends.
  const t0 = Math.round(nowMs() + 300);
  const timeline = phases.map((p) => ({ ...p, fromMs: p.fromMs + t0, toMs: p.toMs + t0 }));
  const measured = timeline.filter((p) => p.name !== "warmup");
  listeners.forEach((w) => w.send({ cmd: "go", startAt: t0, phases: measured }));
  pub.send({ cmd: "go", startAt: t0, phases: timeline });
  const cpu: PubSubOutcome["cpu"] = {};
  const meter = new CpuMeter([...serverPids.map((pid) => ({ pid, role: "server" as const })), ...workers.map((w) => ({ pid: w.pid, role: "client" as const }))]);
  for (const p of measured) {
    await sleep(p.fromMs - nowMs());
    meter.start();
    await sleep(p.toMs - nowMs());
    const u = meter.stop();
    cpu[p.name] = { ...u, saturated: saturation(u, workers.length) };
  }
  await sleep(1500); // let the tail of the last phase arrive
  [...listeners, pub].forEach((w) => w.send({ cmd: "stop" }));
  const pr = await pub.waitFor("result", 30_000);
  const out: PubSubOutcome = {
    groups: {},
    published: {},
    publisherLag: mergeHistograms([pr.lag]),
    cpu,
    subscribers: {},
    closed: 0,
    firstRefusal: pr.firstRefusal,
    strayAnswers: pr.strayAnswers ?? 0,
    tally: addTallies([]),
    negative: 0,
  };
  for (const p of pr.phases) out.published[p.name] = { sent: p.sent, acked: p.acked, refused: p.refused ?? 0, seconds: p.seconds };
  out.publisherFrames = pr.framesReceived;
  if (pr.closed) throw new Error(`the publisher's connection was closed: ${pr.closeInfo}`);
  const tallies: DeliveryTally[] = [];
  for (const { g, ws } of byGroup) {
    const rs = await Promise.all(ws.map((w) => w.waitFor("result", 30_000)));
    out.subscribers[g.name] = g.subscribers;
    out.closed += rs.reduce((s, r) => s + r.closed, 0);
    out.negative += rs.reduce((s, r) => s + (r.negative ?? 0), 0);
    tallies.push(...rs.map((r) => r.tally));
    out.groups[g.name] = {};
    for (const p of measured) {
      const parts = rs.map((r) => r.phases.find((x: { name: string }) => x.name === p.name));
      out.groups[g.name][p.name] = { hist: mergeHistograms(parts.map((x) => x?.hist)), received: parts.reduce((s, x) => s + (x?.received ?? 0), 0) };
    }
  }
  out.tally = addTallies(tallies);
  return out;
}
