/**
 * Real PostgreSQL servers for tests: initdb + pg_ctl from Debian's
 * `postgresql` package, a temp data dir, a free loopback port. Run as the
 * `postgres` user when the tests run as root (PostgreSQL refuses root).
 * Every server started here is stopped here, by its postmaster PID.
 * Runs on Node too (no Bun APIs): the store suite also runs there
 * (tests/store/postgres.node.ts).
 */
import { execFile } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

/** The bin directory of the newest installed PostgreSQL, or undefined. */
export function postgresBinDir(): string | undefined {
  const root = "/usr/lib/postgresql";
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, "bin", "initdb")))
    .sort((a, b) => Number(b) - Number(a));
  return versions.length > 0 ? join(root, versions[0]!, "bin") : undefined;
}

export function requirePostgres(): string {
  const bin = postgresBinDir();
  if (!bin) throw new Error("PostgreSQL not found: install it with `apt-get install -y postgresql`");
  return bin;
}

export interface PostgresServer {
  port: number;
  /** `postgres://postgres@127.0.0.1:<port>/postgres` (trust auth on loopback). */
  url: string;
  readonly pid: number;
  /** Fast shutdown by PID, waits until the postmaster is gone; the data dir stays. */
  halt(): Promise<void>;
  /** Starts it again on the same port and data dir (after halt). */
  restart(): Promise<void>;
  /** Halts and removes the data dir. */
  stop(): Promise<void>;
  /** A fresh database on this server, its URL returned. */
  createDatabase(name: string): Promise<string>;
}

const asRoot = userInfo().uid === 0;

function run(argv: string[], what: string): Promise<string> {
  const [cmd, ...args] = asRoot ? ["runuser", "-u", "postgres", "--", ...argv] : argv;
  return new Promise((resolve, reject) => {
    const child = execFile(cmd!, args, { env: { PATH: process.env.PATH ?? "/usr/bin:/bin", LANG: "C", LC_ALL: "C" }, maxBuffer: 16 << 20 }, (err, out, errText) => {
      if (err) reject(new Error(`${what} failed (${child.exitCode ?? err.code}): ${errText || out}`));
      else resolve(out);
    });
    child.stdin?.end();
  });
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once("error", () => resolve(false));
    srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(true)));
  });
}

/** A free loopback port in 20000–49999, picked as tests/helpers/redis.ts picks them. */
async function freePort(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const port = 20000 + Math.floor(Math.random() * 30000);
    if (await portIsFree(port)) return port;
  }
  throw new Error("no free port found");
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function startPostgres(): Promise<PostgresServer> {
  const bin = requirePostgres();
  const dir = mkdtempSync(join(tmpdir(), "sb-pg-"));
  if (asRoot) chownSync(dir, Number(await run(["id", "-u"], "id")), Number(await run(["id", "-g"], "id")));
  const data = join(dir, "data");
  await run([join(bin, "initdb"), "-D", data, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"], "initdb");
  const port = await freePort();
  let pid = 0;
  const start = async () => {
    await run(
      [join(bin, "pg_ctl"), "-D", data, "-l", join(dir, "log"), "-w", "-t", "30", "-o", `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`, "start"],
      "pg_ctl start",
    );
    pid = Number(readFileSync(join(data, "postmaster.pid"), "utf8").split("\n")[0]);
  };
  await start();
  const halt = async () => {
    if (pid && alive(pid)) {
      process.kill(pid, "SIGINT");
      // The postmaster announces nothing to us; polling its PID is the event.
      while (alive(pid)) await sleep(20);
    }
  };
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  return {
    port,
    url,
    get pid() {
      return pid;
    },
    halt,
    async restart() {
      if (alive(pid)) throw new Error("postgres still running");
      await start();
    },
    async stop() {
      await halt();
      rmSync(dir, { recursive: true, force: true });
    },
    async createDatabase(name) {
      await run([join(bin, "psql"), "-h", "127.0.0.1", "-p", String(port), "-U", "postgres", "-d", "postgres", "-qc", `CREATE DATABASE "${name}"`], "createdb");
      return `postgres://postgres@127.0.0.1:${port}/${name}`;
    },
  };
}
