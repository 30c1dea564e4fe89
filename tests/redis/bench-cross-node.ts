/**
 * Cross-node figures through the Redis bus (not a test; run by hand):
 *   node_modules/.bin/bun tests/redis/bench-cross-node.ts [standalone|cluster]
 * Node A hosts the publishers, node B the subscriber; all on this machine.
 * 1) throughput: 4 WebSocket publishers × 5,000 pubs (250 in flight each) on one channel;
 * 2) latency: 2,000 pubs at ~1,000/s, publish sent → msg received on the other node.
 */
import { token, type TestServer } from "../helpers/server.ts";
import { TestClient } from "../helpers/ws-client.ts";
import { countReached, isMsg, nodeEnv, policyFile, startBackend, startNodes, type BackendKind } from "./nodes.ts";

const kind = (process.argv[2] ?? "standalone") as BackendKind;
const backend = await startBackend(kind);
const policy = policyFile(1000);
const nodes: TestServer[] = await startNodes(2, nodeEnv(backend, policy.path, { LOG_LEVEL: "info", REDIS_COMMAND_TIMEOUT_MS: "2000" }));
const clients: TestClient[] = [];
const connect = async (n: TestServer, sub: string) => {
  const { client } = await TestClient.auth(n.wsUrl, await token({ sub, tenant: "b", rooms: ["tp", "lat"] }));
  clients.push(client);
  return client;
};

try {
  const sub = await connect(nodes[1]!, "sub");
  await sub.request({ t: "sub", ch: "room:tp" });
  await sub.request({ t: "sub", ch: "room:lat" });
  const pubs = await Promise.all([0, 1, 2, 3].map((i) => connect(nodes[0]!, `p${i}`)));
  const per = 5000;
  const total = per * pubs.length;
  const t0 = performance.now();
  const delivered = countReached(sub, isMsg("room:tp"), total, 120_000);
  await Promise.all(
    pubs.map(async (p) => {
      for (let sent = 0; sent < per; sent += 250) {
        const answered = countReached(p, (f) => f.t === "ok" || f.t === "err", sent + 250, 60_000);
        for (let i = sent; i < sent + 250; i++) p.send({ t: "pub", id: 10 + i, ch: "room:tp", ev: "x", data: i });
        await answered;
      }
    }),
  );
  const ackMs = performance.now() - t0;
  await delivered;
  const allMs = performance.now() - t0;
  const errs = pubs.reduce((n, p) => n + p.count((f) => f.t === "err"), 0);
  console.log(`[${kind}] throughput: ${total} pubs (${errs} refused) acked in ${ackMs.toFixed(0)} ms, delivered on the other node in ${allMs.toFixed(0)} ms → ${Math.round((total / allMs) * 1000)} msg/s`);

  const lat: number[] = [];
  const sentAt = new Map<number, number>();
  sub.ws.addEventListener("message", (e) => {
    const s = String(e.data);
    if (!s.includes('"room:lat"')) return;
    const f = JSON.parse(s);
    const at = sentAt.get(f.data);
    if (at !== undefined) lat.push(performance.now() - at);
  });
  const p = pubs[0]!;
  const n = 2000;
  for (let i = 0; i < n; i++) {
    sentAt.set(i, performance.now());
    p.send({ t: "pub", id: 100_000 + i, ch: "room:lat", ev: "l", data: i });
    if (i % 10 === 9) await Bun.sleep(10);
  }
  await countReached(sub, isMsg("room:lat"), n, 30_000);
  lat.sort((a, b) => a - b);
  const q = (x: number) => lat[Math.min(lat.length - 1, Math.floor(x * lat.length))]!.toFixed(2);
  console.log(`[${kind}] latency publish→deliver across nodes (${lat.length} msgs at ~1000/s): p50 ${q(0.5)} ms, p90 ${q(0.9)} ms, p99 ${q(0.99)} ms, max ${q(1)} ms`);
} finally {
  for (const c of clients) c.close();
  await Promise.all(nodes.map((s) => s.stop()));
  await backend.stop();
  policy.cleanup();
}
