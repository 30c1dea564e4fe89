/**
 * Every process the bench starts goes through `spawnTracked`, so that normal
 * exit, Ctrl-C, SIGTERM and uncaught errors all kill exactly those PIDs (and
 * nothing else). Also: /proc readings for CPU time and resident memory.
 */
import type { Subprocess } from "bun";
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { resolve } from "node:path";

export const ROOT = resolve(import.meta.dir, "../..");
export const BUN = process.execPath;
const TICKS = 100; // USER_HZ; Linux reports utime/stime in 1/100 s on every common build

const live = new Map<number, Subprocess>();
let hooked = false;
const exitHooks: (() => void)[] = [];

/** Synchronous clean-up (temp dirs) that must also run on Ctrl-C and errors. */
export function onExit(f: () => void): void {
  exitHooks.push(f);
}

function killAll(signal: NodeJS.Signals): void {
  for (const [pid, p] of live) {
    try {
      if (p.exitCode === null && p.signalCode === null) process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

function hook(): void {
  if (hooked) return;
  hooked = true;
  process.on("exit", () => {
    killAll("SIGKILL");
    for (const f of exitHooks) {
      try {
        f();
      } catch {
        // best effort on the way out
      }
    }
  });
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.on(sig, () => {
      console.error(`\nbench: ${sig}, stopping ${live.size} process(es)`);
      killAll("SIGTERM");
      setTimeout(() => process.exit(130), 300);
    });
  }
}

export interface Tracked {
  proc: Subprocess<"pipe", "pipe", "pipe">;
  pid: number;
  name: string;
  /** Last lines of stdout+stderr, for error messages. */
  tail: string[];
  /** Parsed JSON lines from stdout are passed here. */
  onLine: ((rec: Record<string, any>) => void) | null;
  stop(): Promise<void>;
}

export function spawnTracked(name: string, cmd: string[], env: Record<string, string> = {}): Tracked {
  hook();
  const proc = Bun.spawn(cmd, {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", BENCH_PARENT_PID: String(process.pid), ...env },
    stdin: "pipe",
    stdout: "pipe",
    stderr: "pipe",
  });
  live.set(proc.pid, proc);
  proc.exited.then(() => live.delete(proc.pid));
  const t: Tracked = {
    proc,
    pid: proc.pid,
    name,
    tail: [],
    onLine: null,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill("SIGTERM");
        const timer = setTimeout(() => proc.kill("SIGKILL"), 3000);
        await proc.exited;
        clearTimeout(timer);
      }
      live.delete(proc.pid);
    },
  };
  const keep = (line: string) => {
    t.tail.push(line.slice(0, 500));
    if (t.tail.length > 30) t.tail.shift();
  };
  pumpLines(proc.stdout, (line) => {
    keep(line);
    if (line.startsWith("{") && t.onLine) {
      try {
        t.onLine(JSON.parse(line));
      } catch {
        // not JSON after all
      }
    }
  });
  pumpLines(proc.stderr, keep);
  return t;
}

async function pumpLines(stream: ReadableStream<Uint8Array>, onLine: (line: string) => void): Promise<void> {
  const dec = new TextDecoder();
  let buf = "";
  for await (const chunk of stream as unknown as AsyncIterable<Uint8Array>) {
    buf += dec.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = buf.indexOf("\n")) >= 0) {
      onLine(buf.slice(0, nl));
      buf = buf.slice(nl + 1);
    }
  }
  if (buf) onLine(buf);
}

export async function stopAll(): Promise<void> {
  await Promise.all([...live.values()].map(async (p) => {
    if (p.exitCode === null && p.signalCode === null) p.kill("SIGTERM");
    const timer = setTimeout(() => p.kill("SIGKILL"), 3000);
    await p.exited;
    clearTimeout(timer);
  }));
}

/** A port that was free a moment ago (bind :0, read, close). */
export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once("error", rej);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
  });
}

