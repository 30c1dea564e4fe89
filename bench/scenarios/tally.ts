/**
 * The arithmetic from worker results to a run's figures, one pure function
 * per scenario (the harness tests feed them synthetic results). Each also
 * says why the figures cannot be trusted: deliveries missing, duplicated or
 * from another channel, frames without a sequence, clamped negative
 * latencies, refused or unanswered publications, clients closed under load.
 * A run with any such flag is reported as flagged, never as percentiles
 * over whatever arrived.
 */
import { addTallies, type DeliveryTally } from "../load/delivery-check.ts";
import { latencyOf, type LatencyResult } from "./common.ts";
import type { PubSubOutcome } from "./pubsub.ts";

export interface Tallied {
  metrics: Record<string, number>;
  latency: Record<string, LatencyResult>;
  notes: string[];
  flags: string[];
}

const empty = (): Tallied => ({ metrics: {}, latency: {}, notes: [], flags: [] });

/** Flags for frames a subscriber saw but did not count. */
export function deliveryFlags(who: string, t: DeliveryTally, negative = 0): string[] {
  const out: string[] = [];
  if (t.duplicates > 0) out.push(`${who}: ${t.duplicates} duplicate (or out-of-order) deliveries`);
  if (t.foreign > 0) out.push(`${who}: ${t.foreign} frames of another channel`);
  if (t.unparsed > 0) out.push(`${who}: ${t.unparsed} delivery frames without a sequence or send time`);
  if (negative > 0) out.push(`${who}: ${negative} negative latencies (clock skew) clamped to 0`);
  return out;
}

function missingFlag(what: string, got: number, expected: number): string[] {
  return got < expected ? [`${what}: ${expected - got} of ${expected} deliveries missing`] : [];
}

/** Publications the server did not refuse: each must reach every subscriber. */
function accepted(p: { sent: number; refused: number }): number {
  return p.sent - p.refused;
}

function publishFlags(p: { sent: number; acked: number; refused: number }, phase: string, firstRefusal?: string): string[] {
  const out: string[] = [];
  if (p.refused > 0) out.push(`${phase}: ${p.refused} of ${p.sent} publications refused${firstRefusal ? ` (first: ${firstRefusal})` : ""}`);
  const unanswered = p.sent - p.acked - p.refused;
  if (unanswered > 0) out.push(`${phase}: ${unanswered} of ${p.sent} publications never answered`);
  return out;
}

export interface ChatWorkerResult {
  received: number;
  /** Bytes the clients received in the measured window (WebSocket frames, acks included). */
  bytes?: number;
  seconds: number;
  sent: number;
  receivedTotal: number;
  tally: DeliveryTally;
  closed: number;
  /** How the closed clients were closed (the server's close frame, or none), each reason once. */
  closeInfo?: string[];
}

/**
 * Server CPU time per publication (µs): the server processes' CPU over the
 * measured window (cores × seconds) divided by the publications delivered in
 * it; NaN when either side is missing.
 */
export function cpuPerPublicationUs(cpu: { server: number; seconds: number } | undefined, publications: number): number {
  if (!cpu || !(publications > 0) || !Number.isFinite(cpu.server)) return NaN;
  return Math.round(((cpu.server * cpu.seconds * 1e6) / publications) * 100) / 100;
}

export function chatTally(rs: ChatWorkerResult[], clients: number, cpu?: { server: number; seconds: number }): Tallied {
  const out = empty();
  const rate = rs.reduce((s, r) => s + r.received / r.seconds, 0);
  const sent = rs.reduce((s, r) => s + r.sent, 0);
  const receivedTotal = rs.reduce((s, r) => s + r.receivedTotal, 0);
  const received = rs.reduce((s, r) => s + r.received, 0);
  const bytes = rs.reduce((s, r) => s + (r.bytes ?? NaN), 0);
  out.metrics = {
    deliveredPerSec: Math.round(rate),
    publishedPerSec: Math.round(rate / clients),
    received,
    sent,
    receivedTotal,
    expectedTotal: sent * clients,
    closedClients: rs.reduce((s, r) => s + r.closed, 0),
    serverCpuUsPerPub: cpuPerPublicationUs(cpu, received / clients),
    wireBytesPerMsg: received > 0 ? Math.round((bytes / received) * 10) / 10 : NaN,
  };
  if (out.metrics.closedClients > 0) {
    const why = [...new Set(rs.flatMap((r) => r.closeInfo ?? []))].join("; ");
    out.flags.push(`${out.metrics.closedClients} clients were closed by the server during the run${why ? ` (${why})` : ""}`);
  }
  out.flags.push(...missingFlag("whole run", receivedTotal, sent * clients));
  out.flags.push(...deliveryFlags("clients", addTallies(rs.map((r) => r.tally))));
  return out;
}

