/**
 * The `care-team` load job: a worker's clients are care teams of `teamSize`
 * users, each team in one persisted conversation (`chat:<convPrefix><k>`),
 * every member subscribed to it and to its own `user:` channel and watching
 * its teammates. Operations are open-loop: the worker's k-th operation is due
 * at `startAt + k / (n · ratePerClient)` s and goes to client k mod n, which
 * takes the next entry of the operation deck (CARE_DECK: per 100, 70 chat
 * messages, 10 read receipts, 10 typing signals, 5 status changes, 4
 * notifications over the HTTP API, 1 call setup, evenly spread). Latency is
 * from the *due* time (no coordinated omission) to:
 *
 * - chat: the `ok` of the `pub` (sent after the store committed it);
 * - read / typing / status: their `ok`;
 * - notify: the 200 of `POST /v1/notifications` (a teammate is the recipient);
 * - call: the callee's `offer` relayed to the caller (invite → the callee's
 *   `ringing` → `accept` → `offer`), then the caller hangs up.
 *
 * Deliveries are checked too: every chat message due in the window must reach
 * every member of its team (sender included) once, every notification its
 * recipient once (`ev:"notification"` on `user:<id>`). The clients are Bun's
 * WebSocket (JSON frames decoded): at these rates (a few thousand frames a
 * second) the client is far from its limit, and every frame type of the mix
 * needs decoding anyway.
 */
import { SignJWT } from "jose";
import { nowMs, sleepUntil } from "../lib/clock.ts";
import { encodeHistogram, newHistogram, recordMicros, type Histogram } from "../lib/latency.ts";
import type { Emit, Go } from "./jobs.ts";

export const CARE_MIX = { chat: 70, read: 10, typing: 10, status: 5, notify: 4, call: 1 } as const;
export type CareOp = keyof typeof CARE_MIX;
export const CARE_OPS = Object.keys(CARE_MIX) as CareOp[];

/** 100 operations in the CARE_MIX ratios, each kind spread evenly (largest deficit first), so a client never bursts one kind. */
export function careDeck(): CareOp[] {
  const used = Object.fromEntries(CARE_OPS.map((k) => [k, 0])) as Record<CareOp, number>;
  const deck: CareOp[] = [];
  for (let s = 0; s < 100; s++) {
    let best: CareOp = "chat";
    let deficit = -Infinity;
    for (const k of CARE_OPS) {
      const d = (CARE_MIX[k] * (s + 1)) / 100 - used[k];
      if (d > deficit) [best, deficit] = [k, d];
    }
    used[best]++;
    deck.push(best);
  }
  return deck;
}

export interface CareTeamJob {
  kind: "care-team";
  url: string;
  apiKey: string;
  secret: string;
  tenant: string;
  /** Users are `${subPrefix}${i}`, i < n; team k is users k·teamSize … (k+1)·teamSize − 1. */
  subPrefix: string;
  convPrefix: string;
  n: number;
  teamSize: number;
  ratePerClient: number;
}

export interface OpResult {
  sent: number;
  acked: number;
  refused: number;
  hist: string;
}

interface Client {
  i: number;
  ws: WebSocket;
  user: string;
  ch: string;
  team: number[];
  pending: Map<number, (ok: boolean, f: Frame) => void>;
  nextId: number;
  newest: number;
  deck: number;
  seen: Set<string>;
  inCall: boolean;
  lastTyping: number;
}

type Frame = Record<string, any>;

const STATUSES = ["busy", "away", "online"] as const;

