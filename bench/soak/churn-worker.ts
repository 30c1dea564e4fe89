/**
 * One process of the soak's churn load (bench/soak/churn.ts starts several):
 * `count` WebSocket clients from one 127.0.0.x source address, each
 * subscribed to a few channels, living a random while, then closing and
 * reconnecting (to the next node) with `sub since=<last offset>` recovery.
 * Offsets of a channel are consecutive, so every delivery is checked as it
 * comes: a repeat is a duplicate, a jump the server did not announce with
 * `recovered: false` is a silent gap. Prints its tallies as one JSON line
 * every 10 s and on SIGTERM (then closes every socket and exits).
 * Uses the `ws` client: Bun's WebSocket cannot bind a source address.
 */
import WebSocket from "ws";
import { token } from "../../tests/helpers/server.ts";

interface WorkerParams {
  worker: number;
  ports: number[];
  localAddress: string;
  count: number;
  channels: string[];
  channelsPerConn: number;
  lifeSec: [number, number];
  rampSec: number;
}

const p = JSON.parse(process.argv[2]!) as WorkerParams;
const rooms = p.channels.map((c) => c.slice(c.indexOf(":") + 1));

const t = {
  worker: p.worker,
  open: 0,
  connects: 0,
  plannedCloses: 0,
  unexpectedCloses: 0,
  connectErrors: 0,
  subs: 0,
  resubs: 0,
  recoveredTrue: 0,
  recoveredFalse: 0,
  replayed: 0,
  delivered: 0,
  dup: 0,
  silentGaps: 0,
  subErrors: {} as Record<string, number>,
  /** Close codes of the closes this client did not ask for. */
  closeCodes: {} as Record<string, number>,
};
let stopping = false;
let nodeTurn = p.worker;

interface Chan {
  /** Last offset delivered (consecutive from here); undefined before the first subscribe answered. */
  last: number | undefined;
  /** Offsets that arrived while its sub was pending (the recovery backlog). */
  backlog: number[] | undefined;
}

class ChurnClient {
  private ws: WebSocket | undefined;
  private readonly chans = new Map<string, Chan>();
  private readonly pendingSubs = new Map<number, string>();
  private nextId = 1;
  private lifeTimer: ReturnType<typeof setTimeout> | undefined;
  private planned = false;

  constructor(private readonly user: string, channels: string[]) {
    for (const ch of channels) this.chans.set(ch, { last: undefined, backlog: undefined });
  }

  async connect(): Promise<void> {
    if (stopping) return;
    const port = p.ports[nodeTurn++ % p.ports.length]!;
    const jwt = await token({ sub: this.user, rooms }, { expSec: 7200 });
    const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/ws`, { localAddress: p.localAddress, perMessageDeflate: false });
    this.ws = ws;
    this.planned = false;
    this.pendingSubs.clear();
    let opened = false;
    ws.on("open", () => {
      opened = true;
      t.open++;
      t.connects++;
      ws.send(JSON.stringify({ t: "auth", token: jwt }));
    });
    ws.on("message", (raw) => this.onFrame(JSON.parse(String(raw))));
    ws.on("error", () => {});
    ws.on("close", (code) => {
      clearTimeout(this.lifeTimer);
      if (!opened) t.connectErrors++;
      else {
        t.open--;
        if (this.planned) t.plannedCloses++;
        else {
          t.unexpectedCloses++;
          t.closeCodes[code] = (t.closeCodes[code] ?? 0) + 1;
        }
      }
      this.ws = undefined;
      if (stopping) return;
      const delay = this.planned ? 50 + Math.random() * 450 : 200 + Math.random() * 800;
      setTimeout(() => void this.connect(), delay);
    });
  }

  close(): void {
    this.planned = true;
    this.ws?.close(1000, "churn");
  }

  private sub(ch: string): void {
    const c = this.chans.get(ch)!;
    const id = this.nextId++;
    this.pendingSubs.set(id, ch);
    c.backlog = [];
    if (c.last !== undefined) t.resubs++;
    this.ws?.send(JSON.stringify(c.last === undefined ? { t: "sub", id, ch } : { t: "sub", id, ch, since: String(c.last) }));
  }

  private onFrame(f: { t: string; id?: number; ch?: string; off?: string; recovered?: boolean; code?: string }): void {
    if (f.t === "msg") return this.onMsg(f.ch!, Number(f.off));
    if (f.t === "hello") {
      for (const ch of this.chans.keys()) this.sub(ch);
      const [lo, hi] = p.lifeSec;
      this.lifeTimer = setTimeout(() => this.close(), (lo + Math.random() * (hi - lo)) * 1000);
      return;
    }
    if (f.id === undefined || !this.pendingSubs.has(f.id)) return;
    const ch = this.pendingSubs.get(f.id)!;
    this.pendingSubs.delete(f.id);
    const c = this.chans.get(ch)!;
    const backlog = c.backlog ?? [];
    c.backlog = undefined;
    if (f.t === "err") {
      t.subErrors[f.code ?? "?"] = (t.subErrors[f.code ?? "?"] ?? 0) + 1;
      // Redis away for a moment: ask again with the same offset, on this connection only.
      const ws = this.ws;
      setTimeout(() => this.ws === ws && ws?.readyState === WebSocket.OPEN && this.sub(ch), 500 + Math.random() * 500);
      return;
    }
    t.subs++;
    const off = Number(f.off);
    if (c.last === undefined) {
      c.last = off;
      return;
    }
    t.replayed += backlog.length;
    if (f.recovered === false) {
      t.recoveredFalse++;
      t.delivered += backlog.length;
      c.last = Math.max(c.last, off);
      return;
    }
    t.recoveredTrue++;
    for (const o of backlog) this.check(c, o, "backlog");
    // Said recovered, so everything up to the current offset must have come.
    if (c.last < off) {
      t.silentGaps += off - c.last;
      c.last = off;
    }
  }

  private onMsg(ch: string, off: number): void {
    const c = this.chans.get(ch);
    if (!c) return;
    if (c.backlog) return void c.backlog.push(off);
    if (c.last === undefined) return;
    this.check(c, off, "live");
  }

  private check(c: Chan, off: number, how: string): void {
    t.delivered++;
    const last = c.last!;
    // Offset 0: the channel had no message yet; the first one starts its epoch wherever it starts.
    if (last === 0) return void (c.last = off);
    if (off <= last) {
      t.dup++;
      if (process.env.CHURN_DEBUG && t.dup <= 5) console.error(`dup ${this.user} ${how} off=${off} last=${last}`);
    } else {
      if (off > last + 1) t.silentGaps += off - last - 1;
      c.last = off;
    }
  }
}

const clients: ChurnClient[] = [];
for (let i = 0; i < p.count; i++) {
  const chans = new Set<string>();
  while (chans.size < Math.min(p.channelsPerConn, p.channels.length)) chans.add(p.channels[Math.floor(Math.random() * p.channels.length)]!);
  clients.push(new ChurnClient(`churn${p.worker}-${i}`, [...chans]));
}
const report = () => console.log(JSON.stringify(t));
const reporter = setInterval(report, 10_000);
process.on("SIGTERM", () => {
  stopping = true;
  clearInterval(reporter);
  for (const c of clients) c.close();
  setTimeout(() => {
    report();
    process.exit(0);
  }, 2000);
});
// Ramp up: the connections open evenly over rampSec.
const gap = (p.rampSec * 1000) / p.count;
for (const c of clients) {
  if (stopping) break;
  void c.connect();
  await Bun.sleep(gap);
}
