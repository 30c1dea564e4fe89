/**
 * The `chat` load job: clients in one room, each sending rounds of messages
 * that every member (sender included) receives. Two shapes:
 *
 * - `saturate` (scenario `chat`): Bun's own chat benchmark
 *   (oven-sh/bun bench/websocket-server): each client sends its whole list of
 *   1,600 short texts per round and starts the next round once it has
 *   received the whole previous round from everybody, so the server is the
 *   side that waits for nothing and only its cost per publication counts.
 * - `rtt` (scenario `chat-rtt`): rounds of 10 messages with at most two
 *   rounds in flight; the server idles while round trips complete.
 *
 * Either way a client may send round k once it has received
 * (k − inFlight) · perRound messages: an implicit barrier that needs no
 * cross-process talk.
 */
import { nowMs, sleepUntil } from "../lib/clock.ts";
import { encodeClientFrame, OP_TEXT } from "../lib/ws-frames.ts";
import { addTallies, channelBytes, newTally, SeqFilter } from "./delivery-check.ts";
import type { Emit, Go, ChatJob } from "./jobs.ts";
import type { LeanConn } from "./lean-client.ts";
import type { ClientSpec } from "./dialects.ts";
import { pubFrame } from "./dialects.ts";

const GREETINGS = ["Hello World!", ...Array.from({ length: 9 }, (_, i) => `Hello World! ${i + 1}`)];
const QUESTIONS = ["What is the meaning of life?", "where is the bathroom?", "zoo", "kangaroo", "erlang", "elixir", "bun", "mochi", "typescript", "javascript"];
const LATE = GREETINGS.slice(7);

/** The 50 texts of Bun's chat client, in its order; a client sends them 32 times per round. */
export const BUN_CHAT_TEXTS: readonly string[] = [...GREETINGS, ...QUESTIONS, ...LATE, ...QUESTIONS, ...LATE, QUESTIONS[0], ...LATE, ...QUESTIONS];
export const BUN_CHAT_REPEAT = 32;

export interface ChatShape {
  /** Texts one client sends per round (their order is the round's order). */
  texts: readonly string[];
  /** Rounds a client may have sent ahead of what it has fully received. */
  inFlight: number;
  /** Upper bound for the drain after the measured window (ms). */
  drainMs: number;
}

export function chatShape(mode: ChatJob["mode"], batch: number): ChatShape {
  if (mode === "saturate") return { texts: Array.from({ length: BUN_CHAT_REPEAT }, () => BUN_CHAT_TEXTS).flat(), inFlight: 1, drainMs: 60_000 };
  return { texts: Array.from({ length: batch }, () => ""), inFlight: 2, drainMs: 5_000 };
}

const MASK = crypto.getRandomValues(new Uint8Array(4));

/** One round of one client as a single write: masked frames, each carrying sender and sequence. */
function roundBytes(spec: ClientSpec, ch: string, sender: number, q0: number, texts: readonly string[], id: number): Uint8Array {
  const frames: Uint8Array[] = [];
  let n = 0;
  for (let k = 0; k < texts.length; k++) {
    const data = texts[k] === "" ? `{"s":${sender},"q":${q0 + k}}` : `{"s":${sender},"q":${q0 + k},"text":${JSON.stringify(texts[k])}}`;
    const f = encodeClientFrame(OP_TEXT, pubFrame(spec, ch, "m", data, id + k), MASK);
    frames.push(f);
    n += f.length;
  }
  const out = new Uint8Array(n);
  let o = 0;
  for (const f of frames) {
    out.set(f, o);
    o += f.length;
  }
  return out;
}

/**
 * Presence status on: each client sets `busy` with a text and watches every
 * other user of this worker (the SDK's `status` and `watch` frames), one
 * request at a time per client, each waiting for its `ok`. The status events
 * this fans out arrive before the load starts and are not deliveries.
 */
