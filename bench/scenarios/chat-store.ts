/**
 * chat-store: 32 clients publish into one conversation in a closed loop and
 * wait for each `ok`; on a persisted chat channel that `ok` comes after the
 * record store committed the message. Three runs in one go, same load:
 * the plain room (engine history only), chat on SQLite (embedded), chat on
 * PostgreSQL (a server this scenario starts). Chat runs have read receipts
 * on (every client marks read every 16 messages it receives).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { mergeHistograms } from "../lib/latency.ts";
import { CpuMeter } from "../lib/procs.ts";
import { LoadWorker } from "../lib/workers.ts";
import type { AuthSpec } from "../load/jobs.ts";
import { BENCH_API_KEY, BENCH_TENANT, ROOM, type ServerNode, type Target } from "../targets.ts";
import { startPostgres, type PostgresServer } from "../../tests/helpers/postgres.ts";
import { authFor, guarded, latencyOf, measureCpu, newResult, pidsOf, soon, spread, type Ctx, type RunResult } from "./common.ts";

const CHAT = "chat:bench";
const MODES = ["room", "chat sqlite", "chat postgres"] as const;
type Mode = (typeof MODES)[number];

const POLICY = {
  namespaces: {
    room: { subscribe: ["claim:rooms"], publish: ["claim:rooms"], history: { size: 100, ttlSec: 86400 }, presence: true, joinLeave: true },
    chat: { subscribe: ["member"], publish: ["member"], history: { size: 100, ttlSec: 86400 }, retention: 30 },
  },
};

export async function chatStoreScenario(t: Target, ctx: Ctx): Promise<RunResult> {
  const clients = 32;
  const window = 2;
  const receiptEvery = 16;
  const warmupMs = ctx.quick ? 1000 : 2000;
  const durationMs = ctx.quick ? 2000 : 6000;
  const res = newResult("chat-store", t.name, { clients, window, receiptEvery, warmupMs, durationMs, workers: ctx.workers });
  const servers: ServerNode[] = [];
  const workers: LoadWorker[] = [];
  const dir = mkdtempSync(join(tmpdir(), "sb-bench-chat-store-"));
  const policyPath = join(dir, "policy.json");
  writeFileSync(policyPath, JSON.stringify(POLICY));
  let pg: PostgresServer | undefined;
  const result = await guarded(res, servers, workers, async () => {
    pg = await startPostgres();
    const pgUrl = await pg.createDatabase("bench");
    for (const mode of MODES) {
      ctx.log(`chat-store: ${mode} …`);
      const env: Record<string, string> = { SWITCHBOARD_CONFIG: policyPath, ...(mode === "chat postgres" ? { DATABASE_URL: pgUrl } : {}) };
      const [server] = await t.start({ nodes: 1, env });
      servers.push(server!);
      const ep = { host: "127.0.0.1", port: server!.port };
      const auths = spread(clients, ctx.workers).map((k, i) => ({ k, auth: authFor(t, `cs${i}`)! }));
      const chat = mode !== "room";
      if (chat) await putConversation(server!.port, auths);
      const mine = auths.map(({ k, auth }, i) =>
        LoadWorker.start(`chat-store-${mode.replace(" ", "-")}-w${i}`, { kind: "chat-store", dialect: t.dialect, ep, auth, n: k, ch: chat ? CHAT : ROOM, window, receipts: chat, receiptEvery }),
      );
      workers.push(...mine);
      const ready = await Promise.all(mine.map((w) => w.waitFor("ready", 60_000)));
      const failed = ready.reduce((s, r) => s + r.failed, 0);
      if (failed > 0) throw new Error(`${mode}: ${failed} clients failed to connect: ${ready.find((r) => r.firstError)?.firstError}`);
      const startAt = soon(200);
      const go = { cmd: "go", startAt, measureFrom: startAt + warmupMs, measureTo: startAt + warmupMs + durationMs };
      mine.forEach((w) => w.send(go));
      res.cpu[mode] = await measureCpu(new CpuMeter(pidsOf([server!], mine)), go.measureFrom, go.measureTo, mine.length);
      const results = await Promise.all(mine.map((w) => w.waitFor("result", durationMs + 30_000)));
      record(res, mode, results);
      await Promise.all(mine.map((w) => w.stop()));
      workers.length = 0;
      await server!.stop();
      servers.length = 0;
    }
    res.notes.push("closed loop: each client keeps 2 publications unacknowledged; an ok on chat:bench means the message is committed in the record store");
  });
  await pg?.stop();
  rmSync(dir, { recursive: true, force: true });
  return result;
}

async function putConversation(port: number, auths: { k: number; auth: AuthSpec }[]): Promise<void> {
  const members = auths.flatMap(({ k, auth }) => Array.from({ length: k }, (_, i) => `${auth.subPrefix}${i}`));
  const r = await fetch(`http://127.0.0.1:${port}/v1/conversations/bench`, {
    method: "PUT",
    headers: { authorization: `Bearer ${BENCH_API_KEY}`, "content-type": "application/json" },
    body: JSON.stringify({ tenant: BENCH_TENANT, members, title: "bench" }),
  });
  if (r.status !== 200) throw new Error(`PUT /v1/conversations/bench answered ${r.status}: ${await r.text()}`);
}

function record(res: RunResult, mode: Mode, results: Record<string, any>[]): void {
  const key = mode === "room" ? "room" : mode === "chat sqlite" ? "sqlite" : "postgres";
  const seconds = Math.max(...results.map((r) => r.seconds));
  const acked = results.reduce((s, r) => s + r.acked, 0);
  res.metrics[`${key}PerSec`] = Math.round(acked / seconds);
  res.metrics[`${key}ReceiptsPerSec`] = Math.round(results.reduce((s, r) => s + r.receipts, 0) / seconds);
  res.metrics[`${key}DeliveredPerSec`] = Math.round(results.reduce((s, r) => s + r.received, 0) / seconds);
  const closed = results.reduce((s, r) => s + r.closed, 0);
  if (closed > 0) res.notes.push(`${mode}: ${closed} clients were closed by the server during the run`);
  if (acked === 0) throw new Error(`${mode}: no publication was acknowledged in the measured window`);
  res.latency[mode] = latencyOf(mergeHistograms(results.map((r) => r.hist)));
}
