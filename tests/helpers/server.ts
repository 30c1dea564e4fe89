import { SignJWT } from "jose";
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Subprocess } from "bun";

const ROOT = resolve(import.meta.dir, "../..");
export const TEST_SECRET = "test-secret-at-least-32-bytes-long-xxxxxxxx";
export const TEST_API_KEY = "test-api-key";

export interface TestServer {
  port: number;
  runtime: Runtime;
  url: string;
  wsUrl: string;
  node: string;
  proc: Subprocess<"ignore", "pipe", "pipe">;
  dataDir: string;
  /** Every log line the server printed so far (parsed JSON). */
  logs: Record<string, unknown>[];
  /** Resolves with the exit code. */
  exited: Promise<number>;
  stop(signal?: NodeJS.Signals): Promise<number>;
  api(path: string, init?: RequestInit & { json?: unknown }): Promise<Response>;
}

/** Which runtime runs the server: Bun (src/main.ts as it is) or Node (the `npm run build:node` bundle, uWebSockets.js transport). */
export type Runtime = "bun" | "node";

/** Suites that must hold on both runtimes loop over this (one suite, two servers). */
export const RUNTIMES: readonly Runtime[] = ["bun", "node"];

let nodeBuild: Promise<string> | undefined;

/**
 * The Node bundle the tests run, built once per test process by
 * `npm run build:node`'s script into a directory of its own (two levels
 * below the repository, as dist/node is, so paths relative to the bundle
 * resolve alike), so that `npm test` always tests the current source.
 */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

export function nodeBundle(): Promise<string> {
  nodeBuild ??= (async () => {
    const out = join(ROOT, ".tmp", `node-build-${process.pid}`);
    // bun test runs no 'exit' handlers, so each test process removes the bundles of test processes that are gone.
    mkdirSync(join(ROOT, ".tmp"), { recursive: true });
    for (const name of readdirSync(join(ROOT, ".tmp"), { withFileTypes: true }).filter((e) => e.isDirectory() && /^node-build-\d+$/.test(e.name))) {
      if (!processAlive(Number(name.name.slice("node-build-".length)))) rmSync(join(ROOT, ".tmp", name.name), { recursive: true, force: true });
    }
    rmSync(out, { recursive: true, force: true });
    mkdirSync(out, { recursive: true });
    process.on("exit", () => rmSync(out, { recursive: true, force: true }));
    const build = Bun.spawn([process.execPath, "scripts/build-node.ts", out], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
    const [code, err] = await Promise.all([build.exited, new Response(build.stderr).text()]);
    if (code !== 0) throw new Error(`the Node build failed (${code}):\n${err}`);
    return join(out, "main.js");
  })();
  return nodeBuild;
}

export interface StartOptions {
  /** "bun" unless told (or unless SB_RUNTIME=node: any suite can then be tried against the Node build). */
  runtime?: Runtime;
  env?: Record<string, string>;
  /** Reuse a data dir (restart tests); a fresh temp dir otherwise. */
  dataDir?: string;
  /** Keep the data dir after stop (for restarts). */
  keepData?: boolean;
  /** Fixed port (restart on the same port); 0 = ephemeral. */
  port?: number;
}

/** Starts `src/main.ts` as a real process on an ephemeral port and waits until it listens. */
export async function startServer(opts: StartOptions = {}): Promise<TestServer> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), "sb-test-"));
  const runtime: Runtime = opts.runtime ?? (process.env.SB_RUNTIME === "node" ? "node" : "bun");
  const command = runtime === "node" ? ["node", "--expose-gc", await nodeBundle()] : [process.execPath, join(ROOT, "src/main.ts")];
  const proc = Bun.spawn(command, {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "/tmp",
      NODE_ENV: "test",
      HOST: "127.0.0.1",
      PORT: String(opts.port ?? 0),
      JWT_SECRET: TEST_SECRET,
      API_KEYS: TEST_API_KEY,
      DATA_DIR: dataDir,
      LOG_LEVEL: "info",
      ...opts.env,
    },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const logs: Record<string, unknown>[] = [];
  const listening = Promise.withResolvers<{ port: number; node: string }>();
  let stderrText = "";
  (async () => {
    const dec = new TextDecoder();
    let buf = "";
    for await (const chunk of proc.stdout) {
      buf += dec.decode(chunk, { stream: true });
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        try {
          const rec = JSON.parse(line) as Record<string, unknown>;
          logs.push(rec);
          if (rec.msg === "listening") listening.resolve({ port: rec.port as number, node: rec.node as string });
        } catch {
          logs.push({ raw: line });
        }
      }
    }
  })();
  (async () => {
    const dec = new TextDecoder();
    for await (const chunk of proc.stderr) stderrText += dec.decode(chunk, { stream: true });
  })();
  const exited = proc.exited;
  exited.then((code) => listening.reject(new Error(`server exited with ${code} before listening:\n${stderrText}\n${JSON.stringify(logs.slice(-5))}`)));
  const timer = setTimeout(() => listening.reject(new Error("server did not listen within 15 s")), 15_000);
  const { port, node } = await listening.promise.finally(() => clearTimeout(timer));
  const url = `http://127.0.0.1:${port}`;
  const server: TestServer = {
    port,
    runtime,
    url,
    wsUrl: `ws://127.0.0.1:${port}/v1/ws`,
    node,
    proc,
    dataDir,
    logs,
    exited,
    async stop(signal = "SIGTERM") {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      const code = await exited;
      if (!opts.keepData && !opts.dataDir) rmSync(dataDir, { recursive: true, force: true });
      return code;
    },
    api(path, init = {}) {
      const headers = new Headers(init.headers);
      if (!headers.has("authorization")) headers.set("authorization", `Bearer ${TEST_API_KEY}`);
      let body = init.body;
      if (init.json !== undefined) {
        headers.set("content-type", "application/json");
        body = JSON.stringify(init.json);
      }
      return fetch(url + path, { ...init, headers, body });
    },
  };
  return server;
}

export interface TokenClaims {
  sub?: string;
  tenant?: string;
  roles?: string[];
  [claim: string]: unknown;
}

/** Signs an HS256 token with the test secret; `expSec` relative seconds (default 1 h), null = no exp. */
export async function token(claims: TokenClaims, opts: { expSec?: number | null; secret?: string; iss?: string; aud?: string } = {}): Promise<string> {
  const jwt = new SignJWT(claims as Record<string, unknown>).setProtectedHeader({ alg: "HS256" }).setIssuedAt();
  if (opts.expSec !== null) jwt.setExpirationTime(Math.floor(Date.now() / 1000) + (opts.expSec ?? 3600));
  if (opts.iss) jwt.setIssuer(opts.iss);
  if (opts.aud) jwt.setAudience(opts.aud);
  return jwt.sign(new TextEncoder().encode(opts.secret ?? TEST_SECRET));
}
