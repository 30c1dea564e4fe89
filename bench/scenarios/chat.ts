/**
 * chat and chat-rtt: 32 clients in one room, every member (sender included)
 * receives every message; the figure is delivered messages per second.
 * `chat` is Bun's own benchmark shape (each client sends its whole list of
 * 1,600 texts per round, the server saturates); `chat-rtt` sends rounds of 10
 * with two in flight (see bench/load/chat-job.ts). Server CPU per publication
 * and bytes per delivered message come from the same measured window.
 */
import { CpuMeter } from "../lib/procs.ts";
import { LoadWorker } from "../lib/workers.ts";
import { BUN_CHAT_REPEAT, BUN_CHAT_TEXTS } from "../load/chat-job.ts";
import { ROOM, type ServerNode, type Target } from "../targets.ts";
import { applyTally, authFor, guarded, measureCpu, newResult, pidsOf, soon, spread, type Ctx, type RunResult } from "./common.ts";
import { chatTally, type ChatWorkerResult } from "./tally.ts";

/**
 * A round sends every client ~7 MB; a load-generator process the 2-core box
 * does not schedule for ~100 ms falls more than Switchboard's default
 * slow-consumer limit (1 MiB) behind, and the node closes it (measured: the
 * flags then name the backpressure closes). The floors run with Bun's own
 * default (16 MiB, and they drop instead of closing), so Switchboard gets
 * the same buffer here: the scenario measures cost per publication, not
 * how slow a starved client may get.
 */
const CHAT_ENV = { WS_BACKPRESSURE_LIMIT: String(16 * 1024 * 1024) };

export const chatScenario = (t: Target, ctx: Ctx) => runChat(t, ctx, "saturate");
export const chatRttScenario = (t: Target, ctx: Ctx) => runChat(t, ctx, "rtt");

/** What a chat variant changes (scenarios/chat-webhooks.ts): server settings, setup once it serves, clients setting a status. */
export interface ChatVariant {
  env?: Record<string, string>;
  /** Runs once the server is ready and before any client connects. */
  afterStart?(server: ServerNode): Promise<void>;
  /** Every client sets a presence status and watches the other users of its worker before the load starts. */
  status?: boolean;
}

export async function runChat(t: Target, ctx: Ctx, mode: "saturate" | "rtt", variant: ChatVariant = {}): Promise<RunResult> {
  const clients = 32;
  const batch = mode === "saturate" ? BUN_CHAT_TEXTS.length * BUN_CHAT_REPEAT : 10;
  const warmupMs = ctx.quick ? 1000 : 2000;
  const durationMs = ctx.quick ? 2000 : 6000;
  const res = newResult(mode === "saturate" ? "chat" : "chat-rtt", t.name, { clients, perRound: batch, roundsInFlight: mode === "saturate" ? 1 : 2, warmupMs, durationMs, workers: ctx.workers });
  const servers: ServerNode[] = [];
  const workers: LoadWorker[] = [];
  return guarded(res, servers, workers, async () => {
    servers.push(...(await t.start({ nodes: 1, env: { ...CHAT_ENV, ...variant.env } })));
    await variant.afterStart?.(servers[0]!);
    const ep = { host: "127.0.0.1", port: servers[0].port };
    let base = 0;
    spread(clients, ctx.workers).forEach((k, i) => {
      workers.push(LoadWorker.start(`chat-w${i}`, { kind: "chat", mode, dialect: t.dialect, ep, auth: authFor(t, `chat${i}`), n: k, ch: ROOM, batch, totalClients: clients, base, ...(variant.status ? { status: true } : {}) }));
      base += k;
    });
    const ready = await Promise.all(workers.map((w) => w.waitFor("ready", 60_000)));
    const failed = ready.reduce((s, r) => s + r.failed, 0);
    if (failed > 0) throw new Error(`${failed} chat clients failed to connect: ${ready.find((r) => r.firstError)?.firstError}`);
    const startAt = soon(200);
    const go = { cmd: "go", startAt, measureFrom: startAt + warmupMs, measureTo: startAt + warmupMs + durationMs };
    workers.forEach((w) => w.send(go));
    res.cpu.main = await measureCpu(new CpuMeter(pidsOf(servers, workers)), go.measureFrom, go.measureTo, workers.length);
    // Each client must receive everything every client sent: the workers drain until they have it.
    const sent = await Promise.all(workers.map((w) => w.waitFor("sent", 30_000)));
    const perClient = sent.reduce((s, r) => s + r.sent, 0);
    workers.forEach((w) => w.send({ cmd: "expect", perClient }));
    const results = await Promise.all(workers.map((w) => w.waitFor("result", durationMs + 90_000)));
    applyTally(res, chatTally(results as unknown as ChatWorkerResult[], clients, res.cpu.main));
    if (res.metrics.closedClients > 0) res.flags!.push(...(await serverCloseCounts(ep)));
    if (res.metrics.deliveredPerSec === 0) throw new Error("no message was delivered in the measured window (server dropped or rejected publications?)");
  });
}

/**
 * Why a Switchboard node closed clients, from its own counters: slow
 * consumers (WS_BACKPRESSURE_LIMIT; Bun ends those sockets without a close
 * frame) and disconnects by close code. Nothing for targets without /metrics.
 */
async function serverCloseCounts(ep: { host: string; port: number }): Promise<string[]> {
  try {
    const r = await fetch(`http://${ep.host}:${ep.port}/metrics`);
    if (!r.ok) return [];
    const text = await r.text();
    const backpressure = /^switchboard_backpressure_closes_total (\d+)/m.exec(text)?.[1];
    const codes = [...text.matchAll(/^switchboard_disconnects_total\{code="(\d+)"\} (\d+)/gm)].map((m) => `${m[1]}×${m[2]}`).join(", ");
    return backpressure === undefined ? [] : [`server: ${backpressure} backpressure closes (slow consumers over WS_BACKPRESSURE_LIMIT); disconnects by code: ${codes || "none"}`];
  } catch {
    return [];
  }
}
