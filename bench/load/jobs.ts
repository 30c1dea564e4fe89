/**
 * The load a worker process generates. Each job connects its clients, reports
 * `ready`, then runs on the coordinator's `go` (absolute times from
 * `nowMs()`, so every worker measures the same window) and reports a result.
 */
import { SignJWT } from "jose";
import { nowMs, sleepUntil } from "../lib/clock.ts";
import { encodeHistogram, newHistogram, recordMicros, type Histogram } from "../lib/latency.ts";
import { readIntAfter } from "../lib/ws-frames.ts";
import { openClient, pubFrame, subscribe, type ClientSpec, type DialectKind, type Endpoint } from "./dialects.ts";
import { addTallies, channelBytes, newTally, SeqFilter } from "./delivery-check.ts";
import { chatJob } from "./chat-job.ts";
import { httpJob } from "./http-job.ts";
import type { LeanConn } from "./lean-client.ts";
import { chatStore, type ChatStoreJob } from "./chat-store-job.ts";
import { careTeamJob, type CareTeamJob } from "./care-team-job.ts";

export interface AuthSpec {
  secret: string;
  tenant: string;
  rooms: string[];
  /** Users are `${subPrefix}${i}`; every connection gets its own user. */
  subPrefix: string;
}

export interface Base {
  dialect: DialectKind;
  ep: Endpoint;
  auth?: AuthSpec;
  /** Connections opened concurrently while setting up. */
  concurrency?: number;
}

/** `base`: this worker's first client number across all workers (the sender id in each message). */
/** `mode`: `saturate` (Bun's chat benchmark shape) or `rtt` (rounds of `batch`); see chat-job.ts. */
/** `status`: every client sets a presence status and watches this worker's other users before `ready` (chat-webhooks). */
export interface ChatJob extends Base { kind: "chat"; mode: "saturate" | "rtt"; n: number; ch: string; batch: number; totalClients: number; base?: number; status?: boolean }
export interface ListenJob extends Base { kind: "listen"; n: number; ch: string }
export interface PublishJob extends Base { kind: "publish"; ch: string }
/** `listen`: once subscribed, record the latency of every `ch` delivery (the connect-workers fan-out). */
/** `users`: user name prefix for targets without auth (the peers), so that every connection of every worker has its own `user:<name>` as with auth; default `u`. */
export interface ConnectJob extends Base { kind: "connect"; n: number; ch: string; listen?: boolean; users?: string }
/** `base`: sender id of this worker's first lane (lanes publish sequences of their own). */
export interface HttpJob { kind: "http"; url: string; apiKey?: string; tenant?: string; ch: string; concurrency: number; base?: number }
export type Job = ChatJob | ListenJob | PublishJob | ConnectJob | HttpJob | ChatStoreJob | CareTeamJob;

/** Time window (ms, nowMs clock); publications are assigned to phases by their scheduled send time. */
export interface Phase { name: string; fromMs: number; toMs: number; rate?: number; window?: number }
export interface Go { startAt: number; measureFrom: number; measureTo: number; phases?: Phase[] }

export type Emit = (ev: Record<string, unknown>) => void;

const BT = new TextEncoder().encode('"bt":');

async function specs(job: Base, n: number): Promise<ClientSpec[]> {
  const out: ClientSpec[] = [];
  const a = job.auth;
  const key = a ? new TextEncoder().encode(a.secret) : null;
  const exp = Math.floor(Date.now() / 1000) + 3600;
  for (let i = 0; i < n; i++) {
    if (!a || !key) {
      out.push({ dialect: job.dialect });
      continue;
    }
    const token = await new SignJWT({ sub: `${a.subPrefix}${i}`, tenant: a.tenant, roles: [], rooms: a.rooms })
      .setProtectedHeader({ alg: "HS256" })
      .setExpirationTime(exp)
      .sign(key);
    out.push({ dialect: job.dialect, token });
  }
  return out;
}

/** Runs `fn(i)` for i < n with at most `conc` in flight; collects the first error, counts failures. */
async function pool(n: number, conc: number, fn: (i: number) => Promise<void>): Promise<{ failed: number; firstError?: string }> {
  let next = 0;
  let failed = 0;
  let firstError: string | undefined;
  const lanes = Array.from({ length: Math.min(conc, n) }, async () => {
    while (next < n) {
      const i = next++;
      try {
        await fn(i);
      } catch (e) {
        failed++;
        firstError ??= (e as Error).message;
      }
    }
  });
  await Promise.all(lanes);
  return { failed, firstError };
}

