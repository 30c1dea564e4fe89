import type { ChannelOptions, HistoryResult } from "../engine/engine.ts";
import { RECOVERY_MAX_BYTES } from "../engine/history-budget.ts";
import type { Hub } from "./hub.ts";
import type { Conn } from "./ports.ts";
import { frameOffset, type Held } from "./subscription-buffers.ts";

/** Backlog bytes sent in one event-loop turn; the rest follows after the loop polled other sockets. */
export const SEND_SLICE_BYTES = 256 * 1024;
/** Between slices, wait while the client still has more than a slice unread: up to this long in all per recovery. */
const DRAIN_WAIT_MS = 10_000;
const DRAIN_POLL_MS = 5;

/** What a `sub` with `since` answers once its backlog went out, and the live frames held meanwhile. */
export interface Recovered {
  off: string;
  recovered: boolean;
  missed: number;
  held: Held;
}

/** Throws when the connection may no longer subscribe (a `refresh` took the channel away meanwhile). */
export type StillAllowed = () => void;

interface Step {
  hub: Hub;
  conn: Conn;
  key: string;
  limit: number;
  options: ChannelOptions;
  allowed: StillAllowed;
  /** Ms this recovery has waited for the client to read so far. */
  waited: number;
}

/**
 * Sends the backlog of a `sub` with `since` (the engine's first answer,
 * `res`) and ends holding the channel's live publications for this
 * connection. A backlog that fits one slice goes out at once, inside the
 * socket's callback, as before; a larger one goes out SEND_SLICE_BYTES per
 * event-loop turn, so that a 4 MiB recovery does not keep every other
 * socket on the node waiting. Live publications stay held throughout (at
 * most HELD_MAX_BYTES: beyond that they are dropped and read on from
 * history, within the same RECOVERY_MAX_BYTES), so the client gets the
 * backlog, then the `ok`, then live ones: no gap, no duplicate.
 * Undefined when the connection went away.
 */
export function recover(hub: Hub, conn: Conn, key: string, limit: number, options: ChannelOptions, res: HistoryResult, allowed: StillAllowed): Recovered | undefined | Promise<Recovered | undefined> {
  const held = hub.buffers.peek(conn, key);
  if (held === undefined || conn.data.closing) return undefined;
  allowed();
  let bytes = 0;
  for (const frame of res.frames) bytes += frame.length;
  if (bytes > SEND_SLICE_BYTES || held.dropped > Number(res.off)) return recoverInSlices({ hub, conn, key, limit, options, allowed, waited: 0 }, res);
  for (const frame of res.frames) hub.send(conn, frame);
  return end(hub, conn, key, res, res.recovered, res.frames.length);
}

/** Whether the backlog `res` reached its `off`; false when the limit, the byte cap or a gap cut it short. */
function complete(res: HistoryResult): boolean {
  return res.frames.length === 0 || frameOffset(res.frames[res.frames.length - 1]!) >= Number(res.off);
}

function end(hub: Hub, conn: Conn, key: string, res: HistoryResult, recovered: boolean, missed: number): Recovered | undefined {
  const held = hub.buffers.finish(conn, key);
  if (held === undefined) return undefined;
  let top = Number(res.off);
  // A backlog cut short by the limit is not a recovery.
  if (!complete(res)) recovered = false;
  // Held publications were dropped past what was read: the client is told, and goes on after them.
  if (held.dropped > top) {
    top = held.dropped;
    recovered = false;
  }
  return { off: String(top), recovered, missed, held };
}

async function recoverInSlices(s: Step, res: HistoryResult): Promise<Recovered | undefined> {
  const { hub, conn, key } = s;
  let recovered = res.recovered;
  let missed = 0;
  let spent = 0;
  for (let page = 0; ; page++) {
    const sent = await sendPaced(s, res.frames, page > 0);
    if (sent < 0) return undefined;
    missed += res.frames.length;
    spent += sent;
    const held = hub.buffers.peek(conn, key);
    if (held === undefined || conn.data.closing) return undefined;
    const top = Number(res.off);
    // Live frames up to `held.dropped` were dropped while this page went out: read them from history.
    // (A later page that brought nothing ends it too: dropped frames are committed, so a read after them has them.)
    if (!recovered || !complete(res) || held.dropped <= top || missed >= s.limit || spent >= RECOVERY_MAX_BYTES || (page > 0 && res.frames.length === 0)) {
      return end(hub, conn, key, res, recovered, missed);
    }
    const next = hub.deps.engine.history(key, { since: res.off, limit: s.limit - missed, maxBytes: RECOVERY_MAX_BYTES - spent }, s.options);
    res = next instanceof Promise ? await next : next;
    recovered = res.recovered;
  }
}

/**
 * Sends `frames` in slices of SEND_SLICE_BYTES, one per event-loop turn,
 * each corked into one write; the bytes sent, or -1 when the connection
 * went away. `paceFirst`: the first slice waits its turn too.
 */
async function sendPaced(s: Step, frames: readonly string[], paceFirst: boolean): Promise<number> {
  let i = 0;
  let total = 0;
  let first = !paceFirst;
  while (i < frames.length) {
    if (!first) {
      await pace(s);
      if (s.conn.data.closing || !s.hub.buffers.isPending(s.conn, s.key)) return -1;
      s.allowed();
    }
    const start = i;
    let bytes = 0;
    while (i < frames.length && (i === start || bytes + frames[i]!.length <= SEND_SLICE_BYTES)) bytes += frames[i++]!.length;
    if (first) for (let j = start; j < i; j++) s.hub.send(s.conn, frames[j]!);
    else s.conn.cork(() => {
      for (let j = start; j < i; j++) s.hub.send(s.conn, frames[j]!);
    });
    first = false;
    total += bytes;
  }
  return total;
}

/**
 * One timer turn (the event loop polls sockets first), then a wait while the
 * client has more than a slice unread, DRAIN_WAIT_MS at most per recovery:
 * after that the slices go on and the transport's backpressure limit judges
 * the client as it does any slow consumer.
 */
async function pace(s: Step): Promise<void> {
  await sleep(0);
  const conn = s.conn;
  while (s.waited < DRAIN_WAIT_MS && !conn.data.closing && conn.getBufferedAmount() > SEND_SLICE_BYTES) {
    await sleep(DRAIN_POLL_MS);
    s.waited += DRAIN_POLL_MS;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
