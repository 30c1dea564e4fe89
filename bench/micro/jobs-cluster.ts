/**
 * Jobs executed per second with N nodes, and webhook deliveries per second,
 * on real processes: a PostgreSQL and a Redis started here, N Switchboard
 * nodes, M publish jobs all due at the same moment (each node may run
 * JOBS_CONCURRENCY of them at once), then M publications on a namespace a
 * webhook watches, delivered to a local receiver.
 * Usage: node_modules/.bin/bun bench/micro/jobs-cluster.ts   (NODES=1,3  M=1000)
 */
import { startReceiver } from "../../tests/helpers/http-receiver.ts";
import { startPostgres } from "../../tests/helpers/postgres.ts";
import { startRedis } from "../../tests/helpers/redis.ts";
import { startServer, type TestServer } from "../../tests/helpers/server.ts";
import { configFile } from "../../tests/jobs/support.ts";

const M = Number(process.env.M ?? 1000);
const NODES = (process.env.NODES ?? "1,3").split(",").map(Number);

async function waitFor(check: () => Promise<boolean>): Promise<void> {
  while (!(await check())) await Bun.sleep(20);
}

async function run(n: number, seq: number): Promise<void> {
  const [pg, redis] = await Promise.all([startPostgres(), startRedis()]);
  const cfg = configFile();
  const rx = startReceiver();
  const env = { SWITCHBOARD_CONFIG: cfg.path, DATABASE_URL: await pg.createDatabase("bench"), REDIS_URL: redis.url, REDIS_PREFIX: `bj${seq}`, JOBS_POLL_MS: "50", WEBHOOK_POLL_MS: "50", WS_RATE_LIMIT_PER_SEC: "0" };
  const nodes: TestServer[] = await Promise.all(Array.from({ length: n }, () => startServer({ env })));
  try {
    const at = new Date(Date.now() + 5000 + M * 2).toISOString();
    for (let i = 0; i < M; i += 50) {
      await Promise.all(
        Array.from({ length: Math.min(50, M - i) }, (_, k) =>
          nodes[(i + k) % n]!.api("/v1/jobs", { method: "POST", json: { tenant: "b", at, action: { publish: { ch: "room:x", ev: "tick", data: i + k } } } }).then((r) => r.arrayBuffer()),
        ),
      );
    }
    await waitFor(async () => Date.now() >= Date.parse(at));
    const t0 = performance.now();
    await waitFor(async () => (await (await nodes[0]!.api("/v1/jobs?tenant=b&limit=1")).json()).stats[0]?.completed === M);
    const jobsMs = performance.now() - t0;

    await nodes[0]!.api("/v1/webhooks", { method: "POST", json: { tenant: "b", url: rx.url, events: ["publication"], namespaces: ["student"], ratePerSec: 0 } });
    await Bun.sleep(500); // other nodes learn the endpoint through the control message
    const t1 = performance.now();
    for (let i = 0; i < M; i += 50) {
      await Promise.all(Array.from({ length: Math.min(50, M - i) }, (_, k) => nodes[(i + k) % n]!.api("/v1/publish", { method: "POST", json: { tenant: "b", ch: "student:1", ev: "e", data: i + k } }).then((r) => r.arrayBuffer())));
    }
    await waitFor(async () => new Set(rx.received.map((r) => r.headers["x-switchboard-delivery"])).size >= M);
    const hooksMs = performance.now() - t1;
    console.log(`${n} node(s): ${M} jobs due at once done in ${jobsMs.toFixed(0)} ms = ${Math.round((M / jobsMs) * 1000)} jobs/s; ${M} webhook deliveries (publish → receiver) in ${hooksMs.toFixed(0)} ms = ${Math.round((M / hooksMs) * 1000)} deliveries/s`);
  } finally {
    await Promise.all(nodes.map((x) => x.stop()));
    rx.stop();
    await Promise.all([pg.stop(), redis.stop()]);
    cfg.cleanup();
  }
}

let seq = 0;
for (const n of NODES) await run(n, ++seq);
