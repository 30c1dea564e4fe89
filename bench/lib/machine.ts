/** Machine and software versions for the report header. */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { cpus, loadavg, release, totalmem } from "node:os";
import { ROOT } from "./procs.ts";

export interface MachineInfo {
  cpuModel: string;
  cores: number;
  memGiB: number;
  kernel: string;
  os: string;
  loadavg: number[];
  versions: Record<string, string>;
  openFilesLimit: string;
  gitCommit: string;
}

function tryRun(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { cwd: ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    return "unknown";
  }
}

function pkgVersion(name: string): string {
  try {
    return (JSON.parse(readFileSync(`${ROOT}/node_modules/${name}/package.json`, "utf8")) as { version: string }).version;
  } catch {
    return "missing";
  }
}

export function machineInfo(): MachineInfo {
  const osRelease = (() => {
    try {
      return /PRETTY_NAME="([^"]+)"/.exec(readFileSync("/etc/os-release", "utf8"))?.[1] ?? "unknown";
    } catch {
      return "unknown";
    }
  })();
  return {
    cpuModel: cpus()[0]?.model ?? "unknown",
    cores: cpus().length,
    memGiB: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    os: osRelease,
    loadavg: loadavg().map((x) => Math.round(x * 100) / 100),
    versions: {
      bun: Bun.version,
      node: tryRun("node", ["--version"]),
      "redis-server": tryRun("/usr/bin/redis-server", ["--version"]).split(" ").find((w) => w.startsWith("v="))?.slice(2) ?? "unknown",
      "uws-js-unofficial": pkgVersion("@trufflesuite/uws-js-unofficial"),
      ws: pkgVersion("ws"),
      "socket.io": pkgVersion("socket.io"),
      "redis-streams-adapter": pkgVersion("@socket.io/redis-streams-adapter"),
      "hdr-histogram-js": pkgVersion("hdr-histogram-js"),
    },
    openFilesLimit: tryRun("sh", ["-c", "ulimit -n"]),
    gitCommit: tryRun("git", ["rev-parse", "--short", "HEAD"]),
  };
}
