import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { RUNTIMES, startServer, token, type TestServer } from "../helpers/server.ts";
import { OP, RawWs } from "../helpers/raw-ws.ts";
import { TestClient, type Frame } from "../helpers/ws-client.ts";
import { until } from "../helpers/until.ts";

/**
 * DESIGN guarantee: nothing is silently missing. A subscriber of a busy room
 * either receives every publication in order, or is closed for falling
 * behind (WS_BACKPRESSURE_LIMIT) — and what it received before the close is
 * an unbroken run from the start, so resuming `since` its last offset loses
 * nothing. Held on both transports (Bun.serve and uWebSockets.js on Node),
 * with raw clients that stop reading their socket (the kernel buffers fill,
 * then the server's) beside subscribers that keep up.
 */

const LIMIT = 65536;
const MESSAGES = 3000;
/** ~4 KiB each: 12 MB per subscriber, far past what the kernel buffers for a reader that stopped. */
const BODY = "s".repeat(4000);
const WINDOW = 64;
const ROOM = "room:busy";

const dec = new TextDecoder();

/** The offsets of the room's `msg` frames, in arrival order. */
const offsetsOf = (frames: Frame[]) => frames.filter((f) => f.t === "msg" && f.ch === ROOM).map((f) => f.off as string);
const rawOffsets = (ws: RawWs) => offsetsOf(ws.frames.filter((f) => f.opcode === OP.TEXT).map((f) => JSON.parse(dec.decode(f.payload)) as Frame));
const rawMsgCount = (ws: RawWs) => ws.frames.reduce((n, f) => n + (f.opcode === OP.TEXT ? 1 : 0), 0);

async function metric(s: TestServer, series: string): Promise<number> {
  const text = await (await fetch(s.url + "/metrics")).text();
  for (const line of text.split("\n")) if (line.startsWith(series + " ")) return Number(line.slice(series.length + 1));
  return 0;
}

for (const runtime of RUNTIMES) describe(`on ${runtime}`, () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startServer({ runtime, env: { WS_BACKPRESSURE_LIMIT: String(LIMIT), WS_RATE_LIMIT_PER_SEC: "0" } });
  });
  afterAll(async () => {
    await s.stop();
  });

  /** A raw subscriber: connects with the token in the query, subscribes, and answers once `ok`. */
  async function rawSubscriber(sub: string): Promise<RawWs> {
    const jwt = await token({ sub, tenant: "t1", rooms: ["busy"] });
    const h = await RawWs.connect(`${s.wsUrl}?access_token=${jwt}`);
    if (!h.ok) throw new Error(`upgrade refused: ${h.status} ${h.body}`);
    await h.ws.nextJson((f) => f.t === "hello");
    h.ws.sendText(JSON.stringify({ t: "sub", id: 1, ch: ROOM }));
    expect(await h.ws.nextJson((f) => f.id === 1)).toMatchObject({ t: "ok" });
    return h.ws;
  }

  async function fastSubscriber(sub: string): Promise<TestClient> {
    const { client } = await TestClient.auth(s.wsUrl, await token({ sub, tenant: "t1", rooms: ["busy"] }));
    expect(await client.request({ t: "sub", ch: ROOM })).toMatchObject({ t: "ok" });
    return client;
  }

  test(`${MESSAGES} publications to a busy room: every subscriber gets all of them in order, or is closed for backpressure after an unbroken run`, async () => {
    const publisher = await fastSubscriber("publisher");
    const fast = [publisher, ...(await Promise.all(["fast-1", "fast-2", "fast-3"].map(fastSubscriber)))];
    // One stops reading for the whole run; one reads in short bursts between long pauses.
    const stopped = await rawSubscriber("stopped");
    const bursty = await rawSubscriber("bursty");
    stopped.pause();
    let bursting = true;
    const burster = (async () => {
      while (bursting) {
        bursty.pause();
        await Bun.sleep(150);
        bursty.resume();
        await Bun.sleep(15);
      }
    })();

    // Pipelined publishes, WINDOW in flight, as a chatty client sends them.
    const acked: string[] = [];
    let next = 0;
    let scan = publisher.frames.length;
    const pending = new Set<number>();
    const firstId = 1000;
    while (acked.length < MESSAGES) {
      while (next < MESSAGES && pending.size < WINDOW) {
        publisher.send({ t: "pub", id: firstId + next, ch: ROOM, ev: "m", data: { i: next, body: BODY } });
        pending.add(firstId + next);
        next++;
      }
      await publisher.next((f) => (f.t === "ok" || f.t === "err") && pending.has(f.id), 30_000, scan);
      for (; scan < publisher.frames.length; scan++) {
        const f = publisher.frames[scan]!;
        if ((f.t === "ok" || f.t === "err") && pending.delete(f.id)) {
          expect(f).toMatchObject({ t: "ok" });
          acked.push(f.off as string);
        }
      }
    }
    bursting = false;
    await burster;
    // In offset order: what a subscriber must have received, in this order.
    const expected = acked.map(BigInt).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).map(String);
    expect(new Set(expected).size).toBe(MESSAGES);

    stopped.resume();
    bursty.resume();
    for (const c of fast) await c.waitCount((f) => f.t === "msg" && f.ch === ROOM, MESSAGES, 60_000);
    for (const raw of [stopped, bursty]) await until(async () => (raw.closeCode !== undefined || rawMsgCount(raw) >= MESSAGES + 2 ? true : undefined), "the slow readers to finish or be closed", 60_000);

    // The readers that kept up: everything, in order, never closed.
    for (const c of fast) {
      expect(offsetsOf(c.frames)).toEqual(expected);
      expect(c.closeCode).toBeUndefined();
    }
    // The slow ones: closed for backpressure (no close frame: 1006; or the hub's 1008 when a reply could not
    // even be queued) after an unbroken run from the first publication, or complete.
    let closedSlow = 0;
    for (const raw of [stopped, bursty]) {
      const got = rawOffsets(raw);
      if (raw.closeCode === undefined) expect(got).toEqual(expected);
      else {
        closedSlow++;
        expect([1006, 1008]).toContain(raw.closeCode);
        expect(got).toEqual(expected.slice(0, got.length));
        expect(got.length).toBeLessThan(MESSAGES);
      }
    }
    // The one that never read must have been closed: otherwise this run exercised nothing.
    expect(stopped.closeCode).toBeDefined();
    // The node counted each of those closes: as abnormal (1006) or its own 1008 disconnects, and as backpressure closes.
    const open = fast.length + 2 - closedSlow;
    await until(async () => ((await metric(s, "switchboard_connections")) === open ? true : undefined), "the closes to be counted");
    const disconnects = (await metric(s, 'switchboard_disconnects_total{code="1006"}')) + (await metric(s, 'switchboard_disconnects_total{code="1008"}'));
    expect(disconnects).toBe(closedSlow);
    const backpressureCloses = await metric(s, "switchboard_backpressure_closes_total");
    if (runtime === "node") expect(backpressureCloses).toBe(closedSlow);
    // On Bun the hub learns of a slow subscriber only by sampling (BackpressureWatch, after a publish answered -1),
    // and Bun closes a socket a publication or two after it crossed the limit: in a tight burst of small frames the
    // sample can still miss one (marking at half the limit helps; a scan walks every connection, so it stays rare).
    else expect(backpressureCloses).toBeLessThanOrEqual(closedSlow);
    for (const c of fast) c.close();
    for (const raw of [stopped, bursty]) raw.end();
  }, 120_000);
});
