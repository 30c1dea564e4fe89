/**
 * Redis set-ups beyond a single server, as real processes: a primary with a
 * replica watched by a Sentinel, and a TLS-only server with its own CA.
 * Every process started here is ended here, by PID.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { freePort, redisCli, requireRedisServer } from "./redis.ts";

const REDIS_SERVER = "/usr/bin/redis-server";

interface Proc {
  proc: Subprocess<"ignore", "pipe", "pipe">;
  port: number;
}

/** Starts redis-server with `args`, resolving once its log says `ready` matches. */
async function spawnReady(args: string[], port: number, ready: RegExp): Promise<Proc> {
  const proc = Bun.spawn([REDIS_SERVER, ...args], { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  let out = "";
  const ok = Promise.withResolvers<void>();
  (async () => {
    const dec = new TextDecoder();
    for await (const chunk of proc.stdout) {
      out += dec.decode(chunk, { stream: true });
      if (ready.test(out)) ok.resolve();
      if (out.length > 100_000) out = out.slice(-10_000);
    }
  })();
  proc.exited.then((code) => ok.reject(new Error(`redis-server ${args.join(" ")} exited with ${code}:\n${out.slice(-2000)}`)));
  const timer = setTimeout(() => ok.reject(new Error(`redis-server on ${port} not ready within 15 s:\n${out.slice(-2000)}`)), 15_000);
  try {
    await ok.promise;
  } catch (err) {
    proc.kill("SIGKILL");
    throw err;
  } finally {
    clearTimeout(timer);
  }
  return { proc, port };
}

async function stopAll(procs: Proc[]): Promise<void> {
  for (const p of procs) if (p.proc.exitCode === null && p.proc.signalCode === null) p.proc.kill("SIGTERM");
  await Promise.all(procs.map((p) => p.proc.exited));
}

const common = (port: number, dir: string) => ["--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--save", "", "--appendonly", "no", "--protected-mode", "no", "--daemonize", "no"];

export interface SentinelSetup {
  /** REDIS_SENTINELS form. */
  sentinels: string;
  name: string;
  password: string;
  primaryPort: number;
  replicaPort: number;
  /** kill -9 of the current primary. */
  killPrimary(): Promise<void>;
  /** Port of the primary the Sentinel reports now. */
  currentPrimaryPort(): Promise<number>;
  stop(): Promise<void>;
}

/** A password-protected primary, one replica, and one Sentinel (quorum 1, 1 s down-after). */
export async function startSentinelSetup(): Promise<SentinelSetup> {
  requireRedisServer();
  const dir = mkdtempSync(join(tmpdir(), "sb-sentinel-"));
  const procs: Proc[] = [];
  const name = "sbprimary";
  const password = "sentinel-test-password";
  const auth = ["--requirepass", password, "--masterauth", password];
  try {
    const primaryPort = await freePort();
    procs.push(await spawnReady([...common(primaryPort, join(dir)), ...auth, "--dbfilename", "p.rdb"], primaryPort, /Ready to accept connections/));
    const replicaPort = await freePort();
    procs.push(await spawnReady([...common(replicaPort, dir), ...auth, "--dbfilename", "r.rdb", "--replicaof", "127.0.0.1", String(primaryPort)], replicaPort, /MASTER <-> REPLICA sync: Finished with success/));
    const sentinelPort = await freePort();
    const conf = join(dir, "sentinel.conf");
    writeFileSync(
      conf,
      [
        `port ${sentinelPort}`,
        "bind 127.0.0.1",
        `dir ${dir}`,
        `sentinel monitor ${name} 127.0.0.1 ${primaryPort} 1`,
        `sentinel auth-pass ${name} ${password}`,
        `sentinel down-after-milliseconds ${name} 1000`,
        `sentinel failover-timeout ${name} 5000`,
        "",
      ].join("\n"),
    );
    procs.push(await spawnReady([conf, "--sentinel"], sentinelPort, /Sentinel ID is/));
    const primary = procs[0]!;
    return {
      sentinels: `127.0.0.1:${sentinelPort}`,
      name,
      password,
      primaryPort,
      replicaPort,
      async killPrimary() {
        primary.proc.kill("SIGKILL");
        await primary.proc.exited;
      },
      async currentPrimaryPort() {
        const out = await redisCli(sentinelPort, "sentinel", "get-master-addr-by-name", name);
        return Number(out.trim().split("\n")[1]);
      },
      async stop() {
        await stopAll(procs);
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await stopAll(procs);
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

export interface TlsRedis {
  /** rediss:// URL (the certificate names 127.0.0.1). */
  url: string;
  caFile: string;
  stop(): Promise<void>;
}

/** A redis-server that speaks TLS only (port 0 disables plain TCP), with a CA of its own. */
export async function startTlsRedis(): Promise<TlsRedis> {
  requireRedisServer();
  const dir = mkdtempSync(join(tmpdir(), "sb-redis-tls-"));
  const ssl = (...args: string[]) => {
    const r = spawnSync("openssl", args, { cwd: dir, encoding: "utf8" });
    if (r.status !== 0) throw new Error(`openssl ${args[0]} failed: ${r.stderr}`);
  };
  ssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=Switchboard test CA", "-keyout", "ca.key", "-out", "ca.crt");
  ssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", "redis.key", "-out", "redis.csr");
  ssl("x509", "-req", "-in", "redis.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "1", "-copy_extensions", "copy", "-out", "redis.crt");
  const port = await freePort();
  const args = [
    ...common(0, dir),
    "--tls-port", String(port),
    "--tls-cert-file", join(dir, "redis.crt"),
    "--tls-key-file", join(dir, "redis.key"),
    "--tls-ca-cert-file", join(dir, "ca.crt"),
    "--tls-auth-clients", "no",
  ];
  let p: Proc;
  try {
    p = await spawnReady(args, port, /Ready to accept connections/);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    url: `rediss://127.0.0.1:${port}`,
    caFile: join(dir, "ca.crt"),
    async stop() {
      await stopAll([p]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