async function open(job: CareTeamJob, i: number, key: Uint8Array, onFrame: (c: Client, f: Frame) => void): Promise<Client> {
  const user = `${job.subPrefix}${i}`;
  const k = Math.floor(i / job.teamSize);
  const team = Array.from({ length: job.teamSize }, (_, m) => k * job.teamSize + m).filter((m) => m < job.n);
  const token = await new SignJWT({ sub: user, tenant: job.tenant, roles: ["nurse"] }).setProtectedHeader({ alg: "HS256" }).setExpirationTime("2h").sign(key);
  const ws = new WebSocket(job.url.replace(/^http/, "ws") + "/v1/ws", { headers: { authorization: `Bearer ${token}` } } as unknown as string[]);
  const c: Client = { i, ws, user, ch: `chat:${job.convPrefix}${k}`, team, pending: new Map(), nextId: 1, newest: 0, deck: (i * 7) % 100, seen: new Set(), inCall: false, lastTyping: 0 };
  const hello = Promise.withResolvers<void>();
  ws.onmessage = (e) => {
    const f = JSON.parse(String(e.data)) as Frame;
    if (f.t === "hello") return hello.resolve();
    if ((f.t === "ok" || f.t === "err") && typeof f.id === "number") {
      const cb = c.pending.get(f.id);
      if (cb) {
        c.pending.delete(f.id);
        cb(f.t === "ok", f);
        return;
      }
    }
    if (f.t === "err" && f.id === undefined) hello.reject(new Error(`${user}: ${f.code} ${f.msg}`));
    onFrame(c, f);
  };
  ws.onerror = () => hello.reject(new Error(`${user}: WebSocket error`));
  ws.onclose = (e) => hello.reject(new Error(`${user}: closed ${e.code} ${e.reason}`));
  const timer = setTimeout(() => hello.reject(new Error(`${user}: no hello within 20 s`)), 20_000);
  await hello.promise.finally(() => clearTimeout(timer));
  return c;
}

function request(c: Client, frame: Frame, cb: (ok: boolean, f: Frame) => void): void {
  const id = c.nextId++;
  c.pending.set(id, cb);
  c.ws.send(JSON.stringify({ ...frame, id }));
}

function ask(c: Client, frame: Frame): Promise<Frame> {
  return new Promise((resolve, reject) => request(c, frame, (ok, f) => (ok ? resolve(f) : reject(new Error(`${c.user} ${frame.t}: ${f.code} ${f.msg}`)))));
}

