import { expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { spawn } from "node:child_process";
import { join, resolve } from "node:path";
import { startServer, token } from "../helpers/server.ts";
import { TestClient } from "../helpers/ws-client.ts";

test("TLS: https and wss with TLS_CERT_FILE/TLS_KEY_FILE", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sb-tls-"));
  const cert = join(dir, "cert.pem");
  const key = join(dir, "key.pem");
  const gen = Bun.spawnSync(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj", "/CN=localhost", "-keyout", key, "-out", cert]);
  expect(gen.exitCode).toBe(0);
  const s = await startServer({ env: { TLS_CERT_FILE: cert, TLS_KEY_FILE: key } });
  try {
    const res = await fetch(`https://127.0.0.1:${s.port}/health/ready`, { tls: { rejectUnauthorized: false } } as RequestInit);
    expect(res.status).toBe(200);
    expect(res.headers.get("strict-transport-security")).toBe("max-age=31536000; includeSubDomains");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    const plain = await fetch(`http://127.0.0.1:${s.port}/health/ready`).then((r) => r.status, () => "refused");
    expect(plain).not.toBe(200);
    const ws = new WebSocket(`wss://127.0.0.1:${s.port}/v1/ws`, { tls: { rejectUnauthorized: false } } as any);
    const hello = Promise.withResolvers<any>();
    ws.onopen = async () => ws.send(JSON.stringify({ t: "auth", token: await token({ sub: "tls-user" }) }));
    ws.onmessage = (e) => hello.resolve(JSON.parse(String(e.data)));
    ws.onerror = () => hello.reject(new Error("wss failed"));
    expect(await hello.promise).toMatchObject({ t: "hello", user: "tls-user" });
    ws.close();
  } finally {
    await s.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("CORS_ORIGINS: upgrades and HTTP from other origins are refused, allowed origins and non-browser clients work", async () => {
  const s = await startServer({ env: { CORS_ORIGINS: "https://app.example" } });
  try {
    const upgrade = (origin: string) =>
      fetch(`http://127.0.0.1:${s.port}/v1/ws`, {
        headers: { connection: "Upgrade", upgrade: "websocket", "sec-websocket-version": "13", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==", origin },
      });
    const bad = await upgrade("https://evil.example");
    expect(bad.status).toBe(403);
    expect((await bad.json()).error.code).toBe("AUTHORIZATION_FAILED");
    expect((await upgrade("https://app.example")).status).toBe(101);
    const c = await TestClient.connect(s.wsUrl, { headers: { origin: "https://app.example" } });
    c.send({ t: "auth", token: await token({ sub: "o" }) });
    await c.next((f) => f.t === "hello");
    c.close();
    const api = await s.api("/v1/publish", { method: "POST", headers: { origin: "https://evil.example" }, json: { ch: "room:x", ev: "e", data: 1 } });
    expect(api.status).toBe(403);
    const pre = await fetch(`${s.url}/v1/publish`, { method: "OPTIONS", headers: { origin: "https://app.example", "access-control-request-method": "POST" } });
    expect(pre.headers.get("access-control-allow-origin")).toBe("https://app.example");
  } finally {
    await s.stop();
  }
});

test("without CORS_ORIGINS: browsers from any origin get CORS headers, backends without Origin get none", async () => {
  const s = await startServer();
  try {
    const pre = await fetch(`${s.url}/v1/publish`, { method: "OPTIONS", headers: { origin: "https://any.example", "access-control-request-method": "POST" } });
    expect(pre.status).toBe(204);
    expect(pre.headers.get("access-control-allow-origin")).toBe("*");
    const browser = await s.api("/v1/publish", { method: "POST", headers: { origin: "https://any.example" }, json: { ch: "room:x", ev: "e", data: 1 } });
    expect(browser.status).toBe(200);
    expect(browser.headers.get("access-control-allow-origin")).toBe("*");
    const backend = await s.api("/v1/publish", { method: "POST", json: { ch: "room:x", ev: "e", data: 2 } });
    expect(backend.status).toBe(200);
    expect(backend.headers.get("access-control-allow-origin")).toBeNull();
  } finally {
    await s.stop();
  }
});

test("npm start runs a node on the embedded engine that is ready within seconds, and stops with its process group", async () => {
  const dataDir = mkdtempSync(join(tmpdir(), "sb-npm-start-"));
  // Its own process group, ended as a whole (a terminal's Ctrl-C); SIGTERM to npm alone is tests/integration/start-commands.test.ts.
  const proc = spawn("npm", ["start", "--silent"], {
    cwd: resolve(import.meta.dir, "../.."),
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", PORT: "0", HOST: "127.0.0.1", DATA_DIR: dataDir },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  const exited = new Promise<void>((r) => proc.once("exit", () => r()));
  let port = 0;
  try {
    const listening = Promise.withResolvers<number>();
    // Keep reading stdout for the whole test: closing the pipe would kill the server on its next log line.
    let out = "";
    proc.stdout!.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      const m = /"msg":"listening".*?"port":(\d+)/.exec(out);
      if (m) listening.resolve(Number(m[1]));
    });
    proc.once("exit", () => listening.reject(new Error(`npm start ended without listening:\n${out}`)));
    port = await listening.promise;
    expect(port).toBeGreaterThan(0);
    const ready = await fetch(`http://127.0.0.1:${port}/health/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: "ready" });
  } finally {
    process.kill(-proc.pid!, "SIGTERM");
    await exited;
    // The server itself is gone too, not orphaned behind npm.
    if (port > 0) {
      const deadline = Date.now() + 10_000;
      let up = true;
      while (up && Date.now() < deadline) {
        up = await fetch(`http://127.0.0.1:${port}/health/live`).then(() => true, () => false);
        if (up) await Bun.sleep(50);
      }
      expect(up).toBe(false);
    }
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test("security headers: nosniff on every answer (errors and refused upgrades too), a CSP on pages, no HSTS without TLS", async () => {
  // The demo page is mounted on a development node with its generated secret.
  const s = await startServer({ env: { NODE_ENV: "development", JWT_SECRET: "" } });
  try {
    for (const path of ["/health/ready", "/metrics", "/no-such-route", "/v1/publish"]) {
      const r = await fetch(s.url + path);
      expect(r.headers.get("x-content-type-options"), path).toBe("nosniff");
      expect(r.headers.get("strict-transport-security"), path).toBeNull();
      expect(r.headers.get("content-security-policy"), path).toBeNull();
    }
    const refused = await fetch(s.url + "/v1/ws", { headers: { connection: "Upgrade", upgrade: "websocket", "sec-websocket-version": "13", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==", authorization: "Bearer not-a-token" } });
    expect(refused.status).toBe(401);
    expect(refused.headers.get("x-content-type-options")).toBe("nosniff");
    const page = await fetch(s.url + "/demo");
    expect(page.headers.get("content-type")).toStartWith("text/html");
    const csp = page.headers.get("content-security-policy")!;
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
  } finally {
    await s.stop();
  }
});
