import { afterAll, beforeAll, expect, test } from "bun:test";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, startRedis, type RedisServer } from "../helpers/redis.ts";
import { startServer, TEST_API_KEY, token, type TestServer } from "../helpers/server.ts";
import { until } from "../helpers/until.ts";
import { read, throwawayTls } from "./support.ts";

/**
 * The shipped nginx and HAProxy configs, run for real in front of two nodes
 * (only listen ports, node addresses, certificate and log paths swapped):
 * TLS terminated, WebSocket upgraded through them, and a node that drains
 * gets no new connections.
 */

const insecure = { tls: { rejectUnauthorized: false } };
let dir: string;
let redis: RedisServer;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "sb-proxies-live-"));
  throwawayTls(dir);
  redis = await startRedis();
}, 60_000);
afterAll(async () => {
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
}, 60_000);

async function hello(url: string, user: string): Promise<{ ws: WebSocket; node: string; closed: Promise<number>; frames: any[] }> {
  const jwt = await token({ sub: user, rooms: ["edge"] });
  const ws = new WebSocket(`${url}/v1/ws?access_token=${jwt}`, insecure as any);
  const frames: any[] = [];
  const closed = new Promise<number>((r) => (ws.onclose = (e) => r(e.code)));
  const node = await new Promise<string>((resolve, reject) => {
    ws.onmessage = (e) => {
      const f = JSON.parse(String(e.data));
      frames.push(f);
      if (f.t === "hello") resolve(f.node);
    };
    ws.onerror = () => reject(new Error(`websocket to ${url} failed`));
  });
  return { ws, node, closed, frames };
}

async function scenario(start: (https: number, http: number, nodes: number[]) => ChildProcess): Promise<void> {
  const env = { REDIS_URL: redis.url, REDIS_PREFIX: `edge${Date.now() % 1_000_000}` };
  const nodes: TestServer[] = [await startServer({ env }), await startServer({ env })];
  const [https, http] = [await freePort(), await freePort()];
  const proxy = start(https, http, nodes.map((n) => n.port));
  let out = "";
  proxy.stdout?.on("data", (c: Buffer) => (out += c));
  proxy.stderr?.on("data", (c: Buffer) => (out += c));
  const exited = new Promise<void>((r) => proxy.once("exit", () => r()));
  const base = `https://127.0.0.1:${https}`;
  try {
    await until(() => fetch(`${base}/health/ready`, insecure as RequestInit).then((r) => (r.status === 200 ? true : undefined), () => undefined), `the proxy to answer:\n${out}`);
    // Plain HTTP is redirected to HTTPS.
    const plain = await fetch(`http://127.0.0.1:${http}/health/ready`, { redirect: "manual" });
    expect(plain.status).toBe(301);
    expect(plain.headers.get("location")).toStartWith("https://");

    // Through TLS termination: upgrade, hello, a publication through the API reaches the socket.
    const c = await hello(`wss://127.0.0.1:${https}`, "edge-1");
    c.ws.send(JSON.stringify({ t: "sub", id: 1, ch: "room:edge" }));
    await until(async () => (c.frames.some((f) => f.id === 1 && f.t === "ok") ? true : undefined), "the subscription");
    const pub = await fetch(`${base}/v1/publish`, {
      ...(insecure as RequestInit),
      method: "POST",
      headers: { authorization: `Bearer ${TEST_API_KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ ch: "room:edge", ev: "e", data: { via: "proxy" } }),
    });
    expect(pub.status).toBe(200);
    await until(async () => (c.frames.some((f) => f.t === "msg" && f.data.via === "proxy") ? true : undefined), "the publication through the proxy");

    // Drain the node this client is on: it gets reconnect + 1012 through the proxy, and new connections go to the other node.
    const victim = nodes.find((n) => n.node === c.node)!;
    const other = nodes.find((n) => n !== victim)!;
    victim.proc.kill("SIGTERM");
    expect(await c.closed).toBe(1012);
    expect(c.frames.some((f) => f.t === "reconnect")).toBe(true);
    expect(await victim.exited).toBe(0);
    for (let i = 0; i < 4; i++) {
      const n = await hello(`wss://127.0.0.1:${https}`, `edge-new-${i}`);
      expect(n.node).toBe(other.node);
      n.ws.close();
    }
  } finally {
    proxy.kill("SIGTERM");
    await exited;
    await Promise.all(nodes.map((n) => n.stop()));
  }
}

test("deploy/nginx/nginx.conf in front of two nodes: TLS, WebSocket upgrade, drained node skipped", async () => {
  await scenario((https, http, ports) => {
    const conf = read("deploy/nginx/nginx.conf")
      .replace("listen 443 ssl;", `listen 127.0.0.1:${https} ssl;`)
      .replace("listen 80;", `listen 127.0.0.1:${http};`)
      .replace(/^(\s+)server 127\.0\.0\.1:8101 (.*)$/m, ports.map((p) => `$1server 127.0.0.1:${p} $2`).join("\n"))
      .replace(/^\s+server 127\.0\.0\.1:810[23] .*\n/gm, "")
      .replace("worker_processes auto;", "worker_processes 1;")
      .replace("/etc/nginx/tls/switchboard.crt", join(dir, "cert.pem"))
      .replace("/etc/nginx/tls/switchboard.key", join(dir, "key.pem"))
      .replaceAll("/var/log/nginx/", join(dir, "logs") + "/");
    const file = join(dir, "nginx.conf");
    writeFileSync(file, conf);
    return spawn("nginx", ["-c", file, "-p", dir, "-g", `daemon off; pid ${join(dir, "nginx.pid")}; error_log ${join(dir, "logs/error.log")};`], { stdio: ["ignore", "pipe", "pipe"] });
  });
}, 60_000);

test("deploy/haproxy/haproxy.cfg in front of two nodes: TLS, WebSocket upgrade, drained node skipped", async () => {
  const stats = await freePort();
  await scenario((https, http, ports) => {
    const conf = read("deploy/haproxy/haproxy.cfg")
      .replace("bind :443 ssl crt /etc/haproxy/certs/switchboard.pem", `bind 127.0.0.1:${https} ssl crt ${join(dir, "both.pem")}`)
      .replace("bind :80", `bind 127.0.0.1:${http}`)
      .replace("bind 127.0.0.1:8404", `bind 127.0.0.1:${stats}`)
      .replace("maxconn 200000", "maxconn 1000")
      .replace(/^\s+server node1 127\.0\.0\.1:8101$/m, ports.map((p, i) => `    server node${i + 1} 127.0.0.1:${p}`).join("\n"))
      .replace(/^\s+server node[23] 127\.0\.0\.1:810[23]\n/gm, "");
    const file = join(dir, "haproxy.cfg");
    writeFileSync(file, conf);
    return spawn("haproxy", ["-db", "-f", file], { stdio: ["ignore", "pipe", "pipe"] });
  });
}, 60_000);
