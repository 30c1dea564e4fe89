/**
 * Real PostgreSQL servers for tests: initdb + pg_ctl from Debian's
 * `postgresql` package, a temp data dir, a free loopback port. Run as the
 * `postgres` user when the tests run as root (PostgreSQL refuses root).
 * Every server started here is stopped here, by its postmaster PID.
 */
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { freePort } from "./redis.ts";

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

async function run(argv: string[], what: string): Promise<string> {
  const cmd = asRoot ? ["runuser", "-u", "postgres", "--", ...argv] : argv;
  const p = Bun.spawn(cmd, { stdin: "ignore", stdout: "pipe", stderr: "pipe", env: { PATH: process.env.PATH ?? "/usr/bin:/bin", LANG: "C", LC_ALL: "C" } });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  if (code !== 0) throw new Error(`${what} failed (${code}): ${err || out}`);
  return out;
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
      while (alive(pid)) await Bun.sleep(20);
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
