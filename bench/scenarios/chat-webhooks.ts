/**
 * chat-webhooks: the saturating `chat` scenario against Switchboard four
 * times per round, each on a fresh server, so that what the webhook and
 * presence-status features add to the hot path shows next to plain chat:
 *
 * - `plain`: exactly `chat` × switchboard;
 * - `webhook`: a webhook endpoint (POST /v1/webhooks) for publications on
 *   *another* namespace (`case`), pointing at a receiver this scenario runs;
 *   a probe publication on `case:` must reach the receiver before the load
 *   starts (else the variant would not measure a live endpoint) and no chat
 *   publication may reach it;
 * - `status`: every client sets a presence status and watches the other
 *   users of its load worker before the load starts (room:bench has presence on);
 * - `webhook+status`: both.
 *
 * Full runs do 3 interleaved rounds (the order rotates per round), quick runs
 * 1; a failed or flagged attempt is noted and run once more; each variant's figures are the median of its clean rounds, and
 * "× plain" is the median of the per-round ratios (variant ÷ plain of the
 * same round). Plain's own spread over the rounds is the noise to judge
 * "unchanged within noise" against.
 */
import { sleep } from "../lib/clock.ts";
import { BENCH_API_KEY, BENCH_TENANT, type ServerNode, type Target } from "../targets.ts";
import { runChat, type ChatVariant } from "./chat.ts";
import { newResult, trusted, type Ctx, type RunResult } from "./common.ts";

export const WEBHOOK_VARIANTS = ["plain", "webhook", "status", "webhook+status"] as const;
export type WebhookVariant = (typeof WEBHOOK_VARIANTS)[number];

/** Metric key prefix of a variant: `plain`, `webhook`, `status`, `both`. */
export const variantKey = (v: WebhookVariant) => (v === "webhook+status" ? "both" : v);

/** A receiver for webhook deliveries in the bench process: counts POSTs, answers 200. */
function startReceiver() {
  const bodies: string[] = [];
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(req) {
      bodies.push(await req.text());
      return new Response("ok");
    },
  });
  return { url: `http://127.0.0.1:${server.port}/hook`, bodies, stop: () => server.stop(true) };
}

type Receiver = ReturnType<typeof startReceiver>;

async function api(server: ServerNode, method: string, path: string, body: unknown): Promise<unknown> {
  const r = await fetch(`http://127.0.0.1:${server.port}${path}`, { method, headers: { authorization: `Bearer ${BENCH_API_KEY}`, "content-type": "application/json" }, body: JSON.stringify(body) });
  const text = await r.text();
  if (!r.ok) throw new Error(`${method} ${path} answered ${r.status}: ${text}`);
  return JSON.parse(text);
}

/** Registers the endpoint for namespace `case` and waits until a probe publication there has reached the receiver. */
async function configureWebhook(server: ServerNode, rx: Receiver): Promise<void> {
  await api(server, "POST", "/v1/webhooks", { tenant: BENCH_TENANT, id: "bench-other-ns", url: rx.url, events: ["publication"], namespaces: ["case"], ratePerSec: 0 });
  await api(server, "POST", "/v1/publish", { tenant: BENCH_TENANT, ch: "case:probe", ev: "probe", data: { probe: true } });
  const until = Date.now() + 15_000;
  while (rx.bodies.length === 0 && Date.now() < until) await sleep(25);
  if (rx.bodies.length === 0) throw new Error("the webhook probe on case:probe never reached the receiver: the endpoint is not live");
}

function variantOf(v: WebhookVariant, rx: Receiver): ChatVariant {
  const hook = v === "webhook" || v === "webhook+status";
  return { status: v === "status" || v === "webhook+status", ...(hook ? { afterStart: (s: ServerNode) => configureWebhook(s, rx) } : {}) };
}

const median = (xs: number[]) => {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = (s.length - 1) / 2;
  return (s[Math.floor(m)]! + s[Math.ceil(m)]!) / 2;
};

export interface VariantRound {
  variant: WebhookVariant;
  round: number;
  run: RunResult;
  /** Webhook deliveries the receiver got during this variant (the probe included). */
  hookDeliveries?: number;
}

