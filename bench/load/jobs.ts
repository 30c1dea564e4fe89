/**
 * The load a worker process generates. Each job connects its clients, reports
 * `ready`, then runs on the coordinator's `go` (absolute times from
 * `nowMs()`, so every worker measures the same window) and reports a result.
 */
import { SignJWT } from "jose";
import { nowMs, sleepUntil } from "../lib/clock.ts";
import { encodeHistogram, newHistogram, recordMicros, type Histogram } from "../lib/latency.ts";
import { encodeClientFrame, OP_TEXT, readIntAfter } from "../lib/ws-frames.ts";
import { openClient, pubFrame, subscribe, type ClientSpec, type DialectKind, type Endpoint } from "./dialects.ts";
import type { LeanConn } from "./lean-client.ts";
import { chatStore, type ChatStoreJob } from "./chat-store-job.ts";

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

export interface ChatJob extends Base { kind: "chat"; n: number; ch: string; batch: number; totalClients: number }
export interface ListenJob extends Base { kind: "listen"; n: number; ch: string }
export interface PublishJob extends Base { kind: "publish"; ch: string }
export interface ConnectJob extends Base { kind: "connect"; n: number; ch: string }
export interface HttpJob { kind: "http"; url: string; apiKey?: string; tenant?: string; ch: string; concurrency: number }
export type Job = ChatJob | ListenJob | PublishJob | ConnectJob | HttpJob | ChatStoreJob;

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
      return chat(job, emit, next);
    case "listen":
      return listen(job, emit, next);
    case "publish":
      return publish(job, emit, next);
    case "connect":
      return connect(job, emit, next);
    case "http":
      return http(job, emit, next);
    case "chat-store":
      return chatStore(job, emit, next);
  }
}

/**
 * The Bun chat-benchmark shape: every client sends batches of `batch` short
 * messages into one room and receives everyone's. A client may send batch k
 * once it has received (k-1)·batch·totalClients messages, i.e. everybody has
 * finished batch k-2: an implicit barrier that needs no cross-process talk
 * and keeps at most two rounds in flight.
 */
async function chat(job: ChatJob, emit: Emit, next: () => Promise<Record<string, any>>): Promise<void> {
  const { conns, specs: ss, failed, firstError } = await openAndSub(job, job.n);
  const perRound = job.batch * job.totalClients;
  let running = false;
  const sent = new Array<number>(conns.length).fill(0);
  let id = 10;
  const sendBatch = (i: number) => {
    const c = conns[i];
    const frames: Uint8Array[] = [];
    for (let k = 0; k < job.batch; k++) {
      frames.push(encodeText(pubFrame(ss[i], job.ch, "m", `"hello from ${i} #${sent[i] + k}"`, id++)));
    }
    c.write(concat(frames));
    sent[i] += job.batch;
  };
  conns.forEach((c, i) => {
    c.onMsg = () => {
      if (!running) return;
      const round = sent[i] / job.batch;
      if (c.received >= (round - 1) * perRound) sendBatch(i);
    };
  });
  emit({ ev: "ready", conns: conns.length, failed, firstError });
  const go = (await next()) as Go;
  await sleepUntil(go.startAt);
  running = true;
  conns.forEach((_, i) => { sendBatch(i); sendBatch(i); });
  const total = () => conns.reduce((s, c) => s + c.received, 0);
  await sleepUntil(go.measureFrom);
  const c0 = total();
  const t0 = nowMs();
  await sleepUntil(go.measureTo);
  const c1 = total();
  const t1 = nowMs();
  running = false;
  emit({ ev: "result", received: c1 - c0, seconds: (t1 - t0) / 1000, sent: sent.reduce((a, b) => a + b, 0), closed: conns.filter((c) => c.closed).length });
  for (const c of conns) c.close();
}