export async function careTeamJob(job: CareTeamJob, emit: Emit, next: () => Promise<Record<string, any>>): Promise<void> {
  const key = new TextEncoder().encode(job.secret);
  const hists = Object.fromEntries(CARE_OPS.map((k) => [k, newHistogram()])) as Record<CareOp, Histogram>;
  const counts = Object.fromEntries(CARE_OPS.map((k) => [k, { sent: 0, acked: 0, refused: 0 }])) as Record<CareOp, { sent: number; acked: number; refused: number }>;
  const chatDelivery = newHistogram();
  const notifyDelivery = newHistogram();
  let firstRefusal: string | undefined;
  let measureFromUs = Infinity;
  let measureToUs = -Infinity;
  const inWindow = (dueUs: number) => dueUs >= measureFromUs && dueUs < measureToUs;
  let chatDelivered = 0;
  let notifyDelivered = 0;
  let duplicates = 0;
  let callsSkipped = 0;
  let typingThrottled = 0;
  let closed = 0;
  const calls = new Map<string, { caller: Client; callee: Client; dueUs: number }>();
  let clients: Client[] = [];
  const done = (op: CareOp, dueUs: number, ok: boolean, f?: Frame) => {
    if (!inWindow(dueUs)) return;
    if (ok) {
      counts[op].acked++;
      recordMicros(hists[op], nowMs() * 1000 - dueUs);
    } else {
      counts[op].refused++;
      firstRefusal ??= `${op}: ${f?.code ?? ""} ${f?.msg ?? JSON.stringify(f ?? {}).slice(0, 200)}`;
    }
  };
  const onFrame = (c: Client, f: Frame) => {
    // A device subscribed to its `user:<id>` channel is rung there (`msg` with ev "call", data.ev "ringing");
    // one that is not gets the `call` control frame.
    const ringing = f.t === "call" && f.ev === "ringing" ? f.call : f.t === "msg" && f.ev === "call" && f.ch === `user:${c.user}` && f.data?.ev === "ringing" ? f.data.call : undefined;
    if (ringing !== undefined) {
      const call = calls.get(ringing?.id);
      // The ringing may overtake the invite's ok: kept until the ok names the call.
      if (!call) earlyRinging.add(`${ringing?.id}|${c.i}`);
      else if (call.callee === c) accept(c, ringing.id);
      return;
    }
    if (f.t === "msg") {
      const bt = f.data?.bt as number | undefined;
      if (f.ch === c.ch) {
        const off = Number(f.off);
        if (off > c.newest) c.newest = off;
        const id = `${f.data?.s}:${f.data?.q}`;
        if (c.seen.has(id)) duplicates++;
        else if (bt !== undefined && inWindow(bt)) {
          c.seen.add(id);
          chatDelivered++;
          recordMicros(chatDelivery, nowMs() * 1000 - bt);
        }
      } else if (f.ev === "notification" && f.ch === `user:${c.user}`) {
        const nbt = f.data?.data?.bt as number | undefined;
        if (nbt !== undefined && inWindow(nbt)) {
          notifyDelivered++;
          recordMicros(notifyDelivery, nowMs() * 1000 - nbt);
        }
      }
      return;
    }
    if (f.t === "offer") {
      const call = calls.get(f.call);
      if (!call || call.caller !== c) return;
      done("call", call.dueUs, true);
      request(c, { t: "hangup", call: f.call }, (ok, a) => {
        if (!ok) {
          hangupsRefused++;
          firstRefusal ??= `hangup: ${a.code} ${a.msg}`;
        }
        finishCall(f.call, ok, a, true);
      });
    }
  };
  /** `<call>|<client>`: ringings that arrived before the invite's ok. */
  const earlyRinging = new Set<string>();
  /** The callee answers and sends its offer once the accept is acknowledged. */
  const accept = (c: Client, id: string) =>
    request(c, { t: "accept", call: id }, (ok, a) => {
      if (!ok) return finishCall(id, false, a);
      c.ws.send(JSON.stringify({ t: "offer", call: id, data: { type: "offer", sdp: "v=0" } }));
    });
  let hangupsRefused = 0;
  const finishCall = (id: string, ok: boolean, f?: Frame, counted = false) => {
    const call = calls.get(id);
    if (!call) return;
    calls.delete(id);
    if (!ok && !counted) done("call", call.dueUs, false, f);
    call.caller.inCall = false;
    call.callee.inCall = false;
  };

  // Setup: connect, subscribe to the conversation and the own user channel, watch the team,
  // post one message each so that every client has an offset to mark read.
  clients = await Promise.all(Array.from({ length: job.n }, (_, i) => open(job, i, key, onFrame)));
  for (const c of clients) c.ws.onclose = () => void closed++;
  await Promise.all(
    clients.map(async (c) => {
      await ask(c, { t: "sub", ch: c.ch });
      await ask(c, { t: "sub", ch: `user:${c.user}` });
      await ask(c, { t: "watch", users: c.team.filter((m) => m !== c.i).map((m) => `${job.subPrefix}${m}`) });
      await ask(c, { t: "status", status: "online" });
      await ask(c, { t: "pub", ch: c.ch, ev: "message", data: { text: `${c.user} on shift`, s: c.i, q: -1 } });
    }),
  );
  const setupUntil = nowMs() + 10_000;
  while (clients.some((c) => c.newest === 0) && nowMs() < setupUntil) await sleepUntil(nowMs() + 20);
  emit({ ev: "ready", conns: clients.length });

  const go = (await next()) as Go;
  measureFromUs = go.measureFrom * 1000;
  measureToUs = go.measureTo * 1000;
  const deck = careDeck();
  const seq = new Array<number>(job.n).fill(0);
  const headers = { authorization: `Bearer ${job.apiKey}`, "content-type": "application/json" };
  const periodMs = 1000 / (job.n * job.ratePerClient);
  const fire = (c: Client, op: CareOp, dueUs: number) => {
    const measured = inWindow(dueUs);
    // Like a real client, at most one typing signal per 500 ms per connection (the server's typing
    // budget is 2/s, burst 4): a load process that stalled and catches up must not burst typing.
    if (op === "typing") {
      if (nowMs() - c.lastTyping < 500) {
        if (measured) typingThrottled++;
        return;
      }
      c.lastTyping = nowMs();
    }
    if (op !== "call" && measured) counts[op].sent++;
    switch (op) {
      case "chat":
        request(c, { t: "pub", ch: c.ch, ev: "message", data: { text: "BP 120/80, resting; next check 14:00", s: c.i, q: seq[c.i]++, bt: dueUs } }, (ok, f) => done(op, dueUs, ok, f));
        return;
      case "read":
        request(c, { t: "read", ch: c.ch, off: String(c.newest) }, (ok, f) => done(op, dueUs, ok, f));
        return;
      case "typing":
        request(c, { t: "typing", ch: c.ch, active: true }, (ok, f) => done(op, dueUs, ok, f));
        return;
      case "status":
        request(c, { t: "status", status: STATUSES[seq[c.i]! % STATUSES.length], text: "ward 3" }, (ok, f) => done(op, dueUs, ok, f));
        return;
      case "notify": {
        const to = c.team[(c.team.indexOf(c.i) + 1) % c.team.length]!;
        const body = JSON.stringify({ tenant: job.tenant, users: [`${job.subPrefix}${to}`], type: "task", title: "Medication due", body: "Room 12, 14:00", data: { bt: dueUs } });
        fetch(`${job.url}/v1/notifications`, { method: "POST", headers, body }).then(
          async (r) => {
            const text = await r.text();
            done(op, dueUs, r.ok, r.ok ? undefined : { code: r.status, msg: text.slice(0, 200) });
          },
          (e) => done(op, dueUs, false, { code: "fetch", msg: (e as Error).message }),
        );
        return;
      }
      case "call": {
        const callee = c.team.map((m) => clients[m]!).find((m) => m !== c && !m.inCall);
        if (c.inCall || !callee) {
          if (measured) callsSkipped++;
          return;
        }
        if (measured) counts.call.sent++;
        c.inCall = callee.inCall = true;
        request(c, { t: "invite", to: [callee.user], media: "audio" }, (ok, f) => {
          if (!ok) {
            done("call", dueUs, false, f);
            c.inCall = callee.inCall = false;
            return;
          }
          calls.set(f.call.id, { caller: c, callee, dueUs });
          if (earlyRinging.delete(`${f.call.id}|${callee.i}`)) accept(callee, f.call.id);
        });
        return;
      }
    }
  };
  await sleepUntil(go.startAt);
  for (let k = 0; ; k++) {
    const due = go.startAt + k * periodMs;
    if (due >= go.measureTo) break;
    if (due > nowMs()) await sleepUntil(due);
    const c = clients[k % job.n]!;
    const op = deck[c.deck]!;
    c.deck = (c.deck + 1) % 100;
    fire(c, op, Math.round(due * 1000));
  }
  // Drain: answers, deliveries and calls of the window, bounded.
  const expectedChat = () => counts.chat.acked * job.teamSize;
  const drainUntil = nowMs() + 15_000;
  let quietSince = nowMs();
  let last = -1;
  while (nowMs() < drainUntil) {
    const pending = clients.reduce((s, c) => s + c.pending.size, 0) + calls.size;
    const progress = chatDelivered + notifyDelivered + pending;
    if (progress !== last) [last, quietSince] = [progress, nowMs()];
    if (pending === 0 && chatDelivered >= expectedChat() && notifyDelivered >= counts.notify.acked) break;
    if (nowMs() - quietSince > 3000) break;
    await sleepUntil(nowMs() + 20);
  }
  const unanswered = clients.reduce((s, c) => s + c.pending.size, 0);
  emit({
    ev: "result",
    seconds: (go.measureTo - go.measureFrom) / 1000,
    ops: Object.fromEntries(CARE_OPS.map((k) => [k, { ...counts[k], hist: encodeHistogram(hists[k]) }])),
    chatDelivery: { received: chatDelivered, hist: encodeHistogram(chatDelivery) },
    notifyDelivery: { received: notifyDelivered, hist: encodeHistogram(notifyDelivery) },
    teamSize: job.teamSize,
    duplicates,
    callsSkipped,
    callsUnfinished: calls.size,
    hangupsRefused,
    typingThrottled,
    unanswered,
    firstRefusal,
    closed,
  });
  for (const c of clients) c.ws.close();
}
