/**
 * Starts the server the way an operator would (npm start, bin/switchboard, the
 * image's entrypoint, a shell wrapper), in its own process group so that a
 * test can always clean up the whole group by PID, and checks a SIGTERM sent
 * to the started process alone drains it.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { expect } from "bun:test";
import { TEST_API_KEY, TEST_SECRET, token } from "./server.ts";
import { until } from "./until.ts";
import { TestClient } from "./ws-client.ts";

export const ROOT = resolve(import.meta.dir, "../..");
export const BIN_DIR = join(ROOT, "node_modules/.bin");

export interface StartedCommand {
  proc: ChildProcess;
  port: number;
  url: string;
  output(): string;
  /** Exit code (128 + n when killed by signal n). */
  exited: Promise<number>;
  /** SIGTERM to the whole group, then removes the data dir. */
  cleanup(): Promise<void>;
}

export async function startCommand(argv: string[], opts: { env?: Record<string, string>; cwd?: string } = {}): Promise<StartedCommand> {
  const dataDir = mkdtempSync(join(tmpdir(), "sb-cmd-"));
  const proc = spawn(argv[0]!, argv.slice(1), {
    cwd: opts.cwd ?? ROOT,
    env: {
      PATH: `${BIN_DIR}:${process.env.PATH ?? ""}`,
      HOME: process.env.HOME ?? "/tmp",
      NODE_ENV: "test",
      HOST: "127.0.0.1",
      PORT: "0",
      JWT_SECRET: TEST_SECRET,
      API_KEYS: TEST_API_KEY,
      DATA_DIR: dataDir,
      DRAIN_RECONNECT_MAX_MS: "500",
      ...opts.env,
    },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  const exited = new Promise<number>((r) => proc.once("exit", (code, signal) => r(code ?? 128 + (signal === "SIGTERM" ? 15 : signal === "SIGKILL" ? 9 : 1))));
  let out = "";
  const listening = Promise.withResolvers<number>();
  // Keep reading both pipes for the whole run: a closed pipe would kill the server on its next log line.
  const onData = (chunk: Buffer) => {
    out += chunk.toString();
    const m = /"msg":"listening".*?"port":(\d+)/.exec(out);
    if (m) listening.resolve(Number(m[1]));
  };
  proc.stdout!.on("data", onData);
  proc.stderr!.on("data", onData);
  exited.then((code) => listening.reject(new Error(`${argv.join(" ")} exited with ${code} before listening:\n${out}`)));
  const cleanup = async () => {
    try {
      process.kill(-proc.pid!, "SIGTERM");
    } catch {
      // the group is already gone
    }
    rmSync(dataDir, { recursive: true, force: true });
  };
  let port: number;
  try {
    port = await listening.promise;
  } catch (err) {
    await cleanup();
    throw err;
  }
  return { proc, port, url: `http://127.0.0.1:${port}`, output: () => out, exited, cleanup };
}

/**
 * SIGTERM to the started process only (what `docker stop`, Kubernetes and
 * systemd do to the main process): the connected client gets `reconnect`,
 * then close 1012, the server logs "stopped" and its port is gone.
 * Resolves with the started process's exit code.
 */
export async function expectDrainOnSigterm(s: StartedCommand): Promise<number> {
  const jwt = await token({ sub: "op", tenant: "ops", rooms: ["lobby"] });
  const { client } = await TestClient.auth(`ws://127.0.0.1:${s.port}/v1/ws`, jwt);
  expect(await client.request({ t: "sub", ch: "room:lobby" })).toMatchObject({ t: "ok" });
  expect((await fetch(`${s.url}/health/ready`)).status).toBe(200);
  s.proc.kill("SIGTERM");
  const rec = await client.next((f) => f.t === "reconnect", 15_000);
  expect(rec.after).toBeGreaterThanOrEqual(0);
  expect((await client.closed).code).toBe(1012);
  const code = await s.exited;
  await until(async () => (s.output().includes('"msg":"stopped"') ? true : undefined), "the server's stopped log line", 15_000);
  await until(() => fetch(`${s.url}/health/live`).then(() => undefined, () => true), "the port to close", 15_000);
  return code;
}
