import { afterAll, beforeAll, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startServer, type TestServer } from "../helpers/server.ts";
import { dockerfile, read, throwawayTls } from "./support.ts";

/** haproxy -c and nginx -t accept the configs as shipped (only certificate and log paths swapped for temporary ones). */

let dir: string;
let server: TestServer;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "sb-proxies-"));
  throwawayTls(dir);
  server = await startServer();
}, 60_000);
afterAll(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
}, 60_000);

function run(cmd: string, args: string[]): { status: number | null; out: string } {
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

function haproxyCheck(config: string): void {
  const file = join(dir, `haproxy-${Math.random().toString(36).slice(2)}.cfg`);
  writeFileSync(file, config.replace("/etc/haproxy/certs/switchboard.pem", join(dir, "both.pem")));
  const r = run("haproxy", ["-c", "-f", file]);
  expect(r.out).toContain("Configuration file is valid");
  expect(r.status).toBe(0);
}

/** Paths every config health-checks, answered by a live node. */
async function expectReadyPath(path: string): Promise<void> {
  expect(path).toBe("/health/ready");
  expect((await fetch(server.url + path)).status).toBe(200);
}

test("deploy/haproxy/haproxy.cfg: valid; WebSocket-aware (tunnel timeout), leastconn, X-Forwarded-For, TLS, checks /health/ready", async () => {
  const cfg = read("deploy/haproxy/haproxy.cfg");
  haproxyCheck(cfg);
  expect(cfg).toMatch(/^\s+mode http$/m);
  expect(cfg).toMatch(/^\s+timeout tunnel 1h$/m);
  expect(cfg).toMatch(/^\s+balance leastconn$/m);
  expect(cfg).toMatch(/^\s+option forwardfor$/m);
  expect(cfg).toMatch(/bind :443 ssl crt /);
  await expectReadyPath(/http-check send meth GET uri (\S+)/.exec(cfg)![1]!);
}, 30_000);

test("deploy/compose/haproxy.cfg: valid, checks /health/ready on the nodes' port", async () => {
  const cfg = read("deploy/compose/haproxy.cfg");
  haproxyCheck(cfg);
  const port = /^EXPOSE (\d+)$/m.exec(dockerfile().map((i) => `${i.op} ${i.args}`).join("\n"))![1];
  for (const n of [1, 2, 3]) expect(cfg).toContain(`server node${n} node${n}:${port}`);
  await expectReadyPath(/http-check send meth GET uri (\S+)/.exec(cfg)![1]!);
}, 30_000);

test("deploy/local-cluster/haproxy.cfg.template: valid once filled as start.sh fills it", () => {
  const cfg = read("deploy/local-cluster/haproxy.cfg.template")
    .replace("@LB_BIND@", "127.0.0.1:1")
    .replace("@STATS_BIND@", "127.0.0.1:2")
    .replace("@SERVERS@", "    server node1 127.0.0.1:3");
  haproxyCheck(cfg);
}, 30_000);

test("deploy/nginx/nginx.conf: nginx -t accepts it; upgrade headers, long timeouts, least_conn, X-Forwarded-For, TLS", async () => {
  const cfg = read("deploy/nginx/nginx.conf")
    .replace("/etc/nginx/tls/switchboard.crt", join(dir, "cert.pem"))
    .replace("/etc/nginx/tls/switchboard.key", join(dir, "key.pem"))
    .replaceAll("/var/log/nginx/", join(dir, "logs") + "/");
  const file = join(dir, "nginx.conf");
  writeFileSync(file, cfg);
  const r = run("nginx", ["-t", "-c", file, "-p", dir, "-g", `pid ${join(dir, "nginx.pid")}; error_log ${join(dir, "logs/error.log")};`]);
  expect(r.out).toContain("test is successful");
  expect(r.status).toBe(0);
  expect(cfg).toContain("proxy_set_header Upgrade $http_upgrade;");
  expect(cfg).toContain("proxy_set_header Connection $connection_upgrade;");
  expect(cfg).toContain("proxy_http_version 1.1;");
  expect(cfg).toMatch(/proxy_read_timeout 1h;/);
  expect(cfg).toMatch(/least_conn;/);
  expect(cfg).toContain("proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;");
  expect(cfg).toMatch(/listen 443 ssl;/);
  // OSS nginx moves new connections off a draining node by retrying its 503.
  expect(cfg).toMatch(/proxy_next_upstream [^;]*http_503/);
}, 30_000);
