/**
 * WORKERS=N: one node as N Switchboard processes on one port. Each is a full
 * node (its own NODE_ID `<NODE_ID>-<i>`, its own event loop and file limit)
 * bound with SO_REUSEPORT, so the kernel spreads new connections over them
 * and publications cross between them through Redis exactly as between
 * machines. The supervisor only starts, watches and stops them: it holds no
 * sockets and does no protocol work, so it costs nothing per message.
 *
 * SIGTERM/SIGINT reach every process, each drains as a single node does, and
 * the supervisor exits 0 once all have exited 0. A process that dies after
 * it has been up for a while is started again under the same NODE_ID (its
 * clients reconnect to the others meanwhile); one that dies soon after
 * starting means start-up itself fails (Redis, PostgreSQL, the port), so the
 * node stops with exit 1 instead of looping.
 */
import { createServer } from "node:net";
import type { Subprocess } from "bun";
import type { Logger } from "../observability/logger.ts";
import { supervisedReportWorkers } from "../reports/report-workers.ts";

export interface SupervisorOptions {
  workers: number;
  nodeId: string;
  host: string;
  /** 0 = pick one free port for all of them. */
  port: number;
  drainDeadlineMs: number;
  /** The server's entry file (src/main.ts). */
  entry: string;
  logger: Logger;
  /** A process up at least this long is restarted when it dies. */
  restartAfterUpMs?: number;
}

/** A free port on `host`, found by binding port 0 once (the processes then all bind it with SO_REUSEPORT). */
function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, host, () => {
      const addr = s.address();
      s.close(() => (typeof addr === "object" && addr ? resolve(addr.port) : reject(new Error("no port"))));
    });
  });
}

/** NODE_ID of process `i`: the base cut so that the suffix keeps it within the 64 characters NODE_ID allows. */
export function workerNodeId(base: string, i: number): string {
  const suffix = `-${i}`;
  return base.slice(0, 64 - suffix.length) + suffix;
}

export async function superviseWorkers(o: SupervisorOptions): Promise<never> {
  const port = o.port === 0 ? await freePort(o.host) : o.port;
  const restartAfterUpMs = o.restartAfterUpMs ?? 10_000;
  const procs: Subprocess[] = [];
  const done = Promise.withResolvers<number>();
  let stopping = false;
  const reports = supervisedReportWorkers(process.env.REPORT_WORKERS, o.workers);
  if (reports.warning) o.logger.warn(reports.warning, { workers: o.workers });
  const reportEnv = reports.perProcess === undefined ? {} : { REPORT_WORKERS: reports.perProcess };

  const start = (i: number) => {
    const startedAt = Date.now();
    const node = workerNodeId(o.nodeId, i);
    const p = Bun.spawn([process.execPath, o.entry], {
      env: { ...process.env, ...reportEnv, WORKERS: "1", REUSE_PORT: "true", PORT: String(port), NODE_ID: node, EXIT_WITH_PARENT: "true" },
      stdio: ["ignore", "inherit", "inherit"],
    });
    procs[i] = p;
    o.logger.info("worker started", { worker: i, node, pid: p.pid, port });
    void p.exited.then((code) => {
      if (stopping) return;
      if (Date.now() - startedAt >= restartAfterUpMs) {
        o.logger.error("worker exited; starting it again", { worker: i, node, pid: p.pid, code, signal: p.signalCode });
        start(i);
        return;
      }
      o.logger.error("worker exited during start-up; stopping every worker", { worker: i, node, pid: p.pid, code, signal: p.signalCode });
      void stop("worker-failed", 1);
    });
  };

  const stop = async (reason: string, exitCode: number) => {
    if (stopping) return;
    stopping = true;
    o.logger.info("stopping workers", { reason, workers: procs.length });
    for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill("SIGTERM");
    // Each worker ends its own drain by DRAIN_DEADLINE_MS; this only catches one that hangs past it.
    const hard = setTimeout(() => {
      for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
    }, o.drainDeadlineMs + 5_000);
    const codes = await Promise.all(procs.map((p) => p.exited));
    clearTimeout(hard);
    const clean = codes.every((c) => c === 0);
    o.logger.info("workers stopped", { reason, codes });
    done.resolve(exitCode !== 0 ? exitCode : clean ? 0 : 1);
  };

  process.on("SIGTERM", () => void stop("SIGTERM", 0));
  process.on("SIGINT", () => void stop("SIGINT", 0));
  for (let i = 0; i < o.workers; i++) start(i);
  process.exit(await done.promise);
}
