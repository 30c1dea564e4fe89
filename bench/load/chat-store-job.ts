/**
 * chat-store load: every client publishes into one conversation in a closed
 * loop (`window` publications unacknowledged at most) and records the time
 * from send to `ok`, which for a persisted chat channel is the time to the
 * store commit. With `receipts`, every client marks the conversation read
 * up to the newest offset it saw every `receiptEvery` received messages.
 */
import { nowMs, sleepUntil } from "../lib/clock.ts";
import { encodeHistogram, newHistogram, recordMicros } from "../lib/latency.ts";
import { readIntAfter } from "../lib/ws-frames.ts";
import { pubFrame } from "./dialects.ts";
import { openAndSub, type Base, type Emit, type Go } from "./jobs.ts";

export interface ChatStoreJob extends Base {
  kind: "chat-store";
  n: number;
  ch: string;
  window: number;
  receipts: boolean;
  receiptEvery: number;
}

const ID = new TextEncoder().encode('"id":');
const OFF = new TextEncoder().encode('"off":"');
/** Receipt requests get ids from here up, so their `ok` is told apart from a publish's. */
const RECEIPT_IDS = 1_000_000_000;

export async function chatStore(job: ChatStoreJob, emit: Emit, next: () => Promise<Record<string, any>>): Promise<void> {
  const { conns, specs: ss, failed, firstError } = await openAndSub(job, job.n);
  const hist = newHistogram();
  let measuring = false;
  let running = false;
  let acked = 0;
  let receipts = 0;
  const starters: (() => void)[] = [];
  conns.forEach((c, i) => {
    const sentAt = new Map<number, number>();
    let id = 10;
    let rid = RECEIPT_IDS;
    let newest = 0;
    let sinceReceipt = 0;
    const send = () => {
      const n = id++;
      sentAt.set(n, nowMs());
      c.sendText(pubFrame(ss[i]!, job.ch, "message", `{"text":"hello from ${i} #${n}"}`, n));
    };
    c.onAck = (buf, s, e) => {
      const n = readIntAfter(buf, s, e, ID);
      if (n >= RECEIPT_IDS) {
        if (measuring) receipts++;
        return;
      }
      const t0 = sentAt.get(n);
      if (t0 === undefined) return;
      sentAt.delete(n);
      if (measuring) {
        acked++;
        recordMicros(hist, (nowMs() - t0) * 1000);
      }
      if (running) send();
    };
    c.onMsg = (buf, s, e) => {
      if (!job.receipts) return;
      const off = readIntAfter(buf, s, e, OFF);
      if (off > newest) newest = off;
      if (++sinceReceipt >= job.receiptEvery && running) {
        sinceReceipt = 0;
        c.sendText(`{"t":"read","id":${rid++},"ch":${JSON.stringify(job.ch)},"off":"${newest}"}`);
      }
    };
    starters.push(() => {
      for (let k = 0; k < job.window; k++) send();
    });
  });
  emit({ ev: "ready", conns: conns.length, failed, firstError });
  const go = (await next()) as Go;
  await sleepUntil(go.startAt);
  running = true;
  for (const start of starters) start();
  await sleepUntil(go.measureFrom);
  measuring = true;
  const t0 = nowMs();
  await sleepUntil(go.measureTo);
  measuring = false;
  const seconds = (nowMs() - t0) / 1000;
  running = false;
  const closed = conns.filter((c) => c.closed).length;
  emit({ ev: "result", acked, receipts, seconds, hist: encodeHistogram(hist), received: conns.reduce((sum, c) => sum + c.received, 0), closed });
  for (const c of conns) c.close();
}
