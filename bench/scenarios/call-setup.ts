/**
 * call-setup: how fast a call is set up, on one node and across two nodes
 * (Redis bus + a shared PostgreSQL record store), in the same run. Callers
 * sit on node 0; callees on node 0 (single) or node 1 (cross). At a fixed
 * rate of setups per second a free pair runs one call: invite → the callee's
 * `ringing` (invite→ringing), then accept → the callee's first `offer`
 * arriving at the caller through the relay (accept→relay-ready), then
 * hangup. Clients run in the bench process: one clock for both ends.
 */
import { SignJWT } from "jose";
import { startPostgres } from "../../tests/helpers/postgres.ts";
import { nowMs, sleepUntil } from "../lib/clock.ts";
import { newHistogram, recordMicros, type Histogram } from "../lib/latency.ts";
import { BENCH_SECRET, BENCH_TENANT, startRedis, type ServerNode, type Target } from "../targets.ts";
import { guarded, latencyOf, newResult, type Ctx, type RunResult } from "./common.ts";

type Frame = Record<string, any>;

/** A minimal protocol client: frames by predicate, no sleeps. */
class Peer {
  private waiters: { pred: (f: Frame) => boolean; resolve: (f: Frame) => void }[] = [];
  private seq = 0;
  private constructor(private readonly ws: WebSocket) {
    ws.onmessage = (e) => {
      const f = JSON.parse(String(e.data)) as Frame;
      const i = this.waiters.findIndex((w) => w.pred(f));
      if (i >= 0) this.waiters.splice(i, 1)[0]!.resolve(f);
    };
  }

  static async open(port: number, sub: string): Promise<Peer> {
    const jwt = await new SignJWT({ sub, tenant: BENCH_TENANT }).setProtectedHeader({ alg: "HS256" }).setExpirationTime("2h").sign(new TextEncoder().encode(BENCH_SECRET));
    const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/ws`);
    await new Promise<void>((res, rej) => {
      ws.onopen = () => res();
      ws.onerror = () => rej(new Error(`cannot connect to :${port}`));
    });
    const p = new Peer(ws);
    const hello = p.next((f) => f.t === "hello" || f.t === "err");
    ws.send(JSON.stringify({ t: "auth", token: jwt }));
    if ((await hello).t !== "hello") throw new Error(`auth refused for ${sub}`);
    return p;
  }

  next(pred: (f: Frame) => boolean): Promise<Frame> {
    return new Promise((resolve) => this.waiters.push({ pred, resolve }));
  }

  send(f: Frame): void {
    this.ws.send(JSON.stringify(f));
  }

  async request(f: Frame): Promise<Frame> {
    const id = ++this.seq;
    const answer = this.next((x) => (x.t === "ok" || x.t === "err") && x.id === id);
    this.send({ ...f, id });
    const a = await answer;
    if (a.t === "err") throw new Error(`${f.t}: ${a.code} ${a.msg}`);
    return a;
  }

  close(): void {
    this.ws.close();
  }
}

interface Phase {
  ringing: Histogram;
  relay: Histogram;
  done: number;
  failed: number;
}

async function runSetups(callerPort: number, calleePort: number, tag: string, rate: number, ms: number, pairs: number): Promise<Phase> {
  const ph: Phase = { ringing: newHistogram(), relay: newHistogram(), done: 0, failed: 0 };
  const peers = await Promise.all(Array.from({ length: pairs }, async (_, i) => ({ caller: await Peer.open(callerPort, `${tag}-doc${i}`), callee: await Peer.open(calleePort, `${tag}-pat${i}`), busy: false })));
  const one = async (pair: (typeof peers)[number], i: number) => {
    pair.busy = true;
    try {
      const ringing = pair.callee.next((f) => f.t === "call" && f.ev === "ringing");
      const t0 = nowMs();
      await pair.caller.request({ t: "invite", to: [`${tag}-pat${i}`], media: "video" });
      const call = (await ringing).call.id as string;
      recordMicros(ph.ringing, (nowMs() - t0) * 1000);
      const offer = pair.caller.next((f) => f.t === "offer" && f.call === call);
      const t1 = nowMs();
      await pair.callee.request({ t: "accept", call });
      pair.callee.send({ t: "offer", call, data: { type: "offer", sdp: "v=0" } });
      await offer;
      recordMicros(ph.relay, (nowMs() - t1) * 1000);
      await pair.caller.request({ t: "hangup", call });
      ph.done++;
    } catch {
      ph.failed++;
    } finally {
      pair.busy = false;
    }
  };
  const start = nowMs();
  const running: Promise<void>[] = [];
  for (let k = 0; nowMs() - start < ms; k++) {
    await sleepUntil(start + (k * 1000) / rate);
    const i = peers.findIndex((p) => !p.busy);
    if (i < 0) {
      ph.failed++;
      continue;
    }
    running.push(one(peers[i]!, i));
  }
  await Promise.all(running);
  for (const p of peers) {
    p.caller.close();
    p.callee.close();
  }
  return ph;
}

export async function callSetupScenario(t: Target, ctx: Ctx): Promise<RunResult> {
  const rate = ctx.quick ? 10 : 25;
  const ms = ctx.quick ? 3_000 : 10_000;
  const pairs = 40;
  const res = newResult("call-setup", t.name, { setupsPerSec: rate, durationMs: ms, pairs });
  const servers: ServerNode[] = [];
  const stops: (() => Promise<void>)[] = [];
  const r = await guarded(res, servers, [], async () => {
    const single = await t.start({ nodes: 1 });
    servers.push(...single);
    const s = await runSetups(single[0]!.port, single[0]!.port, "s", rate, ms, pairs);
    // The single node is done: it must not compete with the cluster for the cores.
    await servers.pop()!.stop();
    const [redis, pg] = await Promise.all([startRedis(), startPostgres()]);
    stops.push(() => redis.stop(), () => pg.stop());
    const cluster = await t.start({ nodes: 2, redisUrl: redis.url, databaseUrl: await pg.createDatabase("bench_calls") });
    servers.push(...cluster);
    const c = await runSetups(cluster[0]!.port, cluster[1]!.port, "c", rate, ms, pairs);
    for (const [name, ph] of [["single", s], ["cross", c]] as const) {
      res.latency[`${name} invite→ringing`] = latencyOf(ph.ringing);
      res.latency[`${name} accept→relay`] = latencyOf(ph.relay);
      res.metrics[`${name}Setups`] = ph.done;
      if (ph.failed > 0) res.notes.push(`${name}: ${ph.failed} setups failed or found no free pair`);
    }
    if (s.done === 0 || c.done === 0) throw new Error("no call was set up");
  });
  for (const stop of stops) await stop().catch(() => {});
  return r;
}