/** fanout: `o.groups.subs` per rate phase. */
export function fanoutTally(o: PubSubOutcome, rates: number[], subscribers: number): Tallied {
  const out = empty();
  for (const r of rates) {
    const name = `${r}/s`;
    const g = o.groups.subs[name];
    const pub = o.published[name];
    out.latency[name] = latencyOf(g.hist);
    // A refused publication was never sent on; every other one (answered or not) must arrive.
    const expected = accepted(pub) * subscribers;
    out.metrics[`delivered_${r}`] = g.received;
    out.metrics[`expected_${r}`] = expected;
    out.metrics[`refused_${r}`] = pub.refused;
    out.flags.push(...missingFlag(name, g.received, expected), ...publishFlags(pub, name, o.firstRefusal));
  }
  out.latency["publisher lag"] = latencyOf(o.publisherLag);
  out.metrics.publisherFramesReceived = o.publisherFrames ?? NaN;
  const lag = out.latency["publisher lag"];
  out.notes.push(`publisher send lag behind schedule (already inside the latencies above): p50 ${lag.p50} ms, p99 ${lag.p99} ms, max ${lag.max} ms`);
  out.flags.push(...commonPubSubFlags(o));
  return out;
}

export function crossnodeTally(o: PubSubOutcome, rate: number, perGroup: number): Tallied {
  const out = empty();
  const ph = `${rate}/s`;
  for (const g of ["same", "cross"]) {
    out.latency[`${g} ${ph}`] = latencyOf(o.groups[g][ph].hist);
    out.latency[`${g} max`] = latencyOf(o.groups[g].max.hist);
    const got = o.groups[g][ph].received;
    out.metrics[`${g}Delivered`] = got;
    out.flags.push(...missingFlag(`${g}-node at ${ph}`, got, accepted(o.published[ph]) * perGroup));
    out.flags.push(...missingFlag(`${g}-node max phase`, o.groups[g].max.received, accepted(o.published.max) * perGroup));
  }
  out.flags.push(...publishFlags(o.published[ph], ph, o.firstRefusal), ...publishFlags(o.published.max, "max", o.firstRefusal));
  const mx = o.published.max;
  out.metrics.maxPublishedPerSec = Math.round(mx.acked / mx.seconds);
  out.metrics.maxCrossDeliveredPerSec = Math.round(o.groups.cross.max.received / mx.seconds);
  out.metrics.maxSameDeliveredPerSec = Math.round(o.groups.same.max.received / mx.seconds);
  out.metrics.p99DeltaMs = Math.round((out.latency[`cross ${ph}`].p99 - out.latency[`same ${ph}`].p99) * 1000) / 1000;
  out.flags.push(...commonPubSubFlags(o));
  return out;
}

function commonPubSubFlags(o: PubSubOutcome): string[] {
  const out: string[] = [];
  if (o.closed > 0) out.push(`${o.closed} subscribers were closed by the server`);
  out.push(...deliveryFlags("subscribers", o.tally, o.negative));
  if (o.strayAnswers > 0) out.push(`publisher: ${o.strayAnswers} answers matching no unanswered publication`);
  return out;
}

export interface ConnectReady {
  connectFrom: number;
  connectTo: number;
  subTo: number;
  connectFailed: number;
  subFailed: number;
  firstError?: string;
}