const MASK = crypto.getRandomValues(new Uint8Array(4));
function encodeText(text: string): Uint8Array {
  return encodeClientFrame(OP_TEXT, text, MASK);
}
function concat(parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Subscribers that record delivery latency from the publisher's scheduled send time (`"bt":<µs>`). */
async function listen(job: ListenJob, emit: Emit, next: () => Promise<Record<string, any>>): Promise<void> {
  const { conns, failed, firstError } = await openAndSub(job, job.n);
  emit({ ev: "ready", conns: conns.length, failed, firstError });
  const go = (await next()) as Go;
  const phases = go.phases ?? [];
  const hists: Histogram[] = phases.map(() => newHistogram());
  const counts = phases.map(() => 0);
  const fromUs = phases.map((p) => Math.round(p.fromMs * 1000));
  const toUs = phases.map((p) => Math.round(p.toMs * 1000));
  let unparsed = 0;
  const onMsg = (buf: Uint8Array, s: number, e: number) => {
    const now = nowMs() * 1000;
    const bt = readIntAfter(buf, s, e, BT);
    if (bt < 0) {
      unparsed++;
      return;
    }
    for (let p = 0; p < phases.length; p++) {
      if (bt >= fromUs[p] && bt < toUs[p]) {
        recordMicros(hists[p], now - bt);
        counts[p]++;
        return;
      }
    }
  };
  for (const c of conns) c.onMsg = onMsg;
  await next(); // "stop": the publisher is done and the tail has drained
  emit({
    ev: "result",
    phases: phases.map((p, i) => ({ name: p.name, received: counts[i], hist: encodeHistogram(hists[i]) })),
    received: conns.reduce((s, c) => s + c.received, 0),
    unparsed,
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
  let id = 10;
  const lag = newHistogram();
  const out: { name: string; sent: number; acked: number; seconds: number }[] = [];
  for (const ph of go.phases ?? []) {
    const acks0 = c.acks;
    let sent = 0;
    await sleepUntil(ph.fromMs);
    if (ph.rate) {
      const periodMs = 1000 / ph.rate;
      for (let i = 0; ; i++) {
        const due = ph.fromMs + i * periodMs;
        if (due >= ph.toMs) break;
        if (due > nowMs()) await sleepUntil(due);
        recordMicros(lag, (nowMs() - due) * 1000);
        c.sendText(pubFrame(spec, job.ch, "m", `{"bt":${Math.round(due * 1000)}}`, id++));
        sent++;
      }
    } else {
      const win = ph.window ?? 64;
      const done = Promise.withResolvers<void>();
      const pump = () => {
        const now = nowMs();
        if (now >= ph.toMs) {
          c.onAck = null;
          done.resolve();
          return;
        }
        while (sent - (c.acks - acks0) < win) {
          c.sendText(pubFrame(spec, job.ch, "m", `{"bt":${Math.round(nowMs() * 1000)}}`, id++));
          sent++;
        }
      };
      c.onAck = pump;
      pump();
      const guard = setTimeout(() => done.resolve(), ph.toMs - nowMs() + 2000);
      await done.promise;
      clearTimeout(guard);
    }
    out.push({ name: ph.name, sent, acked: c.acks - acks0, seconds: (ph.toMs - ph.fromMs) / 1000 });
  }
  await next();
  emit({ ev: "result", phases: out, lag: encodeHistogram(lag), framesReceived: c.parser.frames, closed: c.closed, closeInfo: c.closeInfo });
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
    const user = job.auth ? `${job.auth.subPrefix}${i}` : `u${i}`;
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
  await next();
  const alive = conns.filter((c) => c && !c.closed).length;
  for (const c of conns) c?.close();
  emit({ ev: "result", alive });
}

/** Closed-loop HTTP publishers (keep-alive fetch); latency is request service time. */
async function http(job: HttpJob, emit: Emit, next: () => Promise<Record<string, any>>): Promise<void> {
  emit({ ev: "ready" });
  const go = (await next()) as Go;
  const h = newHistogram();
  let ok = 0;
  let failed = 0;
  let firstError: string | undefined;
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (job.apiKey) headers.authorization = `Bearer ${job.apiKey}`;
  await sleepUntil(go.startAt);
  const lanes = Array.from({ length: job.concurrency }, async () => {
    while (nowMs() < go.measureTo) {
      const s = nowMs();
      const body = JSON.stringify({ ...(job.tenant ? { tenant: job.tenant } : {}), ch: job.ch, ev: "m", data: { bt: Math.round(s * 1000) } });
      let good = false;
      try {
        const res = await fetch(job.url, { method: "POST", headers, body });
        const text = await res.text();
        good = res.ok;
        if (!good) firstError ??= `HTTP ${res.status} ${text.slice(0, 200)}`;
      } catch (e) {
        firstError ??= (e as Error).message;
      }
      const e = nowMs();
      if (s >= go.measureFrom && e <= go.measureTo) {
        if (good) {
          ok++;
          recordMicros(h, (e - s) * 1000);
        } else failed++;
      }
    }
  });
  await Promise.all(lanes);
  emit({ ev: "result", ok, failed, firstError, seconds: (go.measureTo - go.measureFrom) / 1000, hist: encodeHistogram(h) });
  await next().catch(() => undefined);
}