export async function openAndSub(job: Base & { ch: string }, n: number): Promise<{ conns: LeanConn[]; specs: ClientSpec[]; failed: number; firstError?: string }> {
  const ss = await specs(job, n);
  const conns: LeanConn[] = [];
  const used: ClientSpec[] = [];
  const r = await pool(n, job.concurrency ?? 64, async (i) => {
    const c = await openClient(job.ep, ss[i]);
    await subscribe(c, ss[i], job.ch, 1);
    conns.push(c);
    used.push(ss[i]);
  });
  if (r.failed === n) throw new Error(`all ${n} connections failed: ${r.firstError}`);
  return { conns, specs: used, ...r };
}

export async function runJob(job: Job, emit: Emit, next: () => Promise<Record<string, any>>): Promise<void> {
  switch (job.kind) {
    case "chat":
      return chatJob(job, await openAndSub(job, job.n), emit, next);
    case "listen":
      return listen(job, emit, next);
    case "publish":
      return publish(job, emit, next);
    case "connect":
      return connect(job, emit, next);
    case "http":
      return httpJob(job, emit, next);
    case "chat-store":
      return chatStore(job, emit, next);
    case "care-team":
      return careTeamJob(job, emit, next);
  }
}

/**
 * Subscribers that record delivery latency from the publisher's scheduled send
 * time (`"bt":<µs>`). Only fresh deliveries of the channel count (see
 * delivery-check.ts); negative latencies (clock skew) are counted as such.
 */
async function listen(job: ListenJob, emit: Emit, next: () => Promise<Record<string, any>>): Promise<void> {
  const { conns, failed, firstError } = await openAndSub(job, job.n);
  emit({ ev: "ready", conns: conns.length, failed, firstError });
  const go = (await next()) as Go;
  const phases = go.phases ?? [];
  const hists: Histogram[] = phases.map(() => newHistogram());
  const counts = phases.map(() => 0);
  const fromUs = phases.map((p) => Math.round(p.fromMs * 1000));
  const toUs = phases.map((p) => Math.round(p.toMs * 1000));
  const tally = newTally();
  const chBytes = channelBytes(job.ch);
  let negative = 0;
  for (const c of conns) {
    const filter = new SeqFilter(tally, chBytes);
    c.onMsg = (buf: Uint8Array, s: number, e: number) => {
      const now = nowMs() * 1000;
      const bt = readIntAfter(buf, s, e, BT);
      if (bt < 0) {
        tally.unparsed++;
        return;
      }
      if (!filter.accept(buf, s, e)) return;
      for (let p = 0; p < phases.length; p++) {
        if (bt >= fromUs[p] && bt < toUs[p]) {
          if (recordMicros(hists[p], now - bt)) negative++;
          counts[p]++;
          return;
        }
      }
    };
  }
  await next(); // "stop": the publisher is done and the tail has drained
  emit({
    ev: "result",
    phases: phases.map((p, i) => ({ name: p.name, received: counts[i], hist: encodeHistogram(hists[i]) })),
    received: conns.reduce((s, c) => s + c.received, 0),
    tally: addTallies([tally]),
    unparsed: tally.unparsed,
    negative,
    closed: conns.filter((c) => c.closed).length,
  });
  for (const c of conns) c.close();
}

/**
 * One publisher. Rate phases are open-loop: publication i is due at
 * from + i/rate and carries that *scheduled* time, so a stalled publisher or
 * server shows up as latency instead of silently sending later (no
 * coordinated omission). Window phases are closed-loop (at most `window`
 * unacknowledged publications) and measure throughput.
 */