/** `alive`: connections still open when the loaded RSS was read (from the workers' results). */
export function connectTally(ready: ConnectReady[], n: number, alive: number, rss0: number, rss1: number): Tallied {
  const out = empty();
  const from = Math.min(...ready.map((r) => r.connectFrom));
  const connTo = Math.max(...ready.map((r) => r.connectTo));
  const subTo = Math.max(...ready.map((r) => r.subTo));
  const failedConn = ready.reduce((s, r) => s + r.connectFailed, 0);
  const failedSub = ready.reduce((s, r) => s + r.subFailed, 0);
  const okConns = n - failedConn - failedSub;
  out.metrics = {
    connections: okConns,
    alive,
    connectFailed: failedConn,
    subscribeFailed: failedSub,
    connectsPerSec: Math.round((n - failedConn) / ((connTo - from) / 1000)),
    subscriptionsPerSec: Math.round((2 * okConns) / ((subTo - connTo) / 1000)),
    rssBaselineBytes: rss0,
    rssLoadedBytes: rss1,
    // The memory is held by the connections that are still there, not by those that failed or were closed.
    rssPerConnBytes: alive > 0 ? Math.round((rss1 - rss0) / alive) : NaN,
  };
  const firstError = ready.find((r) => r.firstError)?.firstError;
  if (firstError) out.notes.push(`first failure: ${firstError}`);
  if (failedConn + failedSub > 0) out.flags.push(`${failedConn} connects and ${failedSub} subscriptions failed`);
  if (alive < okConns) out.flags.push(`${okConns - alive} of ${okConns} connections were closed before the memory was read`);
  return out;
}

export interface HttpWorkerResult {
  ok: number;
  failed: number;
  firstError?: string;
  hist: string;
}

export function httpTally(rs: HttpWorkerResult[], sub: { phases: { received: number; hist: string }[]; tally: DeliveryTally; negative: number; closed: number }, subscribers: number, durationMs: number, merge: (hs: string[]) => import("../lib/latency.ts").Histogram): Tallied {
  const out = empty();
  const ok = rs.reduce((s, r) => s + r.ok, 0);
  const failed = rs.reduce((s, r) => s + r.failed, 0);
  out.metrics = { requestsPerSec: Math.round(ok / (durationMs / 1000)), ok, failed, delivered: sub.phases[0].received, expectedDeliveries: ok * subscribers };
  out.latency.request = latencyOf(merge(rs.map((r) => r.hist)));
  out.latency.delivery = latencyOf(merge([sub.phases[0].hist]));
  const err = rs.find((r) => r.firstError)?.firstError;
  if (err) out.notes.push(`first failure: ${err}`);
  if (failed > 0) out.flags.push(`${failed} publish requests failed`);
  out.flags.push(...missingFlag("subscribers", sub.phases[0].received, ok * subscribers));
  if (sub.closed > 0) out.flags.push(`${sub.closed} subscribers were closed by the server`);
  out.flags.push(...deliveryFlags("subscribers", sub.tally, sub.negative));
  return out;
}

export interface ConnectWorkersInput {
  ready: ConnectReady[];
  n: number;
  /** Per load worker: connections still open at the end, fan-out deliveries received and what was not counted. */
  results: { alive: number; received: number; tally: DeliveryTally; negative: number }[];
  published: { sent: number; acked: number; refused: number };
  /** VmRSS of each server process before connecting and with every connection open. */
  rss0: number[];
  rss1: number[];
  /** Growth of the machine's kernel slab over the same interval (both socket ends are on this machine). */
  slabDelta: number;
}

/** connect-workers: connections across the processes, memory per connection (process and kernel), fan-out to all. */
export function connectWorkersTally(i: ConnectWorkersInput): Tallied {
  const base = connectTally(i.ready, i.n, i.results.reduce((s, r) => s + r.alive, 0), 0, 0);
  const out: Tallied = { ...base, metrics: { ...base.metrics }, latency: {}, notes: [...base.notes], flags: [...base.flags] };
  const alive = out.metrics.alive;
  const grown = i.rss1.reduce((s, b, k) => s + b - (i.rss0[k] ?? 0), 0);
  delete out.metrics.rssBaselineBytes;
  delete out.metrics.rssLoadedBytes;
  out.metrics.processes = i.rss1.length;
  out.metrics.rssTotalBytes = i.rss1.reduce((s, b) => s + b, 0);
  out.metrics.rssPerConnBytes = alive > 0 ? Math.round(grown / alive) : NaN;
  // Two sockets per connection on this machine: the client's and the server's end.
  out.metrics.kernelPerSocketBytes = alive > 0 ? Math.round(i.slabDelta / (2 * alive)) : NaN;
  const received = i.results.reduce((s, r) => s + r.received, 0);
  const expected = accepted(i.published) * alive;
  out.metrics.fanoutDelivered = received;
  out.metrics.fanoutExpected = expected;
  out.flags.push(...missingFlag("fan-out", received, expected), ...publishFlags(i.published, "fan-out"));
  out.flags.push(...deliveryFlags("connections", addTallies(i.results.map((r) => r.tally)), i.results.reduce((s, r) => s + r.negative, 0)));
  return out;
}
