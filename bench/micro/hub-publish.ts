/**
 * JavaScript cost of a client publication through the hub and the embedded
 * engine, without sockets: 32 authenticated connections each publish
 * PER_TURN (50) of the chat bench's frames per loop turn into one room with history;
 * the native fan-out is replaced by a counter. Prints µs per publication,
 * including the history write and the acks.
 * Usage: node_modules/.bin/bun bench/micro/hub-publish.ts   (R=rounds, default 600;
 *   WEBHOOKS=none: the webhook publish tap with no webhook; WEBHOOKS=other: a publication webhook watches 4 other namespaces)
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../../src/config/load.ts";
import { LocalEngine } from "../../src/engine/local/local-engine.ts";
import { ChannelPolicy } from "../../src/hub/channel-policy.ts";
import { Hub } from "../../src/hub/hub.ts";
import { systemClock, type Conn } from "../../src/hub/ports.ts";
import { TokenVerifier } from "../../src/hub/token-verifier.ts";
import { createLogger } from "../../src/observability/logger.ts";
import { Metrics } from "../../src/observability/metrics.ts";
import { WebhookService } from "../../src/features/webhooks/webhook-service.ts";
import { tapPublications } from "../../src/features/webhooks/webhooks-feature.ts";
import { BUN_CHAT_TEXTS } from "../load/chat-job.ts";

const dataDir = mkdtempSync(join(tmpdir(), "sb-hub-publish-"));
const config = loadConfig({ NODE_ENV: "production", JWT_SECRET: "x".repeat(40), API_KEYS: "k".repeat(32), CORS_ORIGINS: "*", DATA_DIR: dataDir, WS_RATE_LIMIT_PER_SEC: "0", WS_MAX_CONNECTIONS_PER_USER: "0", LOG_LEVEL: "error" });
const logger = createLogger("error");
const policy = new ChannelPolicy(config.namespaces);
const verifier = new TokenVerifier({ secret: config.jwt.secret, algorithm: config.jwt.algorithm, requireExp: false, claimNames: policy.claimNames() });
const engine = new LocalEngine({ dataDir, nodeId: "micro", logger });
const hub = new Hub({ config, engine, verifier, policy, metrics: new Metrics(), logger, clock: systemClock });
await engine.start(hub);
if (process.env.WEBHOOKS === "other" || process.env.WEBHOOKS === "none") {
  // The tap as the server installs it; with "other", webhooks watch other namespaces: room:bench publications must cost nothing extra.
  const service = new WebhookService({} as never, async () => {}, () => Date.now(), logger);
  if (process.env.WEBHOOKS === "other") service.routing.replace([{ tenant: "bench", id: "wh", url: "http://127.0.0.1:9/", secret: "s", events: ["publication", "disconnect"], namespaces: ["chat", "ward", "student", "call"], ratePerSec: 0, createdMs: 0 }]);
  tapPublications(engine, service, logger);
}
let delivered = 0;
hub.attach({ publish: (_topic, data) => (delivered++, data.length), subscriberCount: () => 32 });

const conns: Conn[] = [];
for (let i = 0; i < 32; i++) {
  const conn: Conn = {
    data: hub.newConnData(undefined),
    remoteAddress: "127.0.0.1",
    send: (s) => s.length,
    subscribe: () => {},
    unsubscribe: () => {},
    isSubscribed: () => false,
    subscriptions: [],
    close: () => {},
    getBufferedAmount: () => 0,
    cork: (cb) => cb(),
  };
  hub.open(conn);
  hub.authenticate(conn, { sub: "uchat" + i, tenant: "bench", roles: [], claims: { rooms: ["bench"] }, expMs: undefined }, undefined);
  conns.push(conn);
}
// The chat bench's frames: Bun's chat texts with sender and sequence, PER_TURN per connection and loop turn.
const PER_TURN = Number(process.env.PER_TURN ?? 50);
const frames = conns.map((_, i) => Array.from({ length: PER_TURN }, (_, k) => `{"t":"pub","id":${k + 10},"ch":"room:bench","ev":"m","data":{"s":${i},"q":${k},"text":${JSON.stringify(BUN_CHAT_TEXTS[k % BUN_CHAT_TEXTS.length])}}}`));
const turn = () => new Promise<void>((r) => setImmediate(r));

async function round(): Promise<number> {
  const t0 = performance.now();
  // As the sockets deliver them: each connection's frames of a turn together.
  for (let i = 0; i < 32; i++) for (let k = 0; k < PER_TURN; k++) hub.message(conns[i]!, frames[i]![k]!);
  await turn();
  await turn();
  return performance.now() - t0;
}

for (let i = 0; i < Number(process.env.WARM ?? 100); i++) await round();
const rounds = Number(process.env.R ?? 600);
let ms = 0;
const d0 = delivered;
// CPU time as well: on a shared machine wall time also counts the time this process was not scheduled.
const cpu0 = process.cpuUsage();
for (let i = 0; i < rounds; i++) ms += await round();
const cpu = process.cpuUsage(cpu0);
console.log(`${((ms * 1000) / (rounds * 32 * PER_TURN)).toFixed(3)} µs per publication, ${((cpu.user + cpu.system) / (rounds * 32 * PER_TURN)).toFixed(3)} CPU µs (${delivered - d0} delivered)`);
await engine.stop();
rmSync(dataDir, { recursive: true, force: true });