async function publish(job: PublishJob, emit: Emit, next: () => Promise<Record<string, any>>): Promise<void> {
  const [spec] = await specs(job, 1);
  const c = await openClient(job.ep, spec);
  emit({ ev: "ready", conns: 1 });
  const go = (await next()) as Go;
  const firstPubId = 10;
  let id = firstPubId;
  // Per publication id: 0 sent and unanswered, 1 acknowledged, 2 refused. Answers are matched by id,
  // so a subscribe's ack or a second answer to one publication is never counted as a publication.
  let state = new Uint8Array(1 << 16);
  let answered = 0;
  let strayAnswers = 0;
  let firstRefusal: string | undefined;
  c.onAnswer = (ok, answerId, buf, s, e) => {
    const k = answerId - firstPubId;
    if (k < 0 || answerId >= id || state[k] !== 0) {
      strayAnswers++;
      return;
    }
    state[k] = ok ? 1 : 2;
    answered++;
    if (!ok) firstRefusal ??= new TextDecoder().decode(buf.subarray(s, Math.min(e, s + 200)));
  };
  const send = (dataJson: string) => {
    if (id - firstPubId >= state.length) {
      const bigger = new Uint8Array(state.length * 2);
      bigger.set(state);
      state = bigger;
    }
    c.sendText(pubFrame(spec, job.ch, "m", dataJson, id++));
  };
  const lag = newHistogram();
  const ranges: { name: string; from: number; to: number; seconds: number }[] = [];
  for (const ph of go.phases ?? []) {
    const from = id;
    await sleepUntil(ph.fromMs);
    if (ph.rate) {
      const periodMs = 1000 / ph.rate;
      for (let i = 0; ; i++) {
        const due = ph.fromMs + i * periodMs;
        if (due >= ph.toMs) break;
        if (due > nowMs()) await sleepUntil(due);
        recordMicros(lag, (nowMs() - due) * 1000);
        send(`{"bt":${Math.round(due * 1000)},"q":${id}}`);
      }
    } else {
      const win = ph.window ?? 64;
      const answered0 = answered;
      const done = Promise.withResolvers<void>();
      const pump = () => {
        const now = nowMs();
        if (now >= ph.toMs) {
          c.onAck = null;
          done.resolve();
          return;
        }
        while (id - from - (answered - answered0) < win) send(`{"bt":${Math.round(nowMs() * 1000)},"q":${id}}`);
      };
      c.onAck = pump;
      pump();
      const guard = setTimeout(() => done.resolve(), ph.toMs - nowMs() + 2000);
      await done.promise;
      clearTimeout(guard);
    }
    ranges.push({ name: ph.name, from, to: id, seconds: (ph.toMs - ph.fromMs) / 1000 });
  }
  await next(); // "stop": late answers have had the tail's time to arrive
  const out = ranges.map((r) => {
    let acked = 0;
    let refused = 0;
    for (let k = r.from - firstPubId; k < r.to - firstPubId; k++) {
      if (state[k] === 1) acked++;
      else if (state[k] === 2) refused++;
    }
    return { name: r.name, sent: r.to - r.from, acked, refused, seconds: r.seconds };
  });
  emit({ ev: "result", phases: out, lag: encodeHistogram(lag), framesReceived: c.parser.frames, strayAnswers, firstRefusal, closed: c.closed, closeInfo: c.closeInfo });
  c.close();
}

/** Authenticated connects per second, then two subscriptions each, then held idle until told to stop. */
async function connect(job: ConnectJob, emit: Emit, next: () => Promise<Record<string, any>>): Promise<void> {
  const ss = await specs(job, job.n);
  emit({ ev: "prepared" });
  const go = (await next()) as Go;
  await sleepUntil(go.startAt);
  const conns: LeanConn[] = new Array(job.n);
  const hs = newHistogram();
  const conc = job.concurrency ?? 128;
  const t0 = nowMs();
  const opened = await pool(job.n, conc, async (i) => {
    const s = nowMs();
    conns[i] = await openClient(job.ep, ss[i]);
    recordMicros(hs, (nowMs() - s) * 1000);
  });
  const t1 = nowMs();
  const subbed = await pool(job.n, conc, async (i) => {
    const c = conns[i];
    if (!c) return; // already counted as a failed connect
    await subscribe(c, ss[i], job.ch, 1);
    const user = job.auth ? `${job.auth.subPrefix}${i}` : `${job.users ?? "u"}${i}`;
    await subscribe(c, ss[i], `user:${user}`, 2);
  });
  const t2 = nowMs();
  emit({
    ev: "ready",
    n: job.n,
    connectFrom: t0,
    connectTo: t1,
    subTo: t2,
    connectFailed: opened.failed,
    subFailed: subbed.failed,
    firstError: opened.firstError ?? subbed.firstError,
    handshake: encodeHistogram(hs),
  });
  const fan = job.listen ? fanoutRecorder(conns, job.ch) : null;
  await next();
  const alive = conns.filter((c) => c && !c.closed).length;
  for (const c of conns) c?.close();
  emit({ ev: "result", alive, ...fan?.result() });
}

/** Delivery latency from the publisher's `"bt"` on every open connection (fresh deliveries of `ch` only). */
function fanoutRecorder(conns: (LeanConn | undefined)[], ch: string) {
  const h = newHistogram();
  const tally = newTally();
  const chBytes = channelBytes(ch);
  let received = 0;
  let negative = 0;
  for (const c of conns) {
    if (!c) continue;
    const filter = new SeqFilter(tally, chBytes);
    c.onMsg = (buf, s, e) => {
      const now = nowMs() * 1000;
      const bt = readIntAfter(buf, s, e, BT);
      if (bt < 0) {
        tally.unparsed++;
        return;
      }
      if (!filter.accept(buf, s, e)) return;
      received++;
      if (recordMicros(h, now - bt)) negative++;
    };
  }
  return { result: () => ({ received, hist: encodeHistogram(h), tally: addTallies([tally]), negative, closed: conns.filter((c) => c?.closed).length }) };
}