/** Per variant: median delivered/s and CPU µs per publication over clean rounds, and the median per-round ratio to plain. */
export function webhookTally(rounds: VariantRound[]): { metrics: Record<string, number>; notes: string[]; flags: string[] } {
  const metrics: Record<string, number> = {};
  const notes: string[] = [];
  const flags: string[] = [];
  const clean = (r: VariantRound) => trusted(r.run) && (r.hookDeliveries === undefined || r.hookDeliveries === 1);
  // A failed or flagged round is left out of the medians (as run.ts does with --rounds) and said so;
  // a chat publication reaching the other namespace's webhook flags the whole run.
  for (const r of rounds) {
    if (!r.run.ok) notes.push(`${r.variant} round ${r.round} failed, left out: ${r.run.error?.split("\n")[0]}`);
    for (const f of r.run.flags ?? []) notes.push(`${r.variant} round ${r.round} flagged, left out: ${f}`);
    if (r.run.ok && r.hookDeliveries !== undefined && r.hookDeliveries !== 1) flags.push(`${r.variant} round ${r.round}: the receiver got ${r.hookDeliveries} webhook deliveries, expected exactly the probe (chat publications must not reach a webhook of another namespace)`);
  }
  const plainBy = new Map(rounds.filter((r) => r.variant === "plain" && clean(r)).map((r) => [r.round, r.run]));
  for (const v of WEBHOOK_VARIANTS) {
    const k = variantKey(v);
    const mine = rounds.filter((r) => r.variant === v && clean(r));
    metrics[`${k}DeliveredPerSec`] = Math.round(median(mine.map((r) => r.run.metrics.deliveredPerSec!)));
    metrics[`${k}CpuUsPerPub`] = Math.round(median(mine.map((r) => r.run.metrics.serverCpuUsPerPub!)) * 100) / 100;
    metrics[`${k}Rounds`] = mine.length;
    if (mine.length === 0) flags.push(`${v}: no clean round`);
    if (v === "plain") continue;
    const cpu: number[] = [];
    const del: number[] = [];
    for (const r of mine) {
      const p = plainBy.get(r.round);
      if (!p) continue;
      cpu.push(r.run.metrics.serverCpuUsPerPub! / p.metrics.serverCpuUsPerPub!);
      del.push(r.run.metrics.deliveredPerSec! / p.metrics.deliveredPerSec!);
    }
    metrics[`${k}CpuVsPlain`] = Math.round(median(cpu) * 1000) / 1000;
    metrics[`${k}DeliveredVsPlain`] = Math.round(median(del) * 1000) / 1000;
  }
  const plainCpu = [...plainBy.values()].map((r) => r.metrics.serverCpuUsPerPub!).filter(Number.isFinite);
  if (plainCpu.length >= 2) {
    const spread = Math.max(...plainCpu) / Math.min(...plainCpu) - 1;
    metrics.plainCpuSpread = Math.round(spread * 1000) / 1000;
    notes.push(`noise: plain's CPU per publication over ${plainCpu.length} rounds ranged ${Math.min(...plainCpu)}–${Math.max(...plainCpu)} µs (spread ${(spread * 100).toFixed(1)} %)`);
  } else {
    metrics.plainCpuSpread = NaN;
    notes.push("one clean plain round: no noise estimate (a full run does 3 interleaved rounds)");
  }
  const byRound = new Map<number, string[]>();
  for (const r of rounds) {
    const p = plainBy.get(r.round);
    const cpu = r.run.metrics.serverCpuUsPerPub;
    const x = p && r.variant !== "plain" && clean(r) ? ` (${(cpu! / p.metrics.serverCpuUsPerPub!).toFixed(2)}×)` : "";
    byRound.set(r.round, [...(byRound.get(r.round) ?? []), `${r.variant} ${clean(r) ? `${cpu} µs/pub, ${Math.round(r.run.metrics.deliveredPerSec!).toLocaleString("en-US")}/s${x}` : "flagged"}`]);
  }
  for (const [round, parts] of byRound) notes.push(`round ${round}: ${parts.join("; ")}`);
  return { metrics, notes, flags };
}

export async function chatWebhooksScenario(t: Target, ctx: Ctx): Promise<RunResult> {
  const rounds = ctx.quick ? 1 : 3;
  const res = newResult("chat-webhooks", t.name, { variants: WEBHOOK_VARIANTS.join("/"), rounds, clients: 32, perRound: 1600, warmupMs: ctx.quick ? 1000 : 2000, durationMs: ctx.quick ? 2000 : 6000, webhookNamespace: "case", workers: ctx.workers });
  if (t.dialect !== "switchboard") {
    res.error = `chat-webhooks runs against the switchboard dialect only (status and webhook are Switchboard features), not ${t.name}`;
    return res;
  }
  const rx = startReceiver();
  const all: VariantRound[] = [];
  try {
    for (let round = 1; round <= rounds; round++) {
      // Rotate the order so that no variant always runs first (or right after the same neighbour).
      const order = WEBHOOK_VARIANTS.map((_, i) => WEBHOOK_VARIANTS[(i + round - 1) % WEBHOOK_VARIANTS.length]!);
      for (const v of order) {
        // A failed or flagged attempt (on a shared machine: clients closed on backpressure, a drain cut short)
        // is kept in the notes and tried once more, so that one bad moment does not cost the variant its round.
        for (let attempt = 1; attempt <= 2; attempt++) {
          ctx.log(`chat-webhooks: round ${round}/${rounds}, ${v}${attempt > 1 ? " (again)" : ""} …`);
          const before = rx.bodies.length;
          const run = await runChat(t, ctx, "saturate", variantOf(v, rx));
          const hook = v === "webhook" || v === "webhook+status";
          const r: VariantRound = { variant: v, round, run, ...(hook ? { hookDeliveries: rx.bodies.length - before } : {}) };
          if (run.cpu.main) res.cpu[`${v} r${round}`] = run.cpu.main;
          const leaked = hook && run.ok && r.hookDeliveries !== 1;
          if (trusted(run) || leaked || attempt === 2) {
            all.push(r);
            break;
          }
          res.notes.push(`${v} round ${round}: first attempt ${run.ok ? `flagged (${run.flags!.join("; ")})` : `failed (${run.error?.split("\n")[0]})`}, run again`);
        }
      }
    }
  } finally {
    rx.stop();
  }
  const tally = webhookTally(all);
  Object.assign(res.metrics, tally.metrics);
  res.notes.push(...tally.notes);
  res.flags!.push(...tally.flags);
  res.ok = true;
  return res;
}