/** utime+stime of a process in seconds, or NaN when it is gone. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name may contain spaces; fields resume after the last ')'.
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(f[11]) + Number(f[12])) / TICKS;
  } catch {
    return NaN;
  }
}

/** VmRSS in bytes, or NaN. */
export function rssBytes(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) * 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** Busy and total jiffies of the whole machine (from /proc/stat), to see load that is not ours. */
export function machineTicks(): { busy: number; softirq: number; total: number } {
  const line = readFileSync("/proc/stat", "utf8").split("\n")[0];
  // user nice system idle iowait irq softirq steal guest guest_nice; guest time is already in user.
  const v = line.trim().split(/\s+/).slice(1, 9).map(Number);
  const idle = v[3] + (v[4] ?? 0);
  const total = v.reduce((a, b) => a + b, 0);
  return { busy: total - idle, softirq: (v[5] ?? 0) + (v[6] ?? 0), total };
}

/** Samples CPU of a set of processes (and the machine) between start() and stop(). */
export class CpuMeter {
  private t0 = 0;
  private s0 = new Map<number, number>();
  private m0 = machineTicks();

  constructor(private readonly pids: { pid: number; role: "server" | "client" }[]) {}

  start(): void {
    this.t0 = performance.now();
    this.m0 = machineTicks();
    for (const p of this.pids) this.s0.set(p.pid, cpuSeconds(p.pid));
  }

  /** Cores used (1.0 = one core fully busy) per role, and the machine's busy cores from /proc/stat. */
  stop(): CpuUsage {
    const secs = (performance.now() - this.t0) / 1000;
    const m1 = machineTicks();
    let server = 0;
    let client = 0;
    let serverMax = 0;
    for (const p of this.pids) {
      const d = (cpuSeconds(p.pid) - (this.s0.get(p.pid) ?? NaN)) / secs;
      if (!Number.isFinite(d)) continue;
      if (p.role === "server") {
        server += d;
        serverMax = Math.max(serverMax, d);
      } else client += d;
    }
    const cores = navigatorCores();
    const dt = m1.total - this.m0.total;
    const machine = dt > 0 ? ((m1.busy - this.m0.busy) / dt) * cores : NaN;
    const irq = dt > 0 ? ((m1.softirq - this.m0.softirq) / dt) * cores : NaN;
    const r2 = (x: number) => Math.round(x * 100) / 100;
    return { seconds: r2(secs), server: r2(server), serverMax: r2(serverMax), client: r2(client), machine: r2(machine), irq: r2(irq), other: r2(Math.max(0, machine - server - client - irq)), cores };
  }
}

export interface CpuUsage {
  seconds: number;
  /** Cores used by all server processes together / by the busiest one. */
  server: number;
  serverMax: number;
  /** Cores used by all load-generator processes. */
  client: number;
  /** Cores busy on the whole machine; in (soft)interrupts (loopback TCP is processed there); the rest that was neither server nor client. */
  machine: number;
  irq: number;
  other: number;
  cores: number;
}

export function navigatorCores(): number {
  return navigator.hardwareConcurrency || 1;
}

/** Which side limited the run: a server process ≥ 0.9 core (JS is single-threaded), clients or the machine near full. */
export function saturation(cpu: CpuUsage, clientProcs: number): string {
  const notes: string[] = [];
  if (cpu.serverMax >= 0.9) notes.push("server");
  if (cpu.client >= 0.9 * Math.min(clientProcs, cpu.cores)) notes.push("client");
  if (cpu.machine >= 0.9 * cpu.cores) notes.push("machine");
  return notes.length ? notes.join("+") : "none";
}

/** Cores busy on the machine over `ms`, before the bench starts anything: other people's load. */
export async function machineBusyCores(ms: number): Promise<number> {
  const a = machineTicks();
  await new Promise((r) => setTimeout(r, ms));
  const b = machineTicks();
  return b.total > a.total ? Math.round(((b.busy - a.busy) / (b.total - a.total)) * navigatorCores() * 100) / 100 : NaN;
}