async function setStatuses(job: ChatJob, conns: LeanConn[]): Promise<void> {
  const prefix = job.auth?.subPrefix;
  if (prefix === undefined) throw new Error("status needs authenticated clients");
  const users = conns.map((_, i) => `${prefix}${i}`);
  const okFor = (id: number) => (t: string) => t.startsWith(`{"t":"ok","id":${id},`) || t === `{"t":"ok","id":${id}}`;
  await Promise.all(
    conns.map(async (c, i) => {
      const set = c.expect(okFor(5));
      c.sendText(`{"t":"status","id":5,"status":"busy","text":"ward round ${i}"}`);
      await set;
      const watched = c.expect(okFor(6));
      c.sendText(`{"t":"watch","id":6,"users":${JSON.stringify(users.filter((_, k) => k !== i))}}`);
      await watched;
    }),
  );
}

export async function chatJob(job: ChatJob, opened: { conns: LeanConn[]; specs: ClientSpec[]; failed: number; firstError?: string }, emit: Emit, next: () => Promise<Record<string, any>>): Promise<void> {
  const { conns, specs: ss, failed, firstError } = opened;
  const shape = chatShape(job.mode, job.batch);
  const per = shape.texts.length;
  const perRound = per * job.totalClients;
  let running = false;
  const sent = new Array<number>(conns.length).fill(0);
  const got = new Array<number>(conns.length).fill(0);
  const tally = newTally();
  const chBytes = channelBytes(job.ch);
  const base = job.base ?? 0;
  let id = 10;
  const sendRound = (i: number) => {
    conns[i].write(roundBytes(ss[i], job.ch, base + i, sent[i], shape.texts, id));
    id += per;
    sent[i] += per;
  };
  conns.forEach((c, i) => {
    const filter = new SeqFilter(tally, chBytes);
    c.onMsg = (buf, s, e) => {
      if (!filter.accept(buf, s, e)) return;
      got[i]++;
      if (!running) return;
      if (got[i] >= (sent[i] / per - shape.inFlight + 1) * perRound) sendRound(i);
    };
  });
  if (job.status) await setStatuses(job, conns);
  emit({ ev: "ready", conns: conns.length, failed, firstError });
  const go = (await next()) as Go;
  await sleepUntil(go.startAt);
  running = true;
  conns.forEach((_, i) => {
    for (let r = 0; r < shape.inFlight; r++) sendRound(i);
  });
  const total = () => got.reduce((s, n) => s + n, 0);
  const bytes = () => conns.reduce((s, c) => s + c.bytesIn, 0);
  await sleepUntil(go.measureFrom);
  const c0 = total();
  const b0 = bytes();
  const t0 = nowMs();
  await sleepUntil(go.measureTo);
  const c1 = total();
  const b1 = bytes();
  const t1 = nowMs();
  running = false;
  // Every client stops sending at measureTo. The coordinator sums what all workers sent and says how
  // many messages each client must receive (everything anybody sent, in the one room); wait for that,
  // until nothing arrived for 3 s, or the bound. A "quiet for 500 ms" rule alone cut the drain short
  // on a starved machine: other workers' clients were still receiving and the messages left in
  // flight to this worker's (then closed) clients were counted as missing.
  emit({ ev: "sent", sent: sent.reduce((a, b) => a + b, 0) });
  const { perClient } = (await next()) as { perClient: number };
  for (let last = -1, quietSince = nowMs(), until = nowMs() + shape.drainMs; nowMs() < until; ) {
    if (got.every((g) => g >= perClient)) break;
    const n = total();
    if (n !== last) [last, quietSince] = [n, nowMs()];
    else if (nowMs() - quietSince >= 3000) break;
    await sleepUntil(nowMs() + 20);
  }
  emit({
    ev: "result",
    received: c1 - c0,
    bytes: b1 - b0,
    seconds: (t1 - t0) / 1000,
    sent: sent.reduce((a, b) => a + b, 0),
    receivedTotal: total(),
    tally: addTallies([tally]),
    closed: conns.filter((c) => c.closed).length,
    closeInfo: [...new Set(conns.filter((c) => c.closed).map((c) => c.closeInfo || "no close frame"))],
  });
  for (const c of conns) c.close();
}
